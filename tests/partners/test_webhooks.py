"""Webhooks to partners: Standard Webhooks signatures, the retry schedule, a real delivery over HTTP, the
enrolment events, the partner API's delivery log and replay, and the partner-portal page."""

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.utils import timezone
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from prakerja.accounts.models import User
from prakerja.core.errors import InvalidInput, NotFound, PrakerjaError
from prakerja.core.models import AuditEntry, IdempotencyRecord
from prakerja.enrolment import services as enrolment
from prakerja.partners import rules, services
from prakerja.partners.models import Credential, Partner, WebhookEndpoint, WebhookMessage, WebhookStatus
from tests.catalog.conftest import client_of, member_of
from tests.catalog.conftest import partner as make_partner
from tests.enrolment.conftest import cards, institution, platform, sell  # noqa: F401 (fixtures)
from tests.enrolment.test_services import link

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback(settings: Any) -> None:
    """Deliveries in these tests go to a server on this machine, over plain http."""
    settings.PRAKERJA_WEBHOOK_ALLOW_LOOPBACK = True


class Recorder:
    """A fake `send`: answers with the statuses given in turn (or raises), keeps what it was sent."""

    def __init__(self, *answers: int | Exception) -> None:
        self.answers = list(answers)
        self.sent: list[dict[str, Any]] = []

    def __call__(self, *, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
        self.sent.append({"url": url, "body": body, "headers": dict(headers), "timeout": timeout})
        answer = self.answers.pop(0) if self.answers else 200
        if isinstance(answer, Exception):
            raise answer
        return answer


def with_endpoint(org: Partner, url: str = "https://hooks.example.id/prakerja") -> str:
    _endpoint, secret = services.webhook_endpoint_set(partner=org, url=url, actor="test")
    assert secret is not None and secret.startswith("whsec_")
    return secret


def event(org: Partner, event_type: str = "purchase.created", **data: Any) -> WebhookMessage:
    return services.webhook_enqueue(partner=org, event_type=event_type, data=data or {"purchase_id": 1})[0]


# --- signing, the schedule ------------------------------------------------------------------------------


def test_a_delivery_is_signed_so_standardwebhooks_verifies_it() -> None:
    org = make_partner("platform", "Belajar", status="integrated")
    secret = with_endpoint(org)
    message = event(org, purchase_id=7, created_at=timezone.now())
    send = Recorder(204)
    assert services.webhooks_deliver(limit=10, send=send) == {"delivered": 1, "retrying": 0, "failed": 0}
    sent = send.sent[0]
    assert sent["url"] == "https://hooks.example.id/prakerja" and sent["timeout"] <= 10
    assert sent["headers"]["webhook-id"] == message.event_id and message.event_id.startswith("msg_")
    payload = Webhook(secret).verify(sent["body"], sent["headers"])
    assert payload["type"] == "purchase.created" and payload["data"]["purchase_id"] == 7
    assert payload["timestamp"].endswith("Z")
    with pytest.raises(WebhookVerificationError):  # another secret, or a changed body, fails
        Webhook(services._new_webhook_secret()).verify(sent["body"], sent["headers"])
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(sent["body"].replace(b"7", b"8"), sent["headers"])
    message.refresh_from_db()
    assert message.status == WebhookStatus.DELIVERED and message.attempts == 1
    assert message.last_status_code == 204 and message.delivered_at is not None
    assert services.webhooks_deliver(limit=10, send=send) == {"delivered": 0, "retrying": 0, "failed": 0}


def test_the_retry_schedule_is_the_standard_one() -> None:
    waits = [rules.webhook_retry_delay(n) for n in range(0, 9)]
    assert waits == [
        timedelta(0),
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
        timedelta(hours=10),
        None,
    ]
    assert rules.WEBHOOK_MAX_ATTEMPTS == 8


def test_failures_back_off_then_fail_for_good_and_never_log_the_secret() -> None:
    org = make_partner("institution", "LPK Maju", status="approved")
    secret = with_endpoint(org)
    message = event(org, "voucher.redeemed")
    now = timezone.now()
    send = Recorder(500, OSError("connection refused"), *[503] * 6)
    expected = [timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2)]
    expected += [timedelta(hours=5), timedelta(hours=10), timedelta(hours=10)]
    for attempt, wait in enumerate(expected, start=1):
        counts = services.webhooks_deliver(limit=10, now=now, send=send)
        assert counts == {"delivered": 0, "retrying": 1, "failed": 0}
        message.refresh_from_db()
        assert message.attempts == attempt and message.next_attempt_at == now + wait
        assert message.status == WebhookStatus.PENDING
        # Not due a moment before its time.
        early = services.webhooks_deliver(limit=10, now=now + wait - timedelta(seconds=1), send=send)
        assert early == {"delivered": 0, "retrying": 0, "failed": 0}
        now += wait
    assert send.sent and len(send.sent) == 7
    assert services.webhooks_deliver(limit=10, now=now, send=send)["failed"] == 1
    message.refresh_from_db()
    assert message.status == WebhookStatus.FAILED and message.attempts == 8
    assert message.last_status_code == 503 and message.last_error == "HTTP 503"
    assert services.webhooks_deliver(limit=10, now=now + timedelta(days=9), send=send)["failed"] == 0
    assert secret not in message.last_error and secret.removeprefix("whsec_") not in json.dumps(
        list(AuditEntry.objects.values("before", "after"))
    )


