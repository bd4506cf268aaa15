"""Catalogue pages: the participants' catalogue, the partner portals and their object checks, the PMO."""

import re

import pytest
from django.test import Client

from prakerja.catalog import services
from prakerja.catalog.models import Listing, Review, Training
from prakerja.ledger.selectors import balance
from prakerja.waves.models import Card
from prakerja.waves.services import wave_announce
from tests.catalog.conftest import VILLAGE, client_of, member_of, partner, training_data
from tests.waves.helpers import drawn_wave, participant, population

pytestmark = pytest.mark.django_db


def test_the_catalogue_works_without_javascript_and_answers_htmx_with_the_results_only(make_training) -> None:
    make_training(title_id="Barista Dasar", title_en="Basic Barista")
    make_training(title_id="Menjahit", title_en="Sewing", sector="fashion")
    english = Client(HTTP_ACCEPT_LANGUAGE="en")
    page = english.get("/pelatihan/", {"q": "barista"})
    html = page.content.decode()
    assert page.status_code == 200 and "<html" in html and 'hx-push-url="true"' in html
    assert "1 training" in html and "Basic Barista" in html and "Sewing" not in html
    assert "Rp1.000.000" in html
    partial = english.get("/pelatihan/", {"sector": "fashion"}, HTTP_HX_REQUEST="true")
    assert "<html" not in partial.content.decode() and "Sewing" in partial.content.decode()
    assert "HX-Request" in partial["Vary"]
    indonesian = Client(HTTP_ACCEPT_LANGUAGE="id").get("/pelatihan/", {"q": "barista"}).content.decode()
    assert "Barista Dasar" in indonesian and "Basic Barista" not in indonesian
    bad = english.get("/pelatihan/", {"max_price": "lots", "sector": "space"})
    assert bad.status_code == 200 and "2 trainings" in bad.content.decode()  # bad filters are left out


def test_pages_of_twenty_link_to_the_next(make_training, institution) -> None:
    training = make_training()
    for n in range(21):
        Training.objects.create(
            institution=institution, **{**training_data(title_id=f"T{n}"), "skills": ["x"]}, status="approved"
        )
    html = Client().get("/pelatihan/", {"sort": "price"}).content.decode()
    assert html.count('data-testid="training"') == 20 and "page=2" in html
    assert (
        Client()
        .get("/pelatihan/", {"sort": "price", "page": 2})
        .content.decode()
        .count('data-testid="training"')
        == 2
    )
    assert training.pk


def test_a_card_holder_sees_trainings_within_their_balance_by_default(make_training, make_user) -> None:
    cheap = make_training(title_id="Murah", title_en="Cheap", price=500_000)
    dear = make_training(title_id="Mahal", title_en="Dear", price=4_000_000)
    people = [a for a in population(30, seed=7) if a.eligible]
    wave = drawn_wave(people[:3])
    wave_announce(wave=wave, actor="test")
    card = Card.objects.select_related("applicant").first()
    client = participant(card.applicant, make_user)
    amount = balance(card.account_code)
    assert cheap.price < amount < dear.price
    html = client.get("/pelatihan/").content.decode()
    assert "Cheap" in html and "Dear" not in html and "within your balance" in html
    everything = client.get("/pelatihan/", {"max_price": ""}).content.decode()
    assert "Cheap" in everything and "Dear" in everything


def test_the_training_page_shows_sessions_platforms_and_reviews(make_training, platform, make_user) -> None:
    training = make_training(mode="offline")
    services.listing_create(
        platform=platform, training=training, price=950_000, actor=member_of(platform, make_user)
    )
    person = population(3, seed=9)[0]
    services.review_submit(training=training, applicant=person, rating=4, text="<i>Useful</i> & practical")
    html = Client(HTTP_ACCEPT_LANGUAGE="en").get(f"/pelatihan/{training.pk}/").content.decode()
    assert (
        "Digital Marketing for Small Businesses" in html and "Platform Satu" in html and "Rp950.000" in html
    )
    assert "Jl. Asia Afrika 1" in html and VILLAGE in html and "Useful &amp; practical" in html
    assert "<strong>advertising</strong>" in html  # the sanitised description keeps its emphasis
    draft = make_training(status="draft")
    assert Client().get(f"/pelatihan/{draft.pk}/").status_code == 404


