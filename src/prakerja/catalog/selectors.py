"""Catalogue reads: the public search and a training's page, queues and shelves for partners and the
programme office, reference prices and their outliers, and uptake."""

import re
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from prakerja.catalog import rules
from prakerja.catalog.models import (
    Curation,
    Listing,
    ListingStatus,
    Mode,
    Review,
    ReviewStatus,
    Sector,
    Session,
    Training,
    TrainingStatus,
)
from prakerja.core.errors import InvalidInput, NotFound, invalid
from prakerja.identity.rules import Problem
from prakerja.partners.models import Cooperation, Partner, PartnerStatus
from prakerja.partners.selectors import IN_GOOD_STANDING, listing_problem

SORTS = {
    "rating": (F("rating").desc(nulls_last=True), "-rating_count", "-pk"),
    "price": ("price", "pk"),
    "newest": (F("approved_at").desc(nulls_last=True), "-pk"),
    "popularity": ("-sold", "-pk"),
}
SORT_LABELS = {
    "rating": _("Best rated"),
    "price": _("Lowest price"),
    "newest": _("Newest"),
    "popularity": _("Most bought"),
}
MAX_PER_PAGE = 100
_REGION = re.compile(r"^\d{2}(\d{2})?$")


class SearchInvalid(InvalidInput):
    code = "search_invalid"
    message = _("The search cannot be run: %(reasons)s")


def public_trainings() -> QuerySet[Training]:
    """What the catalogue shows: approved trainings of institutions in good standing."""
    return Training.objects.filter(status=TrainingStatus.APPROVED, institution__status__in=IN_GOOD_STANDING)


@dataclass(frozen=True)
class SearchPage:
    total: int
    page: int
    per_page: int
    items: list[Training] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def search_problems(
    *, sector: str, mode: str, region: str, max_price: int | None, min_rating: float | None, sort: str
) -> list[Problem]:
    problems = []
    if sector and sector not in Sector.values:
        problems.append(Problem("sector:unknown", _("Unknown sector %(value)s."), {"value": sector}))
    if mode and mode not in Mode.values:
        problems.append(Problem("mode:unknown", _("Unknown mode %(value)s."), {"value": mode}))
    if region and not _REGION.match(region):
        problems.append(
            Problem("region:invalid", _("A region is a 2-digit province or a 4-digit regency code."))
        )
    if max_price is not None and max_price < 0:
        problems.append(Problem("max_price:negative", _("The highest price cannot be negative.")))
    if min_rating is not None and not rules.RATING_MIN <= min_rating <= rules.RATING_MAX:
        problems.append(Problem("min_rating:out_of_range", _("The lowest rating is from 1 to 5.")))
    if sort not in SORTS:
        problems.append(Problem("sort:unknown", _("Unknown order %(value)s."), {"value": sort}))
    return problems


def trainings_search(
    *,
    q: str = "",
    sector: str = "",
    mode: str = "",
    region: str = "",
    max_price: int | None = None,
    min_rating: float | None = None,
    sort: str = "rating",
    page: int = 1,
    per_page: int = 20,
) -> SearchPage:
    """One page of the public catalogue: every word of `q` must appear; region means a session held there."""
    region = region.replace(".", "").strip()
    problems = search_problems(
        sector=sector, mode=mode, region=region, max_price=max_price, min_rating=min_rating, sort=sort
    )
    if problems:
        raise invalid(SearchInvalid, problems)
    page, per_page = max(1, page), min(max(1, per_page), MAX_PER_PAGE)
    rows = public_trainings()
    for word in rules.query_words(q):
        # search_text is already folded, so a plain (case-sensitive) LIKE matches; a trigram index serves it.
        rows = rows.filter(search_text__contains=word)
    if sector:
        rows = rows.filter(sector=sector)
    if mode:
        rows = rows.filter(mode=mode)
    if region:
        held_there = Session.objects.filter(training=OuterRef("pk"))
        held_there = (
            held_there.filter(regency_code=region)
            if len(region) == 4
            else held_there.filter(regency_code__startswith=region)
        )
        rows = rows.filter(Exists(held_there))
    if max_price is not None:
        rows = rows.filter(price__lte=max_price)
    if min_rating is not None:
        rows = rows.filter(rating__gte=min_rating)
    total = rows.count()
    start = (page - 1) * per_page
    page_rows = rows.select_related("institution").order_by(*SORTS[sort])
    items = list(page_rows[start : start + per_page]) if start < total else []
    return SearchPage(total=total, page=page, per_page=per_page, items=items)


