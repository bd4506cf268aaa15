"""Partner purchases under load on PostgreSQL: a platform sells one training to an announced wave's card
holders through POST /api/v1/partner/purchases on a real server (granian) from concurrent keep-alive
clients on loopback, half of them trying to spend each balance twice; then the ledger's invariants, and
the raw rate of the same ledger movements (plain SQL, and entry_post without HTTP) as the ceiling."""

import argparse
import asyncio
import json
import os
import re
import secrets
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from rich.table import Table

from common import console, cpu_cores, cpu_seconds, report, server_command
from draw import SEED, build, code_version, fresh_postgres, setup_django

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/prakerja_bench_purchases"
HOST, PORT = "127.0.0.1", 8766
PATH = "/api/v1/partner/purchases"
BATCH_PATH = "/api/v1/partner/purchases/batch"
GOAL = 1000  # successful purchases per second
WARMUP = 20  # purchases made in-process before the load, to count and time their statements
SHARDS = 16  # escrow accounts in the sharded ceiling, one per connection


# --- setting up (not timed) -----------------------------------------------------------------------------


def cards_issue(cards: int) -> tuple[int, dict[str, float]]:
    """An announced wave of about `cards` card holders (2x entrants: the two-per-KK limit leaves enough)."""
    from prakerja.waves.services import wave_announce, wave_select

    built = build(2 * cards, cards, seed=1)
    seconds = dict(built.seconds)
    start = time.perf_counter()
    wave_select(wave=built.wave, seed=SEED, actor="bench")
    seconds["wave_select"] = time.perf_counter() - start
    start = time.perf_counter()
    announced = wave_announce(wave=built.wave, actor="bench")
    seconds["wave_announce (cards, funded ledger accounts, messages)"] = time.perf_counter() - start
    return announced.cards, seconds


@dataclass
class Shop:
    platform: Any
    training_id: int
    price: int
    token: str