def test_a_network_error_is_kept_short() -> None:
    org = make_partner("platform", "Belajar", status="integrated")
    with_endpoint(org)
    message = event(org)
    services.webhooks_deliver(limit=10, send=Recorder(TimeoutError("timed out " * 100)))
    message.refresh_from_db()
    assert message.last_status_code is None and message.last_error == "TimeoutError"


def test_messages_wait_for_an_endpoint_and_each_partner_gets_its_own() -> None:
    org = make_partner("platform", "Belajar", status="integrated")
    other = make_partner("institution", "LPK Maju", status="approved")
    both = services.webhook_enqueue(partner=[org, other], event_type="voucher.redeemed", data={"x": 1})
    assert len({m.event_id for m in both}) == 2
    send = Recorder()
    assert services.webhooks_deliver(limit=10, send=send) == {"delivered": 0, "retrying": 0, "failed": 0}
    with_endpoint(org)
    assert services.webhooks_deliver(limit=10, send=send)["delivered"] == 1
    assert WebhookMessage.objects.get(partner=other).status == WebhookStatus.PENDING
    with pytest.raises(ValueError):
        services.webhook_enqueue(partner=org, event_type="card.stolen", data={})


def test_only_https_addresses_are_accepted(settings) -> None:
    org = make_partner("platform", "Belajar", status="integrated")
    for url in (
        "http://hooks.example.id/x",
        "ftp://hooks.example.id/x",
        "hooks.example.id",
        "https://user:pw@hooks.example.id/x",
        "https://10.1.2.3/x",
        "https://169.254.169.254/latest",
    ):
        with pytest.raises(InvalidInput):
            services.webhook_endpoint_set(partner=org, url=url, actor="test")
    settings.PRAKERJA_WEBHOOK_ALLOW_LOOPBACK = False
    with pytest.raises(InvalidInput):
        services.webhook_endpoint_set(partner=org, url="http://127.0.0.1:9000/hook", actor="test")
    settings.PRAKERJA_WEBHOOK_ALLOW_LOOPBACK = True
    _endpoint, secret = services.webhook_endpoint_set(
        partner=org, url="http://127.0.0.1:9000/hook", actor="test"
    )
    assert secret
    endpoint, again = services.webhook_endpoint_set(
        partner=org, url="https://hooks.example.id/", actor="test"
    )
    assert again is None and endpoint.url == "https://hooks.example.id/"  # the secret is kept
    assert WebhookEndpoint.objects.get().secret == secret
    _rotated, new = services.webhook_secret_rotate(partner=org, actor="test")
    assert new != secret and WebhookEndpoint.objects.get().secret == new
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT secret FROM {WebhookEndpoint._meta.db_table}")
        raw = cursor.fetchone()[0]
    assert new not in raw and raw.startswith("v1:")  # encrypted at rest


