"""Users and their roles, one-time codes and failed log-ins."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from prakerja.core.crypto import EncryptedTextField


class Role(models.TextChoices):
    PARTICIPANT = "participant", _("Participant")
    PMO_ADMIN = "pmo_admin", _("PMO administrator")
    SELECTION_OFFICER = "selection_officer", _("Selection officer")
    PARTNERSHIP_OFFICER = "partnership_officer", _("Partnership officer")
    FINANCE_OFFICER = "finance_officer", _("Finance officer")
    ME_ANALYST = "me_analyst", _("M&E analyst")
    COMPLAINTS_OFFICER = "complaints_officer", _("Complaints officer")
    AUDITOR = "auditor", _("Auditor (read-only)")
    PLATFORM_STAFF = "platform_staff", _("Digital platform staff")
    INSTITUTION_STAFF = "institution_staff", _("Training institution staff")
    EMPLOYER = "employer", _("Employer / business association")


class User(AbstractUser):
    role = models.CharField(max_length=24, choices=Role.choices, default=Role.PARTICIPANT)
    phone = EncryptedTextField(blank=True)
    phone_index = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    phone_verified_at = models.DateTimeField(null=True, blank=True)
    totp_secret = EncryptedTextField(blank=True, editable=False)
    totp_confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")


class Purpose(models.TextChoices):
    VERIFY_EMAIL = "verify_email", _("Verify e-mail")
    VERIFY_PHONE = "verify_phone", _("Verify phone")
    PAYOUT_ACCOUNT = "payout_account", _("Change the payout account")


class OneTimeCode(models.Model):
    """A short-lived numeric code sent through the outbox; only its keyed digest is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="one_time_codes")
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    code_digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "purpose", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.purpose} code for user {self.user_id}"


class LoginFailure(models.Model):
    """A failed log-in, keyed by a blind index of the username so no username is stored in clear."""

    username_index = models.CharField(max_length=64, db_index=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"failed log-in at {self.at:%Y-%m-%d %H:%M}"