def shop_open(balance: int) -> Shop:
    """An approved institution, an integrated platform with a credential and a token, one listed training
    priced so that a card's balance buys exactly one."""
    from django.utils import timezone

    from prakerja.accounts.services import user_create
    from prakerja.catalog import rules as catalog_rules
    from prakerja.catalog import services as catalog
    from prakerja.partners import services as partners
    from prakerja.partners.models import Cooperation, Partner

    price = (balance // 2 + 100_000) // 100_000 * 100_000  # 600,000 of 1,000,000: one, never two
    officer = user_create(
        username="bench-officer",
        password=secrets.token_urlsafe(16),
        role="partnership_officer",
        email="officer@example.org",
    )
    institution = Partner.objects.create(kind="institution", name="LPK Bench", status="approved")
    platform = Partner.objects.create(
        kind="platform", name="Platform Bench", status="integrated", portal_url="https://bench.example"
    )
    Cooperation.objects.create(platform=platform, institution=institution)
    today = timezone.localdate()
    partners.agreement_record(
        partner=platform,
        number="PKS-BENCH",
        signed_on=today,
        starts_on=today,
        ends_on=today + timedelta(days=90),
        officer=officer,
    )
    credential, _secret = partners.credential_issue(partner=platform, officer=officer)
    _access, token = partners.token_issue(credential=credential, scope="purchases:write purchases:read")
    training = catalog.training_create(
        actor="bench",
        institution=institution,
        data={
            "title_id": "Pemasaran Digital untuk UMKM",
            "title_en": "Digital Marketing for Small Businesses",
            "description_id": "<p>Belajar iklan media sosial.</p>",
            "description_en": "<p>Learn social media advertising.</p>",
            "skills": ["Social media advertising", "Copywriting"],
            "sector": "sales",
            "level": "beginner",
            "mode": "online",
            "hours": 10,
            "price": price,
        },
    )
    catalog.training_submit(training=training, actor="bench")
    catalog.training_curate(
        training=training,
        officer=officer,
        outcome="approve",
        checklist=dict.fromkeys(catalog_rules.CHECKLIST, True),
        reasons="",
    )
    catalog.listing_create(platform=platform, training=training, price=price, actor="bench")
    return Shop(platform, training.pk, price, token)


def cards_link(platform: Any) -> list[str]:
    """Every card linked (confirmed) to the platform in bulk; the card numbers, in card order."""
    from django.utils import timezone

    from prakerja.enrolment.models import CardLink, LinkStatus
    from prakerja.waves.models import Card

    now = timezone.now()
    cards = list(Card.objects.order_by("pk").values_list("pk", "number"))
    CardLink.objects.bulk_create(
        (
            CardLink(
                card_id=pk,
                platform=platform,
                status=LinkStatus.CONFIRMED,
                code_digest="0" * 64,
                code_expires_at=now,
                requested_at=now,
                confirmed_at=now,
            )
            for pk, _number in cards
        ),
        batch_size=5000,
    )
    return [number for _pk, number in cards]


# --- one purchase, statement by statement ---------------------------------------------------------------


@dataclass
class Statement:
    label: str
    seconds: float
    holding: bool  # run while this purchase holds the locks every purchase needs


@dataclass
class Anatomy:
    total: list[float] = field(default_factory=list)  # whole request, in-process
    held: list[float] = field(default_factory=list)  # from locking the escrow account to commit
    statements: list[Statement] = field(default_factory=list)  # median seconds of each, over the requests
    commits: int = 0
    runs: list[list[Statement]] = field(default_factory=list)


_TABLE = re.compile(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)


def statement_label(sql: str) -> str:
    words = sql.split()
    verb = words[0].upper() if words else "?"
    if "pg_advisory_xact_lock" in sql:
        return "SELECT pg_advisory_xact_lock (audit chain)"
    if "set_config" in sql or "current_setting" in sql:
        return "SELECT set_config/current_setting (lock_timeout)"
    table = _TABLE.search(sql)
    suffix = " FOR UPDATE" if "FOR UPDATE" in sql else ""
    if verb == "SAVEPOINT" or verb == "RELEASE" or verb == "ROLLBACK":
        return verb
    return f"{verb} {table.group(1) if table else ''}{suffix}"


@contextmanager
def traced(anatomy: Anatomy) -> Iterator[list[tuple[str, float, float]]]:
    """Every statement (label, start, end) and the commits of the default connection, timed."""
    from django.db import connections

    connection = connections["default"]
    log: list[tuple[str, float, float]] = []

    def timer(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            log.append((statement_label(sql), start, time.perf_counter()))

    original = connection.commit

    def commit() -> None:
        start = time.perf_counter()
        original()
        log.append(("COMMIT", start, time.perf_counter()))

    connection.commit = commit  # type: ignore[method-assign]
    try:
        with connection.execute_wrapper(timer):
            yield log
    finally:
        del connection.commit


def anatomy_of(shop: Shop, numbers: list[str]) -> Anatomy:
    """WARMUP purchases through the whole HTTP stack in-process (Django's test client), each traced."""
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {shop.token}", HTTP_ACCEPT_LANGUAGE="en")
    anatomy = Anatomy()
    for number in numbers:
        with traced(anatomy) as log:
            start = time.perf_counter()
            answer = client.post(
                PATH,
                {"card_number": number, "training_id": shop.training_id},
                content_type="application/json",
                HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
            )
            end = time.perf_counter()
        if answer.status_code != 201:
            raise SystemExit(f"the warm-up purchase failed: {answer.status_code} {answer.content[:300]!r}")
        # From the statement that locks the card's and its escrow shard's account rows to the commit, no other
        # purchase of a card in the same shard can pass (nor any purchase, at the audit chain's lock).
        first = next(
            i for i, (label, _s, _e) in enumerate(log) if label == "SELECT ledger_account FOR UPDATE"
        )
        commit_end = max(e for label, _s, e in log if label == "COMMIT")
        anatomy.total.append(end - start)
        anatomy.held.append(commit_end - log[first][1])
        anatomy.runs.append(
            [Statement(label, e - s, i >= first and s <= commit_end) for i, (label, s, e) in enumerate(log)]
        )
        anatomy.commits = sum(1 for label, _s, _e in log if label == "COMMIT")
    # The same statements in the same order in every purchase: the median of each across them.
    last = anatomy.runs[-1]
    same = [run for run in anatomy.runs if [x.label for x in run] == [x.label for x in last]]
    anatomy.statements = [
        Statement(x.label, statistics.median(run[i].seconds for run in same), x.holding)
        for i, x in enumerate(last)
    ]
    return anatomy


def profile_of(shop: Shop, numbers: list[str]) -> Table:
    """Purchases in-process under cProfile: where the time of one goes, per function, per purchase."""
    import cProfile
    import pstats

    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {shop.token}", HTTP_ACCEPT_LANGUAGE="en")
    profiler = cProfile.Profile()
    profiler.enable()
    for number in numbers:
        client.post(
            PATH,
            {"card_number": number, "training_id": shop.training_id},
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )
    profiler.disable()
    stats: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    n = len(numbers)
    whole = max(ct for _cc, _nc, _tt, ct, _callers in stats.values())
    table = Table(
        title=f"Where one purchase's time goes in-process (cProfile over {n}; it inflates Python ~1.5-2x)",
        caption="cumulative: the function and all it calls; 'SQL' includes the wait for the server",
    )
    for column in ("part (cumulative)", "ms / purchase", "share", "calls / purchase"):
        table.add_column(column, justify="left" if column.startswith("part") else "right")
    found: dict[str, tuple[float, int]] = {}
    for (file, _line, name), (_cc, calls, _tt, cumulative, _callers) in stats.items():
        for label, (suffix, function) in PARTS.items():
            if file.endswith(suffix) and name == function:
                seconds, count = found.get(label, (0.0, 0))
                found[label] = (seconds + cumulative, count + calls)
    table.add_row("whole request (test client)", f"{whole / n * 1000:.2f}", "100%", "1")
    for label in PARTS:
        if label in found:
            seconds, count = found[label]
            table.add_row(label, f"{seconds / n * 1000:.2f}", f"{seconds / whole:.0%}", f"{count / n:.0f}")
    return table


PARTS = {  # label: (file suffix, function), shown in this order when found
    "  SQL: every statement (execute + wait)": ("django/db/backends/utils.py", "_execute"),
    "  SQL: commits": ("django/db/backends/base/base.py", "_commit"),
    "  PartnerAuth: token, rate limit, scopes": ("prakerja/partners/api.py", "authenticate"),
    "    rate_limit (INSERT ... ON CONFLICT, autocommit)": ("prakerja/core/ratelimit.py", "rate_limit"),
    "  ninja: parse and validate the body": ("ninja/operation.py", "_get_values"),
    "  idempotent: fingerprint of the request": ("prakerja/core/idempotency.py", "request_fingerprint"),
    "  idempotent: claim the key (INSERT, lock_timeout)": ("prakerja/core/idempotency.py", "_claim"),
    "  services.purchase_create": ("prakerja/enrolment/services.py", "purchase_create"),
    "    entry_post (ledger)": ("prakerja/ledger/services.py", "entry_post"),
    "    audit_record (2 per purchase)": ("prakerja/core/audit.py", "audit_record"),
    "    notify (voucher message to the outbox)": ("prakerja/core/notifications.py", "notify"),
    "    webhook_enqueue": ("prakerja/partners/services.py", "webhook_enqueue"),
    "    Model.save / create (ORM, all)": ("django/db/models/base.py", "save_base"),
    "    QuerySet._fetch_all (ORM reads, all)": ("django/db/models/query.py", "_fetch_all"),
    "    gettext (translations)": ("django/utils/translation/trans_real.py", "gettext"),
    "  ninja: serialise the answer (PurchaseOut)": ("ninja/operation.py", "_result_to_response"),
    "  idempotent: store the answer and commit": ("prakerja/core/idempotency.py", "finish"),
}


# --- the load -------------------------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection to the server."""

    def __init__(self) -> None:
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, payload: bytes) -> tuple[int, bytes, float]:
        start = time.perf_counter()
        for _attempt in range(2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(HOST, PORT)
            assert self.reader is not None
            self.writer.write(payload)
            status_line = await self.reader.readline()
            if status_line:
                break
            # Closed by the server while idle, before reading this request: the same request (same
            # Idempotency-Key) again on a new connection, as a partner's client would.
            self.close()
            start = time.perf_counter()
        assert self.reader is not None
        length, close = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            if name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        body = await self.reader.readexactly(length)
        seconds = time.perf_counter() - start
        if close or not status_line:
            self.close()
        return (int(status_line.split()[1]) if status_line else 0), body, seconds

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    bought: Counter[str] = field(default_factory=Counter)  # card number: 201s it got
    pairs: int = 0


def purchase_bytes(token: str, number: str, training_id: int) -> bytes:
    return request_bytes(token, PATH, {"card_number": number, "training_id": training_id})


def batch_bytes(token: str, numbers: list[str], training_id: int) -> bytes:
    body = {"purchases": [{"card_number": n, "training_id": training_id} for n in numbers]}
    return request_bytes(token, BATCH_PATH, body)


def request_bytes(token: str, path: str, data: dict[str, Any]) -> bytes:
    body = json.dumps(data).encode()
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {HOST}:{PORT}",
        "Accept-Language: en",
        "Content-Type: application/json",
        f"Authorization: Bearer {token}",
        f"Idempotency-Key: {uuid.uuid4()}",
        f"Content-Length: {len(body)}",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def outcome(status: int, body: bytes) -> str:
    if status == 201:
        return "201"
    try:
        code = str(json.loads(body).get("type", "")).rsplit(":", 1)[-1]
    except ValueError:
        code = ""
    return f"{status} {code}".strip()


def record(tally: Tally, number: str, answer: tuple[int, bytes, float]) -> None:
    status, body, seconds = answer
    tally.latencies.append(seconds)
    tally.outcomes[outcome(status, body)] += 1
    if status == 201:
        tally.bought[number] += 1


def record_batch(tally: Tally, numbers: list[str], answer: tuple[int, bytes, float]) -> None:
    """A batch's answer: each item's outcome counts as one purchase attempt."""
    status, body, seconds = answer
    tally.latencies.append(seconds)
    if status != 200:
        tally.outcomes[outcome(status, body)] += len(numbers)
        return
    for number, item in zip(numbers, json.loads(body)["results"], strict=True):
        problem = item.get("problem") or {}
        tally.outcomes[
            "201"
            if item["status"] == 201
            else f"{item['status']} {problem.get('type', '').rsplit(':', 1)[-1]}"
        ] += 1
        if item["status"] == 201:
            tally.bought[number] += 1


def payload(shop: Shop, numbers: list[str], batch: int) -> bytes:
    if batch:
        return batch_bytes(shop.token, numbers, shop.training_id)
    return purchase_bytes(shop.token, numbers[0], shop.training_id)


def recorded(tally: Tally, numbers: list[str], batch: int, answer: tuple[int, bytes, float]) -> None:
    if batch:
        record_batch(tally, numbers, answer)
    else:
        record(tally, numbers[0], answer)


async def honest(shop: Shop, numbers: list[str], tally: Tally, deadline: float, batch: int) -> None:
    """One purchase per card (alone, or `batch` cards a request), one request after another on one
    keep-alive connection."""
    connection = Connection()
    size = batch or 1
    for i in range(0, len(numbers), size):
        if time.monotonic() > deadline:
            break
        group = numbers[i : i + size]
        recorded(tally, group, batch, await connection.send(payload(shop, group, batch)))
    connection.close()


async def double_spender(shop: Shop, numbers: list[str], tally: Tally, deadline: float, batch: int) -> None:
    """Every card bought twice at the same moment on two connections (different keys): one may pass."""
    first, second = Connection(), Connection()
    size = batch or 1
    for i in range(0, len(numbers), size):
        if time.monotonic() > deadline:
            break
        group = numbers[i : i + size]
        answers = await asyncio.gather(
            first.send(payload(shop, group, batch)), second.send(payload(shop, group, batch))
        )
        tally.pairs += len(group)
        for answer in answers:
            recorded(tally, group, batch, answer)
    first.close()
    second.close()


async def load(
    shop: Shop, numbers: list[str], clients: int, limit: float, batch: int = 0
) -> tuple[float, Tally]:
    tally = Tally()
    shares = [numbers[i::clients] for i in range(clients)]
    deadline = time.monotonic() + limit
    start = time.perf_counter()
    await asyncio.gather(
        *(
            (double_spender if i % 2 else honest)(shop, share, tally, deadline, batch)
            for i, share in enumerate(shares)
        )
    )
    return time.perf_counter() - start, tally


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=1000)[int(share * 1000) - 1] if len(values) > 1 else values[0]


# --- ceilings: the same ledger movements without HTTP ---------------------------------------------------


def ceiling_accounts(prefix: str, count: int, balance: int) -> None:
    """`count` funded accounts `<prefix>:<i>`, opened and funded by one set-based entry, and the escrows."""
    from prakerja.ledger.services import account_open, entry_post

    account_open(code="bench:fund", name="Benchmark fund", allow_negative=True)
    for code in ("bench:escrow", *(f"bench:escrow:{k}" for k in range(SHARDS))):
        account_open(code=code, name="Benchmark escrow")
    codes = [f"{prefix}:{i}" for i in range(count)]
    entry_post(
        postings=[("bench:fund", -balance * count), *((code, balance) for code in codes)],
        memo=f"benchmark balances {prefix}",
        actor="bench",
        idempotency_key=f"bench-fund:{prefix}",
        open_accounts={code: f"Benchmark account {code}" for code in codes},
    )


def movements(db: psycopg.Connection[Any], work: list[tuple[str, int, int]], price: int, batch: int) -> None:
    """Account -> escrow in plain SQL: an entry, two postings, two balance UPDATEs (the debit refused below
    zero) each, committed every `batch` movements."""
    for i, (key, account, escrow) in enumerate(work):
        entry = db.execute(
            "INSERT INTO ledger_journalentry (memo, idempotency_key, fingerprint, actor_label, posted_at) "
            "VALUES (%s, %s, '', 'bench', now()) RETURNING id",
            [f"raw purchase {key}", key],
        ).fetchone()
        assert entry is not None
        db.execute(
            "INSERT INTO ledger_posting (entry_id, account_id, amount) VALUES (%s, %s, %s), (%s, %s, %s)",
            [entry[0], account, -price, entry[0], escrow, price],
        )
        debited = db.execute(
            "UPDATE ledger_account SET balance = balance - %s WHERE id = %s AND balance >= %s",
            [price, account, price],
        )
        if debited.rowcount != 1:
            raise SystemExit(f"raw ceiling: {key} cannot pay")
        db.execute("UPDATE ledger_account SET balance = balance + %s WHERE id = %s", [price, escrow])
        if (i + 1) % batch == 0:
            db.commit()
    db.commit()


def raw_postings(
    url: str, prefix: str, count: int, price: int, *, batch: int, connections: int = 1, escrows: int = 1
) -> float:
    """Seconds for `count` movements in plain SQL on `connections` connections at once, into one escrow
    account or `escrows` of them (connection k always into escrow k)."""
    escrow_codes = ["bench:escrow"] if escrows == 1 else [f"bench:escrow:{k}" for k in range(escrows)]
    codes = [f"{prefix}:{i}" for i in range(count)]
    with psycopg.connect(url) as db:
        ids: dict[str, int] = dict(
            db.execute(
                "SELECT code, id FROM ledger_account WHERE code = ANY(%s)", [codes + escrow_codes]
            ).fetchall()
        )
    work = [(f"raw:{code}", ids[code], ids[escrow_codes[i % escrows]]) for i, code in enumerate(codes)]
    dbs = [psycopg.connect(url) for _ in range(connections)]
    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(connections) as pool:
            list(
                pool.map(lambda k: movements(dbs[k], work[k::connections], price, batch), range(connections))
            )
        return time.perf_counter() - start
    finally:
        for db in dbs:
            db.close()


def in_threads(threads: int, count: int, work: Callable[[int], None]) -> float:
    """Seconds for `work(i)` for i in range(count), shared among `threads` threads (own connections)."""
    from django.db import connection

    def run(k: int) -> None:
        try:
            for i in range(k, count, threads):
                work(i)
        finally:
            if threads > 1:
                connection.close()

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(run, range(threads)))
    return time.perf_counter() - start


