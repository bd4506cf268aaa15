"""Linking a card, buying against the balance, cancelling, redeeming once in its window, attendance,
completion with a signed certificate, and rating only after completion."""

import base64
import re
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.utils import timezone

from prakerja.core.errors import Forbidden, InvalidInput, NotFound, PrakerjaError
from prakerja.core.models import OutboxMessage
from prakerja.enrolment import rules, selectors, services
from prakerja.enrolment.models import LinkStatus, PurchaseStatus
from prakerja.ledger.selectors import balance, ledger_check
from prakerja.ledger.services import InsufficientBalance
from prakerja.partners.models import Partner
from prakerja.waves.models import Card

from .conftest import partner

pytestmark = pytest.mark.django_db


def link(card: Card, platform: Partner) -> None:
    services.card_link_request(platform=platform, card_number=card.number)
    body = OutboxMessage.objects.order_by("-pk").first().body
    code = re.findall(r"\b[A-Z2-9]{6}\b", body)[0]
    services.card_link_confirm(platform=platform, card_number=card.number, code=code)


def test_a_card_is_linked_only_with_the_participants_code(cards, platform) -> None:
    card = cards[0]
    services.card_link_request(platform=platform, card_number=card.number)
    message = OutboxMessage.objects.order_by("-pk").first()
    assert "Belajar" in message.body and card.number[-4:] in message.body and card.number not in message.body
    for _ in range(services.LINK_ATTEMPTS):
        with pytest.raises(InvalidInput):
            services.card_link_confirm(platform=platform, card_number=card.number, code="AAAAAA")
    code = re.findall(r"\b[A-Z2-9]{6}\b", message.body)[0]
    with pytest.raises(InvalidInput):  # five wrong tries end the code, even the right one
        services.card_link_confirm(platform=platform, card_number=card.number, code=code)
    with pytest.raises(PrakerjaError, match="link_requested_too_often"):  # the holder is not flooded
        services.card_link_request(platform=platform, card_number=card.number)
    card.links.update(requested_at=timezone.now() - timedelta(minutes=2))
    link(card, platform)
    assert card.links.get().status == LinkStatus.CONFIRMED


def test_a_purchase_holds_the_price_and_issues_a_voucher(cards, platform, sell) -> None:
    card = cards[0]
    training = sell(price=400_000)
    before = balance(card.account_code)
    with pytest.raises(PrakerjaError, match="card_not_usable"):  # not linked yet
        services.purchase_create(platform=platform, card_number=card.number, training_id=training.pk)
    link(card, platform)
    purchase = services.purchase_create(platform=platform, card_number=card.number, training_id=training.pk)
    assert purchase.status == PurchaseStatus.PAID and re.fullmatch(r"[A-Z2-9]{12}", purchase.voucher_code)
    assert balance(card.account_code) == before - 400_000
    assert selectors.escrow_balance() == 400_000
    services.sales_refresh()
    card.refresh_from_db()
    training.refresh_from_db()
    assert card.first_purchase_at is not None and training.sold == 1
    assert purchase.voucher_code in OutboxMessage.objects.order_by("-pk").first().body
    assert ledger_check() == []


def test_the_balance_cannot_be_overspent(cards, platform, sell) -> None:
    card = cards[0]
    link(card, platform)
    dear = sell(price=700_000)
    services.purchase_create(platform=platform, card_number=card.number, training_id=dear.pk)
    with pytest.raises(InsufficientBalance):  # Rp1,000,000 balance: 700,000 + 700,000 is too much
        services.purchase_create(platform=platform, card_number=card.number, training_id=dear.pk)
    assert balance(card.account_code) == 300_000
    assert card.purchases.count() == 1


def test_only_listed_trainings_of_integrated_platforms_sell(cards, platform, sell, institution) -> None:
    card = cards[0]
    link(card, platform)
    training = sell()
    other = partner("platform", "Lain", status="integrated")
    with pytest.raises(Forbidden):
        services.card_link_request(
            platform=Partner(pk=999, kind="institution", status="approved"), card_number=card.number
        )
    with pytest.raises(PrakerjaError, match="card_not_usable"):
        services.purchase_create(platform=other, card_number=card.number, training_id=training.pk)
    with pytest.raises(PrakerjaError, match="not_sellable"):
        services.purchase_create(platform=platform, card_number=card.number, training_id=training.pk + 1000)
    Partner.objects.filter(pk=institution.pk).update(status="suspended")
    with pytest.raises(PrakerjaError, match="not_sellable"):
        services.purchase_create(platform=platform, card_number=card.number, training_id=training.pk)