def training_public(pk: int) -> Training:
    """A training anyone may see, or NotFound."""
    training = public_trainings().select_related("institution").filter(pk=pk).first()
    if training is None:
        raise NotFound(_("There is no training %(id)d in the catalogue."), code="training_not_found", id=pk)
    return training


def active_listings(training: Training) -> QuerySet[Listing]:
    """Where a participant can buy the training: active listings of integrated platforms, cheapest first."""
    return (
        Listing.objects.filter(
            training=training, status=ListingStatus.ACTIVE, platform__status=PartnerStatus.INTEGRATED
        )
        .select_related("platform")
        .order_by("price", "platform__name")
    )


def published_reviews(training: Training, limit: int = 50) -> list[Review]:
    return list(
        Review.objects.filter(training=training, status=ReviewStatus.PUBLISHED).order_by("-created_at")[
            :limit
        ]
    )


@dataclass(frozen=True)
class Detail:
    training: Training
    listings: list[Listing]
    sessions: list[Session]
    reviews: list[Review]


def training_detail(pk: int) -> Detail:
    """A public training with where to buy it, its sessions and its published reviews."""
    training = training_public(pk)
    return Detail(
        training=training,
        listings=list(active_listings(training)),
        sessions=list(training.sessions.order_by("starts_at")),
        reviews=published_reviews(training),
    )


# --- partners -----------------------------------------------------------------------------------------


def trainings_of(institution: Partner) -> QuerySet[Training]:
    return institution.trainings.annotate(session_count=Count("sessions")).order_by("-created_at", "-pk")


def curations_of(training: Training) -> QuerySet[Curation]:
    return training.curations.select_related("officer").order_by("-at", "-pk")


@dataclass(frozen=True)
class ShelfItem:
    training: Training
    listing: Listing | None
    refused: Problem | None  # why the platform may not list it, if it may not


def shelf(platform: Partner) -> list[ShelfItem]:
    """The approved trainings of every institution the platform cooperates with, and its listing of each."""
    institutions = {
        c.institution_id: c.institution
        for c in Cooperation.objects.filter(platform=platform).select_related("institution")
    }
    refused = {pk: listing_problem(platform=platform, institution=inst) for pk, inst in institutions.items()}
    listings = {listing.training_id: listing for listing in Listing.objects.filter(platform=platform)}
    trainings = (
        Training.objects.filter(institution_id__in=list(institutions), status=TrainingStatus.APPROVED)
        .select_related("institution")
        .order_by("institution__name", "title_id")
    )
    shown = [
        ShelfItem(training=t, listing=listings.get(t.pk), refused=refused[t.institution_id])
        for t in trainings
    ]
    # Listings of trainings no longer on the shelf (suspended, cooperation ended) still show, to be withdrawn.
    others = (
        Listing.objects.filter(platform=platform, status=ListingStatus.ACTIVE)
        .exclude(training__in=[item.training for item in shown])
        .select_related("training__institution")
    )
    refused_other = Problem("training:not_approved", _("Only an approved training may be listed."))
    shown += [
        ShelfItem(training=listing.training, listing=listing, refused=refused_other) for listing in others
    ]
    return shown


# --- the programme office -----------------------------------------------------------------------------


def curation_queue(status: str = TrainingStatus.SUBMITTED) -> QuerySet[Training]:
    rows = Training.objects.select_related("institution")
    if status:
        rows = rows.filter(status=status)
    return rows.order_by(F("submitted_at").asc(nulls_last=True), "pk")


def _price_points(statuses: tuple[str, ...]) -> list[rules.PricePoint]:
    return [
        rules.PricePoint(pk, sector, mode, price, hours)
        for pk, sector, mode, price, hours in Training.objects.filter(status__in=statuses).values_list(
            "pk", "sector", "mode", "price", "hours"
        )
    ]


