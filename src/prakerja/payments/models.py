"""Payout accounts, incentive entitlements, disbursement batches and their payments, provider callbacks,
reconciliation with the providers' settlement files, and platform statements.

The ledger holds the money in control accounts (`owed:incentives`, `transit:<provider>`, `paid:incentives`);
the rows here are their subsidiary ledger, each naming the journal entry that moved it, and `ledger check`
proves the two agree (docs/payments.md).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from prakerja.core.crypto import EncryptedTextField
from prakerja.core.money import RupiahField


class Provider(models.TextChoices):
    """A bank and the four e-wallets of the real programme."""

    BNI = "bni", _("BNI (bank account)")
    OVO = "ovo", _("OVO")
    GOPAY = "gopay", _("GoPay")
    LINKAJA = "linkaja", _("LinkAja")
    DANA = "dana", _("DANA")


class AccountStatus(models.TextChoices):
    VERIFIED = "verified", _("Verified")
    REJECTED = "rejected", _("Refused by the provider's check")
    REPLACED = "replaced", _("Replaced by a newer account")


class PayoutAccount(models.Model):
    """Where a participant's incentives go; only a verified account that is not replaced receives payments."""

    applicant = models.ForeignKey(
        "registry.Applicant", on_delete=models.PROTECT, related_name="payout_accounts"
    )
    provider = models.CharField(max_length=8, choices=Provider.choices)
    number = EncryptedTextField()
    number_last4 = models.CharField(max_length=4)
    holder_name = models.CharField(max_length=150, help_text=_("As the provider holds it, masked."))
    status = models.CharField(max_length=10, choices=AccountStatus.choices)
    reason = models.CharField(max_length=40, blank=True)
    reference = models.CharField(max_length=64, blank=True, help_text=_("The provider's inquiry reference."))
    created_at = models.DateTimeField()
    verified_at = models.DateTimeField(null=True, blank=True)
    replaced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["applicant"],
                condition=models.Q(status="verified"),
                name="one_verified_payout_account",
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} …{self.number_last4}"


class EntitlementKind(models.TextChoices):
    INCENTIVE = "incentive", _("Post-training incentive")
    SURVEY = "survey", _("Survey incentive")


class EntitlementStatus(models.TextChoices):
    OWED = "owed", _("Owed")
    PAID = "paid", _("Paid")
    RETURNED = "returned", _("Returned to the programme fund")


class Entitlement(models.Model):
    """One instalment a participant is owed: the n-th post-training incentive or the n-th survey incentive.

    (applicant, kind, sequence) is unique and the sequence never exceeds the scheme's count, so nobody can be
    owed more than the scheme allows. `entry` is the journal entry that moved it from the fund to
    `owed:incentives`."""

    applicant = models.ForeignKey("registry.Applicant", on_delete=models.PROTECT, related_name="entitlements")
    card = models.ForeignKey("waves.Card", on_delete=models.PROTECT, related_name="entitlements")
    kind = models.CharField(max_length=10, choices=EntitlementKind.choices)
    sequence = models.PositiveSmallIntegerField()
    amount = RupiahField()
    due_on = models.DateField()
    status = models.CharField(max_length=8, choices=EntitlementStatus.choices, default=EntitlementStatus.OWED)
    entry = models.ForeignKey(
        "ledger.JournalEntry", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["applicant", "kind", "sequence"], name="one_entitlement_per_instalment"
            ),
            models.CheckConstraint(condition=models.Q(sequence__gte=1), name="entitlement_sequence_from_1"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="entitlement_positive"),
        ]
        # Only what is owed is searched by due date; a paid row leaves the index (fewer index writes).
        indexes = [
            models.Index(fields=["due_on"], condition=models.Q(status="owed"), name="entitlement_owed_due")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.sequence} of applicant {self.applicant_id}"


class BatchStatus(models.TextChoices):
    BUILT = "built", _("Built, awaiting approval")
    APPROVED = "approved", _("Approved, ready to send")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    CANCELLED = "cancelled", _("Cancelled")