def test_an_institution_manages_only_its_own_trainings(staff, make_user, make_training) -> None:
    client = client_of(staff)
    created = client.post(
        "/mitra/pelatihan/", {**training_data(skills="Copywriting\nAds"), "price": "1.250.000"}
    )
    training = Training.objects.get()
    assert created.status_code == 302 and created["Location"] == f"/mitra/pelatihan/{training.pk}/"
    assert training.price == 1_250_000 and training.skills == ["Copywriting", "Ads"]
    invalid = client.post(
        f"/mitra/pelatihan/{training.pk}/", {**training_data(), "hours": "900", "title_en": ""}
    )
    assert invalid.status_code == 200 and "Hours must be between 1 and 500." in invalid.content.decode()
    submitted = client.post(f"/mitra/pelatihan/{training.pk}/ajukan/")
    assert submitted.status_code == 302
    training.refresh_from_db()
    assert training.status == "submitted"
    other = client_of(member_of(partner("institution", "Lain"), make_user))
    assert other.get(f"/mitra/pelatihan/{training.pk}/").status_code == 403
    assert other.post(f"/mitra/pelatihan/{training.pk}/ajukan/").status_code == 403
    assert "Digital Marketing" not in other.get("/mitra/pelatihan/").content.decode()
    platform_staff = client_of(member_of(partner("platform", "P", status="integrated"), make_user))
    assert platform_staff.get("/mitra/pelatihan/").status_code == 403
    assert Client().get("/mitra/pelatihan/").status_code == 302  # to the log-in page


def test_an_institution_adds_sessions_to_an_offline_draft(staff) -> None:
    client = client_of(staff)
    training = services.training_create(actor=staff, data=training_data(mode="offline"))
    url = f"/mitra/pelatihan/{training.pk}/sesi/"
    missing = client.post(url, {"starts_at": "2030-01-01T09:00", "ends_at": "2030-01-01T12:00"})
    assert "Enter the address of the venue." in missing.content.decode()
    added = client.post(
        url,
        {
            "starts_at": "2030-01-01T09:00",
            "ends_at": "2030-01-01T12:00",
            "village_code": VILLAGE,
            "address": "Aula",
            "capacity": "15",
        },
    )
    assert added.status_code == 302 and training.sessions.get().regency_code == "3273"
    session = training.sessions.get()
    client.post(f"/mitra/pelatihan/{training.pk}/sesi/{session.pk}/hapus/")
    assert not training.sessions.exists()


def test_a_platform_lists_and_withdraws_at_most_at_the_cap(make_training, platform, make_user) -> None:
    training = make_training()
    client = client_of(member_of(platform, make_user))
    shelf = client.get("/mitra/etalase/").content.decode()
    assert "Digital Marketing" in shelf or "Pemasaran Digital" in shelf
    refused = client.post(f"/mitra/etalase/{training.pk}/jual/", {"price": "1.500.000"}, follow=True)
    assert "above the training&#x27;s price" in refused.content.decode()
    client.post(f"/mitra/etalase/{training.pk}/jual/", {"price": "900000"})
    listing = Listing.objects.get()
    assert listing.price == 900_000 and listing.status == "active"
    other = client_of(member_of(partner("platform", "Dua", status="integrated"), make_user))
    assert other.post(f"/mitra/etalase/daftar/{listing.pk}/tarik/").status_code == 403
    client.post(f"/mitra/etalase/daftar/{listing.pk}/tarik/")
    listing.refresh_from_db()
    assert listing.status == "withdrawn"


