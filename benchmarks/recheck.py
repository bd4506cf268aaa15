"""On PostgreSQL: the eligibility re-check of a registry of N applicants (default 10,000,000, seeded by COPY)
after an exclusion list changes: exclusion_list_upload of a civil-servant list naming M of them,
exclusion_list_extend of the programme's own former-recipient list, and exclusion_list_remove of the uploaded
list, each beside the bare SQL of the same change measured in the same run, with where the time goes and the
invariants after each step. Try `--applicants 200000` first (a few minutes)."""

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

import django
import numpy as np
import psycopg
from rich.markup import escape
from rich.table import Table

from common import console
from draw import (
    applicants_insert,
    code_version,
    fresh_postgres,
    indexes_after,
    model_label,
    people,
    rolled_back,
    setup_django,
)
from payouts import measured, server_settings

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/prakerja_bench_recheck"
GOAL = 20.0
SEEDED_AT = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)  # draw.applicants_insert's registration and decision time
CHUNK = 1_000_000  # applicants generated and copied at a time
STUDENT_EVERY = 50  # every 50th applicant is on the student list (ineligible before the benchmark starts)
WAIVED_EVERY = 1000  # every 1000th has the civil-servant rule waived on appeal
SEED_TABLE, TOUCHED_TABLE = "bench_recheck_seed", "bench_recheck_touched"
MAX_PER_KK = 2  # the rule set in force leaves the family limit at its default


@dataclass(frozen=True)
class Scenario:
    applicants: int
    listed: int  # applicants named by the uploaded civil-servant list
    unregistered: int  # NIKs on that list that are no applicant's
    extended: int  # applicants added to the former-recipient list
    overlap: int  # of those, also on the civil-servant list
    stale_percent: int  # applicants last decided under the previous rule-set version


def list_niks(scenario: Scenario) -> list[str]:
    """The uploaded list: the first `listed` NIKs belong to applicants, the rest to nobody registered.
    Synthetic 16-digit numbers, never printed; only their blind indexes reach the database."""
    total = scenario.listed + scenario.unregistered
    return [f"{3100000000000000 + i * 7919:016d}" for i in range(total)]


