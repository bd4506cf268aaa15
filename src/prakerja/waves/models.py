"""Benefit schemes: what a wave gives each recipient, as data rather than constants."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from prakerja.core.money import RupiahField


class Scheme(models.Model):
    """The training balance, the post-training incentive in instalments, the survey incentive, and the
    deadline for the first purchase, of the waves that use it."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    training_balance = RupiahField()
    incentive_amount = RupiahField(help_text=_("Per instalment."))
    incentive_instalments = models.PositiveSmallIntegerField()
    survey_incentive = RupiahField(help_text=_("Per survey filled."))
    survey_count = models.PositiveSmallIntegerField()
    purchase_deadline_days = models.PositiveSmallIntegerField(default=30)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("benefit scheme")

    def __str__(self) -> str:
        return self.name

    @property
    def total_per_recipient(self) -> int:
        return (
            self.training_balance
            + self.incentive_amount * self.incentive_instalments
            + self.survey_incentive * self.survey_count
        )
