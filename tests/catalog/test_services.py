"""Catalogue writes: who may write, what is refused and why, curation transitions, listings, ratings."""

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from prakerja.catalog import selectors, services
from prakerja.catalog.models import Curation, Listing, Review, Training
from prakerja.core.errors import Forbidden, NotFound
from prakerja.core.models import AuditEntry
from prakerja.partners.models import ConflictOfInterest, Cooperation
from tests.catalog.conftest import VILLAGE, add_session, approve, member_of, partner, training_data
from tests.waves.helpers import population

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def fields(exc) -> set[str]:
    return {f"{p['field']}:{p['code']}" for p in exc.problems}


def test_only_staff_of_an_institution_in_good_standing_create_trainings(
    institution, staff, make_user
) -> None:
    training = services.training_create(actor=staff, data=training_data())
    assert training.status == "draft" and training.institution == institution
    assert AuditEntry.objects.filter(action="catalog.training_created", object_id=str(training.pk)).exists()
    stranger = make_user("institution_staff")
    platform_staff = member_of(partner("platform", "P", status="integrated"), make_user)
    suspended_staff = member_of(partner("institution", "Gone", status="suspended"), make_user)
    draft_staff = member_of(partner("institution", "New", status="submitted"), make_user)
    for actor in (stranger, platform_staff, suspended_staff, draft_staff):
        with pytest.raises(Forbidden) as refused:
            services.training_create(actor=actor, data=training_data())
        assert refused.value.code == "not_institution_member"


def test_invalid_trainings_are_refused_with_every_reason(staff, settings) -> None:
    with pytest.raises(services.TrainingInvalid) as refused:
        services.training_create(
            actor=staff, data=training_data(title_en="", skills=[], hours=600, price=0, mode="boat")
        )
    assert fields(refused.value) == {
        "title_en:missing",
        "skills:missing",
        "hours:out_of_range",
        "price:not_positive",
        "mode:unknown",
    }
    assert refused.value.status == 422
    assert "Enter the title in English." in refused.value.detail
    settings.PRAKERJA_TRAINING_PRICE_MAX = 2_000_000
    with pytest.raises(services.TrainingInvalid) as too_dear:
        services.training_create(actor=staff, data=training_data(price=2_000_001))
    assert too_dear.value.problems[0]["message"] == (
        "The price is above the programme's maximum of Rp2.000.000 per training."
    )


def test_text_is_sanitised_and_the_search_text_follows_every_change(staff) -> None:
    training = services.training_create(
        actor=staff,
        data=training_data(
            title_id="<b>Kursus</b> Kopi Café",
            description_en='<p onclick="x">Brew <script>alert(1)</script><a href="/x">well</a></p>',
            skills=["Latte art", "  ", "Latte art"],
        ),
    )
    assert training.title_id == "Kursus Kopi Café"
    assert training.description_en == "<p>Brew well</p>"
    assert training.skills == ["Latte art"]
    assert "kursus kopi cafe" in training.search_text and "lembaga kursus maju" in training.search_text
    assert "latte art" in training.search_text and "script" not in training.search_text
    services.training_update(training=training, actor=staff, data=training_data(title_id="Menjahit Dasar"))
    training.refresh_from_db()
    assert "menjahit dasar" in training.search_text and "kopi" not in training.search_text


def test_only_drafts_and_trainings_sent_back_are_editable(make_training, staff, officer, make_user) -> None:
    training = make_training(status="submitted")
    with pytest.raises(services.TrainingNotEditable) as locked:
        services.training_update(training=training, actor=staff, data=training_data())
    assert locked.value.status == 409 and "Awaiting curation" in locked.value.detail
    services.training_curate(
        training=training, officer=officer, outcome="changes", checklist={}, reasons="Hours too low"
    )
    training.refresh_from_db()
    services.training_update(training=training, actor=staff, data=training_data(hours=20))
    other = member_of(partner("institution", "Other"), make_user)
    with pytest.raises(Forbidden):
        services.training_update(training=training, actor=other, data=training_data())
    with pytest.raises(Forbidden):
        add_session(training, other)