class Batch(models.Model):
    """A disbursement batch: assembled by one finance officer (maker), approved by another (checker)."""

    status = models.CharField(max_length=10, choices=BatchStatus.choices, default=BatchStatus.BUILT)
    due_by = models.DateField(help_text=_("Entitlements due on or before this day."))
    payment_count = models.PositiveIntegerField(default=0)
    total = RupiahField(default=0)
    digest = models.CharField(max_length=64, blank=True, help_text=_("SHA-256 of the payments, as approved."))
    built_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    built_by_label = models.CharField(max_length=150)
    built_at = models.DateTimeField()
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_by_label = models.CharField(max_length=150, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("disbursement batch")
        verbose_name_plural = _("disbursement batches")
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"batch {self.pk}"


class Chunk(models.Model):
    """The payments of a batch sent to one provider in one request; `key` makes a resend harmless."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="chunks")
    provider = models.CharField(max_length=8, choices=Provider.choices)
    sequence = models.PositiveIntegerField()
    payment_count = models.PositiveIntegerField()
    total = RupiahField()
    # Handed over (payments marked sent, money moved to transit) before the request; acknowledged after the
    # provider's receipt. A chunk handed over but not acknowledged is sent again on resume, with the same key.
    sent_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    provider_reference = models.CharField(max_length=64, blank=True)
    entry = models.ForeignKey(
        "ledger.JournalEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "provider", "sequence"], name="one_chunk_per_place")
        ]

    def __str__(self) -> str:
        return f"chunk {self.batch_id}-{self.provider}-{self.sequence}"

    @property
    def key(self) -> str:
        return f"PKJ-B{self.batch_id}-{self.provider}-{self.sequence}"


class PaymentState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent to the provider")
    PAID = "paid", _("Paid")
    FAILED = "failed", _("Failed")
    RETRIED = "retried", _("Failed, retried in a later batch")
    RETURNED = "returned", _("Returned to the programme fund")


LIVE_STATES = (PaymentState.PENDING, PaymentState.SENT, PaymentState.PAID)


class Payment(models.Model):
    """One attempt to pay one entitlement to one verified account; `key` is unique and sent to the provider,
    so a resend is recognised. At most one live (pending, sent or paid) payment per entitlement."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="payments")
    chunk = models.ForeignKey(Chunk, null=True, blank=True, on_delete=models.PROTECT, related_name="payments")
    entitlement = models.ForeignKey(Entitlement, on_delete=models.PROTECT, related_name="payments")
    account = models.ForeignKey(PayoutAccount, on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=8, choices=Provider.choices)
    amount = RupiahField()
    attempt = models.PositiveSmallIntegerField(default=1)
    key = models.CharField(max_length=40)
    state = models.CharField(max_length=8, choices=PaymentState.choices, default=PaymentState.PENDING)
    provider_reference = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField()
    settled_entry = models.ForeignKey(
        "ledger.JournalEntry",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entitlement"],
                condition=models.Q(state__in=["pending", "sent", "paid"]),
                name="one_live_payment_per_entitlement",
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_positive"),
            models.UniqueConstraint(fields=["key"], name="one_payment_per_key"),
        ]
        # Every payment row is written three or four times (built, sent, settled): few indexes, and the state
        # index only for the states that are searched for (a payment in flight or to try again).
        indexes = [
            models.Index(
                fields=["state"],
                condition=models.Q(state__in=["pending", "sent", "failed"]),
                name="payment_open",
            )
        ]

    def __str__(self) -> str:
        return self.key


class CallbackOutcome(models.TextChoices):
    APPLIED = "applied", _("Applied")
    IGNORED = "ignored", _("Already known (duplicate or out of order)")
    REJECTED = "rejected", _("Rejected")


class Callback(models.Model):
    """Every callback a provider sent, kept as received with what was done with it (forged ones too)."""

    provider = models.CharField(max_length=8)
    received_at = models.DateTimeField()
    outcome = models.CharField(max_length=8, choices=CallbackOutcome.choices)
    reason = models.CharField(max_length=200, blank=True)
    events = models.PositiveIntegerField(default=0)
    applied = models.PositiveIntegerField(default=0)
    body_digest = models.CharField(max_length=64)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["-received_at"])]

    def __str__(self) -> str:
        return f"callback {self.pk} from {self.provider}"


class Reconciliation(models.Model):
    """One settlement file matched against the payments; its discrepancies are listed."""

    provider = models.CharField(max_length=8, choices=Provider.choices)
    file_name = models.CharField(max_length=255)
    file_digest = models.CharField(max_length=64)
    lines = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict)
    run_by_label = models.CharField(max_length=150)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "file_digest"], name="one_reconciliation_per_file")
        ]

    def __str__(self) -> str:
        return f"reconciliation {self.pk} ({self.provider})"


class DiscrepancyKind(models.TextChoices):
    MALFORMED = "malformed", _("Malformed line")
    UNKNOWN = "unknown", _("Payment unknown to the programme")
    AMOUNT = "amount", _("Amount differs")
    STATE = "state", _("State differs")
    MISSING = "missing", _("Sent but not in the settlement file")
    DUPLICATE = "duplicate", _("Listed twice in the file")


class Discrepancy(models.Model):
    reconciliation = models.ForeignKey(Reconciliation, on_delete=models.CASCADE, related_name="discrepancies")
    line = models.PositiveIntegerField(null=True, blank=True)
    payment_key = models.CharField(max_length=40, blank=True)
    kind = models.CharField(max_length=10, choices=DiscrepancyKind.choices)
    detail = models.CharField(max_length=300)

    class Meta:
        verbose_name_plural = _("discrepancies")

    def __str__(self) -> str:
        return f"{self.kind} {self.payment_key}"


class Statement(models.Model):
    """What the programme owes one platform for the trainings it sold that were completed, by period."""

    platform = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="statements")
    period_end = models.DateField()
    purchases = models.PositiveIntegerField()
    gross = RupiahField()
    commission = RupiahField(help_text=_("The platform's share, within its agreement's cap."))
    institutions_share = RupiahField()
    commission_cap_bp = models.PositiveIntegerField()
    entry = models.ForeignKey("ledger.JournalEntry", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_reference = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["platform", "period_end"], name="one_statement_per_period")
        ]

    def __str__(self) -> str:
        return f"statement {self.pk} of platform {self.platform_id}"


class StatementLine(models.Model):
    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="lines")
    purchase = models.OneToOneField(
        "enrolment.Purchase", on_delete=models.PROTECT, related_name="statement_line"
    )
    price = RupiahField()
    commission = RupiahField()

    def __str__(self) -> str:
        return f"line {self.pk}"
