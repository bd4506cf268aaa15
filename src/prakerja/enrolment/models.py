"""Cards linked to platforms, purchases and vouchers, redemption, attendance, completion, certificates."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from prakerja.core.money import RupiahField


class LinkStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for the participant's code")
    CONFIRMED = "confirmed", _("Linked")


class CardLink(models.Model):
    """A participant's card linked to a platform, confirmed by a one-time code the participant received."""

    card = models.ForeignKey("waves.Card", on_delete=models.PROTECT, related_name="links")
    platform = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="card_links")
    status = models.CharField(max_length=10, choices=LinkStatus.choices, default=LinkStatus.PENDING)
    code_digest = models.CharField(max_length=64)
    code_expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    requested_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["card", "platform"], name="one_link_per_platform")]

    def __str__(self) -> str:
        return f"card {self.card_id} on platform {self.platform_id}"


class PurchaseStatus(models.TextChoices):
    PAID = "paid", _("Paid, voucher issued")
    REDEEMED = "redeemed", _("Redeemed")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled, refunded")


class Purchase(models.Model):
    """One training bought on one platform with a card's balance; its voucher code is the participant's."""

    card = models.ForeignKey("waves.Card", on_delete=models.PROTECT, related_name="purchases")
    listing = models.ForeignKey("catalog.Listing", on_delete=models.PROTECT, related_name="purchases")
    training = models.ForeignKey("catalog.Training", on_delete=models.PROTECT, related_name="purchases")
    platform = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="sales")
    institution = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="enrolments")
    price = RupiahField()
    voucher_code = models.CharField(max_length=12, unique=True)
    # Which of the escrow accounts holds the price until redemption: one per batch of purchases, at random, so
    # concurrent batches rarely wait on the same escrow row.
    escrow_shard = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=10, choices=PurchaseStatus.choices, default=PurchaseStatus.PAID)
    created_at = models.DateTimeField()
    redeemed_at = models.DateTimeField(null=True, blank=True)
    redeemed_session = models.ForeignKey(
        "catalog.Session", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    post_test_score = models.PositiveSmallIntegerField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["card", "status"]),
            models.Index(fields=["platform", "created_at"]),
            models.Index(fields=["institution", "status"]),
        ]

    def __str__(self) -> str:
        return f"purchase {self.pk}"


class AttendanceMethod(models.TextChoices):
    ONLINE_LOG = "online_log", _("Online session log")
    QR_SCAN = "qr_scan", _("QR code scanned at the venue")
    ROLL_CALL = "roll_call", _("Roll call by the trainer")
    FACE_CHECK = "face_check", _("Face check")


class Attendance(models.Model):
    """A participant's attendance of one session, with its evidence."""

    purchase = models.ForeignKey(Purchase, on_delete=models.PROTECT, related_name="attendances")
    session = models.ForeignKey(
        "catalog.Session", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    method = models.CharField(max_length=12, choices=AttendanceMethod.choices)
    evidence = models.CharField(max_length=300)
    reported_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"attendance of purchase {self.purchase_id}"


class Certificate(models.Model):
    """The certificate of a completed training: a public verification code and an Ed25519 signature."""

    purchase = models.OneToOneField(Purchase, on_delete=models.PROTECT, related_name="certificate")
    code = models.CharField(max_length=16, unique=True)
    # What the signature covers, as it was at completion: later renames do not void a genuine certificate.
    holder_name = models.CharField(max_length=150)
    training_title = models.CharField(max_length=200)
    institution_name = models.CharField(max_length=200)
    completed_on = models.DateField()
    issued_at = models.DateTimeField()
    signature = models.CharField(max_length=100, help_text=_("Ed25519 signature of the signed text, base64."))

    def __str__(self) -> str:
        return self.code