def test_sessions_take_their_regency_from_the_village_and_the_village_must_exist(staff) -> None:
    training = services.training_create(actor=staff, data=training_data(mode="offline"))
    with pytest.raises(services.TrainingInvalid) as incomplete:
        services.training_submit(training=training, actor=staff)
    assert fields(incomplete.value) == {"sessions:missing"}
    session = add_session(training, staff, village_code="32.73.01.1001")
    assert (session.village_code, session.regency_code) == (VILLAGE, "3273")
    with pytest.raises(services.SessionInvalid) as unknown:
        add_session(training, staff, village_code="3273999999")
    assert fields(unknown.value) == {"village_code:unknown"}
    start = timezone.now()
    with pytest.raises(services.SessionInvalid) as bad:
        add_session(
            training, staff, starts_at=start, ends_at=start - timedelta(hours=1), address="", capacity=None
        )
    assert fields(bad.value) == {"ends_at:before_start", "address:missing", "capacity:missing"}
    services.training_submit(training=training, actor=staff)
    with pytest.raises(services.TrainingNotEditable):
        services.session_remove(session=session, actor=staff)


def test_curation_moves_a_training_through_its_states(make_training, officer) -> None:
    training = make_training(status="submitted", mode="hybrid")
    with pytest.raises(services.CurationInvalid) as unticked:
        services.training_curate(
            training=training, officer=officer, outcome="approve", checklist={"outcomes": True}, reasons=""
        )
    assert fields(unticked.value) == {"checklist:unticked"}
    with pytest.raises(services.CurationInvalid) as no_reasons:
        services.training_curate(
            training=training, officer=officer, outcome="reject", checklist={}, reasons=" "
        )
    assert fields(no_reasons.value) == {"reasons:missing"}
    with pytest.raises(services.CurationWrongState):
        services.training_curate(
            training=training, officer=officer, outcome="reinstate", checklist={}, reasons="x"
        )
    approve(training, officer)
    assert training.status == "approved" and training.approved_at is not None
    assert selectors.trainings_search().total == 1
    services.training_curate(
        training=training,
        officer=officer,
        outcome="suspend",
        checklist={},
        reasons="Misleading job guarantee",
    )
    assert selectors.trainings_search().total == 0  # suspended: off the catalogue
    with pytest.raises(NotFound):
        selectors.training_public(training.pk)
    services.training_curate(
        training=training, officer=officer, outcome="reinstate", checklist={}, reasons="Fixed"
    )
    assert selectors.trainings_search().total == 1
    assert list(
        Curation.objects.filter(training=training).order_by("at", "pk").values_list("outcome", flat=True)
    ) == [
        "approve",
        "suspend",
        "reinstate",
    ]
    assert AuditEntry.objects.filter(action="catalog.training_curated").count() == 3


def test_rejected_trainings_stay_rejected(make_training, officer) -> None:
    training = make_training(status="submitted")
    services.training_curate(training=training, officer=officer, outcome="reject", checklist={}, reasons="No")
    with pytest.raises(services.CurationWrongState):
        approve(training, officer)


def test_listing_is_refused_above_the_cap_and_for_unapproved_trainings(
    make_training, platform, make_user
) -> None:
    actor = member_of(platform, make_user)
    draft = make_training(status="draft")
    with pytest.raises(services.ListingRefused) as refused:
        services.listing_create(platform=platform, training=draft, price=2_000_000, actor=actor)
    assert fields(refused.value) == {"training:not_approved", "price:above_cap"}
    assert refused.value.status == 409
    assert "The price Rp2.000.000 is above the training's price Rp1.000.000" in refused.value.detail
    training = make_training()
    listing = services.listing_create(platform=platform, training=training, price=1_000_000, actor=actor)
    assert listing.status == "active"
    with pytest.raises(services.ListingRefused) as twice:
        services.listing_create(platform=platform, training=training, price=900_000, actor=actor)
    assert fields(twice.value) == {"listing:exists"}
    services.listing_withdraw(listing=listing, actor=actor)
    with pytest.raises(services.ListingNotActive):
        services.listing_withdraw(listing=listing, actor=actor)
    again = services.listing_create(platform=platform, training=training, price=900_000, actor=actor)
    assert again.pk == listing.pk and again.price == 900_000 and Listing.objects.count() == 1


