"""Core records: the hash-chained audit trail and the notifications outbox."""

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from prakerja.core.crypto import EncryptedTextField


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete an audit record."""


class AuditEntry(models.Model):
    """One audited action; `entry_hash` chains it to the entry before it, so tampering shows."""

    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]
        # Named, so that PostgreSQL gets no second (`_like`) index on the hash: migration 0004.
        constraints = [models.UniqueConstraint(fields=["entry_hash"], name="audit_entry_hash_unique")]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("audit entries are append-only")


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class OutboxMessage(models.Model):
    """A message stored with the data that caused it and delivered after commit by the outbox backend."""

    channel = models.CharField(max_length=8, choices=Channel.choices)
    recipient = EncryptedTextField()
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    status = models.CharField(max_length=8, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "id"])]
        verbose_name = _("outbox message")

    def __str__(self) -> str:
        return f"{self.channel} #{self.pk} ({self.status})"


class IdempotencyRecord(models.Model):
    """The first answer to a write sent with an Idempotency-Key; a retry with the same key gets it again."""

    owner = models.CharField(max_length=64)  # who sent it, e.g. "partner:12": keys are per client
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # SHA-256 of method, path and canonical body
    # Null only inside the transaction that runs the request; never committed that way.
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    sealed = models.BooleanField(default=False, help_text="The body is encrypted: it carries a secret.")
    content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="one_record_per_owner_key")]
        verbose_name = _("idempotency record")

    def __str__(self) -> str:
        return f"{self.owner} {self.key} -> {self.status_code}"


class RateWindow(models.Model):
    """Requests counted for one key in one fixed window (a minute number since the epoch)."""

    key = models.CharField(max_length=100)
    window = models.BigIntegerField()
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "window"], name="one_count_per_key_window")]

    def __str__(self) -> str:
        return f"{self.key}@{self.window}: {self.hits}"
