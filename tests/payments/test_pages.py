"""Payment pages: a participant's incentives and payout account, the finance officers' money, batches,
reconciliation and statements, and a platform's own statements."""

import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from prakerja.catalog import services as catalog
from prakerja.core.models import OutboxMessage
from prakerja.core.money import format_rupiah
from prakerja.partners.models import Cooperation
from prakerja.payments import services
from prakerja.payments.models import (
    AccountStatus,
    Batch,
    BatchStatus,
    Callback,
    CallbackOutcome,
    PaymentState,
    PayoutAccount,
    Statement,
)
from prakerja.registry.models import Applicant
from prakerja.waves.models import Card
from tests.catalog.conftest import client_of, member_of, partner

from .conftest import earn, number_for, verify

pytestmark = pytest.mark.django_db


def participant_client(applicant: Applicant, make_user: Any) -> Client:
    """A logged-in client of the applicant's own account."""
    user = make_user("participant")
    applicant.user = user
    applicant.save(update_fields=["user"])
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def text_of(page: str, name: str) -> str:
    """The text inside the element carrying data-testid=`name`."""
    found = re.search(rf'data-testid="{name}"[^>]*>(.*?)<', page, flags=re.S)
    assert found, name
    return found.group(1).strip()


def last_code() -> str:
    body = OutboxMessage.objects.order_by("-pk").first().body
    return re.findall(r"\b\d{6}\b", body)[0]


# --- participants -------------------------------------------------------------------------------------


def test_a_participant_adds_a_payout_account_and_sees_only_its_last_four_digits(
    cards, simulator, make_user
) -> None:
    card = cards[0]
    client = participant_client(card.applicant, make_user)
    page = client.get("/pendaftaran/").content.decode()
    assert 'id="incentives-heading"' in page
    assert 'data-testid="payout-account-missing"' in page and "/pendaftaran/rekening/" in page
    assert client.get("/pendaftaran/rekening/").status_code == 200
    number = number_for(card, "ovo")
    response = client.post("/pendaftaran/rekening/", {"provider": "ovo", "number": number})
    assert response.status_code == 302 and response["Location"] == "/pendaftaran/"
    assert number not in response["Location"]
    account = PayoutAccount.objects.get(applicant=card.applicant, status=AccountStatus.VERIFIED)
    for url in ("/pendaftaran/", "/pendaftaran/rekening/"):
        html = client.get(url).content.decode()
        assert f"••••{number[-4:]}" in html and account.holder_name in html
        assert number not in html
    page = client.get("/pendaftaran/").content.decode()
    assert "OVO" in text_of(page, "payout-account")


def test_a_refused_account_shows_the_reason_and_a_change_needs_a_code(cards, simulator, make_user) -> None:
    card = cards[0]
    client = participant_client(card.applicant, make_user)
    # The simulator answers a name mismatch for this number (docs/payment-providers.md).
    refused = client.post("/pendaftaran/rekening/", {"provider": "dana", "number": "081234567999"})
    html = refused.content.decode()
    assert refused.status_code == 200
    assert "the account holder&#x27;s name differs from your registered name" in html
    assert "081234567999" not in html  # the number typed is not sent back either
    first = verify(card, "bni")
    new_number = "081298765431"
    without = client.post("/pendaftaran/rekening/", {"provider": "gopay", "number": new_number})
    html = without.content.decode()
    assert without.status_code == 200 and "needs the code we just sent to your phone" in html
    assert new_number not in html
    assert PayoutAccount.objects.get(applicant=card.applicant, status=AccountStatus.VERIFIED) == first
    assert 'data-testid="send-code"' in html
    sent = client.post("/pendaftaran/rekening/kode/")
    assert sent.status_code == 302 and sent["Location"] == "/pendaftaran/rekening/"
    code = last_code()
    wrong = "000000" if code != "000000" else "111111"
    html = client.post(
        "/pendaftaran/rekening/", {"provider": "gopay", "number": new_number, "code": wrong}
    ).content.decode()
    assert "The code is wrong" in html
    changed = client.post("/pendaftaran/rekening/", {"provider": "gopay", "number": new_number, "code": code})
    assert changed.status_code == 302
    page = client.get("/pendaftaran/").content.decode()
    assert "••••5431" in page and new_number not in page
    assert "GoPay" in text_of(page, "payout-account")


def test_the_account_page_is_only_for_a_card_holders_own_record(cards, make_user) -> None:
    assert Client().get("/pendaftaran/rekening/").status_code == 302  # log in first
    stranger = Client(HTTP_ACCEPT_LANGUAGE="en")
    stranger.force_login(make_user("participant"))
    assert stranger.get("/pendaftaran/rekening/").status_code == 404
    assert (
        stranger.post("/pendaftaran/rekening/", {"provider": "ovo", "number": "081200000001"}).status_code
        == 404
    )