def test_listing_follows_the_partner_rules(make_training, platform, institution, make_user) -> None:
    training = make_training()
    actor = member_of(platform, make_user)
    conflict = ConflictOfInterest.objects.create(
        platform=platform, institution=institution, path=["A", "Owner", "B"], detected_at=timezone.now()
    )
    for status, code in (("flagged", "conflict:flagged"), ("forbidden", "conflict:forbidden")):
        ConflictOfInterest.objects.filter(pk=conflict.pk).update(status=status)
        with pytest.raises(services.ListingRefused) as refused:
            services.listing_create(platform=platform, training=training, price=1_000, actor=actor)
        assert fields(refused.value) == {code}
    ConflictOfInterest.objects.filter(pk=conflict.pk).update(status="allowed")
    services.listing_create(platform=platform, training=training, price=1_000, actor=actor)
    stranger = partner("platform", "Dua", status="integrated")
    with pytest.raises(services.ListingRefused) as no_cooperation:
        services.listing_create(platform=stranger, training=training, price=1_000, actor=actor)
    assert fields(no_cooperation.value) == {"institution:no_cooperation"}
    pending = partner("platform", "Tiga", status="approved")
    Cooperation.objects.create(platform=pending, institution=institution)
    with pytest.raises(services.ListingRefused) as not_integrated:
        services.listing_create(platform=pending, training=training, price=1_000, actor=actor)
    assert fields(not_integrated.value) == {"platform:not_integrated"}


def test_ratings_are_one_per_participant_and_the_mean_follows_moderation(make_training, officer) -> None:
    training = make_training()
    people = population(4, seed=3)[:3]
    for person, rating in zip(people, (5, 4, 1), strict=True):
        services.review_submit(training=training, applicant=person, rating=rating, text="<b>Good</b> course")
    training.refresh_from_db()
    assert (training.rating, training.rating_count) == (3.33, 3)
    assert Review.objects.first().text == "Good course"
    with pytest.raises(services.ReviewExists):
        services.review_submit(training=training, applicant=people[0], rating=3, text="")
    with pytest.raises(services.ReviewInvalid):
        services.review_submit(training=training, applicant=people[0], rating=6, text="")
    worst = Review.objects.get(rating=1)
    with pytest.raises(services.ReviewInvalid) as no_note:
        services.review_moderate(review=worst, officer=officer, hide=True, note="")
    assert fields(no_note.value) == {"note:missing"}
    services.review_moderate(review=worst, officer=officer, hide=True, note="Abusive language")
    training.refresh_from_db()
    assert (training.rating, training.rating_count) == (4.5, 2)
    assert sorted(r.rating for r in selectors.published_reviews(training)) == [4, 5]
    services.review_moderate(review=worst, officer=officer, hide=False, note="")
    assert Training.objects.get(pk=training.pk).rating_count == 3
    assert AuditEntry.objects.filter(action="catalog.review_moderated").count() == 2


def test_an_in_person_training_needs_a_session_with_a_venue(staff) -> None:
    training = services.training_create(actor=staff, data=training_data(mode="online"))
    start = timezone.now() + timedelta(days=2)
    services.session_add(training=training, actor=staff, starts_at=start, ends_at=start + timedelta(hours=2))
    services.training_update(training=training, actor=staff, data=training_data(mode="offline"))
    with pytest.raises(services.TrainingInvalid) as refused:
        services.training_submit(training=training, actor=staff)
    assert fields(refused.value) == {"sessions:missing"}
    add_session(training, staff)
    with pytest.raises(services.TrainingInvalid) as back_online:
        services.training_update(training=training, actor=staff, data=training_data(mode="online"))
    assert fields(back_online.value) == {"mode:sessions_with_venue"}
    assert services.training_submit(training=training, actor=staff).status == "submitted"
