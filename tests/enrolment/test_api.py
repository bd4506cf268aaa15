"""The enrolment partner API end to end over HTTP: tokens, linking, an idempotent purchase, redemption,
attendance and completion; and the refusals (scope, foreign voucher, window, never redeemed, no token)."""

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from prakerja.core.models import OutboxMessage
from prakerja.enrolment.models import Purchase, PurchaseStatus
from prakerja.ledger.selectors import balance
from prakerja.partners import services as partners
from prakerja.partners.models import Partner

from .conftest import partner

pytestmark = pytest.mark.django_db
API = "/api/v1/partner"


def token(org: Partner, officer: Any) -> str:
    """A Bearer token of a fresh credential of an integrated partner."""
    today = timezone.localdate()
    partners.agreement_record(
        partner=org,
        number=f"PKS-{org.pk}",
        signed_on=today,
        starts_on=today,
        ends_on=today + timedelta(days=90),
        officer=officer,
    )
    credential, secret = partners.credential_issue(partner=org, officer=officer)
    answer = Client().post(
        f"{API}/token",
        {"grant_type": "client_credentials", "client_id": credential.client_id, "client_secret": secret},
    )
    assert answer.status_code == 200, answer.content
    return answer.json()["access_token"]


class Partner_:
    """A partner's HTTP client: Bearer token on every call, a fresh Idempotency-Key on every write."""

    def __init__(self, bearer: str) -> None:
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {bearer}", HTTP_ACCEPT_LANGUAGE="en")

    def post(self, path: str, body: dict[str, Any], key: str | None = None) -> Any:
        return self.client.post(
            f"{API}{path}",
            body,
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()),
        )

    def get(self, path: str) -> Any:
        return self.client.get(f"{API}{path}")


@pytest.fixture
def clients(platform, institution, make_user) -> tuple[Partner_, Partner_]:
    officer = make_user("partnership_officer")
    Partner.objects.filter(pk=institution.pk).update(status="approved")
    return Partner_(token(platform, officer)), Partner_(token(institution, officer))


def code_of(response: Any) -> str:
    """The stable code of a problem+json answer (the end of its type URN)."""
    return response.json()["type"].rsplit(":", 1)[1]


def last_code() -> str:
    body = OutboxMessage.objects.order_by("-pk").first().body
    return re.findall(r"\b[A-Z2-9]{6}\b", body)[0]


def test_the_whole_flow_over_http(cards, sell, clients) -> None:
    shop, school = clients
    card, training = cards[0], sell(price=300_000)
    assert shop.post("/cards/links", {"card_number": card.number}).status_code == 202
    confirmed = shop.post("/cards/links/confirm", {"card_number": card.number, "code": last_code()})
    assert confirmed.json() == {"card_last4": card.number[-4:], "status": "confirmed"}
    key = str(uuid.uuid4())
    bought = shop.post("/purchases", {"card_number": card.number, "training_id": training.pk}, key=key)
    assert bought.status_code == 201, bought.content
    sale = bought.json()
    voucher = Purchase.objects.get(pk=sale["id"]).voucher_code
    assert voucher not in bought.content.decode()  # the voucher code is the participant's, not the platform's
    # The platform asks in English; the card holder is written to in Indonesian.
    link = OutboxMessage.objects.get(body__contains=f" {card.number[-4:]}.")
    sold = OutboxMessage.objects.get(body__contains=voucher)
    assert link.subject == "Tautkan kartu Prakerja Anda" and "berikan kode" in link.body
    assert (
        sold.subject == "Voucher Prakerja Anda"
        and sold.body.startswith("Anda membeli")
        and voucher in sold.body
    )
    again = shop.post("/purchases", {"card_number": card.number, "training_id": training.pk}, key=key)
    assert again.status_code == 201 and again.json() == sale and again["Idempotent-Replayed"] == "true"
    assert Purchase.objects.count() == 1 and balance(card.account_code) == 700_000
    other = shop.post("/purchases", {"card_number": card.number, "training_id": training.pk + 1}, key=key)
    assert other.status_code == 422 and code_of(other) == "idempotency_key_reused"
    assert shop.get(f"/purchases/{sale['id']}").json()["status"] == "paid"
    assert [p["id"] for p in shop.get("/purchases").json()["items"]] == [sale["id"]]

    assert (
        school.post("/vouchers/lookup", {"code": voucher}).json()["participant_name"]
        == card.applicant.full_name
    )
    assert school.post("/vouchers/redeem", {"code": voucher}).json()["status"] == "redeemed"
    now = timezone.now()
    attended = school.post(
        "/vouchers/attendance",
        {
            "code": voucher,
            "started_at": (now - timedelta(hours=3)).isoformat(),
            "ended_at": now.isoformat(),
            "method": "online_log",
            "evidence": "LMS session 77",
        },
    )
    assert attended.status_code == 201 and attended.json()["attendances"] == 1
    assert school.post("/vouchers/post-test", {"code": voucher, "score": 90}).json()["post_test_score"] == 90
    done = school.post("/vouchers/completion", {"code": voucher})
    assert done.status_code == 201
    certificate = done.json()["certificate_code"]
    assert done.json()["verify_url"].endswith(f"/verify/{certificate}/")
    assert Client().get(f"/verify/{certificate}/").status_code == 200
    assert Purchase.objects.get().status == PurchaseStatus.COMPLETED


