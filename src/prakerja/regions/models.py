"""Indonesia's administrative regions, keyed by their Kemendagri code without dots."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Level(models.IntegerChoices):
    PROVINCE = 1, _("Province")
    REGENCY = 2, _("Regency/city")
    DISTRICT = 3, _("District")
    VILLAGE = 4, _("Village")


class Region(models.Model):
    """A province (2 digits), regency/city (4), district (6) or village (10)."""

    code = models.CharField(max_length=10, primary_key=True)
    name = models.CharField(max_length=120)
    level = models.PositiveSmallIntegerField(choices=Level.choices, db_index=True)
    kind = models.CharField(max_length=12)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children", db_index=True
    )
    postal_code = models.CharField(max_length=5, blank=True)
    rural = models.BooleanField(null=True, help_text=_("Villages only: desa is rural, kelurahan is urban."))

    class Meta:
        ordering = ["code"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
