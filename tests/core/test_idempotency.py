"""Idempotency keys on a test-only ninja router: replay, refusal of a reused key, stored errors, nothing
written on refusal, concurrent first requests (PostgreSQL); and the database rate limiter."""

import json
import threading
import time
import types
from typing import Any

import pytest
from django.db import connection
from django.http import HttpRequest
from django.test import Client
from django.urls import path
from ninja import NinjaAPI, Router, Schema, Status

from prakerja.core.api import install_error_handlers
from prakerja.core.audit import audit_record
from prakerja.core.errors import Conflict, Overloaded
from prakerja.core.idempotency import idempotent
from prakerja.core.models import AuditEntry, IdempotencyRecord, RateWindow
from prakerja.core.ratelimit import RateLimited, rate_limit

router = Router()


class ThingIn(Schema):
    name: str
    fail: str = ""  # "conflict", "overloaded" or "crash"
    sleep: float = 0


class ThingOut(Schema):
    id: int
    name: str


def owner(request: HttpRequest) -> str:
    return request.headers.get("X-Owner", "test:1")


@router.post("/things", response={201: ThingOut})
@idempotent(owner_of=owner)
def thing_create(request: HttpRequest, data: ThingIn) -> Status:
    entry = audit_record(actor="system:test", action="test.thing", object_type="thing", object_id=data.name)
    if data.sleep:
        time.sleep(data.sleep)
    if data.fail == "conflict":
        raise Conflict(code="thing_refused")
    if data.fail == "overloaded":
        raise Overloaded()
    if data.fail == "crash":
        raise RuntimeError("a bug")
    return Status(201, ThingOut(id=entry.pk, name=data.name))


test_api = NinjaAPI(urls_namespace="test_idempotency")
install_error_handlers(test_api)
test_api.add_router("/", router)
urlpatterns = [path("t/", test_api.urls)]

pytestmark = pytest.mark.urls(__name__)


def post(body: Any, key: str | None = "key-1", raw: str | None = None, **headers: str) -> Any:
    if key is not None:
        headers["Idempotency-Key"] = key
    content = raw if raw is not None else json.dumps(body)
    return Client().post("/t/things", content, content_type="application/json", headers=headers)


def things() -> int:
    return AuditEntry.objects.filter(action="test.thing").count()


@pytest.mark.django_db
def test_a_replay_returns_the_first_answer_and_writes_nothing_more() -> None:
    first = post({"name": "a"})
    assert first.status_code == 201 and "Idempotent-Replayed" not in first
    again = post({"name": "a"})
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert json.loads(again.content) == json.loads(first.content)
    assert things() == 1
    record = IdempotencyRecord.objects.get()
    assert (record.owner, record.key, record.status_code) == ("test:1", "key-1", 201)
    assert len(record.fingerprint) == 64


@pytest.mark.django_db
def test_the_fingerprint_reads_json_in_canonical_form() -> None:
    post(None, raw='{"name": "a", "sleep": 0}')
    again = post(None, raw='{ "sleep":0,"name":"a" }')
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert things() == 1


@pytest.mark.django_db
def test_a_key_reused_for_another_request_is_refused_and_nothing_is_written() -> None:
    post({"name": "a"})
    other = post({"name": "b"})
    assert other.status_code == 422 and other["Content-Type"] == "application/problem+json"
    assert json.loads(other.content)["type"] == "urn:prakerja:problem:idempotency_key_reused"
    assert things() == 1 and IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db
def test_a_write_without_a_key_is_refused() -> None:
    response = post({"name": "a"}, key=None)
    assert response.status_code == 422
    assert json.loads(response.content)["type"] == "urn:prakerja:problem:idempotency_key_missing"
    invalid = post({"name": "a"}, key="x" * 256)
    assert json.loads(invalid.content)["type"] == "urn:prakerja:problem:idempotency_key_invalid"
    assert things() == 0 and not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_keys_belong_to_their_owner() -> None:
    assert post({"name": "a"}, **{"X-Owner": "test:1"}).status_code == 201
    theirs = post({"name": "b"}, **{"X-Owner": "test:2"})
    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs
    assert things() == 2