# --- a real delivery --------------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[bytes, dict[str, str]]], list[int]]]:
    """An HTTP server on 127.0.0.1 in a thread; it answers with the statuses queued (204 by default)."""
    received: list[tuple[bytes, dict[str, str]]] = []
    answers: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, dict(self.headers.items())))
            self.send_response(answers.pop(0) if answers else 204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hooks", received, answers
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_real_server_receives_and_verifies_a_delivery(receiver) -> None:
    url, received, answers = receiver
    org = make_partner("platform", "Belajar", status="integrated")
    secret = with_endpoint(org, url)
    first, second = event(org, purchase_id=1), event(org, "purchase.cancelled", purchase_id=1)
    answers.append(500)
    assert services.webhooks_deliver(limit=10) == {"delivered": 1, "retrying": 1, "failed": 0}
    assert len(received) == 2
    for body, headers in received:
        assert Webhook(secret).verify(body, headers)["data"] == {"purchase_id": 1}
        assert headers["Content-Type"] == "application/json"
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.last_status_code) == (WebhookStatus.PENDING, 500)
    assert (second.status, second.last_status_code) == (WebhookStatus.DELIVERED, 204)
    counts = services.webhooks_deliver(limit=10, now=timezone.now() + timedelta(seconds=6))
    assert counts["delivered"] == 1 and received[2][1]["Webhook-Id"] == first.event_id  # the same id again


def test_a_redirect_is_not_followed(receiver) -> None:
    url, received, answers = receiver
    org = make_partner("platform", "Belajar", status="integrated")
    with_endpoint(org, url)
    message = event(org)
    answers.append(307)
    assert services.webhooks_deliver(limit=10)["retrying"] == 1
    message.refresh_from_db()
    assert len(received) == 1 and message.last_error == "HTTP 307"


def test_a_closed_port_is_a_retry() -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    org = make_partner("platform", "Belajar", status="integrated")
    with_endpoint(org, f"http://127.0.0.1:{port}/hooks")
    message = event(org)
    assert services.webhooks_deliver(limit=10)["retrying"] == 1
    message.refresh_from_db()
    assert message.last_error.startswith("URLError") and message.last_status_code is None


# --- the enrolment events -----------------------------------------------------------------------------


def test_purchases_redemptions_and_certificates_raise_events(cards, platform, sell, institution) -> None:  # noqa: F811
    card = cards[0]
    link(card, platform)
    training = sell()
    purchase = enrolment.purchase_create(platform=platform, card_number=card.number, training_id=training.pk)
    created = WebhookMessage.objects.get(event_type="purchase.created")
    assert created.partner == platform
    assert created.payload["data"] == {
        "purchase_id": purchase.pk,
        "training_id": training.pk,
        "price": purchase.price,
        "status": "paid",
        "created_at": created.payload["data"]["created_at"],
    }
    assert purchase.voucher_code not in json.dumps(created.payload)  # the voucher code is the participant's
    enrolment.voucher_redeem(institution=institution, code=purchase.voucher_code)
    redeemed = WebhookMessage.objects.filter(event_type="voucher.redeemed")
    assert {m.partner_id for m in redeemed} == {platform.pk, institution.pk}
    now = timezone.now()
    enrolment.attendance_report(
        institution=institution,
        code=purchase.voucher_code,
        started_at=now - timedelta(hours=2),
        ended_at=now,
        method="online_log",
        evidence="LMS log",
    )
    certificate = enrolment.completion_report(institution=institution, code=purchase.voucher_code)
    issued = WebhookMessage.objects.filter(event_type="certificate.issued")
    assert {m.partner_id for m in issued} == {platform.pk, institution.pk}
    data = issued[0].payload["data"]
    assert data["certificate_code"] == certificate.code and data["verify_url"].endswith(
        f"{certificate.code}/"
    )
    other = enrolment.purchase_create(platform=platform, card_number=card.number, training_id=training.pk)
    enrolment.purchase_cancel(purchase=other, actor="test", reason="changed my mind", by_participant=True)
    cancelled = WebhookMessage.objects.get(event_type="purchase.cancelled")
    assert cancelled.partner == platform and cancelled.payload["data"]["status"] == "cancelled"
    assert "changed my mind" not in json.dumps(cancelled.payload)


