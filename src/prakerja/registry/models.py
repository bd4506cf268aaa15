"""Applicants, eligibility rule sets and decisions, and exclusion lists from other agencies."""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from prakerja.core.crypto import EncryptedTextField
from prakerja.registry import rules


class Sex(models.TextChoices):
    MALE = "L", _("Male")
    FEMALE = "P", _("Female")


class Education(models.TextChoices):
    NONE = "none", _("No schooling")
    SD = "sd", _("Primary school (SD)")
    SMP = "smp", _("Junior secondary (SMP)")
    SMA = "sma", _("Senior secondary (SMA/SMK)")
    DIPLOMA = "diploma", _("Diploma")
    S1 = "s1", _("Bachelor (S1)")
    S2 = "s2", _("Master (S2)")
    S3 = "s3", _("Doctorate (S3)")


class EmploymentStatus(models.TextChoices):
    UNEMPLOYED = "unemployed", _("Unemployed")
    LAID_OFF = "laid_off", _("Laid off")
    WORKER = "worker", _("Worker")
    MICRO_ENTREPRENEUR = "micro_entrepreneur", _("Micro-entrepreneur")


class Source(models.TextChoices):
    WEB = "web", _("Web")
    API = "api", _("API")
    IMPORT = "import", _("Bulk import")


class RuleSet(models.Model):
    """A versioned set of eligibility parameters; a new version is a new row, never an edit."""

    version = models.PositiveIntegerField(unique=True)
    params = models.JSONField()
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)

    class Meta:
        ordering = ["-version"]
        verbose_name = _("eligibility rule set")

    def __str__(self) -> str:
        return f"v{self.version}"


class Applicant(models.Model):
    """One person, once: the NIK's blind index is unique. NIK, KK, phone and e-mail are encrypted."""

    # On PostgreSQL the column's database default is gen_random_uuid() too (migration 0006): the bulk import
    # leaves it to the server.
    pseudonym = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # This link and the village and rule-set ones have no database-level foreign keys: a bulk import would
    # pay for checking each at commit. `registry_check` (part of `prakerja ledger check`) verifies them.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="applicant",
        db_constraint=False,
    )
    nik = EncryptedTextField()
    # The blind indexes and codes are indexed by Meta.constraints and Meta.indexes, not unique=True or
    # db_index=True: on PostgreSQL those would add a second, varchar_pattern_ops index for LIKE queries,
    # which nothing runs on these columns.
    nik_index = models.CharField(max_length=64)
    kk = EncryptedTextField()
    kk_index = models.CharField(max_length=64)
    full_name = models.CharField(max_length=150)
    birth_date = models.DateField()
    sex = models.CharField(max_length=1, choices=Sex.choices)
    phone = EncryptedTextField(blank=True)
    email = EncryptedTextField(blank=True)
    village = models.ForeignKey(
        "regions.Region", on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    province_code = models.CharField(max_length=2)
    regency_code = models.CharField(max_length=4)
    rural = models.BooleanField()
    education = models.CharField(max_length=8, choices=Education.choices)
    employment_status = models.CharField(max_length=20, choices=EmploymentStatus.choices)
    disability = models.BooleanField(default=False)
    citizen = models.BooleanField(null=True, default=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    registered_at = models.DateTimeField()
    # The current eligibility decision; its history is in EligibilityDecision. Deliberately in no index:
    # a re-check then rewrites rows in place (PostgreSQL HOT updates) without touching any index.
    eligible = models.BooleanField()
    failing_rules = models.PositiveBigIntegerField(default=0)
    waived_rules = models.PositiveBigIntegerField(db_default=0, help_text=_("Rules reversed on appeal."))
    # Not indexed either: deciding again under a newer rule set rewrites it, and nothing looks applicants up
    # by rule set (rule sets are never deleted).
    ruleset = models.ForeignKey(
        RuleSet, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    decided_at = models.DateTimeField()

    class Meta:
        verbose_name = _("applicant")
        verbose_name_plural = _("applicants")
        constraints = [models.UniqueConstraint(fields=["nik_index"], name="applicant_one_per_nik")]
        indexes = [
            models.Index(fields=["kk_index"], name="applicant_kk_index"),
            models.Index(fields=["province_code"], name="applicant_province"),
            models.Index(fields=["regency_code"], name="applicant_regency"),
            models.Index(fields=["village"], name="applicant_village"),
        ]

    def __str__(self) -> str:
        return f"applicant {self.pk}"

    @property
    def reasons(self) -> tuple[rules.Reason, ...]:
        return rules.reasons_from_mask(self.failing_rules, self.ruleset.params)


class EligibilityDecision(models.Model):
    """Every decision ever made about an applicant, with the rule set that made it."""

    # The index on (applicant, -decided_at) serves every look-up by applicant, and none is made by rule set:
    # a re-check writes each history row into two indexes, not four. Neither link has a database-level
    # foreign key (checked at commit, row by row, they cost imports and re-checks seconds per 100,000):
    # Django still deletes an applicant's decisions with it, and `registry_check` verifies both links.
    applicant = models.ForeignKey(
        Applicant, on_delete=models.CASCADE, related_name="decisions", db_index=False, db_constraint=False
    )
    ruleset = models.ForeignKey(
        RuleSet, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    eligible = models.BooleanField()
    failing_rules = models.PositiveBigIntegerField()
    decided_at = models.DateTimeField()
    cause = models.CharField(max_length=40)

    class Meta:
        indexes = [models.Index(fields=["applicant", "-decided_at"])]

    def __str__(self) -> str:
        return f"decision {self.pk} ({'eligible' if self.eligible else 'ineligible'})"


class ListKind(models.TextChoices):
    CIVIL_SERVANT = "civil_servant", _("Civil servants (ASN)")
    SOLDIER = "soldier", _("Armed forces (TNI)")
    POLICE = "police", _("Police (Polri)")
    VILLAGE_OFFICIAL = "village_official", _("Village officials")
    LEGISLATOR = "legislator", _("Legislators")
    SOE_BOARD = "soe_board", _("State-company boards")
    STUDENT = "student", _("Students in formal education")
    WAGE_SUBSIDY = "wage_subsidy", _("Wage subsidy and aid recipients")
    FORMER_RECIPIENT = "former_recipient", _("Former recipients")
    BLACKLIST = "blacklist", _("Blacklist")


class ExclusionList(models.Model):
    """One upload of NIKs from another agency, kept only as blind indexes."""

    kind = models.CharField(max_length=20, choices=ListKind.choices)
    source = models.CharField(max_length=100)
    as_of = models.DateField()
    entries_count = models.PositiveIntegerField(default=0)
    digest = models.CharField(max_length=64)
    active = models.BooleanField(default=True)
    uploaded_at = models.DateTimeField(auto_now_add=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "source", "as_of"], name="one_list_per_source_date")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.source} {self.as_of}"


class ExclusionEntry(models.Model):
    # Looked up by list through the unique (list, NIK) index.
    exclusion_list = models.ForeignKey(
        ExclusionList, on_delete=models.CASCADE, related_name="entries", db_index=False
    )
    nik_index = models.CharField(max_length=64, db_index=True)
    # On a list of former recipients, the blind index of the person's family card (KK) once they are a
    # registered applicant (NULL until then, left out of the index): the family limit counts by it.
    kk_index = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["exclusion_list", "nik_index"], name="one_entry_per_list")
        ]
        indexes = [
            models.Index(
                fields=["kk_index"], name="exclusion_entry_kk", condition=models.Q(kk_index__isnull=False)
            )
        ]

    def __str__(self) -> str:
        return f"entry of list {self.exclusion_list_id}"


