"""The training catalogue as open data: search and one training, no login."""

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from prakerja.catalog import selectors
from prakerja.catalog.models import Training

router = Router(tags=["catalog"])


class SearchIn(Schema):
    q: str = Field("", max_length=200, description="Words that must all appear (accents and case ignored).")
    sector: str = Field("", description="A sector code.")
    mode: str = Field("", description="online, offline or hybrid.")
    region: str = Field(
        "", pattern=r"^(\d{2}|\d{4})?$", description="A 2-digit province or 4-digit regency with a session."
    )
    max_price: int | None = Field(None, ge=0, description="Highest price in rupiah.")
    min_rating: float | None = Field(None, ge=1, le=5)
    sort: Literal["rating", "price", "newest", "popularity"] = "rating"
    page: int = Field(1, ge=1)
    per_page: int = Field(20, ge=1, le=selectors.MAX_PER_PAGE)


class TrainingOut(Schema):
    id: int
    title_id: str
    title_en: str
    institution: str
    sector: str
    level: str
    mode: str
    hours: int
    price: int
    rating: float | None
    rating_count: int
    skills: list[str]


class SearchOut(Schema):
    count: int
    page: int
    per_page: int
    items: list[TrainingOut]


class SessionOut(Schema):
    starts_at: datetime
    ends_at: datetime
    village_code: str
    regency_code: str
    address: str
    capacity: int | None


class ListingOut(Schema):
    platform: str
    platform_url: str
    price: int


class ReviewOut(Schema):
    rating: int
    text: str
    created_at: datetime


class TrainingDetailOut(TrainingOut):
    description_id: str
    description_en: str
    sessions: list[SessionOut]
    listings: list[ListingOut]
    reviews: list[ReviewOut]


def _out(training: Training) -> TrainingOut:
    return TrainingOut(
        id=training.pk,
        title_id=training.title_id,
        title_en=training.title_en,
        institution=training.institution.name,
        sector=training.sector,
        level=training.level,
        mode=training.mode,
        hours=training.hours,
        price=training.price,
        rating=training.rating,
        rating_count=training.rating_count,
        skills=list(training.skills),
    )


@router.get("", response=SearchOut)
def training_search(request: HttpRequest, filters: Query[SearchIn]) -> SearchOut:
    """Approved trainings, filtered and paged; 422 problem+json for a filter that makes no sense."""
    found = selectors.trainings_search(**filters.dict())
    return SearchOut(
        count=found.total, page=found.page, per_page=found.per_page, items=[_out(t) for t in found.items]
    )


@router.get("/{training_id}", response=TrainingDetailOut)
def training_detail(request: HttpRequest, training_id: int) -> TrainingDetailOut:
    """One training of the catalogue with its sessions, where to buy it and at what price, and its reviews."""
    detail = selectors.training_detail(training_id)
    return TrainingDetailOut(
        **_out(detail.training).dict(),
        description_id=detail.training.description_id,
        description_en=detail.training.description_en,
        sessions=[
            SessionOut(
                starts_at=s.starts_at,
                ends_at=s.ends_at,
                village_code=s.village_code,
                regency_code=s.regency_code,
                address=s.address,
                capacity=s.capacity,
            )
            for s in detail.sessions
        ],
        listings=[
            ListingOut(platform=lst.platform.name, platform_url=lst.platform.portal_url, price=lst.price)
            for lst in detail.listings
        ],
        reviews=[ReviewOut(rating=r.rating, text=r.text, created_at=r.created_at) for r in detail.reviews],
    )
