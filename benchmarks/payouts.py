"""On PostgreSQL: a disbursement batch of n payments (default 1,000,000) built, approved, sent to the provider
simulator (a separate process) and reconciled against its settlement file of n lines, each beside its ceiling
measured in the same run (the raw insert of the same rows, the same chunk bodies POSTed straight to a second
simulator, the settlement file COPYed raw and applied by one UPDATE ... FROM), with where the time goes."""

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from rich.markup import escape
from rich.table import Table

from common import console
from draw import (
    Phases,
    applicants_insert,
    code_version,
    fresh_postgres,
    indexes_after,
    people,
    phases_table,
    quotas_for,
    setup_django,
)

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/prakerja_bench_payouts"
GOAL_BUILD, GOAL_RECONCILE = 20.0, 15.0
AMOUNT = 600_000  # the first post-training instalment of semi-bansos-2020
FAILURE_RATE = 0.01
NUMBERS = ("081234560011", "081234560022", "081234560033", "081234560044", "085712340055", "089912340066")
HOLDER = "Peserta Uji"  # the applicants' full name in draw.applicants_insert

Watch = tuple[Any, str, str]


# --- the simulator processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def simulator(port: int, log: Path) -> Iterator[str]:
    """`prakerja payouts simulator` in its own process (its own GIL), no callbacks; its URL."""
    command = [
        str(Path(sys.executable).parent / "prakerja"),
        *("payouts", "simulator", "--port", str(port), "--callback-url", ""),
        *("--failure-rate", str(FAILURE_RATE), "--return-rate", "0", "--seed", "7"),
    ]
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy())  # noqa: S603
        try:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            deadline = time.monotonic() + 60
            while True:
                try:
                    with opener.open(url + "/v1/health", timeout=1) as answer:
                        if answer.status == 200:
                            break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the simulator did not start: {log.read_text()[-2000:]}")
                time.sleep(0.2)
            yield url
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --- seeding (not measured) ---------------------------------------------------------------------------------


