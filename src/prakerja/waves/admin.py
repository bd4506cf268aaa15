from django.contrib import admin
from django.http import HttpRequest

from prakerja.waves.models import Scheme


@admin.register(Scheme)
class SchemeAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "training_balance",
        "incentive_amount",
        "incentive_instalments",
        "survey_incentive",
        "survey_count",
        "purchase_deadline_days",
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Scheme | None = None) -> list[str]:
        """A scheme a wave uses can no longer change."""
        if obj is not None and obj.waves.exists():
            return [f.name for f in Scheme._meta.fields]
        return []