class PopulationCheck(models.Model):
    """One answer of the population registry about an applicant; the latest one counts."""

    applicant = models.ForeignKey(Applicant, on_delete=models.CASCADE, related_name="population_checks")
    status = models.CharField(max_length=12)
    citizen = models.BooleanField(null=True)
    mismatched = models.JSONField(default=list)
    reference = models.CharField(max_length=64, blank=True)
    checked_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["applicant", "-checked_at"])]

    def __str__(self) -> str:
        return f"population check {self.pk}: {self.status}"


class Consent(models.Model):
    """What an applicant agreed to or declared, with the version of the text they were shown."""

    applicant = models.ForeignKey(Applicant, on_delete=models.CASCADE, related_name="consents")
    kind = models.CharField(max_length=20)
    text_version = models.CharField(max_length=20)
    accepted_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.kind} {self.text_version}"


class AptitudeAttempt(models.Model):
    """The applicant's one attempt at the test; answers count only until the deadline."""

    applicant = models.OneToOneField(Applicant, on_delete=models.CASCADE, related_name="aptitude")
    bank_version = models.CharField(max_length=20)
    question_ids = models.JSONField()
    answers = models.JSONField(default=dict)
    started_at = models.DateTimeField()
    deadline = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    max_score = models.PositiveSmallIntegerField(null=True, blank=True)
    categories = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"aptitude attempt {self.pk}"


class AppealStatus(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted")
    DISMISSED = "dismissed", _("Dismissed: the rule stands")
    REVERSAL_PROPOSED = "reversal_proposed", _("Reversal proposed, awaiting a second officer")
    REVERSED = "reversed", _("Reversed: the rule no longer applies")
    REVERSAL_REFUSED = "reversal_refused", _("Reversal refused by the second officer")


class Appeal(models.Model):
    """An applicant contests one failing rule; reversing it takes two different officers."""

    applicant = models.ForeignKey(Applicant, on_delete=models.CASCADE, related_name="appeals")
    rule_code = models.CharField(max_length=20)
    statement = models.TextField()
    evidence = models.FileField(upload_to="appeals/%Y/%m/", blank=True)
    status = models.CharField(max_length=20, choices=AppealStatus.choices, default=AppealStatus.SUBMITTED)
    submitted_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "submitted_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["applicant", "rule_code"],
                condition=~models.Q(status="dismissed"),
                name="one_open_appeal_per_rule",
            )
        ]

    def __str__(self) -> str:
        return f"appeal {self.pk} ({self.rule_code})"