def entry_post_loop(prefix: str, count: int, price: int, threads: int = 1) -> float:
    """Seconds for `count` calls of the project's entry_post (each its own transaction) into one escrow."""
    from prakerja.ledger.services import entry_post

    def post(i: int) -> None:
        entry_post(
            postings=[(f"{prefix}:{i}", -price), ("bench:escrow", price)],
            memo=f"entry_post purchase {i}",
            actor="bench",
            idempotency_key=f"entry-post:{prefix}:{i}",
        )

    return in_threads(threads, count, post)


def audit_loop(count: int, threads: int = 1) -> float:
    """Seconds for `count` audit_record calls, each its own transaction: the chain's own rate."""
    from django.db import transaction

    from prakerja.core.audit import audit_record

    def append(i: int) -> None:
        with transaction.atomic():
            audit_record(actor="bench", action="bench.audit", object_type="bench", object_id=f"{threads}:{i}")

    return in_threads(threads, count, append)


# --- checks ---------------------------------------------------------------------------------------------


def invariants(tally: Tally, warmed: int, price: int) -> list[tuple[str, str, bool]]:
    """(check, what was found, holds) after the load."""
    from django.db.models import Count

    from prakerja.core.audit import audit_verify
    from prakerja.enrolment.models import Purchase, PurchaseStatus
    from prakerja.enrolment.selectors import escrow_balance
    from prakerja.ledger.models import Account
    from prakerja.ledger.selectors import ledger_check

    live = Purchase.objects.exclude(status=PurchaseStatus.CANCELLED)
    stored = live.count()
    answered = tally.outcomes["201"] + warmed
    buyers = live.values("card").distinct().count()
    doubled = live.values("card").annotate(n=Count("id")).filter(n__gt=1).count()
    negative = Account.objects.filter(code__startswith="card:", balance__lt=0).count()
    problems = ledger_check()
    escrow = escrow_balance()
    both = sum(1 for n in tally.bought.values() if n > 1)
    chain = audit_verify()
    return [
        ("no card account below 0", f"{negative:,} below 0", negative == 0),
        (
            "ledger_check() empty",
            "empty" if not problems else f"{len(problems)}: {problems[:3]}",
            not problems,
        ),
        (
            "201 answers == purchases stored == cards that bought",
            f"{answered:,} answered 201 (incl. {warmed} warm-up), {stored:,} stored, {buyers:,} cards",
            answered == stored == buyers,
        ),
        ("no card with two live purchases", f"{doubled:,} cards with 2+", doubled == 0),
        ("no card answered 201 twice", f"{both:,} cards", both == 0),
        (
            "escrow holds price x purchases",
            f"{escrow:,} = {escrow // price if price else 0:,} x {price:,}",
            escrow == stored * price,
        ),
        ("audit chain verifies", f"{chain.checked:,} entries", chain.ok),
    ]