def test_a_refused_purchase_raises_no_event(cards, platform, sell) -> None:  # noqa: F811
    training = sell()
    with pytest.raises(PrakerjaError):  # the card is not linked
        enrolment.purchase_create(platform=platform, card_number=cards[0].number, training_id=training.pk)
    assert not WebhookMessage.objects.exists()


# --- the partner API ----------------------------------------------------------------------------------


def token(org: Partner, user: User, scope: str | None = None) -> dict[str, str]:
    credential = Credential.objects.create(
        partner=org,
        client_id=f"pk_test_{org.pk}",
        secret_digest="x",
        created_at=timezone.now(),
        created_by=user,
    )
    _access, raw = services.token_issue(credential=credential, scope=scope)
    return {"Authorization": f"Bearer {raw}", "Accept-Language": "en"}


def test_the_api_sets_the_endpoint_and_shows_only_the_partners_own_deliveries(make_user) -> None:
    officer = make_user("partnership_officer")
    org = make_partner("platform", "Belajar", status="integrated")
    rival = make_partner("platform", "Saingan", status="integrated")
    headers = token(org, officer)
    client = Client()
    put = client.put(
        "/api/v1/partner/webhooks/endpoint",
        {"url": "https://hooks.example.id/a"},
        content_type="application/json",
        headers={**headers, "Idempotency-Key": "k1"},
    )
    assert put.status_code == 200, put.content
    secret = put.json()["secret"]
    assert secret.startswith("whsec_") and WebhookEndpoint.objects.get(partner=org).secret == secret
    retried = client.put(  # a retry of the same request gets the same answer, and no second secret
        "/api/v1/partner/webhooks/endpoint",
        {"url": "https://hooks.example.id/a"},
        content_type="application/json",
        headers={**headers, "Idempotency-Key": "k1"},
    )
    assert retried["Idempotent-Replayed"] == "true" and retried.json()["secret"] == secret
    assert WebhookEndpoint.objects.get(partner=org).secret == secret
    stored = IdempotencyRecord.objects.get(key="k1")  # the answer kept for retries is encrypted at rest
    assert stored.sealed and secret not in json.dumps(stored.response_body)
    again = client.put(
        "/api/v1/partner/webhooks/endpoint",
        {"url": "https://hooks.example.id/b"},
        content_type="application/json",
        headers={**headers, "Idempotency-Key": "k2"},
    )
    assert again.json() == {"url": "https://hooks.example.id/b", "secret": None}
    bad = client.put(
        "/api/v1/partner/webhooks/endpoint",
        {"url": "http://hooks.example.id/b"},
        content_type="application/json",
        headers={**headers, "Idempotency-Key": "k3"},
    )
    assert bad.status_code == 422 and "webhook_url_invalid" in bad.json()["type"]
    mine = event(org, purchase_id=1)
    theirs = event(rival, purchase_id=2)
    services.webhooks_deliver(limit=10, send=Recorder(500))
    listed = client.get("/api/v1/partner/webhooks/deliveries", headers=headers).json()
    assert listed["count"] == 1 and [i["event_id"] for i in listed["items"]] == [mine.event_id]
    assert listed["items"][0]["last_error"] == "HTTP 500" and listed["items"][0]["attempts"] == 1
    failed = client.get("/api/v1/partner/webhooks/deliveries?status=failed", headers=headers).json()
    assert failed["count"] == 0
    assert (
        theirs.event_id
        not in client.get("/api/v1/partner/webhooks/deliveries", headers=headers).content.decode()
    )
    read_only = token(rival, officer, scope="purchases:read")
    denied = client.get("/api/v1/partner/webhooks/deliveries", headers=read_only)
    assert denied.status_code == 403