def reference_prices() -> dict[tuple[str, str], rules.Reference]:
    """The median price per hour of each sector and mode, over approved trainings (groups of 5 or more)."""
    return rules.reference_prices(_price_points((TrainingStatus.APPROVED,)))


@dataclass(frozen=True)
class PricedOutlier:
    outlier: rules.Outlier
    training: Training


def price_outliers(*, factor: float = rules.OUTLIER_FACTOR) -> list[PricedOutlier]:
    """Approved trainings and those awaiting curation priced far from their group's reference."""
    references = reference_prices()
    outliers = rules.price_outliers(
        _price_points((TrainingStatus.APPROVED, TrainingStatus.SUBMITTED)), references, factor=factor
    )
    trainings = Training.objects.select_related("institution").in_bulk([o.training_id for o in outliers])
    return [PricedOutlier(o, trainings[o.training_id]) for o in outliers]


def price_check(training: Training) -> tuple[rules.Reference | None, rules.Outlier | None]:
    """The reference of the training's group, and whether its own price is an outlier against it."""
    references = reference_prices()
    point = rules.PricePoint(training.pk, training.sector, training.mode, training.price, training.hours)
    found = rules.price_outliers([point], references)
    return references.get((training.sector, training.mode)), found[0] if found else None


@dataclass(frozen=True)
class GroupUptake:
    key: str
    label: str
    trainings: int
    sold: int
    never_bought: int


@dataclass(frozen=True)
class Uptake:
    trainings: int
    sold: int
    never_bought: int
    never_bought_list: list[Training]
    least_bought: list[Training]
    most_bought: list[Training]
    by_sector: list[GroupUptake]
    by_institution: list[GroupUptake]
    by_platform: list[GroupUptake]


def uptake(*, limit: int = 20) -> Uptake:
    """Purchases of approved trainings from the `sold` counters (kept by the enrolment app once it exists)."""
    approved = Training.objects.filter(status=TrainingStatus.APPROVED).select_related("institution")
    totals = approved.aggregate(
        n=Count("pk"), sold_sum=Coalesce(Sum("sold"), 0), never=Count("pk", filter=Q(sold=0))
    )
    sectors = dict(Sector.choices)

    def groups(keys: tuple[str, ...], label_of: Any) -> list[GroupUptake]:
        rows = (
            approved.values(*keys)
            .annotate(n=Count("pk"), sold_sum=Coalesce(Sum("sold"), 0), never=Count("pk", filter=Q(sold=0)))
            .order_by("-sold_sum", *keys)
        )
        return [GroupUptake(str(r[keys[0]]), label_of(r), r["n"], r["sold_sum"], r["never"]) for r in rows]

    by_platform = [
        GroupUptake(str(r["platform_id"]), r["platform__name"], r["n"], r["sold_sum"], r["never"])
        for r in Listing.objects.values("platform_id", "platform__name")
        .annotate(n=Count("pk"), sold_sum=Coalesce(Sum("sold"), 0), never=Count("pk", filter=Q(sold=0)))
        .order_by("-sold_sum", "platform__name")
    ]
    return Uptake(
        trainings=totals["n"],
        sold=totals["sold_sum"],
        never_bought=totals["never"],
        never_bought_list=list(
            approved.filter(sold=0).order_by(F("approved_at").asc(nulls_last=True), "pk")[:limit]
        ),
        least_bought=list(approved.filter(sold__gt=0).order_by("sold", "pk")[:limit]),
        most_bought=list(approved.filter(sold__gt=0).order_by("-sold", "pk")[:limit]),
        by_sector=groups(("sector",), lambda r: str(sectors.get(r["sector"], r["sector"]))),
        by_institution=groups(("institution_id", "institution__name"), lambda r: r["institution__name"]),
        by_platform=by_platform,
    )


def reviews_for_moderation(status: str = "") -> QuerySet[Review]:
    rows = Review.objects.select_related("training", "moderated_by")
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-created_at", "-pk")