def seed(n: int) -> tuple[Any, Any, dict[str, float]]:
    """n applicants, an open semi-bansos-2020 wave with n places, n selected entries with cards, n verified
    OVO accounts and n owed entitlements booked by one journal entry; the two finance officers."""
    from django.db import connection, transaction
    from django.utils import timezone

    from prakerja.accounts.models import Role
    from prakerja.accounts.services import user_create
    from prakerja.core import crypto
    from prakerja.ledger.services import entry_post
    from prakerja.payments import rules
    from prakerja.payments.models import Entitlement, PayoutAccount
    from prakerja.payments.services import OWED_ACCOUNT, accounts_ready
    from prakerja.registry.models import Applicant
    from prakerja.waves.models import Card, Entry, Scheme
    from prakerja.waves.services import FUND_ACCOUNT, wave_create, wave_open

    seconds: dict[str, float] = {}

    def step(label: str, work: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = work()
        seconds[label] = time.perf_counter() - start
        return result

    crowd = step("generate the applicants (numpy)", lambda: people(n, seed=3))

    def applicants() -> None:
        with indexes_after(Applicant._meta.db_table):
            applicants_insert(crowd)

    step("applicants: COPY, then their indexes", applicants)
    now = timezone.now()

    def wave() -> Any:
        made = wave_create(
            number=1,
            name="Gelombang 1 (benchmark of payouts)",
            scheme=Scheme.objects.get(code="semi-bansos-2020"),
            opens_at=now - timedelta(hours=1),
            closes_at=now + timedelta(days=1),
            total_quota=n,
            quotas=quotas_for(crowd.regency, n),
            actor="bench",
        )
        wave_open(wave=made, actor="bench")  # appropriates n x Rp3,550,000 to programme:fund
        return made

    opened = step("wave_create + wave_open (n places funded)", wave)
    stamp = connection.ops.adapt_datetimefield_value(now)
    entry, card, account, entitlement = (m._meta.db_table for m in (Entry, Card, PayoutAccount, Entitlement))

    def rows(table: str, sql: str, params: Sequence[Any]) -> None:
        with indexes_after(table), connection.cursor() as cursor:
            cursor.execute(sql, params)

    step(
        "entries, selected (INSERT ... SELECT)",
        lambda: rows(
            entry,
            f"INSERT INTO {entry} (wave_id, applicant_id, cell, status, joined_at) "  # noqa: S608
            "SELECT %s, id, regency_code, 'selected', %s FROM registry_applicant ORDER BY id",
            [opened.pk, stamp],
        ),
    )
    step(
        "cards (INSERT ... SELECT)",
        lambda: rows(
            card,
            f"INSERT INTO {card} (number, entry_id, applicant_id, status, issued_at, purchase_deadline) "  # noqa: S608
            f"SELECT '52' || lpad(id::text, 14, '0'), id, applicant_id, 'active', %s, %s FROM {entry} "
            "WHERE wave_id = %s ORDER BY id",
            [stamp, connection.ops.adapt_datetimefield_value(now + timedelta(days=30)), opened.pk],
        ),
    )
    ciphers = [crypto.encrypt(number) for number in NUMBERS]
    step(
        "verified OVO payout accounts (INSERT ... SELECT)",
        lambda: rows(
            account,
            f"INSERT INTO {account} (applicant_id, provider, number, number_last4, holder_name, status, "  # noqa: S608
            "reason, reference, created_at, verified_at) "
            "SELECT id, 'ovo', (%s::text[])[1 + id %% %s], (%s::text[])[1 + id %% %s], %s, 'verified', "
            "'', 'INQ-BENCH', %s, %s FROM registry_applicant ORDER BY id",
            [
                ciphers,
                len(NUMBERS),
                [number[-4:] for number in NUMBERS],
                len(NUMBERS),
                rules.mask_name(HOLDER),
                stamp,
                stamp,
            ],
        ),
    )

    def entitlements() -> None:
        accounts_ready()
        with transaction.atomic():
            with connection.cursor() as cursor:  # checked at once, so the indexes can be rebuilt after
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            booked = entry_post(
                postings=[(FUND_ACCOUNT, -n * AMOUNT), (OWED_ACCOUNT, n * AMOUNT)],
                memo=f"Post-training incentives earned ({n}) - benchmark seed",
                actor="bench",
                idempotency_key="bench:payouts:entitlements",
            )
            rows(
                entitlement,
                f"INSERT INTO {entitlement} (applicant_id, card_id, kind, sequence, amount, due_on, status, "  # noqa: S608
                "entry_id, created_at) "
                f"SELECT applicant_id, id, 'incentive', 1, %s, %s, 'owed', %s, %s FROM {card} ORDER BY id",
                [AMOUNT, timezone.localdate(), booked.pk, stamp],
            )

    step("entitlements, owed, booked by one journal entry", entitlements)

    def vacuum() -> None:
        with connection.cursor() as cursor:
            for table in ("registry_applicant", entry, card, account, entitlement, "payments_payment"):
                cursor.execute(f"VACUUM ANALYZE {table}")

    step("VACUUM ANALYZE the tables", vacuum)
    maker = user_create(username="finance-a", password="bench-Password-1", role=Role.FINANCE_OFFICER)
    checker = user_create(username="finance-b", password="bench-Password-1", role=Role.FINANCE_OFFICER)
    return maker, checker, seconds


# --- where the time goes ------------------------------------------------------------------------------------

SLOWEST: dict[str, float] = {}  # the slowest single statement of each kind
TABLE_NAME = re.compile(r'\b(?:INTO|UPDATE|FROM)\s+"?(\w+)"?', re.IGNORECASE)


def sql_label(sql: str) -> str:
    """'all: SQL <verb> <table>' for a statement, as Django sends it."""
    words = sql.lstrip().split(None, 1)
    verb = words[0].upper() if words else "?"
    if verb == "SELECT" and "FOR UPDATE" in sql[-60:].upper():
        verb = "SELECT ... FOR UPDATE"
    found = TABLE_NAME.search(sql)
    return f"all: SQL {verb} {found.group(1) if found else ''}".rstrip()


@contextlib.contextmanager
def sql_watched(phases: Phases, group: int) -> Iterator[None]:
    """Every statement sent through Django's cursors, timed (with the server's wait) by verb and table."""
    from django.db.backends.utils import CursorWrapper

    original = CursorWrapper._execute  # type: ignore[attr-defined]

    def timed_execute(cursor: Any, sql: str, *args: Any) -> Any:
        key = sql_label(sql)
        start = time.perf_counter()
        try:
            return original(cursor, sql, *args)
        finally:
            seconds = time.perf_counter() - start
            phases.seconds[key] += seconds
            phases.calls[key] += 1
            phases.group.setdefault(key, group)
            SLOWEST[key] = max(SLOWEST.get(key, 0.0), seconds)

    CursorWrapper._execute = timed_execute  # type: ignore[attr-defined]
    try:
        yield
    finally:
        CursorWrapper._execute = original  # type: ignore[attr-defined]


COMMIT = "all: COMMIT (the deferred foreign-key checks run here)"


def measured(
    title: str, work: Callable[[], Any], parts: Sequence[Watch], across: Sequence[Watch], rest: str
) -> tuple[float, Any]:
    """Run `work` once with its parts timed (a label starting with two spaces is inside the part above) and
    some functions timed wherever they run ('all:' rows, which overlap the parts); print the table."""
    from django.db.backends.base.base import BaseDatabaseWrapper

    phases = Phases()
    with contextlib.ExitStack() as stack:
        for group, (owner, name, label) in enumerate((*parts, *across)):
            stack.enter_context(phases.watch(owner, name, label, group))
        stack.enter_context(sql_watched(phases, len(parts) + len(across)))
        stack.enter_context(
            phases.watch(BaseDatabaseWrapper, "_commit", COMMIT, len(parts) + len(across) + 1)
        )
        start = time.perf_counter()
        result = work()
        total = time.perf_counter() - start

    def slowest(key: str) -> str:
        return f" (slowest {SLOWEST[key]:.3f} s)" if key in SLOWEST and phases.calls[key] > 1 else ""

    console.print(phases_table(title, phases, len(parts), total, rest, suffix=slowest, min_share=0.002))
    SLOWEST.clear()
    return total, result


# --- ceilings --------------------------------------------------------------------------------------------


def raw() -> psycopg.Connection[Any]:
    """The psycopg connection under Django's (autocommit, outside any transaction here)."""
    from django.db import connection

    connection.ensure_connection()
    return connection.connection


CHUNKS = "SELECT id FROM payments_chunk WHERE batch_id = {}"


def insert_ceilings(batch_id: int) -> tuple[float, float, int]:
    """The batch's payment rows COPYed out to memory, then (timed) COPY FROM into a LIKE ... INCLUDING ALL
    copy of payments_payment (same indexes and checks, no foreign keys); INSERT ... SELECT * in another."""
    pg = raw()
    data = bytearray()
    with pg.cursor() as cursor:
        query = "COPY (SELECT * FROM payments_payment WHERE chunk_id IN ({}) ORDER BY id) TO STDOUT"
        with cursor.copy(query.format(CHUNKS.format(int(batch_id)))) as copy:
            for block in copy:
                data += block
    lines = data.count(b"\n")
    try:
        pg.execute("CREATE TABLE bench_payment_ceiling (LIKE payments_payment INCLUDING ALL)")
        pg.execute("CREATE TABLE bench_payment_ceiling2 (LIKE payments_payment INCLUDING ALL)")
        view = memoryview(data)
        start = time.perf_counter()
        with (
            pg.transaction(),
            pg.cursor() as cursor,
            cursor.copy("COPY bench_payment_ceiling FROM STDIN") as copy,
        ):
            for offset in range(0, len(view), 1 << 20):
                copy.write(view[offset : offset + (1 << 20)])
        copied = time.perf_counter() - start
        start = time.perf_counter()
        pg.execute(
            "INSERT INTO bench_payment_ceiling2 SELECT * FROM payments_payment "  # noqa: S608 - a constant
            f"WHERE chunk_id IN ({CHUNKS.format(int(batch_id))})"
        )
        inserted = time.perf_counter() - start
    finally:
        pg.execute("DROP TABLE IF EXISTS bench_payment_ceiling")
        pg.execute("DROP TABLE IF EXISTS bench_payment_ceiling2")
    return copied, inserted, lines


def chunk_bodies(batch_id: int) -> list[tuple[str, bytes]]:
    """Every chunk's request body exactly as HttpProviders.disburse makes it (same keys, numbers, names,
    amounts), serialised in advance; for a second, fresh simulator."""
    from prakerja.core import crypto

    numbers: dict[str, str] = {}
    pg = raw()
    bodies = []
    chunks = pg.execute(
        "SELECT id, provider, sequence FROM payments_chunk WHERE batch_id = %s ORDER BY provider, sequence",
        [batch_id],
    ).fetchall()
    for chunk_id, provider, sequence in chunks:
        rows = pg.execute(
            "SELECT p.key, a.number, ap.full_name, p.amount FROM payments_payment p "
            "JOIN payments_payoutaccount a ON a.id = p.account_id "
            "JOIN payments_entitlement e ON e.id = p.entitlement_id "
            "JOIN registry_applicant ap ON ap.id = e.applicant_id WHERE p.chunk_id = %s ORDER BY p.id",
            [chunk_id],
        ).fetchall()
        payments = []
        for key, cipher, name, amount in rows:
            if cipher not in numbers:
                numbers[cipher] = crypto.decrypt(cipher)
            payments.append({"key": key, "number": numbers[cipher], "name": name, "amount": amount})
        chunk_key = f"PKJ-B{batch_id}-{provider}-{sequence}"
        body = json.dumps({"provider": provider, "chunk": chunk_key, "payments": payments}).encode()
        bodies.append((chunk_key, body))
    return bodies


def post_ceiling(url: str, bodies: list[tuple[str, bytes]]) -> tuple[float, int]:
    """The same bodies POSTed one after another with urllib, as HttpProviders does: transport + simulator."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    accepted = 0
    start = time.perf_counter()
    for key, body in bodies:
        request = urllib.request.Request(  # noqa: S310 - our own loopback simulator
            url + "/v1/disbursements",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Idempotency-Key": key},
        )
        with opener.open(request, timeout=60) as answer:
            accepted += int(json.loads(answer.read())["accepted"])
    return time.perf_counter() - start, accepted


def parse_floor(path: Path) -> float:
    """Reading the file and parsing every line as reconcile does (rules.settlement_fields and
    rules.settlement_line), no more."""
    from prakerja.payments import rules

    start = time.perf_counter()
    lines = rules.settlement_fields(path.read_bytes().decode("utf-8-sig"))
    next(lines)
    seen = set()
    for _number, fields in lines:
        line = rules.settlement_line(fields)
        assert not isinstance(line, str), line
        seen.add(line.key)
    return time.perf_counter() - start


def reconcile_ceiling(path: Path) -> tuple[float, float, int]:
    """The file COPYed raw into a temporary table, then one UPDATE ... FROM it by key (no checks, no ledger);
    rolled back."""
    pg = raw()
    data = path.read_bytes()
    with pg.transaction(force_rollback=True), pg.cursor() as cursor:
        start = time.perf_counter()
        cursor.execute(
            "CREATE TEMPORARY TABLE bench_settlement (payment_key text, reference text, amount bigint, "
            "state text, settled_at timestamptz) ON COMMIT DROP"
        )
        with cursor.copy("COPY bench_settlement FROM STDIN (FORMAT csv, HEADER true)") as copy:
            copy.write(data)
        copied = time.perf_counter() - start
        start = time.perf_counter()
        cursor.execute(
            "UPDATE payments_payment p SET state = s.state, provider_reference = s.reference, "
            "updated_at = s.settled_at FROM bench_settlement s "
            "WHERE p.key = s.payment_key AND p.provider = 'ovo'"
        )
        updated = cursor.rowcount
        applied = time.perf_counter() - start
    return copied, applied, updated


# --- the benchmark ----------------------------------------------------------------------------------------

Row = tuple[str, float, int, str, bool | None, str, float | None]  # label, s, rows, goal, met, ceiling, s


def main_table(n: int, rows: list[Row], note: str) -> Table:
    table = Table(title=f"9. Payouts of {n:,} payments on PostgreSQL", caption=note)
    table.add_column("", no_wrap=True)
    for column in ("seconds", "rows/s", "goal", "ceiling", "ceiling s", "ceiling rows/s", "share"):
        table.add_column(column, justify="left" if column == "ceiling" else "right", no_wrap=True)
    for label, seconds, count, goal, met, ceiling, ceiling_s in rows:
        verdict = "" if met is None else (" [green]met[/]" if met else " [red]missed[/]")
        table.add_row(
            label,
            f"{seconds:.3f}",
            f"{count / seconds:,.0f}" if count and seconds else "",
            goal + verdict,
            ceiling,
            f"{ceiling_s:.3f}" if ceiling_s is not None else "",
            f"{count / ceiling_s:,.0f}" if ceiling_s and count else "",
            f"{ceiling_s / seconds:.1%}" if ceiling_s is not None and seconds else "",
        )
    return table


def server_settings() -> str:
    """The PostgreSQL settings that matter here (autovacuum off means no statistics after the seeding)."""
    names = ("autovacuum", "shared_buffers", "work_mem", "max_wal_size", "jit", "synchronous_commit")
    rows = raw().execute(
        "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)", [list(names)]
    )
    return ", ".join(f"{name} {value}" for name, value in sorted(rows.fetchall()))


def log_slow_plans(milliseconds: int) -> None:
    """auto_explain in this session: the plan of every statement slower than `milliseconds`, with its actual
    rows, buffers and WAL, goes to the server's log (superuser only; for finding where a statement's time
    goes; timing every plan node slows the statements down)."""
    pg = raw()
    pg.execute("LOAD 'auto_explain'")
    pg.execute(f"SET auto_explain.log_min_duration = {int(milliseconds)}")
    pg.execute("SET auto_explain.log_nested_statements = on")
    for option in ("log_analyze", "log_buffers", "log_wal"):
        pg.execute(f"SET auto_explain.{option} = on")


def analyze(*more: str) -> float:
    """ANALYZE payments_payment (and `more` tables), untimed in the figures, as autovacuum would after a
    million changed rows (it is off on some servers, and the seeding's statistics describe an empty table)."""
    start = time.perf_counter()
    for table in ("payments_payment", *more):
        raw().execute(f"ANALYZE {table}")
    return time.perf_counter() - start


def run(n: int, url: str, folder: Path, slow_plans: int | None = None, analyze_between: bool = True) -> None:
    from django.db.models import Count
    from django.db.models.query import QuerySet

    from prakerja.core import crypto
    from prakerja.ledger.selectors import balance_or_zero, ledger_check
    from prakerja.payments import services
    from prakerja.payments.models import (
        Chunk,
        Entitlement,
        EntitlementStatus,
        Payment,
        PaymentState,
    )
    from prakerja.payments.providers import HttpProviders

    version = code_version()
    if slow_plans is not None:
        log_slow_plans(slow_plans)
    start = time.perf_counter()
    maker, checker, seconds = seed(n)
    seeding = time.perf_counter() - start
    problems = ledger_check()
    setup = Table(
        title=f"Seeding {n:,} owed entitlements to verified OVO accounts ({urlsplit(url).path[1:]})",
        caption=f"not measured; ledger_check() before the batch: {problems or 'empty'}; code {version}; "
        f"server: {server_settings()}",
    )
    setup.add_column("step (not the measured work)")
    setup.add_column("seconds", justify="right")
    for label, value in seconds.items():
        setup.add_row(label, f"{value:.2f}")
    setup.add_row("[bold]total[/]", f"{seeding:.2f}")
    console.print(setup)
    if problems:
        raise SystemExit("the seeded books do not hold; not measuring")

    # a. Build.
    t_build, batch = measured(
        "batch_build, by part (timed inside the one call)",
        lambda: services.batch_build(actor=maker),
        (
            (services, "accounts_ready", "accounts_ready"),
            (services, "_give_up_after_failures", "_give_up_after_failures"),
            (services, "_payments_digest", "_payments_digest: every payment read back and hashed"),
            (services, "audit_record", "audit_record"),
        ),
        ((psycopg.ServerCursor, "fetchmany", "all: FETCH from a server-side cursor (iterator)"),),
        "rest: the count per provider, the chunks, the INSERT ... SELECT (all: SQL INSERT), totals, commit",
    )
    start = time.perf_counter()
    try:
        services.batch_build(actor=maker)
    except services.BatchEmpty:
        again = "BatchEmpty"
    else:
        again = "a second batch was built"
    t_again = time.perf_counter() - start
    t_copy, t_insert_select, copied = insert_ceilings(batch.pk)
    assert copied == batch.payment_count == n, (copied, batch.payment_count, n)

    analyzed = {"after build": analyze() if analyze_between else None}

    # c. Approve (another officer) and send to the simulator.
    start = time.perf_counter()
    batch = services.batch_approve(batch=batch, actor=checker)
    t_approve = time.perf_counter() - start
    from prakerja.payments import providers as providers_module

    t_send, sent = measured(
        f"batch_send of {batch.chunks.count():,} chunks, by part (timed inside the one call)",
        lambda: services.batch_send(batch=batch, actor=checker),
        (
            (services, "_hand_over", "_hand_over: ledger entry owed -> transit, payments marked sent"),
            (services, "entry_post", "  entry_post"),
            (services, "_instructions", "_instructions: the chunk's payments read (ORM, decrypted)"),
            (providers_module.HttpProviders, "disburse", "HttpProviders.disburse: JSON, POST, answer"),
            (providers_module.HttpProviders, "_call", "  the HTTP round trip (the simulator's work in it)"),
        ),
        (
            (crypto, "decrypt", "all: crypto.decrypt (AES-GCM, account numbers)"),
            (psycopg.ServerCursor, "fetchmany", "all: FETCH from a server-side cursor (iterator)"),
        ),
        "rest: chunk acknowledgements, batch status, commits",
    )
    bodies = chunk_bodies(batch.pk)
    with simulator(free_port(), folder / "simulator-ceiling.log") as ceiling_url:
        t_post, accepted = post_ceiling(ceiling_url, bodies)
    assert accepted == n, accepted
    body_bytes = sum(len(b) for _k, b in bodies)
    del bodies

    analyzed["after send"] = analyze() if analyze_between else None

    # d. The settlement file, reconciled.
    start = time.perf_counter()
    text = HttpProviders().settlement(provider="ovo")
    t_fetch = time.perf_counter() - start
    path = folder / "ovo-settlement.csv"
    path.write_text(text, encoding="utf-8")
    file_lines = [line.split(",") for line in text.splitlines()[1:] if line]
    file_states = Counter(fields[3] for fields in file_lines)
    distinct = len({fields[0] for fields in file_lines})
    del text
    t_parse = parse_floor(path)
    t_reconcile, run_ = measured(
        f"reconcile of {len(file_lines):,} lines, by part (timed inside the one call)",
        lambda: services.reconcile(provider="ovo", path=path, actor=checker),
        (
            (services, "_stage", "_stage: csv + settlement_line per line, COPY into a temporary table"),
            (services, "_settle", "_settle: match, sums, ledger, UPDATE payments and entitlements"),
            (services, "entry_post", "  entry_post"),
            (QuerySet, "bulk_create", "bulk_create (malformed and duplicate lines)"),
        ),
        ((services, "audit_record", "all: audit_record"),),
        "rest: read and digest the file, discrepancies and 'missing' by INSERT ... SELECT, settled chunks",
    )
    t_copy_file, t_update, updated = reconcile_ceiling(path)
    # The usual case: the callbacks brought the outcomes, the file only confirms them (lines in another order,
    # so it is not the same file).
    again_path = folder / "ovo-settlement-again.csv"
    header, *body = path.read_text(encoding="utf-8").splitlines()
    again_path.write_text("\n".join([header, *reversed(body)]) + "\n", encoding="utf-8")
    del header, body
    start = time.perf_counter()
    confirmed = services.reconcile(provider="ovo", path=again_path, actor=checker)
    t_confirm = time.perf_counter() - start
    analyzed["after reconcile"] = analyze("payments_entitlement") if analyze_between else None

    build_goal, reconcile_goal = f"< {GOAL_BUILD:.0f}", f"< {GOAL_RECONCILE:.0f}"
    rows: list[Row] = [
        ("batch_build", t_build, n, build_goal, t_build < GOAL_BUILD, "COPY FROM, same rows", t_copy),
        ("", t_build, n, "", None, "INSERT…SELECT * same rows", t_insert_select),
        ("batch_build again (must add nothing)", t_again, 0, "BatchEmpty", again == "BatchEmpty", "", None),
        ("batch_approve (not a speed goal)", t_approve, n, "", None, "", None),
        ("batch_send to the simulator", t_send, n, "", None, "POST same bodies (urllib)", t_post),
        ("build + send", t_build + t_send, n, "", None, "COPY + POST", t_copy + t_post),
        ("fetch the settlement file (GET)", t_fetch, n, "", None, "", None),
        (
            "reconcile",
            t_reconcile,
            n,
            reconcile_goal,
            t_reconcile < GOAL_RECONCILE,
            "COPY file + UPDATE…FROM",
            t_copy_file + t_update,
        ),
        ("", t_reconcile, n, "", None, "  of which the UPDATE", t_update),
        (
            "reconcile again, outcomes known",
            t_confirm,
            n,
            reconcile_goal,
            t_confirm < GOAL_RECONCILE,
            "COPY file (no update)",
            t_copy_file,
        ),
        ("", t_reconcile, n, "", None, "parse only (rules)", t_parse),
    ]
    stats = (
        "ANALYZE payments_payment (untimed, as autovacuum would; + payments_entitlement after reconcile) "
        + ", ".join(f"{when} {seconds:.1f} s" for when, seconds in analyzed.items() if seconds is not None)
        if analyze_between
        else "No ANALYZE between the steps (--no-analyze): the planner knows payments_payment as empty"
    )
    note = (
        f"Ceilings measured in the same run. Build: the batch's {copied:,} rows COPYed out to memory, then "  # noqa: S608 - prose
        "COPY FROM (timed) into a LIKE payments_payment INCLUDING ALL table (same indexes and checks, no "
        "foreign keys), and INSERT ... SELECT * into another. Send: the same chunk bodies "
        f"({body_bytes / 2**20:,.0f} MiB of JSON, serialised beforehand) POSTed one after another to a "
        "second simulator process. Reconcile: the settlement file COPYed into a temporary table and applied "
        f"by one UPDATE ... FROM by key ({updated:,} rows, rolled back). Simulator: separate process, "
        f"failure rate {FAILURE_RATE}, no returns, no callbacks. {stats}. Server: {server_settings()}. "
        f"Code measured: {version}"
    )
    console.print(main_table(n, rows, note))

    # e. The books afterwards.
    start = time.perf_counter()
    problems = ledger_check()
    t_check = time.perf_counter() - start
    states = dict(Payment.objects.values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    entitled = dict(
        Entitlement.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    paid, failed = states.get(PaymentState.PAID, 0), states.get(PaymentState.FAILED, 0)
    batch.refresh_from_db()
    acknowledged = Chunk.objects.filter(batch=batch, acknowledged_at__isnull=False).count()
    lines = len(file_lines)
    sent_left = states.get(PaymentState.SENT, 0)
    entitled_paid = entitled.get(EntitlementStatus.PAID, 0)
    transit, owed, paid_total = (
        balance_or_zero(code) for code in ("transit:ovo", services.OWED_ACCOUNT, services.PAID_ACCOUNT)
    )
    applied, issues = run_.counts.get("applied", 0), run_.discrepancies.count()
    in_file_paid, in_file_failed = file_states["paid"], file_states["failed"]
    paid_due = paid * AMOUNT
    checks: list[tuple[str, str, str, bool]] = [
        ("settlement file lines", f"{lines:,}", f"{n:,}", lines == n),
        ("no payment twice in the file (distinct keys)", f"{distinct:,}", f"{lines:,}", distinct == lines),
        ("payments paid = paid lines in the file", f"{paid:,}", f"{in_file_paid:,}", paid == in_file_paid),
        ("payments failed = failed lines", f"{failed:,}", f"{in_file_failed:,}", failed == in_file_failed),
        ("payments still sent", f"{sent_left:,}", "0", not sent_left),
        ("entitlements paid = payments paid", f"{entitled_paid:,}", f"{paid:,}", entitled_paid == paid),
        ("transit:ovo balance", f"{transit:,}", "0", transit == 0),
        ("owed:incentives = failed x 600,000", f"{owed:,}", f"{failed * AMOUNT:,}", owed == failed * AMOUNT),
        ("paid:incentives = paid x 600,000", f"{paid_total:,}", f"{paid_due:,}", paid_total == paid_due),
        (
            "reconciliation: lines, applied, discrepancies",
            f"{run_.lines:,}, {applied:,}, {issues:,}",
            f"{n:,}, {n:,}, 0",
            (run_.lines, applied, issues) == (n, n, 0),
        ),
        (
            "reconciled again: applied, discrepancies",
            f"{confirmed.counts.get('applied', 0):,}, {confirmed.discrepancies.count():,}",
            "0, 0",
            (confirmed.counts.get("applied", 0), confirmed.discrepancies.count()) == (0, 0),
        ),
        (
            "batch status, chunks acknowledged",
            f"{batch.status}, {acknowledged:,}",
            f"sent, {sent.chunks:,}",
            (batch.status, acknowledged) == ("sent", sent.chunks),
        ),
        ("batch_build again", again, "BatchEmpty", again == "BatchEmpty"),
        (f"ledger_check() ({t_check:.1f} s)", "; ".join(problems)[:200] or "empty", "empty", not problems),
    ]  # fmt: skip
    invariants = Table(
        title="Invariants after build, send and reconcile",
        caption=f"payments by state {states}; entitlements by status {entitled}",
    )
    for column in ("check", "found", "expected", "ok"):
        invariants.add_column(column, justify="left" if column == "check" else "right")
    for label, found, expected, ok in checks:
        invariants.add_row(label, escape(found), expected, "[green]yes[/]" if ok else "[red]NO[/]")
    console.print(invariants)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000, help="payments (default 1,000,000)")
    parser.add_argument(
        "--url", default=DEFAULT_URL, help=f"the benchmark's database (default {DEFAULT_URL})"
    )
    parser.add_argument(
        "--log-slow-plans",
        type=int,
        metavar="MS",
        help="log the plans of statements slower than MS milliseconds to the server's log (auto_explain)",
    )
    parser.add_argument(
        "--no-analyze",
        dest="analyze",
        action="store_false",
        help="no ANALYZE of payments_payment after the build and after the send (as autovacuum would do)",
    )
    options = parser.parse_args()
    if not console.is_terminal:
        console.width = 180  # a log file: wide enough for the tables
    if not options.url.startswith("postgres"):
        raise SystemExit("--url must point at PostgreSQL")
    with tempfile.TemporaryDirectory(prefix="prakerja-bench-payouts-") as name:
        folder = Path(name)
        port = free_port()
        os.environ["PRAKERJA_PAYMENT_PROVIDER_URL"] = f"http://127.0.0.1:{port}"
        os.environ.setdefault("PRAKERJA_LOG_LEVEL", "ERROR")
        setup_django(fresh_postgres(options.url), name)
        with simulator(port, folder / "simulator.log"):
            run(options.n, options.url, folder, options.log_slow_plans, options.analyze)


if __name__ == "__main__":
    main()
