from django.contrib import admin

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