class Waits:
    """Samples what the server's database sessions are doing during the load (pg_stat_activity)."""

    def __init__(self, url: str) -> None:
        self.url, self.counts, self.samples = url, Counter[str](), 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as db:
            while not self.stop.wait(0.1):
                rows = db.execute(
                    "SELECT state, wait_event_type, wait_event, query FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend'"
                ).fetchall()
                self.samples += 1
                for state, kind, event, query in rows:
                    self.counts[self.label(state, kind, event, query)] += 1

    @staticmethod
    def label(state: str, kind: str | None, event: str | None, query: str) -> str:
        if state == "idle":
            return "idle (between requests)"
        if state == "idle in transaction":
            return "idle in transaction (the server's Python is working)"
        if kind == "Lock" and event in ("transactionid", "tuple"):
            # transactionid: next in line for a row another purchase holds; tuple: queued behind that one
            return f"waiting for a locked row ({event}): {statement_label(query)}"
        if kind == "Lock" and event == "advisory":
            return "waiting for the audit chain's advisory lock"
        if kind:
            return f"waiting: {kind} {event}"
        return "running a statement (CPU)"

    def __enter__(self) -> "Waits":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def table(self) -> Table:
        table = Table(
            title=f"The server's database sessions during the load ({self.samples} pg_stat_activity samples)",
            caption="average number of sessions in each state at any moment (one per server thread)",
        )
        table.add_column("state")
        table.add_column("sessions", justify="right")
        for label, count in self.counts.most_common():
            table.add_row(label, f"{count / max(self.samples, 1):.2f}")
        return table