def test_cancelling_refunds_within_the_withdrawal_window(cards, platform, sell, settings) -> None:
    card = cards[0]
    link(card, platform)
    training = sell(price=250_000)
    start = balance(card.account_code)
    purchase = services.purchase_create(platform=platform, card_number=card.number, training_id=training.pk)
    services.purchase_cancel(purchase=purchase, actor="test", reason="changed my mind", by_participant=True)
    services.sales_refresh()
    training.refresh_from_db()
    assert training.sold == 0 and training.listings.get().sold == 0  # a cancelled purchase is not a sale
    assert balance(card.account_code) == start and selectors.escrow_balance() == 0
    with pytest.raises(PrakerjaError, match="purchase_wrong_state"):  # refunded once only
        services.purchase_cancel(purchase=purchase, actor="test", reason="again", by_participant=False)
    late = services.purchase_create(platform=platform, card_number=card.number, training_id=training.pk)
    late.created_at = timezone.now() - timedelta(days=settings.PRAKERJA_WITHDRAWAL_DAYS + 1)
    late.save(update_fields=["created_at"])
    with pytest.raises(PrakerjaError, match="withdrawal_closed"):
        services.purchase_cancel(purchase=late, actor="test", reason="too late", by_participant=True)
    services.purchase_cancel(purchase=late, actor="pmo", reason="voucher expired", by_participant=False)
    assert ledger_check() == []


def test_a_voucher_is_redeemed_once_by_its_own_institution_within_the_window(
    cards, platform, sell, institution
) -> None:
    card = cards[0]
    link(card, platform)
    training = sell(mode="offline")
    session = training.sessions.get()
    purchase = services.purchase_create(platform=platform, card_number=card.number, training_id=training.pk)
    stranger = partner("institution", "LPK Lain", status="approved")
    with pytest.raises(NotFound):  # a foreign voucher looks exactly like an unknown one
        services.voucher_redeem(institution=stranger, code=purchase.voucher_code, session_id=session.pk)
    with pytest.raises(NotFound):
        services.voucher_redeem(institution=institution, code="ZZZZZZZZZZZZ", session_id=session.pk)
    with pytest.raises(InvalidInput):  # an in-person training names its session
        services.voucher_redeem(institution=institution, code=purchase.voucher_code)
    session.starts_at = timezone.now() + timedelta(days=5)
    session.ends_at = session.starts_at + timedelta(hours=3)
    session.save()
    with pytest.raises(PrakerjaError, match="outside_redeem_window"):
        services.voucher_redeem(institution=institution, code=purchase.voucher_code, session_id=session.pk)
    session.starts_at = timezone.now() + timedelta(hours=2)
    session.save()
    code = purchase.voucher_code[:4] + "-" + purchase.voucher_code[4:].lower()  # typed by a person
    services.voucher_redeem(institution=institution, code=code, session_id=session.pk)
    with pytest.raises(PrakerjaError, match="purchase_wrong_state"):
        services.voucher_redeem(institution=institution, code=purchase.voucher_code, session_id=session.pk)
    assert balance(services.payable_account(platform)) == purchase.price
    assert selectors.escrow_balance() == 0
    with pytest.raises(PrakerjaError, match="purchase_wrong_state"):  # a redeemed voucher is not refunded
        services.purchase_cancel(purchase=purchase, actor="test", reason="x", by_participant=False)


