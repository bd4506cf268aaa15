"""Survey instruments, the times a scheme sets for them, invitations to participants and their responses."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Instrument(models.Model):
    """A questionnaire defined by the PMO; `questions` is a list of questions in Indonesian and English.

    Each question: {"code", "kind": "choice" | "scale" | "text", "text_id", "text_en", "required",
    "options": [{"value", "label_id", "label_en"}]} (options for choice; scale is 1-5).
    """

    code = models.SlugField(max_length=40, unique=True)
    title_id = models.CharField(max_length=150)
    title_en = models.CharField(max_length=150)
    questions = models.JSONField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("survey instrument")

    def __str__(self) -> str:
        return self.code


class ScheduleItem(models.Model):
    """The n-th survey of a benefit scheme: which instrument, how many days after the first completed
    training."""

    scheme = models.ForeignKey("waves.Scheme", on_delete=models.PROTECT, related_name="survey_schedule")
    sequence = models.PositiveSmallIntegerField()
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="+")
    days_after_completion = models.PositiveSmallIntegerField()
    open_days = models.PositiveSmallIntegerField(
        default=30, help_text=_("How long the invitation stays open.")
    )

    class Meta:
        ordering = ["scheme", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "sequence"], name="one_survey_per_place"),
            models.CheckConstraint(condition=models.Q(sequence__gte=1), name="survey_sequence_from_1"),
        ]

    def __str__(self) -> str:
        return f"{self.scheme_id} survey {self.sequence}"


class Invitation(models.Model):
    """A participant's invitation to the n-th survey of their scheme, open from `opens_on` to `closes_on`."""

    applicant = models.ForeignKey(
        "registry.Applicant", on_delete=models.PROTECT, related_name="survey_invitations"
    )
    card = models.ForeignKey("waves.Card", on_delete=models.PROTECT, related_name="survey_invitations")
    item = models.ForeignKey(ScheduleItem, on_delete=models.PROTECT, related_name="invitations")
    sequence = models.PositiveSmallIntegerField()
    opens_on = models.DateField()
    closes_on = models.DateField()
    created_at = models.DateTimeField()
    notified_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["applicant", "sequence"], name="one_invitation_per_survey")
        ]
        indexes = [models.Index(fields=["opens_on", "notified_at"])]

    def __str__(self) -> str:
        return f"invitation {self.pk}"


class Response(models.Model):
    """The answers to one invitation, stored as submitted (question code: value)."""

    invitation = models.OneToOneField(Invitation, on_delete=models.PROTECT, related_name="response")
    answers = models.JSONField()
    submitted_at = models.DateTimeField()

    class Meta:
        verbose_name = _("survey response")

    def __str__(self) -> str:
        return f"response to invitation {self.invitation_id}"