def touched_rows(scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers (0-based, id - 1) of the listed applicants and of the extended ones, spread at random."""
    rng = np.random.default_rng(20261125)
    size = scenario.listed + scenario.extended - scenario.overlap
    sample = rng.choice(scenario.applicants, size=size, replace=False)
    return sample[: scenario.listed], sample[scenario.listed - scenario.overlap :]


# --- seeding (not measured) -----------------------------------------------------------------------


def seed(scenario: Scenario) -> dict[str, float]:
    """The registry, as a few years of the programme leave it: N applicants (each with its first decision),
    a student list naming every 50th of them, 0.1 % with the civil-servant rule waived on appeal, a share
    still decided under the previous rule set; and what the benchmark needs to check and reset itself."""
    from django.db import connection

    from prakerja.identity.selectors import nik_index
    from prakerja.registry import rules
    from prakerja.registry.models import Applicant, EligibilityDecision, ExclusionList
    from prakerja.registry.services import ruleset_create, ruleset_ensure

    seconds: dict[str, float] = {}
    n = scenario.applicants
    older = ruleset_ensure()
    current = ruleset_create(params={"max_age": 64}, note="benchmark: the rule set in force", actor="bench")
    listed_rows, extended_rows = touched_rows(scenario)
    start = time.perf_counter()
    listed_index = dict(
        zip(listed_rows.tolist(), (nik_index(nik) for nik in list_niks(scenario)), strict=False)
    )
    seconds["blind indexes of the listed applicants' NIKs"] = time.perf_counter() - start
    table, decisions = Applicant._meta.db_table, EligibilityDecision._meta.db_table
    student, cs = rules.RULE_BIT["student"], rules.RULE_BIT["civil_servant"]
    generating = copying = 0.0
    start = time.perf_counter()
    with indexes_after(table), connection.cursor() as cursor:
        for first in range(0, n, CHUNK):
            size = min(CHUNK, n - first)
            began = time.perf_counter()
            crowd = people(size, seed=1 + first // CHUNK)
            for row in listed_rows[(listed_rows >= first) & (listed_rows < first + size)].tolist():
                crowd.nik_index[row - first] = listed_index[row]
            generating += time.perf_counter() - began
            began = time.perf_counter()
            applicants_insert(crowd)
            copying += time.perf_counter() - began
            del crowd
            console.print(f"  seeded {first + size:,} of {n:,} applicants", highlight=False)
        cursor.execute(f"SELECT min(id), max(id) FROM {table}")  # noqa: S608
        assert cursor.fetchone() == (1, n), "a fresh table numbers the rows 1..N"
        began = time.perf_counter()
        cursor.execute(
            f"UPDATE {table} SET failing_rules = %s, eligible = false WHERE id %% %s = 7",  # noqa: S608
            [student, STUDENT_EVERY],
        )
        cursor.execute(
            f"UPDATE {table} SET waived_rules = %s WHERE id %% %s = 500",  # noqa: S608
            [cs, WAIVED_EVERY],
        )
        cursor.execute(
            f"UPDATE {table} SET ruleset_id = %s WHERE id %% 100 < %s",  # noqa: S608
            [older.pk, scenario.stale_percent],
        )
        seconds["decisions of the seed (3 UPDATEs, before the indexes)"] = time.perf_counter() - began
    seconds["generate the applicants (numpy, Python)"] = generating
    seconds["COPY the applicants"] = copying
    updates = sum(v for k, v in seconds.items() if k.startswith("decisions"))
    seconds["build their indexes (after the COPY)"] = (
        time.perf_counter() - start - generating - copying - updates
    )
    start = time.perf_counter()
    with indexes_after(decisions), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {decisions} (applicant_id, ruleset_id, eligible, failing_rules, decided_at, cause) "  # noqa: S608
            f"SELECT id, ruleset_id, eligible, failing_rules, decided_at, 'import' FROM {table} ORDER BY id"
        )
    seconds["first decisions (INSERT ... SELECT, then the index)"] = time.perf_counter() - start
    start = time.perf_counter()
    students = ExclusionList.objects.create(
        kind="student", source="Kemdikbud", as_of=date(2026, 8, 1), digest="seeded by the benchmark"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO registry_exclusionentry (exclusion_list_id, nik_index) "  # noqa: S608
            f"SELECT %s, nik_index FROM {table} WHERE id %% %s = 7 ORDER BY nik_index",
            [students.pk, STUDENT_EVERY],
        )
        ExclusionList.objects.filter(pk=students.pk).update(entries_count=cursor.rowcount)
        cursor.execute(
            f"CREATE TABLE {TOUCHED_TABLE} AS SELECT a.id, v.listed, v.extended, a.failing_rules, "  # noqa: S608
            "a.eligible, a.waived_rules, a.ruleset_id, a.decided_at "
            "FROM unnest(%s::bigint[], %s::bool[], %s::bool[]) AS v(id, listed, extended) "
            f"JOIN {table} a ON a.id = v.id",
            _touched_arrays(listed_rows, extended_rows),
        )
        cursor.execute(f"ALTER TABLE {TOUCHED_TABLE} ADD PRIMARY KEY (id)")
        # The families of the extended ones are re-checked with them (their recipients are counted): each
        # member's `kin` is how many others on its family card are extended.
        cursor.execute(
            f"INSERT INTO {TOUCHED_TABLE} SELECT b.id, false, false, b.failing_rules, b.eligible, "  # noqa: S608
            f"b.waived_rules, b.ruleset_id, b.decided_at FROM {table} b WHERE b.kk_index IN "
            f"(SELECT a.kk_index FROM {TOUCHED_TABLE} t JOIN {table} a ON a.id = t.id WHERE t.extended) "
            f"AND NOT EXISTS (SELECT 1 FROM {TOUCHED_TABLE} u WHERE u.id = b.id)"
        )
        cursor.execute(f"ALTER TABLE {TOUCHED_TABLE} ADD COLUMN kin integer NOT NULL DEFAULT 0")
        cursor.execute(f"ANALYZE {TOUCHED_TABLE}")
        cursor.execute(
            f"UPDATE {TOUCHED_TABLE} t SET kin = k.n FROM (SELECT a.id, count(*) AS n "  # noqa: S608
            f"FROM {TOUCHED_TABLE} x JOIN {table} a ON a.id = x.id "
            f"JOIN {table} b ON b.kk_index = a.kk_index AND b.id <> a.id "
            f"JOIN {TOUCHED_TABLE} u ON u.id = b.id AND u.extended GROUP BY a.id) k WHERE k.id = t.id"
        )
        cursor.execute(f"CREATE TABLE {SEED_TABLE} (key text PRIMARY KEY, value text NOT NULL)")
        cursor.execute(
            f"INSERT INTO {SEED_TABLE} VALUES ('scenario', %s), ('current', %s), ('older', %s), "  # noqa: S608
            "('lists', (SELECT max(id) FROM registry_exclusionlist)::text), "
            f"('decisions', (SELECT max(id) FROM {decisions})::text)",
            [json.dumps(asdict(scenario)), str(current.pk), str(older.pk)],
        )
    seconds["student list (INSERT ... SELECT) and the benchmark's own tables"] = time.perf_counter() - start
    start = time.perf_counter()
    vacuum_analyze()
    seconds["VACUUM ANALYZE (as autovacuum would)"] = time.perf_counter() - start
    return seconds


def _touched_arrays(listed_rows: np.ndarray, extended_rows: np.ndarray) -> list[list[Any]]:
    listed, extended = set(listed_rows.tolist()), set(extended_rows.tolist())
    rows = sorted(listed | extended)
    return [[r + 1 for r in rows], [r in listed for r in rows], [r in extended for r in rows]]


def vacuum_analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in (
            "registry_applicant",
            "registry_eligibilitydecision",
            "registry_exclusionentry",
            "registry_exclusionlist",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")


def seeded(scenario: Scenario) -> dict[str, int] | None:
    """The ids the seed ended at, if this database holds the seed of this scenario; else None."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [SEED_TABLE])
        if not cursor.fetchone()[0]:
            return None
        cursor.execute(f"SELECT key, value FROM {SEED_TABLE}")  # noqa: S608
        values = dict(cursor.fetchall())
    if json.loads(values["scenario"]) != asdict(scenario):
        return None
    return {k: int(v) for k, v in values.items() if k != "scenario"}


def reset(marks: dict[str, int]) -> float:
    """Back to the state the seed left (for --reuse): later lists and decisions deleted, the touched
    applicants' decisions restored (the audit trail is append-only: earlier runs' entries stay)."""
    from django.db import connection, transaction

    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM registry_exclusionentry WHERE exclusion_list_id > %s", [marks["lists"]])
        cursor.execute("DELETE FROM registry_exclusionlist WHERE id > %s", [marks["lists"]])
        cursor.execute("UPDATE registry_exclusionlist SET active = true, removed_at = NULL")
        cursor.execute("DELETE FROM registry_eligibilitydecision WHERE id > %s", [marks["decisions"]])
        cursor.execute(
            "UPDATE registry_applicant a SET failing_rules = t.failing_rules, eligible = t.eligible, "  # noqa: S608
            f"ruleset_id = t.ruleset_id, decided_at = t.decided_at FROM {TOUCHED_TABLE} t WHERE a.id = t.id "
            "AND (a.failing_rules, a.eligible, a.ruleset_id, a.decided_at) "
            "IS DISTINCT FROM (t.failing_rules, t.eligible, t.ruleset_id, t.decided_at)"
        )
    vacuum_analyze()
    return time.perf_counter() - start


def checkpoint() -> None:
    """A CHECKPOINT before each timed step (untimed): each starts with the same WAL to write, rather than
    whichever part of a checkpoint cycle the step before left it in."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")


def show_plans(milliseconds: int) -> None:
    """auto_explain in this session, its plans sent to this client and printed: the plan, with timings and
    buffers, of every statement slower than `milliseconds` (superuser only)."""
    from django.db import connection

    connection.ensure_connection()
    connection.connection.add_notice_handler(
        lambda notice: (
            console.print(escape(notice.message_primary[:20_000]), highlight=False)
            if "duration:" in notice.message_primary
            else None
        )
    )
    with connection.cursor() as cursor:
        cursor.execute("LOAD 'auto_explain'")
        for setting in ("log_analyze", "log_buffers", "log_nested_statements"):
            cursor.execute(f"SET auto_explain.{setting} = on")
        cursor.execute(f"SET auto_explain.log_min_duration = {int(milliseconds)}")
        cursor.execute("SET client_min_messages = log")


# --- ceilings: the same change in bare SQL, rolled back -------------------------------------------


def _copy_indexes(cursor: Any, indexes: Sequence[str]) -> None:
    cursor.execute("CREATE TEMP TABLE ceiling_list (nik_index varchar(64)) ON COMMIT DROP")
    with cursor.cursor.copy("COPY ceiling_list (nik_index) FROM STDIN") as copy:
        for index in indexes:
            copy.write_row((index,))


def _decide_and_record(bit: int, add: bool, ruleset_id: int) -> tuple[str, list[Any]]:
    """One UPDATE ... FROM of the applicants on `ceiling_list` (the bit set or cleared, no other rule looked
    at) with their history rows inserted by the same statement."""
    from django.utils import timezone

    mask = "a.failing_rules | %s" if add else "a.failing_rules & ~%s"
    return (
        f"WITH hit AS (UPDATE registry_applicant a SET failing_rules = {mask}, eligible = ({mask}) = 0, "  # noqa: S608
        "ruleset_id = %s, decided_at = %s FROM (SELECT DISTINCT nik_index FROM ceiling_list) c "
        "WHERE a.nik_index = c.nik_index RETURNING a.id, a.failing_rules, a.eligible) "
        "INSERT INTO registry_eligibilitydecision (applicant_id, ruleset_id, eligible, failing_rules, "
        "decided_at, cause) SELECT id, %s, eligible, failing_rules, %s, 'ceiling' FROM hit",
        [bit, bit, ruleset_id, timezone.now(), ruleset_id, timezone.now()],
    )


def ceiling(
    indexes: Callable[[], Sequence[str]], bit: int, add: bool, ruleset_id: int
) -> tuple[float, float, float]:
    """Seconds to hash (or read) the list, to COPY it into a temporary table, and to apply it (UPDATE ... FROM
    + INSERT of the history rows), in one transaction that is rolled back."""
    from django.db import connection, transaction

    start = time.perf_counter()
    values = indexes()
    t_hash = time.perf_counter() - start
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # any deferred constraint checked before rollback
        start = time.perf_counter()
        _copy_indexes(cursor, values)
        t_copy = time.perf_counter() - start
        sql, params = _decide_and_record(bit, add, ruleset_id)
        start = time.perf_counter()
        cursor.execute(sql, params)
        t_apply = time.perf_counter() - start
        transaction.set_rollback(True)
    return t_hash, t_copy, t_apply


def remove_ceiling(list_id: int, bit: int, ruleset_id: int) -> float:
    """The removal in bare SQL: the bit cleared for everyone on the list, with history rows (rolled back)."""
    sql, params = _decide_and_record(bit, False, ruleset_id)
    sql = sql.replace(
        "(SELECT DISTINCT nik_index FROM ceiling_list)",
        "(SELECT nik_index FROM registry_exclusionentry WHERE exclusion_list_id = %s)",
    )
    return rolled_back([("SET CONSTRAINTS ALL IMMEDIATE", []), (sql, [*params[:4], list_id, *params[4:]])])


# --- invariants -----------------------------------------------------------------------------------


Check = tuple[str, str, str, bool]


def invariants(step: str, *, cs_active: bool, extended_done: bool, marks: dict[str, int]) -> list[Check]:
    """The touched applicants' decisions as the rules give them, every changed one recorded once."""
    from django.db import connection

    from prakerja.registry import rules

    bits = {k: rules.RULE_BIT[k] for k in ("student", "civil_servant", "former_recipient", "kk_limit")}
    expected = (
        f"(CASE WHEN a.id %% {STUDENT_EVERY} = 7 THEN {bits['student']} ELSE 0 END"
        f" | CASE WHEN {cs_active} AND t.listed AND a.waived_rules & {bits['civil_servant']} = 0 "
        f"THEN {bits['civil_servant']} ELSE 0 END"
        f" | CASE WHEN {extended_done} AND t.extended THEN {bits['former_recipient']} ELSE 0 END"
        f" | CASE WHEN {extended_done} AND t.kin >= {MAX_PER_KK} THEN {bits['kk_limit']} ELSE 0 END)"
    )
    rechecked = f"(t.listed OR ({extended_done} AND (t.extended OR t.kin >= {MAX_PER_KK})))"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FILTER (WHERE a.failing_rules <> {expected}), "  # noqa: S608
            "count(*) FILTER (WHERE a.eligible <> (a.failing_rules = 0)), "
            f"count(*) FILTER (WHERE {rechecked} AND a.ruleset_id <> %s), "
            f"count(*) FILTER (WHERE NOT {rechecked} AND (a.ruleset_id, a.decided_at) "
            "<> (t.ruleset_id, t.decided_at)), count(*) "
            f"FROM {TOUCHED_TABLE} t JOIN registry_applicant a ON a.id = t.id",
            [marks["current"]],
        )
        wrong, inconsistent, not_current, moved, touched = cursor.fetchone()
        cursor.execute(
            "SELECT count(*), count(DISTINCT (applicant_id, decided_at)), "
            "count(*) FILTER (WHERE ruleset_id <> %s) FROM registry_eligibilitydecision WHERE id > %s",
            [marks["current"], marks["decisions"]],
        )
        decisions, distinct, other_rules = cursor.fetchone()
    return [
        (
            f"{step}: touched applicants with the rules' mask",
            f"{touched - wrong:,}",
            f"{touched:,}",
            not wrong,
        ),
        (f"{step}: eligible = no failing rule", f"{inconsistent:,} not", "0 not", not inconsistent),
        (
            f"{step}: re-checked ones under the rule set in force",
            f"{not_current:,} not",
            "0 not",
            not not_current,
        ),
        (f"{step}: others of them untouched", f"{moved:,} moved", "0 moved", not moved),
        (
            f"{step}: history rows since the seed, one per applicant and time, current rule set",
            f"{decisions:,}, {distinct:,} distinct, {other_rules} other",
            "n, n, 0",
            decisions == distinct and not other_rules,
        ),
    ]


