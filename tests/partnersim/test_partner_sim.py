"""The reference partner against a real server thread on loopback: the whole flow for a handful of
participants, a write retried after a lost answer buys once, and a missing operation stops it at start."""

import ast
import io
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from prakerja.accounts.models import Role
from prakerja.enrolment.models import Purchase, PurchaseStatus
from prakerja.ledger.selectors import balance, ledger_check
from prakerja.partners import services as partners
from prakerja.partners.models import Partner
from prakerja.partnersim import client as sim
from prakerja.partnersim.management.commands.partner_sim import in_process_server, outbox_code

pytestmark = pytest.mark.django_db(transaction=True)


def credentials(org: Partner, officer: Any) -> sim.Credentials:
    """A fresh client id and secret of a partner with an agreement in force."""
    today = timezone.localdate()
    partners.agreement_record(
        partner=org,
        number=f"PKS-SIM-{org.pk}",
        signed_on=today,
        starts_on=today,
        ends_on=today + timedelta(days=90),
        officer=officer,
    )
    credential, secret = partners.credential_issue(partner=org, officer=officer)
    return sim.Credentials(credential.client_id, secret)


@pytest.fixture
def keys(platform, institution, make_user) -> tuple[sim.Credentials, sim.Credentials]:
    officer = make_user(Role.PARTNERSHIP_OFFICER)
    return credentials(platform, officer), credentials(institution, officer)


class LosesFirstAnswer:
    """The network drops the answer to the first request matching `path`, after the server committed it."""

    def __init__(self, path: str) -> None:
        self.path, self.real, self.dropped = path, sim.UrllibTransport(), False
        self.seen: list[tuple[str | None, sim.Response]] = []

    def __call__(self, request: sim.Request) -> sim.Response:
        answer = self.real(request)
        if urlsplit(request.url).path.endswith(self.path) and request.method == "POST":
            self.seen.append((request.headers.get("Idempotency-Key"), answer))
            if not self.dropped:
                self.dropped = True
                raise ConnectionResetError("connection reset by peer")
        return answer


def test_the_whole_flow_for_several_participants(cards, sell, keys) -> None:
    shop, school = keys
    online, in_person = sell(price=250_000), sell(price=300_000, mode="offline")
    session = in_person.sessions.get()
    offers = [sim.Offer(online.pk, school), sim.Offer(in_person.pk, school, session.pk)]
    holders = [card.number for card in cards[:4]]
    with in_process_server() as base_url:
        summary = sim.Simulation(base_url, shop, outbox_code).run(holders, offers)
    counts = summary.counts()
    assert counts["errors"] == {}, summary.as_json()
    assert counts["participants"] == counts["purchases"] == counts["completed"] == counts["certificates"] == 4
    assert Purchase.objects.filter(status=PurchaseStatus.COMPLETED).count() == 4
    assert Purchase.objects.filter(redeemed_session=session).count() == 2
    for outcome in summary.outcomes:
        page = Client().get(urlsplit(outcome.verify_url).path)
        assert page.status_code == 200 and outcome.certificate_code in page.content.decode()
    assert ledger_check() == []


def test_a_write_retried_after_a_lost_answer_buys_once(cards, sell, keys) -> None:
    shop, school = keys
    card, training = cards[0], sell(price=300_000)
    start = balance(card.account_code)
    network = LosesFirstAnswer("/purchases")
    with in_process_server() as base_url:
        simulation = sim.Simulation(base_url, shop, outbox_code, transport=network, sleep=lambda s: None)
        summary = simulation.run([card.number], [sim.Offer(training.pk, school)])
    assert summary.counts()["completed"] == 1 and summary.retries == 1, summary.as_json()
    (first_key, first), (again_key, again) = network.seen
    assert first_key == again_key and again.headers.get("idempotent-replayed") == "true"
    assert first.json() == again.json()
    assert Purchase.objects.filter(card=card).count() == 1
    assert balance(card.account_code) == start - 300_000


def test_a_missing_operation_stops_the_sim_before_anything_is_sent(cards) -> None:
    sent: list[str] = []
    with in_process_server() as base_url:
        real = sim.UrllibTransport()

        def without_completion(request: sim.Request) -> sim.Response:
            sent.append(request.method + " " + urlsplit(request.url).path)
            answer = real(request)
            if request.url.endswith(sim.OPENAPI):
                spec = answer.json()
                del spec["paths"]["/api/v1/partner/vouchers/completion"]
                return sim.Response(answer.status, answer.headers, json.dumps(spec).encode())
            return answer

        with pytest.raises(sim.OpenApiMismatch, match=r"POST /api/v1/partner/vouchers/completion"):
            sim.Simulation(
                base_url, sim.Credentials("pk_plat_x", "x"), outbox_code, transport=without_completion
            )
    assert sent == [f"GET {sim.OPENAPI}"]


def test_a_rate_limited_write_waits_and_keeps_its_key(db) -> None:
    """Unit level, no server: 429 with Retry-After is waited out and the retry carries the same key."""
    keys_sent: list[str | None] = []
    answers = iter(
        [
            sim.Response(200, {}, b'{"access_token": "t1", "expires_in": 900}'),
            sim.Response(429, {"retry-after": "2"}, b'{"type": "urn:prakerja:problem:rate_limited"}'),
            sim.Response(201, {}, b'{"id": 7}'),
            sim.Response(200, {}, b'{"access_token": "t2", "expires_in": 900}'),
            sim.Response(200, {}, b'{"id": 7}'),
        ]
    )

    def transport(request: sim.Request) -> sim.Response:
        if not request.url.endswith("/token"):
            keys_sent.append(request.headers.get("Idempotency-Key"))
        return next(answers)

    waited: list[float] = []
    now = [0.0]
    client = sim.PartnerClient(
        "http://sim.invalid",
        sim.Credentials("id", "secret"),
        transport=transport,
        sleep=waited.append,
        clock=lambda: now[0],
    )
    assert client.call("POST", "/purchases", {"card_number": "1", "training_id": 2}) == {"id": 7}
    assert waited == [2.0] and keys_sent[0] == keys_sent[1] is not None
    now[0] = 880.0  # within 30 seconds of expiry: a new token before the next call
    assert client.call("GET", "/purchases/7") == {"id": 7}
    assert keys_sent[2] is None  # a read carries no key


def test_the_client_imports_nothing_of_the_programme() -> None:
    source = Path(sim.__file__).read_text(encoding="utf-8")
    imported = [
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert not [name for name in imported if name and name.split(".")[0] in ("prakerja", "django")]


def test_the_cli_spells_it_with_a_dash() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "prakerja", "partner-sim", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and "--institution-secret" in result.stdout, result.stderr


def test_the_command_reads_cards_and_prints_json(cards, sell, keys, tmp_path) -> None:
    from django.core.management import call_command

    out = io.StringIO()  # the console outbox prints the participants' messages to sys.stdout
    shop, school = keys
    training = sell(price=200_000)
    listed = tmp_path / "cards.txt"
    listed.write_text("# card numbers\n" + "\n".join(card.number for card in cards[:2]) + "\n")
    with in_process_server() as base_url:
        call_command(
            "partner_sim",
            f"--base-url={base_url}",
            f"--platform-client-id={shop.client_id}",
            f"--platform-secret={shop.secret}",
            f"--institution-client-id={school.client_id}",
            f"--institution-secret={school.secret}",
            f"--cards={listed}",
            f"--training={training.pk}",
            "--json",
            stdout=out,
        )
    answer = json.loads(out.getvalue())
    assert answer["certificates"] == 2 and answer["errors"] == {}