def test_the_programme_office_curates_with_the_checklist(make_training, staff_client) -> None:
    training = make_training(status="submitted")
    officer = staff_client("partnership_officer")
    queue = officer.get("/pmo/pelatihan/").content.decode()
    assert f"/pmo/pelatihan/{training.pk}/" in queue
    page = officer.get(f"/pmo/pelatihan/{training.pk}/").content.decode()
    assert 'value="claims"' in page and 'value="schedule"' not in page  # online: no venue to check
    half = officer.post(f"/pmo/pelatihan/{training.pk}/", {"outcome": "approve", "checklist": ["outcomes"]})
    assert half.status_code == 200 and "Tick every checklist item" in half.content.decode()
    items = ["outcomes", "hours", "price", "description", "claims"]
    done = officer.post(f"/pmo/pelatihan/{training.pk}/", {"outcome": "approve", "checklist": items})
    assert done.status_code == 302
    training.refresh_from_db()
    assert training.status == "approved"
    assert "Approve" in officer.get(f"/pmo/pelatihan/{training.pk}/").content.decode()
    analyst = staff_client("me_analyst")
    assert analyst.get("/pmo/pelatihan/").status_code == 200
    assert (
        analyst.post(f"/pmo/pelatihan/{training.pk}/", {"outcome": "suspend", "reasons": "x"}).status_code
        == 403
    )
    assert staff_client("selection_officer").get("/pmo/pelatihan/").status_code == 403
    home = officer.get("/pmo/").content.decode()
    assert "/pmo/pelatihan/" in home and "/pmo/ulasan/" in home


def test_prices_uptake_and_review_moderation_pages(make_training, staff_client) -> None:
    for price in (1_000_000, 1_000_000, 1_000_000, 1_000_000, 1_000_000, 5_000_000):
        make_training(price=price)
    officer = staff_client("pmo_admin")
    prices = officer.get("/pmo/pelatihan/harga/").content.decode()
    assert prices.count('data-testid="reference"') == 1 and prices.count('data-testid="outlier"') == 1
    uptake = officer.get("/pmo/pelatihan/serapan/").content.decode()
    assert "6 approved trainings, 0 purchases; 6 never bought." in uptake
    training = Training.objects.first()
    review = services.review_submit(
        training=training, applicant=population(2, seed=4)[0], rating=1, text="spam"
    )
    assert "spam" in officer.get("/pmo/ulasan/").content.decode()
    officer.post(f"/pmo/ulasan/{review.pk}/", {"hide": "on", "note": "Spam"})
    review.refresh_from_db()
    assert review.status == "hidden" and review.moderation_note == "Spam"
    training.refresh_from_db()
    assert training.rating_count == 0 and training.rating is None
    assert Review.objects.filter(status="hidden").count() == 1
    assert re.search(r"Hidden by moderation", officer.get("/pmo/ulasan/?status=hidden").content.decode())


def test_descriptions_written_around_the_service_are_sanitised_on_display(make_training) -> None:
    training = make_training()
    Training.objects.filter(pk=training.pk).update(description_id='<p>Hai</p><script>alert("x")</script>')
    html = Client(HTTP_ACCEPT_LANGUAGE="id").get(f"/pelatihan/{training.pk}/").content.decode()
    assert "<p>Hai</p>" in html and "alert" not in html


def test_the_institution_sees_its_training_read_only_once_submitted(make_training, staff) -> None:
    client = client_of(staff)
    draft = make_training(status="draft")
    editable = client.get(f"/mitra/pelatihan/{draft.pk}/").content.decode()
    assert 'data-testid="save"' in editable and 'data-testid="submit"' in editable
    approved = make_training()
    page = client.get(f"/mitra/pelatihan/{approved.pk}/").content.decode()
    assert 'data-testid="save"' not in page and "Approve" in page and f"/pelatihan/{approved.pk}/" in page
    assert client.post(f"/mitra/pelatihan/{approved.pk}/", training_data()).status_code == 200
    approved.refresh_from_db()
    assert approved.status == "approved" and approved.hours == 10