def untouched_everywhere(marks: dict[str, int]) -> Check:
    """The whole table: nobody outside the lists was decided again or changed (a full scan, untimed)."""
    from django.db import connection

    from prakerja.registry import rules

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM registry_applicant a WHERE NOT EXISTS (SELECT 1 FROM {TOUCHED_TABLE} t "  # noqa: S608
            "WHERE t.id = a.id) AND (a.decided_at <> %s OR a.eligible <> (a.failing_rules = 0) OR "
            f"a.failing_rules <> CASE WHEN a.id %% {STUDENT_EVERY} = 7 THEN %s ELSE 0 END)",
            [SEEDED_AT, rules.RULE_BIT["student"]],
        )
        moved = cursor.fetchone()[0]
    return ("end: applicants on no changed list untouched (full scan)", f"{moved:,} changed", "0", not moved)


def audit_entries(cause: str) -> int:
    from prakerja.core.models import AuditEntry

    return AuditEntry.objects.filter(action="registry.recheck_batch", after__cause=cause).count()


# --- the benchmark --------------------------------------------------------------------------------


Row = tuple[str, float, int, int, str, str, float | None]  # label, s, checked, changed, goal, ceiling, s


def main_table(n: int, rows: list[Row], note: str) -> Table:
    table = Table(
        title=f"10. Eligibility re-check after an exclusion list changes ({n:,} applicants)", caption=note
    )
    table.add_column("", no_wrap=True)
    for column in ("seconds", "re-checked", "changed", "goal", "ceiling", "ceiling s", "share"):
        table.add_column(column, justify="left" if column == "ceiling" else "right", no_wrap=True)
    for label, seconds, checked, changed, goal, ceiling_label, ceiling_s in rows:
        verdict = "" if not goal else (" [green]met[/]" if seconds < GOAL else " [red]missed[/]")
        table.add_row(
            label,
            f"{seconds:.3f}",
            f"{checked:,}" if checked else "",
            f"{changed:,}" if changed else "",
            goal + verdict,
            ceiling_label,
            f"{ceiling_s:.3f}" if ceiling_s is not None else "",
            f"{ceiling_s / seconds:.1%}" if ceiling_s is not None and seconds else "",
        )
    return table


