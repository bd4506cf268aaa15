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

    # The unique (applicant, kind, sequence) below serves lookups by applicant: no index of its own.
    applicant = models.ForeignKey(
        "registry.Applicant", on_delete=models.PROTECT, related_name="entitlements", db_index=False
    )
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
        # Settling a million payments marks a million entitlements paid: with no index on the status (not even
        # in a condition), on PostgreSQL the update stays on its page (HOT, pages stored with room to spare)
        # and touches no index. A build reads the owed ones in one sequential pass.

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

    @property
    def payments(self) -> "models.QuerySet[Payment]":
        return Payment.objects.filter(chunk__batch=self)


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
    # Set by a reconciliation that finds none of the chunk's payments still awaiting an outcome: later ones
    # look for payments missing from a settlement file only in chunks not yet settled.
    settled_at = models.DateTimeField(null=True, blank=True)
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
    so a resend is recognised. The key is the entitlement and the attempt (`P<entitlement>-<attempt>`), the
    attempt one more than the entitlement's failed ones, so two builds racing for the same entitlement collide
    on it: at most one live (pending, sent or paid) payment per entitlement (`payments_check` verifies it).

    Millions of rows are written by one statement and each is updated two or three times (sent, settled), so
    the table is lean: no index on a column that changes (the updates stay on their page, "HOT", without
    touching any index; the table is stored half full to leave them room), and no database-level foreign keys:
    each would be checked once per row when the build commits, locking the row it names (about 4 s per key per
    million payments on the benchmark server, and for the chunk and the settling entry the same row a million
    times). The build writes a payment only from a join of existing entitlements, verified accounts and the
    chunks it has just created; none of these is ever deleted (`PROTECT` refuses it), and `payments_check`
    verifies every link."""

    chunk = models.ForeignKey(Chunk, on_delete=models.PROTECT, related_name="payments", db_constraint=False)
    entitlement = models.ForeignKey(
        Entitlement, on_delete=models.PROTECT, related_name="payments", db_constraint=False
    )
    account = models.ForeignKey(
        PayoutAccount, on_delete=models.PROTECT, related_name="payments", db_index=False, db_constraint=False
    )
    provider = models.CharField(max_length=8, choices=Provider.choices)
    amount = RupiahField()
    attempt = models.PositiveSmallIntegerField(default=1)
    key = models.CharField(max_length=40)
    state = models.CharField(max_length=8, choices=PaymentState.choices, default=PaymentState.PENDING)
    provider_reference = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField()
    # The entry that settled it (a million settled payments may name the same one).
    settled_entry = models.ForeignKey(
        "ledger.JournalEntry",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_positive"),
            models.UniqueConstraint(fields=["key"], name="one_payment_per_key"),
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