@pytest.mark.django_db
def test_an_error_of_the_endpoint_is_stored_and_replayed_without_its_writes() -> None:
    first = post({"name": "a", "fail": "conflict"})
    assert (
        first.status_code == 409 and json.loads(first.content)["type"] == "urn:prakerja:problem:thing_refused"
    )
    assert things() == 0  # the endpoint's write was rolled back with its error
    again = post({"name": "a", "fail": "conflict"})
    assert again.status_code == 409 and again["Idempotent-Replayed"] == "true"
    assert again["Content-Type"] == "application/problem+json"
    assert json.loads(again.content) == json.loads(first.content)
    assert IdempotencyRecord.objects.get().status_code == 409


@pytest.mark.django_db
def test_a_transient_error_is_not_stored_so_a_retry_runs_again() -> None:
    busy = post({"name": "a", "fail": "overloaded"})
    assert busy.status_code == 503 and busy["Retry-After"] == "1"
    assert not IdempotencyRecord.objects.exists() and things() == 0
    assert post({"name": "a", "fail": "overloaded"}).status_code == 503
    assert "Idempotent-Replayed" not in post({"name": "a", "fail": "overloaded"})


@pytest.mark.django_db
def test_malformed_input_does_not_use_up_the_key() -> None:
    bad = post(None, raw='{"nome": "a"}')
    assert bad.status_code == 422
    assert json.loads(bad.content)["type"] == "urn:prakerja:problem:invalid_input"
    assert not IdempotencyRecord.objects.exists()
    assert post({"name": "a"}).status_code == 201


@pytest.mark.django_db
def test_an_unexpected_exception_stores_nothing() -> None:
    with pytest.raises(RuntimeError):
        post({"name": "a", "fail": "crash"})
    assert not IdempotencyRecord.objects.exists() and things() == 0


def test_the_key_is_documented_in_the_openapi_schema() -> None:
    schema = test_api.get_openapi_schema()
    parameters = schema["paths"]["/t/things"]["post"]["parameters"]
    assert {"in": "header", "name": "Idempotency-Key", "required": True}.items() <= parameters[-1].items()


# --- concurrent first requests --------------------------------------------------------------------------


def together(count: int, work: Any) -> list[Any]:
    """Run `work(i)` in threads released at once, each on its own database connection."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait()
            time.sleep(0.05 * i)  # usually the first thread claims the key; either may
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="concurrent connections: SQLite's in-memory test database is shared through one cache, "
    "whose table locks fail at once instead of waiting",
)


@pytest.mark.django_db(transaction=True)
@postgres_only
def test_concurrent_first_requests_run_once_and_the_second_gets_the_first_answer() -> None:
    results = together(2, lambda i: post({"name": "a", "sleep": 0.5}, key="race"))
    assert [r.status_code for r in results] == [201, 201], results
    assert sorted(r.get("Idempotent-Replayed", "") for r in results) == ["", "true"]
    assert json.loads(results[0].content) == json.loads(results[1].content)
    assert things() == 1


@pytest.mark.django_db(transaction=True)
@postgres_only
def test_a_second_request_that_cannot_wait_is_told_the_first_is_in_progress(settings) -> None:
    settings.PRAKERJA_IDEMPOTENCY_WAIT_SECONDS = 0.1
    results = together(2, lambda i: post({"name": "a", "sleep": 1}, key="race"))
    assert sorted(r.status_code for r in results) == [201, 409], results
    waited = next(r for r in results if r.status_code == 409)
    assert json.loads(waited.content)["type"] == "urn:prakerja:problem:idempotency_key_in_progress"
    assert waited["Retry-After"] == "1"
    assert things() == 1 and IdempotencyRecord.objects.get().status_code == 201


# --- rate limits ----------------------------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    now = types.SimpleNamespace(value=1_800_000_030.0)
    monkeypatch.setattr("prakerja.core.ratelimit.time", types.SimpleNamespace(time=lambda: now.value))
    return now


@pytest.mark.django_db
def test_the_rate_limit_counts_per_key_and_fixed_window(clock) -> None:
    rate_limit(key="a", limit=2)
    rate_limit(key="a", limit=2)
    rate_limit(key="b", limit=2)
    with pytest.raises(RateLimited) as refused:
        rate_limit(key="a", limit=2)
    assert refused.value.status == 429 and refused.value.retry_after == 30
    assert refused.value.headers() == {"Retry-After": "30"}
    clock.value += 30  # the next minute
    rate_limit(key="a", limit=2)
    assert list(RateWindow.objects.filter(key="a").values_list("hits", flat=True)) == [1]
