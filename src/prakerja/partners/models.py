"""Digital platforms and training institutions: their applications, documents, owners, screening,
agreements, API credentials, cooperation and conflicts of interest."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from prakerja.core.crypto import EncryptedTextField


class Kind(models.TextChoices):
    PLATFORM = "platform", _("Digital platform")
    INSTITUTION = "institution", _("Training institution")


class LegalForm(models.TextChoices):
    PT = "pt", _("Limited company (PT)")
    CV = "cv", _("Limited partnership (CV)")
    FOUNDATION = "foundation", _("Foundation (yayasan)")
    COOPERATIVE = "cooperative", _("Cooperative (koperasi)")
    GOVERNMENT = "government", _("Government body")
    OTHER = "other", _("Other")


class PartnerStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    IN_REVIEW = "in_review", _("In review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    AGREEMENT_SIGNED = "agreement_signed", _("Agreement signed")
    INTEGRATED = "integrated", _("Integrated")
    SUSPENDED = "suspended", _("Suspended")


class Partner(models.Model):
    """A platform or institution, from its draft application to its suspension."""

    kind = models.CharField(max_length=12, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=120)
    legal_name = models.CharField(_("legal name"), max_length=200, blank=True)
    legal_form = models.CharField(_("legal form"), max_length=12, choices=LegalForm.choices, blank=True)
    deed_number = models.CharField(_("deed of establishment number"), max_length=60, blank=True)
    deed_date = models.DateField(_("deed date"), null=True, blank=True)
    nib = models.CharField(_("business licence number (NIB)"), max_length=13, blank=True, db_index=True)
    address = models.CharField(_("head office address"), max_length=300, blank=True)
    province_code = models.CharField(_("head office province"), max_length=2, blank=True)
    portal_url = models.URLField(_("internet portal"), blank=True)
    description = models.TextField(_("description"), blank=True)
    # Platforms only.
    it_systems = models.TextField(_("IT systems"), blank=True)
    national_reach = models.BooleanField(_("national reach"), default=False)
    other_institutions = models.TextField(
        _("other institutions cooperated with (not registered here)"), blank=True
    )
    # Institutions only.
    accreditation = models.CharField(_("accreditation"), max_length=60, blank=True)
    accreditation_number = models.CharField(_("accreditation number"), max_length=60, blank=True)
    accredited_until = models.DateField(_("accredited until"), null=True, blank=True)
    status = models.CharField(max_length=16, choices=PartnerStatus.choices, default=PartnerStatus.DRAFT)
    status_note = models.CharField(max_length=500, blank=True)
    review_round = models.PositiveSmallIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("partner")
        indexes = [models.Index(fields=["kind", "status"])]

    def __str__(self) -> str:
        return self.name


class Member(models.Model):
    """A user who acts for one partner (its staff on the partner portal)."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="members")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="partner_member"
    )
    joined_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"member {self.user_id} of {self.partner_id}"


class Trainer(models.Model):
    """A trainer of an institution and the competency they are certified in."""

    institution = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="trainers")
    name = models.CharField(_("name"), max_length=120)
    competency = models.CharField(_("competency"), max_length=200)
    certificate = models.CharField(_("certificate (e.g. BNSP number)"), max_length=120, blank=True)

    def __str__(self) -> str:
        return self.name


class Cooperation(models.Model):
    """A platform sells trainings of this institution (declared by the platform)."""

    platform = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="cooperations")
    institution = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="platform_cooperations")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["platform", "institution"], name="one_cooperation_per_pair")
        ]

    def __str__(self) -> str:
        return f"{self.platform_id} sells for {self.institution_id}"


class PartyKind(models.TextChoices):
    PERSON = "person", _("Person")
    COMPANY = "company", _("Company")