def test_the_api_replays_a_failed_message_of_its_own_only(make_user) -> None:
    officer = make_user("partnership_officer")
    org = make_partner("institution", "LPK Maju", status="integrated")
    rival = make_partner("institution", "LPK Lain", status="integrated")
    headers = token(org, officer)
    mine, theirs = event(org), event(rival)
    WebhookMessage.objects.update(status=WebhookStatus.FAILED, attempts=8, last_error="HTTP 500")
    client = Client()
    url = f"/api/v1/partner/webhooks/deliveries/{mine.event_id}/replay"
    replayed = client.post(url, headers={**headers, "Idempotency-Key": "r1"})
    assert replayed.status_code == 200, replayed.content
    assert replayed.json()["status"] == "pending" and replayed.json()["attempts"] == 0
    mine.refresh_from_db()
    assert mine.status == WebhookStatus.PENDING and mine.last_error == ""
    foreign = client.post(
        f"/api/v1/partner/webhooks/deliveries/{theirs.event_id}/replay",
        headers={**headers, "Idempotency-Key": "r2"},
    )
    assert foreign.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == WebhookStatus.FAILED
    pending = client.post(url, headers={**headers, "Idempotency-Key": "r3"})
    assert pending.status_code == 409  # already waiting
    with pytest.raises(NotFound):
        services.webhook_replay(event_id=theirs.event_id, partner=org, actor="test")


# --- the command ----------------------------------------------------------------------------------------


def test_the_command_delivers_and_replays(receiver) -> None:
    url, received, _answers = receiver
    org = make_partner("platform", "Belajar", status="integrated")
    with_endpoint(org, url)
    message = event(org)
    out = StringIO()
    call_command("webhooks", "deliver", stdout=out)
    assert "1 delivered" in out.getvalue() and len(received) == 1
    call_command("webhooks", "replay", message.event_id, stdout=out)
    message.refresh_from_db()
    assert message.status == WebhookStatus.PENDING
    with pytest.raises(CommandError):
        call_command("webhooks", "replay", "msg_nothing", stdout=out)


# --- the page -------------------------------------------------------------------------------------------


def test_a_member_sets_the_address_sees_the_secret_once_and_replays(make_user) -> None:
    org = make_partner("platform", "Belajar", status="integrated")
    rival = make_partner("platform", "Saingan", status="integrated")
    client = client_of(member_of(org, make_user))
    page = client.get("/mitra/webhook/")
    assert page.status_code == 200 and 'data-testid="no-endpoint"' in page.content.decode()
    assert "/mitra/webhook/" in client.get("/mitra/").content.decode()
    saved = client.post("/mitra/webhook/", {"action": "set", "url": "https://hooks.example.id/x"})
    assert saved.status_code == 200 and saved["Cache-Control"] == "no-store"
    secret = WebhookEndpoint.objects.get(partner=org).secret
    assert secret in saved.content.decode()
    shown = client.get("/mitra/webhook/").content.decode()
    assert secret not in shown and "https://hooks.example.id/x" in shown
    refused = client.post(
        "/mitra/webhook/", {"action": "set", "url": "http://hooks.example.id/x"}, follow=True
    )
    assert "https://" in refused.content.decode() and WebhookEndpoint.objects.get().url.startswith("https")
    mine, theirs = event(org), event(rival)
    WebhookMessage.objects.update(status=WebhookStatus.FAILED, attempts=8, last_error="HTTP 502")
    shown = client.get("/mitra/webhook/?status=failed").content.decode()
    assert mine.event_id in shown and "HTTP 502" in shown and theirs.event_id not in shown
    client.post("/mitra/webhook/", {"action": "replay", "event_id": mine.event_id})
    client.post("/mitra/webhook/", {"action": "replay", "event_id": theirs.event_id})
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.status == WebhookStatus.PENDING and theirs.status == WebhookStatus.FAILED
    rotated = client.post("/mitra/webhook/", {"action": "rotate"})
    new = WebhookEndpoint.objects.get(partner=org).secret
    assert new != secret and new in rotated.content.decode()


def test_the_page_is_for_members_only(staff_client: Callable[[str], Client]) -> None:
    assert Client().get("/mitra/webhook/").status_code == 302  # to the login page
    assert staff_client("partnership_officer").get("/mitra/webhook/").status_code in (403, 404)


def test_a_name_that_resolves_to_an_internal_address_is_not_called(settings) -> None:
    from prakerja.partners.services import webhook_post

    settings.PRAKERJA_WEBHOOK_ALLOW_LOOPBACK = False
    with pytest.raises(OSError, match="not public"):  # "localhost" is a name for 127.0.0.1
        webhook_post(url="https://localhost:9/hook", body=b"{}", headers={}, timeout=1)
