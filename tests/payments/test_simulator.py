"""The payment-provider simulator over real loopback HTTP, and HttpProviders speaking to it."""

import csv
import io
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from prakerja.payments import rules
from prakerja.payments.providers import (
    AccountQuery,
    HttpProviders,
    Instruction,
    ProviderRefused,
    ProviderUnavailable,
)
from prakerja.payments.simulator import Simulator, SimulatorConfig, decide

SECRET = "test-provider-secret"
TOLERANCE = 300


class Receiver:
    """A stand-in for the programme's callback endpoint: records each request, answers `statuses` in turn."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses = list(statuses or [])
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_POST = _answer
            do_GET = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callbacks"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def problems(self) -> list[str]:
        """Each request's verdict by the programme's own check ("" when it can be trusted)."""
        verdicts = []
        for headers, body in self.requests:
            provider = json.loads(body)["provider"]
            verdicts.append(
                rules.callback_problem(
                    rules.provider_key(SECRET, provider),
                    headers.get("x-callback-timestamp", ""),
                    headers.get("x-callback-signature", ""),
                    body,
                    int(time.time()),
                    TOLERANCE,
                )
            )
        return verdicts

    def events(self, trusted: bool = True) -> list[dict[str, str]]:
        problems = self.problems()
        return [
            event
            for (_, body), problem in zip(self.requests, problems, strict=True)
            if (problem == "") == trusted
            for event in json.loads(body)["events"]
        ]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


@pytest.fixture
def simulator() -> Iterator[Callable[..., Simulator]]:
    started: list[Simulator] = []

    def start(**options: Any) -> Simulator:
        options = {"port": 0, "secret": SECRET, "delay": 0.02, "retry_backoff": 0.02, **options}
        sim = Simulator(SimulatorConfig(**options))
        sim.start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


def gateway(sim: Simulator, settings: Any) -> HttpProviders:
    settings.PAYMENT_PROVIDER_URL = sim.url
    return HttpProviders()


def instructions(count: int, prefix: str = "pay", start: int = 0) -> list[Instruction]:
    return [
        Instruction(f"{prefix}-{n}", f"0812{n:08d}", "Budi Santoso", 600_000)
        for n in range(start, start + count)
    ]


def settlement_lines(text: str) -> list[rules.SettlementLine]:
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == rules.SETTLEMENT_HEADER
    lines = [rules.settlement_line(row) for row in rows[1:]]
    assert all(isinstance(line, rules.SettlementLine) for line in lines), lines
    return lines  # type: ignore[return-value]


def test_health(simulator: Callable[..., Simulator]) -> None:
    with urllib.request.urlopen(simulator().url + "/v1/health", timeout=5) as response:
        assert response.status == 200


def test_inquiry_answers_by_the_number_s_last_digits(
    simulator: Callable[..., Simulator], settings: Any
) -> None:
    providers = gateway(simulator(), settings)

    match = providers.inquire(AccountQuery("ovo", "081234567812", "Budi Santoso", "3273010101900001"))
    assert (match.status, match.holder_name) == ("match", "B*** S******")
    assert match.reference
    assert (
        providers.inquire(AccountQuery("bni", "1234567000", "Budi Santoso", "3273010101900001")).status
        == "not_found"
    )
    other = providers.inquire(AccountQuery("dana", "081234567999", "Budi Santoso", "3273010101900001"))
    assert other.status == "name_mismatch"
    assert other.holder_name and other.holder_name != rules.mask_name("Budi Santoso")
    nik = providers.inquire(AccountQuery("gopay", "081234567998", "Budi Santoso", "3273010101900001"))
    assert (nik.status, nik.holder_name) == ("nik_mismatch", "B*** S******")


def test_inquiry_of_an_unknown_provider_is_refused(
    simulator: Callable[..., Simulator], settings: Any
) -> None:
    providers = gateway(simulator(), settings)
    with pytest.raises(ProviderRefused) as refused:
        providers.inquire(AccountQuery("paypal", "081234567812", "Budi Santoso", "3273010101900001"))
    assert refused.value.status == 502
    assert "unknown provider" in refused.value.detail


def test_a_chunk_is_accepted_once_and_a_key_is_never_paid_twice(
    simulator: Callable[..., Simulator], settings: Any
) -> None:
    providers = gateway(simulator(), settings)

    first = providers.disburse(provider="ovo", chunk_key="chunk-1", instructions=instructions(10))
    assert (first.accepted, first.duplicates) == (10, 0)
    again = providers.disburse(provider="ovo", chunk_key="chunk-1", instructions=instructions(10))
    assert again == first
    overlapping = instructions(3, start=8)  # pay-8 and pay-9 were in chunk-1
    second = providers.disburse(provider="ovo", chunk_key="chunk-2", instructions=overlapping)
    assert (second.accepted, second.duplicates) == (1, 2)
    assert second.reference != first.reference
    within = providers.disburse(provider="ovo", chunk_key="chunk-3", instructions=instructions(1, "x") * 2)
    assert (within.accepted, within.duplicates) == (1, 1)

    keys = [line.key for line in settlement_lines(providers.settlement(provider="ovo"))]
    assert sorted(keys) == sorted({f"pay-{n}" for n in range(11)} | {"x-0"})
    assert settlement_lines(providers.settlement(provider="gopay")) == []


@pytest.mark.parametrize(
    "payment",
    [
        {"key": "a", "number": "0812", "name": "B", "amount": 0},
        {"key": "a", "number": "0812", "name": "B", "amount": -5},
        {"key": "a", "number": "0812", "name": "B", "amount": "600000"},
        {"key": "a", "number": "0812", "name": "B", "amount": 1.5},
        {"key": "a", "number": "0812", "name": "B", "amount": True},
        {"number": "0812", "name": "B", "amount": 600_000},
        {"key": "", "number": "0812", "name": "B", "amount": 600_000},
    ],
)
def test_malformed_disbursements_are_refused_and_pay_nothing(
    simulator: Callable[..., Simulator], payment: dict[str, Any]
) -> None:
    sim = simulator()
    good = {"key": "good", "number": "0812", "name": "B", "amount": 600_000}
    body = json.dumps({"provider": "dana", "chunk": "c", "payments": [good, payment]}).encode()
    request = urllib.request.Request(
        sim.url + "/v1/disbursements", data=body, method="POST", headers={"Idempotency-Key": "c"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 422
    assert json.loads(refused.value.read())["error"].startswith("payments[1]")
    assert sim.settlement("dana").count("\n") == 1  # the header only


def test_an_unknown_provider_or_a_missing_idempotency_key_is_refused(
    simulator: Callable[..., Simulator], settings: Any
) -> None:
    sim = simulator()
    with pytest.raises(ProviderRefused):
        gateway(sim, settings).disburse(provider="paypal", chunk_key="c", instructions=instructions(1))
    body = json.dumps({"provider": "ovo", "chunk": "c", "payments": []}).encode()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(sim.url + "/v1/disbursements", data=body), timeout=5)
    assert refused.value.code == 422


def test_a_chunk_of_5000_is_accepted_in_well_under_a_second(
    simulator: Callable[..., Simulator], settings: Any, tmp_path: Path
) -> None:
    providers = gateway(simulator(state_file=tmp_path / "journal", settlement_dir=tmp_path), settings)
    began = time.perf_counter()
    receipt = providers.disburse(provider="bni", chunk_key="big", instructions=instructions(5000))
    took = time.perf_counter() - began
    assert receipt.accepted == 5000
    assert took < 1.0, took


@pytest.mark.parametrize(("failure_rate", "expected"), [(0.0, {"paid"}), (1.0, {"failed"})])
def test_outcomes_follow_the_failure_rate(
    simulator: Callable[..., Simulator], settings: Any, failure_rate: float, expected: set[str]
) -> None:
    providers = gateway(simulator(failure_rate=failure_rate, return_rate=0.0), settings)
    providers.disburse(provider="linkaja", chunk_key="c", instructions=instructions(300))
    assert {line.state for line in settlement_lines(providers.settlement(provider="linkaja"))} == expected


def test_the_settlement_matches_the_outcomes_and_is_written_to_a_file(
    simulator: Callable[..., Simulator], settings: Any, tmp_path: Path
) -> None:
    providers = gateway(
        simulator(failure_rate=0.2, return_rate=0.2, seed=7, settlement_dir=tmp_path), settings
    )
    providers.disburse(provider="gopay", chunk_key="c1", instructions=instructions(200))
    providers.disburse(provider="gopay", chunk_key="c2", instructions=instructions(100, start=200))
    providers.disburse(provider="ovo", chunk_key="c3", instructions=instructions(5, "o"))

    text = providers.settlement(provider="gopay")
    lines = settlement_lines(text)
    assert len(lines) == 300
    for line in lines:
        assert line.state == decide(7, line.key, 0.2, 0.2)[0]
        assert line.amount == 600_000
        assert line.reference
    assert set(Counter(line.state for line in lines)) == {"paid", "failed", "returned"}

    (written,) = tmp_path.glob("gopay-*.csv")
    assert written.name == f"gopay-{lines[0].settled_at:%Y%m%d}.csv"
    assert settlement_lines(written.read_text()) == lines
    assert len(settlement_lines(next(tmp_path.glob("ovo-*.csv")).read_text())) == 5


def test_callbacks_are_signed_batched_and_agree_with_the_settlement(
    simulator: Callable[..., Simulator], settings: Any, receiver: Receiver
) -> None:
    sim = simulator(callback_url=receiver.url, failure_rate=0.1, return_rate=0.1, callback_batch=1000)
    providers = gateway(sim, settings)
    providers.disburse(provider="bni", chunk_key="c", instructions=instructions(2500))
    assert sim.flush(10)

    assert receiver.problems() and set(receiver.problems()) == {""}
    assert all(len(json.loads(body)["events"]) <= 1000 for _, body in receiver.requests)
    assert {json.loads(body)["provider"] for _, body in receiver.requests} == {"bni"}
    events = receiver.events()
    final = {line.key: line for line in settlement_lines(providers.settlement(provider="bni"))}
    by_key: dict[str, list[str]] = {}
    for event in events:
        by_key.setdefault(event["key"], []).append(event["state"])
        assert datetime.fromisoformat(event["at"]).tzinfo is not None
        assert event["reference"] == final[event["key"]].reference
        assert bool(event["reason"]) == (event["state"] != "paid")
    assert set(by_key) == set(final)
    for key, states in by_key.items():
        assert (
            states
            == {"paid": ["paid"], "failed": ["failed"], "returned": ["paid", "returned"]}[final[key].state]
        )
    assert "returned" in {line.state for line in final.values()}


def test_duplicate_callbacks(simulator: Callable[..., Simulator], settings: Any, receiver: Receiver) -> None:
    sim = simulator(callback_url=receiver.url, failure_rate=0.0, return_rate=0.0, duplicate_rate=1.0)
    gateway(sim, settings).disburse(provider="ovo", chunk_key="c", instructions=instructions(50))
    assert sim.flush(10)
    assert len(receiver.requests) == 2  # the events, then the same events again in a later callback
    assert set(receiver.problems()) == {""}
    assert Counter(event["key"] for event in receiver.events()) == {f"pay-{n}": 2 for n in range(50)}


def test_reordered_callbacks_may_bring_a_return_before_its_payment(
    simulator: Callable[..., Simulator], settings: Any, receiver: Receiver
) -> None:
    sim = simulator(callback_url=receiver.url, failure_rate=0.0, return_rate=1.0, reorder=True)
    gateway(sim, settings).disburse(provider="dana", chunk_key="c", instructions=instructions(100))
    assert sim.flush(10)
    seen: set[str] = set()
    early = 0
    for event in receiver.events():
        if event["state"] == "returned" and event["key"] not in seen:
            early += 1
        seen.add(event["key"])
    assert early > 0
    assert Counter(event["state"] for event in receiver.events()) == {"paid": 100, "returned": 100}


def test_forged_callbacks_fail_verification(
    simulator: Callable[..., Simulator], settings: Any, receiver: Receiver
) -> None:
    sim = simulator(
        callback_url=receiver.url, failure_rate=0.0, return_rate=0.0, forge_rate=1.0, callback_batch=10
    )
    gateway(sim, settings).disburse(provider="gopay", chunk_key="c", instructions=instructions(40))
    assert sim.flush(10)
    problems = Counter(receiver.problems())
    assert problems == {"": 4, "signature does not match": 2, "stale timestamp": 2}
    assert sorted(event["key"] for event in receiver.events()) == sorted(f"pay-{n}" for n in range(40))


def test_a_failing_callback_is_retried_then_given_up(
    simulator: Callable[..., Simulator], settings: Any
) -> None:
    flaky = Receiver(statuses=[500, 503])
    down = Receiver(statuses=[500] * 10)
    try:
        sim = simulator(callback_url=flaky.url, failure_rate=0.0, return_rate=0.0)
        gateway(sim, settings).disburse(provider="ovo", chunk_key="c", instructions=instructions(5))
        assert sim.flush(10)
        assert len(flaky.requests) == 3
        assert flaky.requests[0][1] == flaky.requests[2][1]

        sim = simulator(callback_url=down.url, callback_attempts=3)
        gateway(sim, settings).disburse(provider="ovo", chunk_key="c", instructions=instructions(5))
        assert sim.flush(10)
        assert len(down.requests) == 3
        assert len(settlement_lines(sim.settlement("ovo"))) == 5  # the settlement still has them
    finally:
        flaky.close()
        down.close()


def test_a_restarted_simulator_still_refuses_to_pay_a_key_twice(
    simulator: Callable[..., Simulator], settings: Any, tmp_path: Path
) -> None:
    journal = tmp_path / "simulator.journal"
    first = simulator(state_file=journal)
    receipt = gateway(first, settings).disburse(provider="bni", chunk_key="c1", instructions=instructions(3))
    first.stop()

    restarted = simulator(state_file=journal)
    providers = gateway(restarted, settings)
    assert providers.disburse(provider="bni", chunk_key="c1", instructions=instructions(3)) == receipt
    again = providers.disburse(provider="bni", chunk_key="c2", instructions=instructions(3, start=2))
    assert (again.accepted, again.duplicates) == (2, 1)
    assert sorted(line.key for line in settlement_lines(providers.settlement(provider="bni"))) == [
        f"pay-{n}" for n in range(5)
    ]


def test_a_journal_line_cut_short_by_a_crash_loses_only_itself(
    simulator: Callable[..., Simulator], settings: Any, tmp_path: Path
) -> None:
    journal = tmp_path / "simulator.journal"
    first = simulator(state_file=journal)
    gateway(first, settings).disburse(provider="ovo", chunk_key="c1", instructions=instructions(2))
    first.stop()
    with journal.open("a") as file:
        file.write('{"chunk":"c2","provider":"ovo","answ')  # the crash

    second = simulator(state_file=journal)
    receipt = gateway(second, settings).disburse(provider="ovo", chunk_key="c3", instructions=instructions(3))
    assert (receipt.accepted, receipt.duplicates) == (1, 2)
    second.stop()

    third = simulator(state_file=journal)
    again = gateway(third, settings).disburse(provider="ovo", chunk_key="c4", instructions=instructions(4))
    assert (again.accepted, again.duplicates) == (1, 3)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
def test_a_non_loopback_host_is_refused(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        Simulator(SimulatorConfig(host=host, port=0))


def test_nothing_listening_is_unavailable(settings: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.PAYMENT_PROVIDER_URL = f"http://127.0.0.1:{port}"
    with pytest.raises(ProviderUnavailable):
        HttpProviders().disburse(provider="ovo", chunk_key="c", instructions=instructions(1))
    with pytest.raises(ProviderUnavailable):
        HttpProviders().inquire(AccountQuery("ovo", "081234567812", "Budi Santoso", "3273010101900001"))


def test_a_failing_gateway_is_unavailable(settings: Any) -> None:
    failing = Receiver(statuses=[503, 500])
    try:
        settings.PAYMENT_PROVIDER_URL = failing.url.removesuffix("/callbacks")
        with pytest.raises(ProviderUnavailable):
            HttpProviders().settlement(provider="ovo")
        with pytest.raises(ProviderUnavailable):
            HttpProviders().disburse(provider="ovo", chunk_key="c", instructions=instructions(1))
    finally:
        failing.close()