class Party(models.Model):
    """A person or company that owns, directs or is affiliated with partners: a node of the ownership graph.

    A person is keyed by a blind index of their NIK, a company by its NIB, so the same owner declared by
    two partners is one node; neither number is stored in clear.
    """

    kind = models.CharField(max_length=8, choices=PartyKind.choices)
    key = models.CharField(max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    id_hint = models.CharField(max_length=20, blank=True, help_text=_("Masked identity number."))

    class Meta:
        verbose_name_plural = _("parties")

    def __str__(self) -> str:
        return self.name


class TieRole(models.TextChoices):
    OWNER = "owner", _("Owner / shareholder")
    DIRECTOR = "director", _("Director")
    COMMISSIONER = "commissioner", _("Commissioner")
    AFFILIATE = "affiliate", _("Affiliated company")


class Tie(models.Model):
    """An edge of the ownership graph: a party's role in a partner."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="ties")
    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="ties")
    role = models.CharField(max_length=12, choices=TieRole.choices)
    share_percent = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["partner", "party", "role"], name="one_tie_per_role")]

    def __str__(self) -> str:
        return f"{self.party_id} {self.role} of {self.partner_id}"


class ConflictStatus(models.TextChoices):
    FLAGGED = "flagged", _("Flagged, awaiting a decision")
    ALLOWED = "allowed", _("Allowed with a note")
    FORBIDDEN = "forbidden", _("Forbidden")


class ConflictOfInterest(models.Model):
    """A platform and an institution linked through owners, directors or affiliates."""

    platform = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="conflicts_as_platform")
    institution = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="conflicts_as_institution"
    )
    path = models.JSONField(default=list, help_text=_("The chain of ties that links them."))
    status = models.CharField(max_length=10, choices=ConflictStatus.choices, default=ConflictStatus.FLAGGED)
    linked = models.BooleanField(default=True, help_text=_("Still linked at the last detection."))
    note = models.TextField(blank=True)
    detected_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("conflict of interest")
        constraints = [
            models.UniqueConstraint(fields=["platform", "institution"], name="one_conflict_per_pair")
        ]

    def __str__(self) -> str:
        return f"conflict {self.platform_id}-{self.institution_id}"


class DocumentKind(models.TextChoices):
    DEED = "deed", _("Deed of establishment")
    NIB = "nib", _("Business licence (NIB)")
    TAX = "tax", _("Tax registration (NPWP)")
    IT_SYSTEMS = "it_systems", _("IT systems description")
    ACCREDITATION = "accreditation", _("Accreditation certificate")
    TRAINER_CERTIFICATE = "trainer_certificate", _("Trainer certificate")
    OTHER = "other", _("Other")


class Document(models.Model):
    """An uploaded document, stored outside the web root and served only to the partner and the PMO."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(max_length=20, choices=DocumentKind.choices)
    file = models.FileField(upload_to="partners/")
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField(auto_now_add=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.kind} of {self.partner_id}"


class Screening(models.Model):
    """An officer's finding on one published criterion in one review round."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="screenings")
    round = models.PositiveSmallIntegerField()
    criterion = models.CharField(max_length=32)
    passed = models.BooleanField()
    evidence = models.TextField()
    note = models.TextField(blank=True)
    officer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "round", "criterion"], name="one_finding_per_criterion"
            )
        ]

    def __str__(self) -> str:
        return f"{self.criterion}: {'pass' if self.passed else 'fail'}"


class VerdictStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed, awaiting a second officer")
    CONFIRMED = "confirmed", _("Confirmed")
    RETURNED = "returned", _("Returned to review")


class Verdict(models.Model):
    """The outcome of a review round: proposed by one officer (maker), confirmed by another (checker)."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="verdicts")
    round = models.PositiveSmallIntegerField()
    approve = models.BooleanField()
    note = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=VerdictStatus.choices, default=VerdictStatus.PROPOSED)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField()
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["partner", "round"], name="one_verdict_per_round")]

    def __str__(self) -> str:
        return f"verdict on {self.partner_id} round {self.round}"


class Agreement(models.Model):
    """The cooperation agreement (PKS) with its dates and commission cap."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="agreements")
    number = models.CharField(_("agreement number"), max_length=80, unique=True)
    signed_on = models.DateField(_("signed on"))
    starts_on = models.DateField(_("valid from"))
    ends_on = models.DateField(_("valid until"))
    commission_cap_bp = models.PositiveIntegerField(
        _("commission cap (basis points)"), default=1500, help_text=_("1500 = 15 %.")
    )
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["-signed_on"]

    def __str__(self) -> str:
        return self.number


class Credential(models.Model):
    """An API client of an integrated partner; only a digest of the secret is kept."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="credentials")
    client_id = models.CharField(max_length=40, unique=True)
    secret_digest = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return self.client_id


class AccessToken(models.Model):
    """An OAuth2 access token of a credential; only a keyed digest of the token is kept."""

    credential = models.ForeignKey(Credential, on_delete=models.CASCADE, related_name="access_tokens")
    digest = models.CharField(max_length=64, unique=True)
    scopes = models.CharField(max_length=300)  # space-separated, as OAuth2 writes them
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["credential", "expires_at"])]

    def __str__(self) -> str:
        return f"token {self.pk} of {self.credential_id}"

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())


class WebhookEndpoint(models.Model):
    """Where a partner receives its webhooks (Standard Webhooks), with the secret they are signed with."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(_("webhook address"), max_length=500)
    # The `whsec_…` secret is needed in clear to sign each delivery, so it is encrypted, not digested.
    secret = EncryptedTextField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["partner"], condition=models.Q(active=True), name="one_active_webhook_endpoint"
            )
        ]

    def __str__(self) -> str:
        return f"webhook endpoint of {self.partner_id}"


class WebhookStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookMessage(models.Model):
    """One event for one partner, stored with the data that caused it and delivered by `webhooks deliver`."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="webhook_messages")
    event_id = models.CharField(max_length=40, unique=True)  # `webhook-id`: the same on every retry
    event_type = models.CharField(max_length=40)
    payload = models.JSONField()
    created_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=WebhookStatus.choices, default=WebhookStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The delivery queue: only pending messages, in the order they fall due.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="webhook_queue",
            ),
            models.Index(fields=["partner", "status", "-id"], name="webhook_log"),
        ]

    def __str__(self) -> str:
        return self.event_id