def run(scenario: Scenario, url: str, reuse: bool, plans: int | None) -> None:
    from django.db.models.query import QuerySet

    from prakerja.core.models import AuditEntry
    from prakerja.identity.selectors import nik_index
    from prakerja.registry import rules, services
    from prakerja.registry.models import Applicant, ExclusionList

    version = code_version()
    marks = seeded(scenario) if reuse else None
    if marks is None:
        if reuse:
            raise SystemExit("--reuse: this database holds no seed of this scenario; run without --reuse")
        start = time.perf_counter()
        steps = seed(scenario)
        steps["[bold]total[/]"] = time.perf_counter() - start
        marks = seeded(scenario)
        assert marks is not None
    else:
        steps = {"reset to the seeded state (--reuse)": reset(marks)}
    setup = Table(
        title=f"Seeding {scenario.applicants:,} applicants ({urlsplit(url).path[1:]})",
        caption=f"not measured; {asdict(scenario)}; code {version}; server: {server_settings()}",
    )
    setup.add_column("step (not the measured work)")
    setup.add_column("seconds", justify="right")
    for label, value in steps.items():
        setup.add_row(label, f"{value:.2f}")
    console.print(setup)

    if plans is not None:
        show_plans(plans)
    cs, former = rules.RULE_BIT["civil_servant"], rules.RULE_BIT["former_recipient"]
    current = marks["current"]
    niks = list_niks(scenario)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {TOUCHED_TABLE} WHERE extended ORDER BY id")  # noqa: S608
        extended_ids = [row[0] for row in cursor.fetchall()]
    # As a wave's announcement has them: the card holders' NIK and family card blind indexes.
    extended_cards = dict(
        Applicant.objects.filter(pk__in=extended_ids).values_list("nik_index", "kk_index").iterator(10_000)
    )
    extended = list(extended_cards)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FILTER (WHERE listed AND NOT (waived_rules & %s <> 0 AND ruleset_id = %s)), "  # noqa: S608
            "count(*) FILTER (WHERE listed AND waived_rules & %s = 0), "
            "count(*) FILTER (WHERE extended AND (listed OR ruleset_id = %s)), "
            # The extended gain the former-recipient rule, the others of a family with two of them the
            # family limit; the other families are not re-checked.
            f"count(*) FILTER (WHERE kin >= {MAX_PER_KK} AND NOT extended) "
            f"FROM {TOUCHED_TABLE}",
            [cs, current, cs, current],
        )
        upload_changes, remove_changes, extend_current, limited = cursor.fetchone()
    extend_changes = scenario.extended + limited

    sql_watch = (
        (QuerySet, "bulk_create", model_label("all: bulk_create")),
        (services, "audit_record", "all: audit_record"),
    )
    checks: list[Check] = []
    audit_before = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0

    checkpoint()
    # a. The upload.
    t_upload, upload = measured(
        f"a. exclusion_list_upload of {len(niks):,} NIKs ({scenario.listed:,} of them applicants), by part",
        lambda: services.exclusion_list_upload(
            kind="civil_servant",
            source="BKN",
            as_of=date(2026, 11, 1),
            niks=list(enumerate(niks, 1)),
            actor="bench",
            on_error=lambda *_: None,
        ),
        (
            (services, "nik_index", "nik_index: the NIKs hashed (HMAC)"),
            (services, "_recheck_lists", "_recheck_lists: the re-check"),
            (services, "applicants_recheck", "  applicants_recheck (those under an older rule set)"),
        ),
        sql_watch,
        "rest: reading and sorting the NIKs, storing the entries, the list, audit, commit",
    )
    t_upload_recheck = _last_recheck_seconds
    uploaded = upload.exclusion_list
    cause = f"list:{uploaded.pk}"
    checks += [
        ("a: applicants re-checked", f"{upload.recheck.checked:,}", f"{scenario.listed:,}",
         upload.recheck.checked == scenario.listed),
        ("a: decisions changed", f"{upload.recheck.changed:,}", f"{upload_changes:,}",
         upload.recheck.changed == upload_changes),
        ("a: audit entries of the re-check", f"{audit_entries(cause):,}", ">= 1", audit_entries(cause) >= 1),
    ]  # fmt: skip
    checks += invariants("a", cs_active=True, extended_done=False, marks=marks)
    checkpoint()
    h_upload, c_upload, a_upload = ceiling(lambda: [nik_index(nik) for nik in niks], cs, True, current)

    checkpoint()
    # b. The programme's own list extended (as a wave's announcement does with its recipients).
    t_extend, extend = measured(
        f"b. exclusion_list_extend of the former-recipient list by {len(extended):,} applicants, by part",
        lambda: services.exclusion_list_extend(
            kind="former_recipient", source="prakerja", indexes=extended, actor="bench", cards=extended_cards
        ),
        (
            (services, "_recheck_lists", "_recheck_lists: the re-check"),
            (services, "applicants_recheck", "  applicants_recheck (those under an older rule set)"),
        ),
        sql_watch,
        "rest: storing the entries, the list's digest, audit, commit",
    )
    t_extend_recheck = _last_recheck_seconds
    extend_list = ExclusionList.objects.get(kind="former_recipient", source="prakerja")
    checks += [
        ("b: applicants re-checked (the extended, their families at the limit)", f"{extend.checked:,}",
         f"{extend_changes:,}", extend.checked == extend_changes),
        ("b: decisions changed", f"{extend.changed:,}", f"{extend_changes:,}",
         extend.changed == extend_changes),
        ("b: audit entries of the re-check", f"{audit_entries(f'list:{extend_list.pk}'):,}", ">= 1",
         audit_entries(f"list:{extend_list.pk}") >= 1),
    ]  # fmt: skip
    checks += invariants("b", cs_active=True, extended_done=True, marks=marks)
    checkpoint()
    _hashed, c_extend, a_extend = ceiling(lambda: extended, former, True, current)

    checkpoint()
    # c. The uploaded list removed.
    t_remove, removed = measured(
        f"c. exclusion_list_remove of the uploaded list ({scenario.listed:,} applicants on it), by part",
        lambda: services.exclusion_list_remove(list_id=uploaded.pk, actor="bench"),
        (
            (services, "_recheck_lists", "_recheck_lists: the re-check"),
            (services, "applicants_recheck", "  applicants_recheck (those under an older rule set)"),
        ),
        sql_watch,
        "rest: the list retired, audit, commit",
    )
    t_remove_recheck = _last_recheck_seconds
    removal = f"list_removed:{uploaded.pk}"
    checks += [
        ("c: applicants re-checked", f"{removed.checked:,}", f"{scenario.listed:,}",
         removed.checked == scenario.listed),
        ("c: decisions changed", f"{removed.changed:,}", f"{remove_changes:,}",
         removed.changed == remove_changes),
        ("c: audit entries of the re-check", f"{audit_entries(removal):,}", ">= 1",
         audit_entries(removal) >= 1),
    ]  # fmt: skip
    checks += invariants("c", cs_active=False, extended_done=True, marks=marks)
    checkpoint()
    a_remove = remove_ceiling(uploaded.pk, cs, current)
    checks.append(untouched_everywhere(marks))
    chain = AuditEntry.objects.filter(id__gt=audit_before).count()

    rows: list[Row] = [
        ("a. exclusion_list_upload", t_upload, upload.recheck.checked, upload.recheck.changed,
         f"< {GOAL:.0f}", "hash + COPY + UPDATE…FROM", h_upload + c_upload + a_upload),
        ("   of which _recheck_lists", t_upload_recheck, 0, 0, "", "UPDATE…FROM + INSERT", a_upload),
        ("b. exclusion_list_extend", t_extend, extend.checked, extend.changed, f"< {GOAL:.0f}",
         "COPY + UPDATE…FROM", c_extend + a_extend),
        ("   of which _recheck_lists", t_extend_recheck, 0, 0, "", "UPDATE…FROM + INSERT", a_extend),
        ("c. exclusion_list_remove", t_remove, removed.checked, removed.changed, f"< {GOAL:.0f}",
         "UPDATE…FROM + INSERT", a_remove),
        ("   of which _recheck_lists", t_remove_recheck, 0, 0, "", "UPDATE…FROM + INSERT", a_remove),
    ]  # fmt: skip
    note = (
        f"Ceilings measured in the same run, each in a transaction rolled back: the list's blind indexes "  # noqa: S608 - prose
        f"(hashed from the NIKs with the same HMAC for the upload: {h_upload:.3f} s) COPYed into a temporary "
        "table, then one UPDATE ... FROM sets or clears the list's rule bit of the applicants on it (no "
        "other rule looked at, nothing stored about the list) and INSERTs their history rows in the same "
        "statement (history rows have no database-level foreign keys: registry_check verifies them). "
        f"{scenario.stale_percent} % of the applicants were last decided under the previous rule set "
        f"(decided again in full when re-checked); {extend_current:,} of the extended ones were not. "
        "Extending the former-recipient list re-checks the families of the extended that reach the limit: "
        f"{limited:,} people now have two recipients on their family card (the ceiling does not do this "
        "part). "
        f"{chain:,} audit entries written. A CHECKPOINT (untimed) before each timed step. "
        f"Server: {server_settings()}. Code measured: {version}"
    )
    console.print(main_table(scenario.applicants, rows, note))
    table = Table(title="Invariants after each step")
    for column in ("check", "found", "expected", "ok"):
        table.add_column(column, justify="left" if column == "check" else "right")
    for label, found, expected_value, ok in checks:
        table.add_row(label, escape(found), expected_value, "[green]yes[/]" if ok else "[red]NO[/]")
    console.print(table)
    if not all(ok for *_, ok in checks):
        raise SystemExit("an invariant does not hold")