def server_log(path: Path) -> None:
    """The server's log, without Django's warning line for each refused request (a 409 is the point)."""
    lines = path.read_text(errors="replace").splitlines()
    refused = [line for line in lines if line.startswith(("Conflict:", "Forbidden:", "Bad Request:"))]
    other = [line for line in lines if line not in refused]
    console.print(f"server log: {len(refused):,} 'refused request' warnings, {len(other)} other lines")
    for line in other[:20]:
        console.print(f"  {line}", markup=False, highlight=False)


# --- the benchmark --------------------------------------------------------------------------------------


def server_start(env: dict[str, str], workers: int, threads: int, log: Any) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(  # noqa: S603 - our own server from this virtualenv
        server_command(HOST, PORT, workers, threads), env=env, stdout=log, stderr=log
    )
    health = f"GET /api/v1/health HTTP/1.1\r\nHost: {HOST}:{PORT}\r\nContent-Length: 0\r\n\r\n".encode()
    for _ in range(200):
        try:
            asyncio.run(Connection().send(health))
            return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cards", type=int, default=20_000, help="card holders in the wave (default 20,000)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients, half double-spending")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=8, help="threads per worker (default 8)")
    parser.add_argument(
        "--duration", type=float, default=120, help="stop sending after this many seconds (default 120)"
    )
    parser.add_argument(
        "--ceiling", type=int, default=3200, help="movements in each ceiling run (default 3,200)"
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=0,
        help="cards per request to POST /purchases/batch (default 0: one purchase a request)",
    )
    options = parser.parse_args()
    if not console.is_terminal:
        console.width = 130
    url = os.environ.get("PRAKERJA_DATABASE_URL", DEFAULT_URL)
    if not url.startswith("postgres"):
        raise SystemExit("PRAKERJA_DATABASE_URL must point at PostgreSQL")
    with tempfile.TemporaryDirectory(prefix="prakerja-bench-purchases-") as folder:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "prakerja.settings",
            "PRAKERJA_WORK_DIR": folder,
            "PRAKERJA_DATABASE_URL": url,
            "PRAKERJA_DEBUG": "false",
            "PRAKERJA_NOTIFY_BACKEND": "file",
            "PRAKERJA_NOTIFY_DIR": str(Path(folder) / "outbox"),
            "PRAKERJA_NOTIFY_INLINE": "0",  # vouchers wait in the outbox for `prakerja outbox send`
            "PRAKERJA_PARTNER_TOKEN_SECONDS": "86400",
            # The default, 6,000 a minute per client, would cap one platform at 100 requests/s.
            "PRAKERJA_PARTNER_RATE_PER_MINUTE": "100000000",
        }
        os.environ.update(env)
        setup_django(fresh_postgres(url), folder)
        from prakerja.waves.models import Scheme

        version = code_version()
        start = time.perf_counter()
        issued, setup_seconds = cards_issue(options.cards)
        shop = shop_open(Scheme.objects.get(code="semi-bansos-2020").training_balance)
        numbers = cards_link(shop.platform)
        setup_seconds["partners, training, token, links (bulk)"] = (
            time.perf_counter() - start - sum(setup_seconds.values())
        )
        setup = Table(
            title=f"Setting up: {issued:,} cards ({url.rsplit('/', 1)[1]})", caption=f"code {version}"
        )
        setup.add_column("step (not timed)")
        setup.add_column("seconds", justify="right")
        for label, seconds in setup_seconds.items():
            setup.add_row(label, f"{seconds:.1f}")
        console.print(setup)

        from django.db import connection, connections

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # as autovacuum would after the bulk set-up
        anatomy = anatomy_of(shop, numbers[:WARMUP])
        profile = profile_of(shop, numbers[WARMUP : 2 * WARMUP])
        numbers = numbers[2 * WARMUP :]
        connections.close_all()
        log_path = Path(folder) / "server.log"
        with log_path.open("wb") as log:
            server = server_start(env, options.workers, options.threads, log)
            try:
                before = cpu_seconds(server.pid)
                with Waits(url) as waits:
                    seconds, tally = asyncio.run(
                        load(shop, numbers, options.clients, options.duration, options.batch)
                    )
                after = cpu_seconds(server.pid)
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=30)
        server_log(log_path)
        console.print(waits.table())
        cpu = cpu_cores(before, after, seconds)
        console.print(
            f"CPU during the load, in cores of {os.cpu_count()}: "
            + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items())
        )
        checks = invariants(tally, 2 * WARMUP, shop.price)

        count = options.ceiling
        balance = Scheme.objects.get(code="semi-bansos-2020").training_balance
        prefixes = ("sql100", "sql1", "shared", "sharded", "post1", "postN")
        for prefix in prefixes:
            ceiling_accounts(f"bench:{prefix}", count, balance)
        price, c = shop.price, SHARDS
        runs: list[tuple[str, Callable[[], float]]] = [
            (
                "ceiling: raw SQL, 1 connection, commit every 100",
                lambda: raw_postings(url, "bench:sql100", count, price, batch=100),
            ),
            (
                "raw SQL, 1 connection, commit every movement",
                lambda: raw_postings(url, "bench:sql1", count, price, batch=1),
            ),
            (
                f"raw SQL, {c} connections, commit each, 1 escrow row",
                lambda: raw_postings(url, "bench:shared", count, price, batch=1, connections=c),
            ),
            (
                f"raw SQL, {c} connections, commit each, {c} escrow rows",
                lambda: raw_postings(url, "bench:sharded", count, price, batch=1, connections=c, escrows=c),
            ),
            ("entry_post, 1 thread (no HTTP)", lambda: entry_post_loop("bench:post1", count, price)),
            (
                f"entry_post, {c} threads, 1 escrow row (no HTTP)",
                lambda: entry_post_loop("bench:postN", count, price, c),
            ),
            ("audit_record in a loop, 1 thread (the chain alone)", lambda: audit_loop(count)),
            (f"audit_record, {c} threads (the chain alone)", lambda: audit_loop(count, c)),
        ]
        measured = [(label, run()) for label, run in runs]
        from prakerja.ledger.selectors import ledger_check

        books = ledger_check()

    print_results(options, seconds, tally, checks, anatomy, count, version)
    console.print(profile)
    held = statistics.median(anatomy.held)
    bought = tally.outcomes["201"]
    rows = [
        (f"ours: HTTP purchases (201s), {options.clients} clients", bought / seconds),
        *((label, count / t) for label, t in measured),
        ("1 / median hold of the escrow lock in a purchase", 1 / held),
    ]
    table = Table(
        title="8. Ledger movements per second: ours beside the ceilings (same run)",
        caption=(
            f"ceilings: {count:,} movements account -> escrow each (entry + 2 postings + 2 balance updates); "
            f"hold = from SELECT ... FOR UPDATE of the escrow account to COMMIT in a warm-up purchase, "
            f"median of {WARMUP}: {held * 1000:.2f} ms; ledger_check() after the ceilings: "
            f"{'empty' if not books else books[:3]}"
        ),
    )
    for column in ("", "movements/s", "share of ceiling"):
        table.add_column(column, justify="right" if column else "left")
    ceiling = rows[1][1]
    for label, rate in rows:
        table.add_row(label, f"{rate:,.0f}", f"{rate / ceiling:.1%}")
    console.print(table)
    report(
        f"8. Partner purchases under load ({options.clients} clients, half double-spending, "
        f"granian {options.workers}x{options.threads})",
        bought,
        ("ours: POST /partner/purchases" + ("/batch" if options.batch else "") + " (201s)", seconds),
        ("ceiling: raw SQL movements, batched", bought / ceiling),
        "the ceiling's seconds are its measured rate applied to the same number of movements",
        unit="purchases",
    )
    met = bought / seconds >= GOAL and all(ok for label, _found, ok in checks if "below 0" in label)
    overdrafts = next(found for label, found, _ok in checks if "below 0" in label)
    console.print(
        f"Goal >= {GOAL:,} purchases/s and zero overdrafts: "
        + ("[green]met[/]" if met else "[red]not met[/]")
        + f" ({bought / seconds:,.0f} purchases/s; {overdrafts})"
    )