def test_completion_needs_attendance_and_issues_a_verifiable_certificate(
    cards, platform, sell, institution
) -> None:
    card = cards[0]
    link(card, platform)
    training = sell()
    purchase = services.purchase_create(platform=platform, card_number=card.number, training_id=training.pk)
    with pytest.raises(PrakerjaError, match="purchase_wrong_state"):  # never redeemed
        services.completion_report(institution=institution, code=purchase.voucher_code)
    services.voucher_redeem(institution=institution, code=purchase.voucher_code)
    with pytest.raises(PrakerjaError, match="not_attended"):
        services.completion_report(institution=institution, code=purchase.voucher_code)
    now = timezone.now()
    with pytest.raises(InvalidInput):
        services.attendance_report(
            institution=institution,
            code=purchase.voucher_code,
            started_at=now,
            ended_at=now,
            method="telepathy",
            evidence="",
        )
    services.attendance_report(
        institution=institution,
        code=purchase.voucher_code,
        started_at=now - timedelta(hours=3),
        ended_at=now - timedelta(hours=1),
        method="online_log",
        evidence="LMS log 42",
    )
    services.post_test_report(institution=institution, code=purchase.voucher_code, score=85)
    certificate = services.completion_report(institution=institution, code=purchase.voucher_code)
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.COMPLETED and purchase.post_test_score == 85
    text = rules.certificate_text(
        code=certificate.code,
        name=card.applicant.full_name,
        training=training.title_id,
        institution="LPK Maju",
        completed_on=timezone.localdate(certificate.issued_at).isoformat(),
    )
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(services.public_key_b64()))
    key.verify(base64.b64decode(certificate.signature), text)  # raises if the signature does not hold


def test_only_the_participant_who_completed_may_rate(cards, platform, sell, institution) -> None:
    card, other = cards[0], cards[1]
    link(card, platform)
    training = sell()
    purchase = services.purchase_create(platform=platform, card_number=card.number, training_id=training.pk)
    with pytest.raises(PrakerjaError, match="not_completed"):
        services.training_rate(purchase=purchase, applicant=card.applicant, rating=5, text="Bagus")
    services.voucher_redeem(institution=institution, code=purchase.voucher_code)
    now = timezone.now()
    services.attendance_report(
        institution=institution,
        code=purchase.voucher_code,
        started_at=now - timedelta(hours=2),
        ended_at=now,
        method="online_log",
        evidence="LMS",
    )
    services.completion_report(institution=institution, code=purchase.voucher_code)
    with pytest.raises(NotFound):
        services.training_rate(purchase=purchase, applicant=other.applicant, rating=1, text="")
    review = services.training_rate(purchase=purchase, applicant=card.applicant, rating=4, text="Bermanfaat")
    training.refresh_from_db()
    assert review.rating == 4 and training.rating == 4.0 and training.rating_count == 1


def test_impossible_completions_are_named() -> None:
    t0 = timezone.now()
    h = timedelta(hours=1)
    assert rules.completion_problems(redeemed_at=t0, completed_at=t0 + 10 * h, hours=8, attended=[]) == []
    assert rules.completion_problems(redeemed_at=t0, completed_at=t0 + h, hours=8, attended=[]) == [
        "faster_than_hours"
    ]
    overlapping = [(t0, t0 + 2 * h), (t0 + h, t0 + 3 * h)]
    assert "overlapping_attendance" in rules.completion_problems(
        redeemed_at=t0, completed_at=t0 + 20 * h, hours=8, attended=overlapping
    )


def test_expired_vouchers_are_refunded_and_live_ones_kept(cards, platform, sell, settings) -> None:
    card = cards[0]
    link(card, platform)
    online, offline = sell(price=100_000), sell(price=200_000, mode="offline")
    start = balance(card.account_code)
    old = services.purchase_create(platform=platform, card_number=card.number, training_id=online.pk)
    fresh = services.purchase_create(platform=platform, card_number=card.number, training_id=online.pk)
    in_person = services.purchase_create(platform=platform, card_number=card.number, training_id=offline.pk)
    old.created_at = timezone.now() - timedelta(days=settings.PRAKERJA_ONLINE_REDEEM_DAYS + 1)
    old.save(update_fields=["created_at"])
    assert services.vouchers_expire() == 1
    later = timezone.now() + timedelta(days=3)  # the in-person session (in 2 hours) has passed by then
    assert services.vouchers_expire(now=later) == 1
    statuses = {p.pk: p.status for p in card.purchases.all()}
    assert statuses == {old.pk: "cancelled", fresh.pk: "paid", in_person.pk: "cancelled"}
    assert balance(card.account_code) == start - 100_000
    assert services.vouchers_expire(now=later) == 0