def test_the_registration_page_shows_the_benefits_received(
    cards, platform, institution, sell, make_user
) -> None:
    card = cards[0]
    earn(card, platform, institution, sell(price=400_000))
    services.entitlements_schedule(actor="test")
    client = participant_client(card.applicant, make_user)
    page = client.get("/pendaftaran/").content.decode()
    scheme = Card.objects.select_related("entry__wave__scheme").get(pk=card.pk).entry.wave.scheme
    received = text_of(page, "benefits-received")
    assert format_rupiah(400_000) in page and format_rupiah(scheme.total_per_recipient) in page
    assert "Received so far" in received
    assert page.count("Post-training incentive</td>") == scheme.incentive_instalments


# --- the programme office ---------------------------------------------------------------------------------


def test_a_batch_is_built_approved_by_a_second_officer_sent_and_reconciled_through_the_pages(
    cards, platform, institution, sell, simulator, staff_client
) -> None:
    training = sell(price=400_000)
    for card in cards[:2]:
        earn(card, platform, institution, training)
        verify(card, "ovo")
    earn(cards[2], platform, institution, training)  # no payout account: the payment waits
    services.entitlements_schedule(actor="test")
    maker, checker = staff_client("finance_officer"), staff_client("finance_officer")
    page = maker.get("/pmo/pembayaran/").content.decode()
    assert text_of(page, "total-due") == format_rupiah(1_800_000)
    assert "1 due payment (Rp" in text_of(page, "held-back") and "no verified payout account" in page
    assert text_of(page, "total-paid") == format_rupiah(0)
    assert 'data-testid="build-batch"' in page
    built = maker.post("/pmo/pembayaran/batch/baru/", {"due_by": timezone.localdate().isoformat()})
    batch = Batch.objects.get()
    assert built.status_code == 302 and built["Location"] == f"/pmo/pembayaran/batch/{batch.pk}/"
    assert batch.payment_count == 2
    refused = maker.post(f"/pmo/pembayaran/batch/{batch.pk}/setujui/", follow=True).content.decode()
    assert "The officer who built a batch cannot approve it" in refused
    assert Batch.objects.get().status == BatchStatus.BUILT
    checker.post(f"/pmo/pembayaran/batch/{batch.pk}/setujui/")
    assert Batch.objects.get().status == BatchStatus.APPROVED
    sent = checker.post(f"/pmo/pembayaran/batch/{batch.pk}/kirim/", follow=True).content.decode()
    assert "Payments handed to the providers: 2," in sent
    assert Batch.objects.get().status == BatchStatus.SENT
    page = maker.get("/pmo/pembayaran/").content.decode()
    assert text_of(page, "total-sent") == format_rupiah(1_200_000)
    assert text_of(page, "total-due") == format_rupiah(600_000)
    upload = SimpleUploadedFile("ovo-settlement.csv", simulator.settlement("ovo").encode(), "text/csv")
    reconciled = checker.post("/pmo/pembayaran/rekonsiliasi/", {"provider": "ovo", "file": upload})
    assert reconciled.status_code == 302
    run_page = checker.get(reconciled["Location"]).content.decode()
    assert "None: the file agrees with the payments." in run_page
    assert batch.payments.filter(state=PaymentState.PAID).count() == 2
    page = maker.get("/pmo/pembayaran/").content.decode()
    assert text_of(page, "total-paid") == format_rupiah(1_200_000)
    assert text_of(page, "total-sent") == format_rupiah(0)
    # The same file again is refused, with the service's message next to the file.
    again = SimpleUploadedFile("ovo-settlement.csv", simulator.settlement("ovo").encode(), "text/csv")
    html = checker.post("/pmo/pembayaran/rekonsiliasi/", {"provider": "ovo", "file": again}).content.decode()
    assert "This settlement file was already reconciled" in html
    assert maker.get("/pmo/pembayaran/?wave=999").status_code == 200
    assert maker.get(f"/pmo/pembayaran/batch/{batch.pk}/").status_code == 200


def test_nothing_due_is_refused_with_a_message(staff_client) -> None:
    client = staff_client("finance_officer")
    page = client.post("/pmo/pembayaran/batch/baru/", {"due_by": "2026-01-01"}, follow=True).content.decode()
    assert "nothing to put in a batch" in page and not Batch.objects.exists()


def test_callbacks_are_listed_with_the_rejected_ones_marked(staff_client) -> None:
    now = timezone.now()
    Callback.objects.create(
        provider="ovo",
        received_at=now,
        outcome=CallbackOutcome.REJECTED,
        reason="bad signature",
        body_digest="x",
    )
    Callback.objects.create(
        provider="dana",
        received_at=now,
        outcome=CallbackOutcome.APPLIED,
        events=3,
        applied=3,
        body_digest="y",
    )
    page = staff_client("finance_officer").get("/pmo/pembayaran/callback/").content.decode()
    assert page.count('data-testid="rejected-callback"') == 1 and "bad signature" in page