def print_results(
    options: argparse.Namespace,
    seconds: float,
    tally: Tally,
    checks: list[tuple[str, str, bool]],
    anatomy: Anatomy,
    count: int,
    version: str,
) -> None:
    latencies = tally.latencies
    requests = len(latencies)
    table = Table(
        title=(
            f"Purchases: {requests:,} requests"
            + (f" of {options.batch} cards each to /purchases/batch" if options.batch else "")
            + f" in {seconds:.1f} s from {options.clients} clients ({tally.pairs:,} double-spend pairs)"
        ),
        caption=f"code {version}",
    )
    for column in ("purchases/s", "requests/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "answers"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{tally.outcomes['201'] / seconds:,.0f}",
        f"{requests / seconds:,.0f}",
        *(f"{percentile(latencies, q) * 1000:.0f}" for q in (0.5, 0.95, 0.99)),
        f"{max(latencies) * 1000:.0f}",
        ", ".join(f"{k}: {v:,}" for k, v in sorted(tally.outcomes.items())),
    )
    console.print(table)
    checked = Table(title="Invariants after the load")
    for column in ("check", "found", "holds"):
        checked.add_column(column)
    for label, found, ok in checks:
        checked.add_row(label, found, "[green]yes[/]" if ok else "[red]NO[/]")
    console.print(checked)
    one = Table(
        title=(
            f"One purchase in-process (warm-up, last of {WARMUP}): {len(anatomy.statements)} statements "
            f"incl. {anatomy.commits} commits; median {statistics.median(anatomy.total) * 1000:.1f} ms a "
            f"request, {statistics.median(anatomy.held) * 1000:.2f} ms holding the escrow lock"
        ),
        caption="* = run while holding the escrow account's row lock (every purchase needs it: they queue)",
    )
    for column in ("#", "statement", "ms", ""):
        one.add_column(column, justify="right" if column in ("#", "ms") else "left")
    for i, statement in enumerate(anatomy.statements, 1):
        one.add_row(
            str(i), statement.label, f"{statement.seconds * 1000:.2f}", "*" if statement.holding else ""
        )
    console.print(one)


if __name__ == "__main__":
    main()
