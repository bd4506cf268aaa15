"""Double-entry bookkeeping in whole rupiah: accounts, journal entries and their postings."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from prakerja.core.money import RupiahField


class Account(models.Model):
    """A balance that money moves in and out of; `balance` is kept with every posting and checked."""

    code = models.CharField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    allow_negative = models.BooleanField(default=False)
    balance = RupiahField(default=0)
    opened_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("ledger account")

    def __str__(self) -> str:
        return self.code


class JournalEntry(models.Model):
    """One movement of money: postings that sum to zero. Never edited; a correction is a reversal."""

    memo = models.CharField(max_length=200)
    idempotency_key = models.CharField(max_length=100, unique=True, null=True, blank=True)
    fingerprint = models.CharField(max_length=64, blank=True)
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    actor_label = models.CharField(max_length=150)
    posted_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("journal entry")
        verbose_name_plural = _("journal entries")

    def __str__(self) -> str:
        return f"entry {self.pk}: {self.memo}"


class Posting(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings")
    amount = RupiahField()

    class Meta:
        constraints = [models.CheckConstraint(condition=~models.Q(amount=0), name="posting_not_zero")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount:+}"