def test_participants_platforms_and_visitors_cannot_open_the_money_page(cards, make_user, platform) -> None:
    assert Client().get("/pmo/pembayaran/").status_code == 302
    user = make_user("participant")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    staff = client_of(member_of(platform, make_user))
    for who in (client, staff):
        for url in ("/pmo/pembayaran/", "/pmo/pembayaran/tagihan/", "/pmo/pembayaran/rekonsiliasi/"):
            assert who.get(url).status_code in (302, 403)
        assert who.post("/pmo/pembayaran/batch/baru/", {"due_by": "2026-01-01"}).status_code in (302, 403)


def test_an_auditor_reads_the_payment_pages_without_any_form(staff_client) -> None:
    client = staff_client("auditor")
    money = client.get("/pmo/pembayaran/").content.decode()
    assert 'data-testid="money-summary"' in money and 'data-testid="build-batch"' not in money
    statements = client.get("/pmo/pembayaran/tagihan/").content.decode()
    assert 'data-testid="issue-statements"' not in statements
    runs = client.get("/pmo/pembayaran/rekonsiliasi/").content.decode()
    assert 'data-testid="settlement-upload"' not in runs
    assert client.post("/pmo/pembayaran/batch/baru/", {"due_by": "2026-01-01"}).status_code == 403
    assert client.post("/pmo/pembayaran/tagihan/terbitkan/", {"period_end": "2026-01-01"}).status_code == 403
    assert client.post("/pmo/pembayaran/rekonsiliasi/", {"provider": "ovo"}).status_code == 403


# --- statements ----------------------------------------------------------------------------------------


def test_statements_are_issued_and_paid_and_a_platform_sees_only_its_own(
    cards, platform, institution, sell, staff_client, make_user
) -> None:
    training = sell(price=400_000)
    rival = partner("platform", "Saingan", status="integrated", portal_url="https://saingan.example")
    Cooperation.objects.create(platform=rival, institution=institution)
    catalog.listing_create(platform=rival, training=training, price=400_000, actor="test")
    ours = earn(cards[0], platform, institution, training)
    theirs = earn(cards[1], rival, institution, training)
    officer = staff_client("finance_officer")
    issued = officer.post(
        "/pmo/pembayaran/tagihan/terbitkan/", {"period_end": timezone.localdate().isoformat()}, follow=True
    ).content.decode()
    assert "2 statements issued." in issued
    own, other = Statement.objects.get(platform=platform), Statement.objects.get(platform=rival)
    assert f'data-testid="record-transfer-{own.pk}"' in issued
    paid = officer.post(f"/pmo/pembayaran/tagihan/{own.pk}/dibayar/", {"reference": "TRF-001"}, follow=True)
    assert "TRF-001" in paid.content.decode()
    own.refresh_from_db()
    assert own.paid_reference == "TRF-001"
    staff = client_of(member_of(platform, make_user))
    page = staff.get("/mitra/tagihan/").content.decode()
    assert f"/mitra/tagihan/{own.pk}/" in page and f"/mitra/tagihan/{other.pk}/" not in page
    detail = staff.get(f"/mitra/tagihan/{own.pk}/").content.decode()
    assert ours.voucher_code in detail and theirs.voucher_code not in detail
    assert staff.get(f"/mitra/tagihan/{other.pk}/").status_code == 404
    institution_staff = client_of(member_of(institution, make_user))
    assert institution_staff.get("/mitra/tagihan/").status_code == 403


def test_pages_render_for_a_finance_officer(staff_client) -> None:
    client = staff_client("finance_officer")
    for url in (
        "/pmo/pembayaran/",
        "/pmo/pembayaran/callback/",
        "/pmo/pembayaran/rekonsiliasi/",
        "/pmo/pembayaran/tagihan/",
    ):
        assert client.get(url).status_code == 200, url
    assert client.get("/pmo/pembayaran/batch/999999/").status_code == 404
    assert client.get("/pmo/pembayaran/rekonsiliasi/999999/").status_code == 404


def test_a_provider_that_cannot_be_reached_is_said_plainly(cards, make_user, settings) -> None:
    settings.PAYMENT_PROVIDER_URL = "http://127.0.0.1:9"  # nothing listens there
    card = cards[0]
    client = participant_client(card.applicant, make_user)
    response = client.post("/pendaftaran/rekening/", {"provider": "ovo", "number": number_for(card)})
    assert "cannot be reached right now" in response.content.decode()
    assert not PayoutAccount.objects.filter(applicant=card.applicant).exists()
