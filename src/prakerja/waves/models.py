"""Benefit schemes, waves and their quotas, entries in a wave's draw, and the cards of those selected."""

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from prakerja.core.errors import Conflict
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

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk and Wave.objects.filter(scheme_id=self.pk).exists():
            raise SchemeInUse(scheme=self.name)
        super().save(*args, **kwargs)

    @property
    def total_per_recipient(self) -> int:
        return (
            self.training_balance
            + self.incentive_amount * self.incentive_instalments
            + self.survey_incentive * self.survey_count
        )


class SchemeInUse(Conflict):
    code = "scheme_in_use"
    message = _("The scheme %(scheme)s is used by a wave and can no longer change; create a new scheme.")


class WaveStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    OPEN = "open", _("Open for joining")
    CLOSED = "closed", _("Closed, awaiting the draw")
    SELECTED = "selected", _("Drawn")
    ANNOUNCED = "announced", _("Announced")


class Wave(models.Model):
    """A registration wave (gelombang): its window, scheme, quotas, priority and, once drawn, its seed."""

    number = models.PositiveIntegerField(unique=True)
    name = models.CharField(max_length=120)
    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, related_name="waves")
    opens_at = models.DateTimeField()
    closes_at = models.DateTimeField()
    total_quota = models.PositiveIntegerField()
    priority = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=WaveStatus.choices, default=WaveStatus.DRAFT)
    # The rule set in force when the wave closed: eligibility was re-checked under it before the draw.
    ruleset = models.ForeignKey("registry.RuleSet", null=True, blank=True, on_delete=models.PROTECT)
    seed_commitment = models.CharField(max_length=64, blank=True)
    seed = models.CharField(max_length=64, blank=True)
    draw_digest = models.CharField(max_length=64, blank=True, help_text=_("SHA-256 of the published inputs."))
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    opened_at = models.DateTimeField(null=True, blank=True)
    committed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    selected_at = models.DateTimeField(null=True, blank=True)
    announced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        verbose_name = _("wave")

    def __str__(self) -> str:
        return self.name


class Quota(models.Model):
    """Places of a wave in a province (2-digit code) or a regency (4-digit code)."""

    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="quotas")
    region_code = models.CharField(max_length=4)
    places = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["wave", "region_code"], name="one_quota_per_region")]

    def __str__(self) -> str:
        return f"{self.region_code}: {self.places}"


class EntryStatus(models.TextChoices):
    ENTERED = "entered", _("In the draw")
    EXCLUDED = "excluded", _("Not eligible at the close")
    SELECTED = "selected", _("Selected")
    REVOKED = "revoked", _("Selected, card revoked")
    CARRIED_OVER = "carried_over", _("Not selected, carried over to the next wave")


class Entry(models.Model):
    """An applicant in a wave. After the draw, an entry still `entered` is on its cell's waiting list."""

    wave = models.ForeignKey(Wave, on_delete=models.PROTECT, related_name="entries")
    applicant = models.ForeignKey("registry.Applicant", on_delete=models.PROTECT, related_name="wave_entries")
    cell = models.CharField(max_length=4)
    status = models.CharField(max_length=12, choices=EntryStatus.choices, default=EntryStatus.ENTERED)
    position = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Place in the cell's draw order.")
    )
    joined_at = models.DateTimeField()
    carried_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    announced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("wave entry")
        verbose_name_plural = _("wave entries")
        constraints = [models.UniqueConstraint(fields=["wave", "applicant"], name="one_entry_per_wave")]
        indexes = [models.Index(fields=["wave", "status", "cell"])]

    def __str__(self) -> str:
        return f"entry {self.pk} in wave {self.wave_id}"


class CardStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    REVOKED = "revoked", _("Revoked")


class Card(models.Model):
    """A participant's pre-employment card; its training balance is the ledger account `card:<number>`."""

    number = models.CharField(max_length=16, unique=True)
    entry = models.OneToOneField(Entry, on_delete=models.PROTECT, related_name="card")
    applicant = models.OneToOneField("registry.Applicant", on_delete=models.PROTECT, related_name="card")
    status = models.CharField(max_length=8, choices=CardStatus.choices, default=CardStatus.ACTIVE)
    issued_at = models.DateTimeField()
    purchase_deadline = models.DateTimeField()
    first_purchase_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "purchase_deadline"])]

    def __str__(self) -> str:
        return f"card {self.number[-4:]}"

    @property
    def account_code(self) -> str:
        return f"card:{self.number}"
