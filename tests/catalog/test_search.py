"""The public catalogue: search filters and counts through the selector and the open-data API."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from prakerja.catalog import rules, selectors, services
from prakerja.catalog.models import Listing, Session, Training
from prakerja.partners.models import Partner
from tests.catalog.conftest import member_of, partner

pytestmark = pytest.mark.django_db


def seed(institution: Partner, title: str, **fields: Any) -> Training:
    """An approved training written directly, its search text as the services build it."""
    values: dict[str, Any] = {
        "title_id": title,
        "title_en": title,
        "description_id": "<p>Deskripsi</p>",
        "description_en": "<p>Description</p>",
        "skills": ["Skill"],
        "sector": "it",
        "level": "beginner",
        "mode": "online",
        "hours": 10,
        "price": 1_000_000,
        "status": "approved",
        "approved_at": timezone.now(),
    }
    values.update(fields)
    values["search_text"] = rules.search_text(
        titles=(values["title_id"], values["title_en"]),
        descriptions=(values["description_id"], values["description_en"]),
        skills=values["skills"],
        institution=institution.name,
    )
    return Training.objects.create(institution=institution, **values)


def held_in(training: Training, village: str) -> None:
    start = timezone.now() + timedelta(days=3)
    Session.objects.create(
        training=training,
        starts_at=start,
        ends_at=start + timedelta(hours=3),
        village_code=village,
        regency_code=village[:4],
        address="Jl. Mawar 2",
        capacity=10,
    )


@pytest.fixture
def catalogue(institution: Partner) -> dict[str, Training]:
    gone = partner("institution", "Lembaga Tutup", status="suspended")
    made = {
        "cafe": seed(
            institution,
            "Barista Café Dasar",
            sector="food",
            price=800_000,
            rating=4.8,
            rating_count=9,
            sold=3,
        ),
        "kopi": seed(
            institution, "Kopi Sangrai", sector="food", mode="offline", price=1_500_000, rating=3.5, sold=40
        ),
        "python": seed(
            institution, "Python untuk Analisis Data", sector="it", price=3_000_000, rating=4.2, sold=12
        ),
        "jahit": seed(
            institution, "Menjahit Busana", sector="fashion", mode="hybrid", price=2_000_000, sold=0
        ),
        "draft": seed(institution, "Barista Draft", sector="food", status="draft"),
        "suspended": seed(institution, "Barista Suspended", sector="food", status="suspended"),
        "closed": seed(gone, "Barista Lembaga Tutup", sector="food"),
    }
    held_in(made["kopi"], "3273011001")  # Kota Bandung, Jawa Barat
    held_in(made["jahit"], "3171011001")  # Jakarta Pusat
    return made


def ids(page: selectors.SearchPage) -> list[int]:
    return [t.pk for t in page.items]


def test_words_are_and_ed_and_folded(catalogue) -> None:
    assert selectors.trainings_search().total == 4  # no draft, suspended or closed institution's training
    assert ids(selectors.trainings_search(q="BARISTA cafe")) == [catalogue["cafe"].pk]
    assert ids(selectors.trainings_search(q="barista python")) == []
    assert selectors.trainings_search(q="lembaga kursus maju").total == 4  # the institution's name
    assert ids(selectors.trainings_search(q="analisis")) == [catalogue["python"].pk]


def test_filters_narrow_and_count(catalogue) -> None:
    assert {t.pk for t in selectors.trainings_search(sector="food").items} == {
        catalogue["cafe"].pk,
        catalogue["kopi"].pk,
    }
    assert ids(selectors.trainings_search(mode="hybrid")) == [catalogue["jahit"].pk]
    assert ids(selectors.trainings_search(region="32")) == [catalogue["kopi"].pk]
    assert ids(selectors.trainings_search(region="3273")) == [catalogue["kopi"].pk]
    assert ids(selectors.trainings_search(region="3204")) == []
    assert ids(selectors.trainings_search(region="31")) == [catalogue["jahit"].pk]
    assert selectors.trainings_search(max_price=1_500_000).total == 2
    assert selectors.trainings_search(min_rating=4).total == 2
    assert selectors.trainings_search(q="barista", sector="food", max_price=500_000).total == 0


def test_sorts_and_pages(catalogue) -> None:
    c = catalogue
    assert ids(selectors.trainings_search(sort="rating")) == [
        c["cafe"].pk,
        c["python"].pk,
        c["kopi"].pk,
        c["jahit"].pk,
    ]
    assert ids(selectors.trainings_search(sort="price"))[0] == c["cafe"].pk
    assert ids(selectors.trainings_search(sort="popularity"))[:2] == [c["kopi"].pk, c["python"].pk]
    assert ids(selectors.trainings_search(sort="newest"))[0] == c["jahit"].pk
    second = selectors.trainings_search(sort="price", page=2, per_page=3)
    assert (second.total, second.pages, ids(second)) == (4, 2, [c["python"].pk])
    assert selectors.trainings_search(page=9, per_page=3).items == []
    with pytest.raises(selectors.SearchInvalid) as bad:
        selectors.trainings_search(sector="space", region="3", sort="random")
    assert {p["field"] for p in bad.value.problems} == {"sector", "region", "sort"}


def test_the_api_lists_pages_and_refuses_nonsense(catalogue) -> None:
    anyone = Client()
    body = anyone.get("/api/v1/trainings", {"q": "barista", "sort": "price"}).json()
    assert body["count"] == 1 and body["page"] == 1 and body["per_page"] == 20
    assert body["items"][0]["title_id"] == "Barista Café Dasar" and body["items"][0]["institution"]
    paged = anyone.get("/api/v1/trainings", {"per_page": 3, "page": 2, "sort": "price"}).json()
    assert (paged["count"], paged["page"], len(paged["items"])) == (4, 2, 1)
    for params in ({"per_page": 101}, {"page": 0}, {"sort": "random"}, {"region": "123"}, {"min_rating": 9}):
        refused = anyone.get("/api/v1/trainings", params)
        assert refused.status_code == 422, params
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert refused.json()["type"] == "urn:prakerja:problem:invalid_input"
    unknown = anyone.get("/api/v1/trainings", {"sector": "space"})
    assert unknown.status_code == 422 and unknown.json()["problems"][0]["field"] == "sector"
    assert anyone.get("/api/v1/trainings", {"region": "3273", "mode": "offline"}).json()["count"] == 1


def test_the_api_shows_one_public_training_with_where_to_buy_it(catalogue, platform, make_user) -> None:
    anyone = Client()
    kopi = catalogue["kopi"]
    services.listing_create(
        platform=platform, training=kopi, price=1_200_000, actor=member_of(platform, make_user)
    )
    Listing.objects.create(
        platform=partner("platform", "Suspended", status="suspended"),
        training=kopi,
        price=1,
        listed_at=timezone.now(),
    )
    detail = anyone.get(f"/api/v1/trainings/{kopi.pk}").json()
    assert detail["listings"] == [
        {"platform": "Platform Satu", "platform_url": "https://satu.example", "price": 1_200_000}
    ]
    assert detail["sessions"][0]["regency_code"] == "3273" and detail["sessions"][0]["capacity"] == 10
    assert detail["description_id"] == "<p>Deskripsi</p>" and detail["reviews"] == []
    for hidden in ("draft", "suspended", "closed"):
        missing = anyone.get(f"/api/v1/trainings/{catalogue[hidden].pk}")
        assert missing.status_code == 404 and missing.headers["Content-Type"] == "application/problem+json"
    assert anyone.get("/api/v1/trainings/999999").status_code == 404
    assert "/api/v1/trainings/{training_id}" in anyone.get("/api/v1/openapi.json").json()["paths"]


def test_reference_prices_outliers_and_uptake(institution) -> None:
    for i, price in enumerate((1_000_000, 1_000_000, 1_100_000, 900_000, 1_000_000, 3_000_000)):
        seed(institution, f"IT {i}", price=price, sold=i)
    seed(institution, "Waiting", price=200_000, status="submitted")
    seed(institution, "Lonely", sector="beauty", price=5_000_000)
    references = selectors.reference_prices()
    assert list(references) == [("it", "online")] and references[("it", "online")].median_per_hour == 100_000
    outliers = selectors.price_outliers()
    assert [(p.training.title_id, round(p.outlier.ratio, 1)) for p in outliers] == [
        ("Waiting", 0.2),
        ("IT 5", 3.0),
    ]
    assert [p.training.title_id for p in selectors.price_outliers(factor=4)] == ["Waiting"]
    uptake = selectors.uptake(limit=2)
    assert (uptake.trainings, uptake.sold, uptake.never_bought) == (7, 15, 2)
    assert [t.title_id for t in uptake.most_bought] == ["IT 5", "IT 4"]
    assert [t.title_id for t in uptake.least_bought] == ["IT 1", "IT 2"]
    assert {t.title_id for t in uptake.never_bought_list} == {"IT 0", "Lonely"}
    assert [(g.key, g.trainings, g.sold, g.never_bought) for g in uptake.by_sector] == [
        ("it", 6, 15, 1),
        ("beauty", 1, 0, 1),
    ]
    assert [(g.label, g.sold) for g in uptake.by_institution] == [("Lembaga Kursus Maju", 15)]
