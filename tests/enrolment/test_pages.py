"""Participant, partner and programme-office pages of enrolment: each sees only its own rows."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from prakerja.catalog import services as catalog
from prakerja.catalog.models import Review, Training
from prakerja.enrolment.models import Purchase, PurchaseStatus
from prakerja.ledger.selectors import balance
from prakerja.partners.models import Cooperation, Partner
from tests.catalog.conftest import approve, client_of, member_of, partner, training_data
from tests.waves.helpers import participant

from .helpers import buy, complete

pytestmark = pytest.mark.django_db


def other_training(institution: Partner, platform: Partner, officer) -> Training:
    """An approved training of another institution, listed by `platform`."""
    Cooperation.objects.get_or_create(platform=platform, institution=institution)
    training = catalog.training_create(
        actor="test", institution=institution, data=training_data(title_id="Akuntansi Dasar", price=300_000)
    )
    catalog.training_submit(training=training, actor="test")
    training = approve(training, officer)
    catalog.listing_create(platform=platform, training=training, price=300_000, actor="test")
    return training


# --- participants -------------------------------------------------------------------------------------


def test_a_participant_sees_only_their_own_purchases(cards, platform, sell, make_user) -> None:
    training = sell()
    mine, theirs = buy(cards[0], platform, training), buy(cards[1], platform, training)
    client = participant(cards[0].applicant, make_user)
    page = client.get("/pendaftaran/pelatihan/").content.decode()
    assert mine.voucher_code in page and f'data-testid="purchase-{mine.pk}"' in page
    assert theirs.voucher_code not in page and f"purchase-{theirs.pk}" not in page
    for url in (f"/pendaftaran/pelatihan/{theirs.pk}/batal/", f"/pendaftaran/pelatihan/{theirs.pk}/ulasan/"):
        assert client.get(url).status_code == 404
        assert client.post(url, {"reason": "x", "rating": 1}).status_code == 404
    assert Purchase.objects.get(pk=theirs.pk).status == PurchaseStatus.PAID
    assert Client().get("/pendaftaran/pelatihan/").status_code == 302  # log in first


def test_the_registration_page_links_to_my_trainings(cards, platform, sell, make_user) -> None:
    buy(cards[0], platform, sell())
    client = participant(cards[0].applicant, make_user)
    page = client.get("/pendaftaran/").content.decode()
    assert 'data-testid="my-trainings"' in page and "/pendaftaran/pelatihan/" in page


def test_a_participant_cancels_within_the_window_with_a_confirmation(
    cards, platform, sell, make_user, settings
) -> None:
    card = cards[0]
    start = balance(card.account_code)
    purchase = buy(card, platform, sell(price=250_000))
    client = participant(card.applicant, make_user)
    page = client.get("/pendaftaran/pelatihan/").content.decode()
    assert 'data-testid="cancel"' in page and "Between " in page  # the redeem window is shown
    url = f"/pendaftaran/pelatihan/{purchase.pk}/batal/"
    confirm = client.get(url)
    assert confirm.status_code == 200 and 'data-testid="confirm-cancel"' in confirm.content.decode()
    assert Purchase.objects.get(pk=purchase.pk).status == PurchaseStatus.PAID  # asking is not cancelling
    response = client.post(url, {"reason": "salah pilih"})
    assert response.status_code == 302 and response["Location"] == "/pendaftaran/pelatihan/"
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.CANCELLED and purchase.cancel_reason == "salah pilih"
    assert balance(card.account_code) == start

    late = buy(card, platform, sell(price=100_000))
    Purchase.objects.filter(pk=late.pk).update(
        created_at=timezone.now() - timedelta(days=settings.PRAKERJA_WITHDRAWAL_DAYS, hours=1)
    )
    assert (
        f'href="/pendaftaran/pelatihan/{late.pk}/batal/"'
        not in client.get("/pendaftaran/pelatihan/").content.decode()
    )
    url = f"/pendaftaran/pelatihan/{late.pk}/batal/"
    assert 'data-testid="closed"' in client.get(url).content.decode()
    response = client.post(url, {"reason": "terlambat"})
    assert response.status_code == 200 and "withdrawal window" in response.content.decode()
    assert Purchase.objects.get(pk=late.pk).status == PurchaseStatus.PAID


def test_rating_only_after_completion(cards, platform, institution, sell, make_user) -> None:
    training = sell()
    purchase = buy(cards[0], platform, training)
    client = participant(cards[0].applicant, make_user)
    url = f"/pendaftaran/pelatihan/{purchase.pk}/ulasan/"
    assert 'data-testid="rate"' not in client.get("/pendaftaran/pelatihan/").content.decode()
    assert 'data-testid="not-completed"' in client.get(url).content.decode()
    response = client.post(url, {"rating": 5, "text": "Bagus"})
    assert response.status_code == 200 and "after you complete it" in response.content.decode()
    assert not Review.objects.exists()

    certificate = complete(purchase, institution)
    page = client.get("/pendaftaran/pelatihan/").content.decode()
    assert 'data-testid="rate"' in page
    assert f"/pendaftaran/sertifikat/{certificate.code}.pdf" in page
    assert 'data-testid="attendance">1 session, 2.0 hours' in page
    response = client.post(url, {"rating": 4, "text": "Bermanfaat"})
    assert response.status_code == 302
    review = Review.objects.get()
    assert review.rating == 4 and review.applicant_id == cards[0].applicant_id
    page = client.get("/pendaftaran/pelatihan/").content.decode()
    assert 'data-testid="rate"' not in page and "You rated it 4 of 5." in page
    again = client.post(url, {"rating": 1, "text": ""})
    assert again.status_code == 200 and Review.objects.get().rating == 4


# --- partners -------------------------------------------------------------------------------------------


def test_a_platform_sees_only_its_own_sales(cards, platform, institution, sell, make_user) -> None:
    training = sell(price=400_000)
    rival = partner("platform", "Saingan", status="integrated")
    Cooperation.objects.create(platform=rival, institution=institution)
    catalog.listing_create(platform=rival, training=training, price=400_000, actor="test")
    ours = [buy(cards[0], platform, training), buy(cards[1], platform, training)]
    theirs = buy(cards[2], rival, training)
    client = client_of(member_of(platform, make_user))
    page = client.get("/mitra/penjualan/").content.decode()
    assert page.count('data-testid="sale"') == 2
    assert f"<td>{theirs.pk}</td>" not in page
    assert "Rp800.000" in page  # the totals are its own two sales
    assert all(p.voucher_code not in page for p in [*ours, theirs])  # vouchers are the participants'
    client.post(f"/pendaftaran/pelatihan/{ours[0].pk}/batal/")  # a partner is no participant
    assert Purchase.objects.get(pk=ours[0].pk).status == PurchaseStatus.PAID
    Purchase.objects.filter(pk=ours[1].pk).update(status=PurchaseStatus.CANCELLED)
    filtered = client.get("/mitra/penjualan/?status=cancelled").content.decode()
    assert filtered.count('data-testid="sale"') == 1 and f"<td>{ours[1].pk}</td>" in filtered
    rival_page = client_of(member_of(rival, make_user)).get("/mitra/penjualan/").content.decode()
    assert rival_page.count('data-testid="sale"') == 1
    assert client_of(member_of(institution, make_user)).get("/mitra/penjualan/").status_code == 403
    home = client.get("/mitra/").content.decode()
    assert "/mitra/penjualan/" in home


def test_an_institution_sees_only_its_own_participants(cards, platform, institution, sell, make_user) -> None:
    officer = make_user("partnership_officer")
    stranger = partner("institution", "LPK Lain", status="approved")
    ours = buy(cards[0], platform, sell())
    theirs = buy(cards[1], platform, other_training(stranger, platform, officer))
    certificate = complete(ours, institution)
    client = client_of(member_of(institution, make_user))
    page = client.get("/mitra/peserta/").content.decode()
    assert page.count('data-testid="participant"') == 1
    assert cards[0].applicant.full_name in page and certificate.code in page
    assert cards[1].applicant.full_name not in page and ours.voucher_code not in page
    other_page = client_of(member_of(stranger, make_user)).get("/mitra/peserta/").content.decode()
    assert other_page.count('data-testid="participant"') == 1
    assert cards[1].applicant.full_name in other_page and cards[0].applicant.full_name not in other_page
    assert theirs.voucher_code not in other_page
    assert 'data-testid="participant"' not in client.get("/mitra/peserta/?status=paid").content.decode()
    assert client_of(member_of(platform, make_user)).get("/mitra/peserta/").status_code == 403
    assert "/mitra/peserta/" in client.get("/mitra/").content.decode()


# --- the programme office -------------------------------------------------------------------------------


def test_the_programme_office_sees_totals_per_platform_and_institution(
    cards, platform, institution, sell, make_user, staff_client
) -> None:
    training = sell(price=400_000)
    complete(buy(cards[0], platform, training), institution)
    buy(cards[1], platform, training)
    client = staff_client("partnership_officer")
    response = client.get("/pmo/pembelian/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="per-platform"' in page and 'data-testid="per-institution"' in page
    assert "Belajar" in page and "LPK Maju" in page
    assert "Rp800.000" in page and "Rp400.000" in page  # sold, and redeemed / completed
    assert "/pmo/pembelian/janggal/" in client.get("/pmo/").content.decode()
    assert staff_client("selection_officer").get("/pmo/pembelian/").status_code == 403
    assert participant(cards[0].applicant, make_user).get("/pmo/pembelian/").status_code == 403


def test_a_completion_faster_than_the_hours_is_listed(
    cards, platform, institution, sell, staff_client
) -> None:
    training = sell(hours=10)
    fast = buy(cards[0], platform, training)
    complete(fast, institution, hours=2)  # redeemed and completed within minutes of a 10-hour training
    honest = buy(cards[1], platform, training)
    complete(honest, institution, hours=10)
    Purchase.objects.filter(pk=honest.pk).update(redeemed_at=timezone.now() - timedelta(hours=11))
    page = staff_client("me_analyst").get("/pmo/pembelian/janggal/").content.decode()
    assert f'data-testid="implausible-{fast.pk}"' in page
    assert "faster than the training" in page
    assert f'data-testid="implausible-{honest.pk}"' not in page