def test_refusals_are_problems_and_write_nothing(cards, sell, clients, platform) -> None:
    shop, school = clients
    card, training = cards[0], sell(price=300_000)
    no_token = Client().post(f"{API}/purchases", {}, content_type="application/json")
    assert no_token.status_code == 401 and no_token["Content-Type"].startswith("application/problem+json")
    refused = school.post("/purchases", {"card_number": card.number, "training_id": training.pk})
    assert refused.status_code == 403 and code_of(refused) == "insufficient_scope"
    unlinked = shop.post("/purchases", {"card_number": card.number, "training_id": training.pk})
    assert unlinked.status_code == 409 and code_of(unlinked) == "card_not_usable"
    shop.post("/cards/links", {"card_number": card.number})
    shop.post("/cards/links/confirm", {"card_number": card.number, "code": last_code()})
    sale = shop.post("/purchases", {"card_number": card.number, "training_id": training.pk}).json()
    voucher = Purchase.objects.get(pk=sale["id"]).voucher_code
    early = school.post("/vouchers/completion", {"code": voucher})
    assert early.status_code == 409 and code_of(early) == "purchase_wrong_state"
    stranger_bearer = token(partner("institution", "LPK Lain", status="approved"), _officer())
    foreign = Partner_(stranger_bearer).post("/vouchers/redeem", {"code": voucher})
    assert foreign.status_code == 404 and code_of(foreign) == "voucher_unknown"
    overdraft = shop.post("/purchases", {"card_number": card.number, "training_id": sell(price=800_000).pk})
    assert overdraft.status_code == 409 and code_of(overdraft) == "insufficient_balance"
    assert Purchase.objects.count() == 1 and balance(card.account_code) == 700_000
    malformed = shop.post("/purchases", {"card_number": card.number})
    assert malformed.status_code == 422
    other_platform = Partner_(token(partner("platform", "Lain", status="integrated"), _officer()))
    assert other_platform.get(f"/purchases/{sale['id']}").status_code == 404


def _officer() -> Any:
    from prakerja.accounts.services import user_create

    return user_create(
        username=f"officer-{uuid.uuid4().hex[:8]}", password="x-Long-pass-99", role="partnership_officer"
    )


def test_wrong_link_codes_count_through_the_api_and_five_end_the_code(cards, clients) -> None:
    shop, _school = clients
    card = cards[0]
    shop.post("/cards/links", {"card_number": card.number})
    code = last_code()
    for _ in range(5):
        wrong = shop.post("/cards/links/confirm", {"card_number": card.number, "code": "ZZZZZZ"})
        assert wrong.status_code == 422 and code_of(wrong) == "link_code_wrong"
    assert card.links.get().attempts == 5  # kept although each refusal rolled the request back
    right = shop.post("/cards/links/confirm", {"card_number": card.number, "code": code})
    assert right.status_code == 422 and card.links.get().status == "pending"
    again = shop.post("/cards/links", {"card_number": card.number})
    assert again.status_code == 429 and again["Retry-After"] == "60"


def test_attendance_times_need_a_time_zone(cards, sell, clients) -> None:
    shop, school = clients
    card, training = cards[0], sell()
    shop.post("/cards/links", {"card_number": card.number})
    shop.post("/cards/links/confirm", {"card_number": card.number, "code": last_code()})
    sale = shop.post("/purchases", {"card_number": card.number, "training_id": training.pk}).json()
    voucher = Purchase.objects.get(pk=sale["id"]).voucher_code
    school.post("/vouchers/redeem", {"code": voucher})
    naive = school.post(
        "/vouchers/attendance",
        {
            "code": voucher,
            "started_at": "2026-01-01T10:00:00",
            "ended_at": "2026-01-01T12:00:00+07:00",
            "method": "online_log",
            "evidence": "LMS",
        },
    )
    assert naive.status_code == 422 and naive.json()["problems"][0]["field"] == "started_at"


def test_a_batch_of_purchases_buys_each_item_or_says_why_not(cards, sell, clients, platform) -> None:
    shop, _school = clients
    training, unlisted = sell(price=600_000), sell(price=100_000, title_id="Tidak dijual")
    platform.listings.filter(training=unlisted).update(status="withdrawn")
    card, other = cards[0], cards[1]
    for holder in (card, other):
        shop.post("/cards/links", {"card_number": holder.number})
        shop.post("/cards/links/confirm", {"card_number": holder.number, "code": last_code()})
    start = balance(card.account_code)
    body = {
        "purchases": [
            {"card_number": card.number, "training_id": training.pk},
            {"card_number": card.number, "training_id": training.pk},  # more than the balance left
            {"card_number": "1234567890123456", "training_id": training.pk},
            {"card_number": other.number, "training_id": unlisted.pk},
            {"card_number": other.number, "training_id": training.pk},
        ]
    }
    answer = shop.post("/purchases/batch", body, key="batch-1")
    assert answer.status_code == 200, answer.content
    data = answer.json()
    assert (data["created"], data["refused"]) == (2, 3)
    statuses = [
        (r["status"], (r["problem"] or {}).get("type", "").rsplit(":", 1)[-1]) for r in data["results"]
    ]
    assert statuses == [
        (201, ""),
        (409, "insufficient_balance"),
        (409, "card_not_usable"),
        (409, "not_sellable"),
        (201, ""),
    ]
    assert data["results"][0]["purchase"]["card_last4"] == card.number[-4:]
    assert balance(card.account_code) == start - 600_000
    assert Purchase.objects.filter(card__in=[card, other]).count() == 2
    # Each participant got their own voucher code; the platform never sees it.
    assert "voucher_code" not in answer.content.decode()
    for purchase in Purchase.objects.filter(card__in=[card, other]):
        assert OutboxMessage.objects.filter(body__contains=purchase.voucher_code).count() == 1
    again = shop.post("/purchases/batch", body, key="batch-1")
    assert again.json() == data and again["Idempotent-Replayed"] == "true"
    assert Purchase.objects.filter(card__in=[card, other]).count() == 2
    too_many = shop.post("/purchases/batch", {"purchases": body["purchases"] * 101})
    assert too_many.status_code == 422