_last_recheck_seconds = 0.0


def _time_rechecks() -> None:
    """Keep the seconds of the last _recheck_lists call (the measured tables show them too)."""
    from prakerja.registry import services

    original = services._recheck_lists

    def timed(**kwargs: Any) -> Any:
        global _last_recheck_seconds
        start = time.perf_counter()
        try:
            return original(**kwargs)
        finally:
            _last_recheck_seconds = time.perf_counter() - start

    services._recheck_lists = timed  # type: ignore[assignment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--applicants", type=int, default=10_000_000, help="applicants (default 10,000,000)")
    parser.add_argument(
        "--listed", type=int, help="applicants on the uploaded list (default 1 %% of them: 100,000)"
    )
    parser.add_argument(
        "--unregistered", type=int, help="NIKs on that list that are nobody's (default as many as --listed)"
    )
    parser.add_argument(
        "--extended", type=int, help="applicants added to the former-recipient list (default 2 %%: 200,000)"
    )
    parser.add_argument("--stale", type=int, default=10, help="%% decided under the previous rule set (10)")
    parser.add_argument(
        "--url", default=DEFAULT_URL, help=f"the benchmark's database (default {DEFAULT_URL})"
    )
    parser.add_argument(
        "--plans",
        type=int,
        metavar="MS",
        help="print the plan of every statement slower than MS milliseconds",
    )
    parser.add_argument("--reuse", action="store_true", help="reset and reuse a database kept by --keep")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (for --reuse)")
    options = parser.parse_args()
    n = options.applicants
    listed = min(n // 2, n // 100 if options.listed is None else options.listed)
    extended = min(n // 2, n // 50 if options.extended is None else options.extended)
    unregistered = listed if options.unregistered is None else options.unregistered
    scenario = Scenario(n, listed, unregistered, extended, extended // 10, options.stale)
    if not console.is_terminal:
        console.width = 180  # a log file: wide enough for the tables
    url = os.environ.get("PRAKERJA_DATABASE_URL", options.url) if options.url == DEFAULT_URL else options.url
    if not url.startswith("postgres"):
        raise SystemExit("the database must be PostgreSQL")
    with tempfile.TemporaryDirectory(prefix="prakerja-bench-recheck-") as folder:
        os.environ.setdefault("PRAKERJA_LOG_LEVEL", "ERROR")
        if options.reuse:
            _refuse_foreign(url)
            os.environ.update(
                DJANGO_SETTINGS_MODULE="prakerja.settings",
                PRAKERJA_WORK_DIR=folder,
                PRAKERJA_DATABASE_URL=url,
            )
            django.setup()  # the seeded database as it is: no migrate, no regions load
        else:
            setup_django(fresh_postgres(url), folder)
        _time_rechecks()
        try:
            run(scenario, url, options.reuse, options.plans)
        finally:
            if not options.keep:
                from django.db import connections

                connections.close_all()
                _drop(url)


def _refuse_foreign(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to use database {name!r}: a benchmark database's name contains 'bench'")


def _drop(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    _refuse_foreign(url)
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    console.print(f"dropped {name} (--keep keeps it for --reuse)")


if __name__ == "__main__":
    main()
