"""Trainings, their sessions and curation, platform listings, and participants' ratings and reviews."""

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from prakerja.core.money import RupiahField


class Sector(models.TextChoices):
    IT = "it", _("Information technology")
    SALES = "sales", _("Sales and marketing")
    LANGUAGE = "language", _("Foreign languages")
    FOOD = "food", _("Food and beverage")
    TOURISM = "tourism", _("Tourism and hospitality")
    MANUFACTURING = "manufacturing", _("Manufacturing")
    AGRICULTURE = "agriculture", _("Agriculture and fisheries")
    HEALTH = "health", _("Health and care")
    CONSTRUCTION = "construction", _("Construction")
    FINANCE = "finance", _("Finance and accounting")
    BEAUTY = "beauty", _("Beauty and wellness")
    FASHION = "fashion", _("Fashion and tailoring")
    AUTOMOTIVE = "automotive", _("Automotive")
    LOGISTICS = "logistics", _("Logistics and transport")
    ENTREPRENEURSHIP = "entrepreneurship", _("Entrepreneurship")
    CREATIVE = "creative", _("Creative industries")


class Level(models.TextChoices):
    BEGINNER = "beginner", _("Beginner")
    INTERMEDIATE = "intermediate", _("Intermediate")
    ADVANCED = "advanced", _("Advanced")


class Mode(models.TextChoices):
    ONLINE = "online", _("Online")
    OFFLINE = "offline", _("Offline (in person)")
    HYBRID = "hybrid", _("Hybrid")


class TrainingStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Awaiting curation")
    CHANGES_REQUESTED = "changes_requested", _("Changes requested")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    SUSPENDED = "suspended", _("Suspended")


class Training(models.Model):
    """A training an institution publishes; its price is the most any platform may sell it for."""

    institution = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="trainings")
    title_id = models.CharField(_("title (Indonesian)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200)
    description_id = models.TextField(_("description (Indonesian)"))
    description_en = models.TextField(_("description (English)"))
    skills = models.JSONField(_("competencies"), default=list)
    sector = models.CharField(_("sector"), max_length=20, choices=Sector.choices)
    level = models.CharField(_("level"), max_length=12, choices=Level.choices)
    mode = models.CharField(_("mode"), max_length=8, choices=Mode.choices)
    hours = models.PositiveSmallIntegerField(_("hours"))
    price = RupiahField(_("price"))
    status = models.CharField(max_length=20, choices=TrainingStatus.choices, default=TrainingStatus.DRAFT)
    # Lower-cased, accent-free words of both titles, descriptions, competencies and the institution's name.
    search_text = models.TextField(editable=False, default="")
    rating = models.FloatField(null=True, blank=True, editable=False)
    rating_count = models.PositiveIntegerField(default=0, editable=False)
    sold = models.PositiveIntegerField(default=0, editable=False, help_text=_("Purchases, all platforms."))
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("training")
        indexes = [
            models.Index(fields=["status", "sector", "mode"]),
            models.Index(fields=["status", "price"]),
        ]

    def __str__(self) -> str:
        return self.title_id

    @property
    def title(self) -> str:
        """The title in the active language."""
        return self.title_en if (get_language() or "").startswith("en") else self.title_id

    @property
    def description(self) -> str:
        """The (sanitised HTML) description in the active language."""
        return self.description_en if (get_language() or "").startswith("en") else self.description_id


class Session(models.Model):
    """A scheduled session; offline and hybrid sessions have a place and a capacity."""

    training = models.ForeignKey(Training, on_delete=models.CASCADE, related_name="sessions")
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    village_code = models.CharField(_("village"), max_length=10, blank=True)
    regency_code = models.CharField(max_length=4, blank=True, db_index=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    capacity = models.PositiveIntegerField(_("capacity"), null=True, blank=True)

    class Meta:
        ordering = ["starts_at"]

    def __str__(self) -> str:
        return f"session {self.pk} of training {self.training_id}"


class CurationOutcome(models.TextChoices):
    APPROVE = "approve", _("Approve")
    CHANGES = "changes", _("Ask for changes")
    REJECT = "reject", _("Reject")
    SUSPEND = "suspend", _("Suspend")
    REINSTATE = "reinstate", _("Reinstate")


class Curation(models.Model):
    """A PMO officer's decision on a training against the curation checklist."""

    training = models.ForeignKey(Training, on_delete=models.CASCADE, related_name="curations")
    outcome = models.CharField(max_length=10, choices=CurationOutcome.choices)
    checklist = models.JSONField(default=dict)
    reasons = models.TextField(blank=True)
    officer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.outcome} on training {self.training_id}"


class ListingStatus(models.TextChoices):
    ACTIVE = "active", _("Listed")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Listing(models.Model):
    """A platform sells a training at a price not above the training's price."""

    platform = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="listings")
    training = models.ForeignKey(Training, on_delete=models.PROTECT, related_name="listings")
    price = RupiahField(_("price"))
    status = models.CharField(max_length=10, choices=ListingStatus.choices, default=ListingStatus.ACTIVE)
    listed_at = models.DateTimeField()
    sold = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["platform", "training"], name="one_listing_per_platform")
        ]

    def __str__(self) -> str:
        return f"training {self.training_id} on platform {self.platform_id}"


class ReviewStatus(models.TextChoices):
    PUBLISHED = "published", _("Published")
    HIDDEN = "hidden", _("Hidden by moderation")


class Review(models.Model):
    """A participant's rating (1-5) and review of a training they completed."""

    training = models.ForeignKey(Training, on_delete=models.CASCADE, related_name="reviews")
    applicant = models.ForeignKey("registry.Applicant", on_delete=models.PROTECT, related_name="reviews")
    rating = models.PositiveSmallIntegerField()
    text = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=ReviewStatus.choices, default=ReviewStatus.PUBLISHED)
    created_at = models.DateTimeField()
    moderated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    moderated_at = models.DateTimeField(null=True, blank=True)
    moderation_note = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["training", "applicant"], name="one_review_per_participant"),
            models.CheckConstraint(condition=models.Q(rating__gte=1, rating__lte=5), name="rating_1_to_5"),
        ]

    def __str__(self) -> str:
        return f"review {self.pk} of training {self.training_id}"
