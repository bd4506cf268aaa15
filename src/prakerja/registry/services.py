"""Registry writes: rule sets, the bulk import of applicants, exclusion lists and re-checks."""

import gc
import io
import json
import secrets
import sys
import uuid
from collections import defaultdict
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from itertools import islice
from typing import Any, NamedTuple

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from psycopg.copy import Copy, FileWriter

from prakerja.core import crypto
from prakerja.core.audit import audit_append, audit_entry, audit_record, rows_digest
from prakerja.core.batching import GroupCommit
from prakerja.core.errors import Conflict, InvalidInput, NotFound, PrakerjaError, problem_dicts
from prakerja.core.models import Channel
from prakerja.core.notifications import notify, notify_many
from prakerja.core.overload import admission
from prakerja.core.uploads import document_check
from prakerja.identity.rules import Problem
from prakerja.identity.selectors import kk_indexes, nik_index, nik_indexes
from prakerja.regions.models import Level, Region
from prakerja.regions.selectors import names_above_villages, village_codes
from prakerja.registry import dukcapil, rules
from prakerja.registry.models import (
    Appeal,
    AppealStatus,
    Applicant,
    AptitudeAttempt,
    Consent,
    EligibilityDecision,
    ExclusionEntry,
    ExclusionList,
    ListKind,
    PopulationCheck,
    RuleSet,
    Source,
)
from prakerja.registry.selectors import aptitude_bank, family_recipients, list_memberships, ruleset_current

BATCH = 5_000
# Measured on 2 cores at a million applicants: 46 s with the default 5 ms, 39 s with 0.5 ms (0.2 ms: 38 s).
PIPELINED_SWITCH_SECONDS = 0.0005
ErrorSink = Callable[[int, list[Problem]], None]


def ruleset_create(*, params: dict[str, Any], note: str = "", actor: Any = "system") -> RuleSet:
    """A new rule-set version; the defaults fill in what `params` leaves out."""
    merged = {**rules.DEFAULT_PARAMS, **params}
    unknown = set(merged["excluded_lists"]) - set(rules.LIST_RULES)
    if unknown:
        raise ValueError(f"unknown exclusion lists: {sorted(unknown)}")
    with transaction.atomic():
        latest = ruleset_current()
        ruleset = RuleSet.objects.create(
            version=(latest.version + 1) if latest else 1,
            params=merged,
            note=note,
            created_by=actor if hasattr(actor, "pk") else None,
        )
        audit_record(actor=actor, action="registry.ruleset_created", obj=ruleset, after=merged)
    return ruleset


def ruleset_ensure() -> RuleSet:
    """The current rule set; the first caller creates the default one (a concurrent first caller loses the
    race on the unique version and reads the winner's)."""
    current = ruleset_current()
    if current:
        return current
    try:
        return ruleset_create(params={}, note="default rules")
    except IntegrityError:
        return ruleset_current() or ruleset_create(params={}, note="default rules")


@dataclass
class ImportResult:
    read: int = 0
    imported: int = 0
    rejected: int = 0
    duplicates: int = 0
    eligible: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "read": self.read,
            "imported": self.imported,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
        }


_COLUMNS = (
    "pseudonym", "nik", "nik_index", "kk", "kk_index", "full_name", "birth_date", "sex", "phone", "email",
    "village_id", "province_code", "regency_code", "rural", "education", "employment_status", "disability",
    "citizen", "source", "registered_at", "eligible", "failing_rules", "ruleset_id", "decided_at",
)  # fmt: skip
# The PostgreSQL type of each of _COLUMNS, for the binary COPY (no text to parse).
_COPY_TYPES = (
    "uuid", "text", "varchar", "text", "varchar", "varchar", "date", "varchar", "text", "text",
    "varchar", "varchar", "varchar", "bool", "varchar", "varchar", "bool", "bool", "varchar", "timestamptz",
    "bool", "int8", "int8", "timestamptz",
)  # fmt: skip
# What a batch's rows hold: every column but the pseudonym, which PostgreSQL draws itself (there the
# column's default is gen_random_uuid(), see migration 0006) and other databases get from uuid4 on writing.
_IMPORTED, _IMPORTED_TYPES = _COLUMNS[1:], _COPY_TYPES[1:]
_NIK_INDEX, _ELIGIBLE, _MASK, _RULESET, _DECIDED_AT = (
    _IMPORTED.index(c) for c in ("nik_index", "eligible", "failing_rules", "ruleset_id", "decided_at")
)
_DECISION_COLUMNS = "applicant_id, ruleset_id, eligible, failing_rules, decided_at, cause"
_DECISION_TYPES = ("int8", "int8", "bool", "int8", "timestamptz", "varchar")
DUPLICATE_IN_FILE = _("The same NIK is already on line %(line)d of this file.")


class CopyIn(NamedTuple):
    """A batch in COPY's binary format: the rows, each with an id drawn from the table's sequence, and their
    first decisions."""

    applicants: bytes
    decisions: bytes


def _chunks(
    rows: Iterable[tuple[int, dict[str, str]]], size: int
) -> Iterator[list[tuple[int, dict[str, str]]]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def applicants_import(
    *,
    rows: Iterable[tuple[int, dict[str, str]]],
    actor: Any,
    on_error: ErrorSink,
    progress: Callable[[int], None] | None = None,
    source: str = Source.IMPORT,
) -> ImportResult:
    """Validate and register (line number, row) pairs in batches; a batch commits whole or not at all.

    Malformed rows go to `on_error` and are not imported; a NIK already registered counts as a
    duplicate. Running the same rows again imports nothing new, so a run cut short can simply be rerun.
    On PostgreSQL, outside a caller's transaction, a second thread writes each batch while the next one
    is validated and encrypted: the database and Python work at the same time on the two cores. Meanwhile
    the interpreter hands the GIL over every `PIPELINED_SWITCH_SECONDS`: each time the writer comes back
    from the database it waits for the validating thread to let go of the GIL, by default up to 5 ms, and a
    batch makes a dozen round trips.
    """
    ruleset = ruleset_ensure()
    known = names_above_villages()
    villages = set(Region.objects.filter(level=Level.VILLAGE).values_list("code", flat=True))
    today = timezone.localdate()
    first_line: dict[str, int] = {}
    decided: dict[tuple[date, frozenset[str], int], int] = {}
    returning: dict[str, str] = {}
    result = ImportResult()
    pipelined = connection.vendor == "postgresql" and not connection.in_atomic_block
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer") if pipelined else None
    pending: Future[tuple[int, int, int, int]] | None = None
    switch_interval = sys.getswitchinterval()

    def settle(done: tuple[int, int, int, int]) -> None:
        written, eligible, offered, size = done
        result.imported += written
        result.eligible += eligible
        result.duplicates += offered - written
        if progress:
            progress(size)

    try:
        # What is alive now (Django, the villages) is left out of the collector's full passes meanwhile: the
        # batches' rows, short-lived as they are, set off one every few thousand rows (5 us a row otherwise).
        gc.freeze()
        if writer is not None:
            sys.setswitchinterval(PIPELINED_SWITCH_SECONDS)
        for batch in _chunks(rows, BATCH):
            profiles = _read_batch(batch, result, first_line, on_error, known, villages, today)
            families = kk_indexes([p.kk for _, p in profiles])
            masks = _decisions(profiles, families, ruleset.params, today, decided, returning)
            table_rows, stamp = _rows_of(
                profiles, families=families, masks=masks, ruleset=ruleset, sources=[source] * len(profiles)
            )
            copy_in = _copy_in(table_rows) if connection.vendor == "postgresql" and table_rows else None
            write = partial(_write_counted, table_rows, stamp, len(batch), ruleset, actor, copy_in)
            if pending is not None:
                settle(pending.result())
                pending = None
            if writer is None:
                settle(write())
            else:
                pending = writer.submit(write)
        if pending is not None:
            settle(pending.result())
            pending = None
        _families_recheck(returning, cause="import", actor=actor)
    finally:
        gc.unfreeze()
        if writer is not None:
            writer.submit(lambda: connection.close()).result()  # the writer thread's own connection
            writer.shutdown()
            sys.setswitchinterval(switch_interval)
    return result


def _write_counted(
    rows: list[tuple[Any, ...]], stamp: Any, size: int, ruleset: RuleSet, actor: Any, copy_in: CopyIn | None
) -> tuple[int, int, int, int]:
    written, eligible = _write_rows(rows, stamp=stamp, ruleset=ruleset, actor=actor, copy_in=copy_in)
    return written, eligible, len(rows), size


def _read_batch(
    batch: list[tuple[int, dict[str, str]]],
    result: ImportResult,
    first_line: dict[str, int],
    on_error: ErrorSink,
    known: Container[str],
    villages: Container[str],
    today: date,
) -> list[tuple[str, rules.Profile]]:
    """The well-formed rows of a batch, each first seen in the file; the others go to `on_error`, in the
    order of their lines."""
    result.read += len(batch)
    read_row = rules.read_row
    reads = [
        (line, read_row(row, known_regions=known, villages=villages, today=today)) for line, row in batch
    ]
    indexes = iter(nik_indexes([read.nik for _, read in reads if not isinstance(read, list)]))
    profiles: list[tuple[str, rules.Profile]] = []
    for line, read in reads:
        if isinstance(read, list):
            result.rejected += 1
            on_error(line, read)
            continue
        index = next(indexes)
        if index in first_line:
            result.rejected += 1
            on_error(line, [Problem("nik:duplicate_in_file", DUPLICATE_IN_FILE, {"line": first_line[index]})])
            continue
        first_line[index] = line
        profiles.append((index, read))
    return profiles


def _decisions(
    profiles: list[tuple[str, rules.Profile]],
    families: Sequence[str],
    params: dict[str, Any],
    today: date,
    decided: dict[tuple[date, frozenset[str], int], int],
    returning: dict[str, str],
) -> list[int]:
    """The failing-rules mask of each profile (with its family card's blind index); each distinct combination
    of facts (birth date, lists, recipients in the family up to the limit) is decided once by the pure rules
    and remembered in `decided` for the next batches. Former recipients go into `returning`, with their
    family cards."""
    indexes = [index for index, _ in profiles]
    memberships = list_memberships(indexes)
    kin = family_recipients(zip(indexes, families, strict=True))
    limit = params["max_per_kk"]
    none: frozenset[str] = frozenset()
    masks = []
    for (index, p), family in zip(profiles, families, strict=True):
        facts = (p.birth_date, memberships.get(index, none), min(kin.get(index, 0), limit))
        if "former_recipient" in facts[1]:
            returning[index] = family
        mask = decided.get(facts)
        if mask is None:
            mask = decided[facts] = rules.decide(
                rules.Facts(birth_date=facts[0], lists=facts[1], kk_recipients=facts[2]),
                params=params,
                today=today,
            ).mask
        masks.append(mask)
    return masks


def _rows_of(
    profiles: Sequence[tuple[str, rules.Profile]],
    *,
    families: Sequence[str],
    masks: Sequence[int],
    ruleset: RuleSet,
    sources: Sequence[str],
    citizens: Sequence[bool | None] | None = None,
    now: Any = None,
) -> tuple[list[tuple[Any, ...]], Any]:
    """The table rows (`_IMPORTED`: all columns but the pseudonym) of profiles decided with these
    failing-rule masks, each with its own channel (source), encrypted, with their blind indexes (those of the
    family cards given); and their time stamp. Citizens unless the population registry said otherwise."""
    now = now or timezone.now()
    stamp = connection.ops.adapt_datetimefield_value(now)
    # NIK and KK always, phone and e-mail when given: in this order, row after row.
    sealed = iter(crypto.encrypt_many([v for _, p in profiles for v in (p.nik, p.kk, p.phone, p.email) if v]))
    ruleset_id = ruleset.pk
    rows = []
    for (index, p), mask, kk_blind_index, source, citizen in zip(
        profiles, masks, families, sources, citizens or [True] * len(profiles), strict=True
    ):
        nik, kk = next(sealed), next(sealed)
        phone = next(sealed) if p.phone else ""
        email = next(sealed) if p.email else ""
        village = p.village_code
        rows.append((
            nik, index, kk, kk_blind_index, p.full_name, p.birth_date, p.sex, phone, email, village,
            village[:2], village[:4], p.rural, p.education, p.employment_status, p.disability, citizen,
            source, stamp, mask == 0, mask, ruleset_id, stamp,
        ))  # fmt: skip
    return rows, stamp


def _write_rows(
    rows: list[tuple[Any, ...]], *, stamp: Any, ruleset: RuleSet, actor: Any, copy_in: CopyIn | None = None
) -> tuple[int, int]:
    """Write one batch in one transaction; how many applicants were new, and how many of those eligible."""
    if not rows:
        return 0, 0
    with transaction.atomic():
        inserted, eligible = _insert_new(rows, ruleset_id=ruleset.pk, stamp=stamp, copy_in=copy_in)
        audit_record(
            actor=actor,
            action="registry.import_batch",
            object_type="registry.applicant",
            after={
                "rows": len(rows),
                "imported": inserted,
                "digest": rows_digest(r[_NIK_INDEX] for r in rows),
            },
        )
    return inserted, eligible


def _insert_new(
    rows: list[tuple[Any, ...]], *, ruleset_id: int, stamp: Any, copy_in: CopyIn | None = None
) -> tuple[int, int]:
    """Insert rows whose NIK is new, and their first decision; return how many were new, and eligible.

    The SQL is built from model metadata only; every value travels as a parameter or through COPY.
    """
    if connection.vendor != "postgresql":
        return _insert_new_batched(rows, ruleset_id=ruleset_id, stamp=stamp)
    with connection.cursor() as cursor:
        try:
            with transaction.atomic(), connection.wrap_database_errors:
                return _copy_new(cursor, rows, copy_in or _copy_in(rows))
        except IntegrityError:  # a NIK of the batch registered meanwhile, by someone else
            return _insert_staged(cursor, rows, ruleset_id=ruleset_id, stamp=stamp)


def _copy_in(rows: list[tuple[Any, ...]]) -> CopyIn:
    """PostgreSQL: a batch's rows with ids for them, and their first decisions, in COPY's binary format ready
    to send. Made by the thread that prepares the batches, so that the writer thread only sends bytes."""
    table = Applicant._meta.db_table
    with connection.cursor() as cursor:
        # The sequence named first: inside nextval(), pg_get_serial_sequence() would run once a row (5 times
        # the cost of the ids themselves).
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        sequence = cursor.fetchone()[0]
        cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [sequence, len(rows)])
        ids = [pk for (pk,) in cursor.fetchall()]
    applicants, decisions = io.BytesIO(), io.BytesIO()
    with connection.connection.cursor() as raw:
        with Copy(raw, binary=True, writer=FileWriter(applicants)) as copy:
            copy.set_types(("int8", *_IMPORTED_TYPES))
            for pk, row in zip(ids, rows, strict=True):
                copy.write_row((pk, *row))
        with Copy(raw, binary=True, writer=FileWriter(decisions)) as copy:
            copy.set_types(_DECISION_TYPES)
            for pk, row in zip(ids, rows, strict=True):
                copy.write_row((pk, row[_RULESET], row[_ELIGIBLE], row[_MASK], row[_DECIDED_AT], "import"))
    return CopyIn(applicants.getvalue(), decisions.getvalue())


def _copy_new(cursor: Any, rows: list[tuple[Any, ...]], copy_in: CopyIn) -> tuple[int, int]:
    """PostgreSQL, when every NIK of the batch is new: the rows and their first decisions COPYed straight into
    their tables (in pages, as a raw COPY is, rather than row by row). A NIK already registered fails the
    COPY on the unique constraint (IntegrityError)."""
    table, decisions = Applicant._meta.db_table, EligibilityDecision._meta.db_table
    with cursor.cursor.copy(f"COPY {table} (id, {', '.join(_IMPORTED)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(copy_in.applicants)
    with cursor.cursor.copy(f"COPY {decisions} ({_DECISION_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(copy_in.decisions)
    return len(rows), sum(row[_ELIGIBLE] for row in rows)


def _insert_staged(
    cursor: Any, rows: list[tuple[Any, ...]], *, ruleset_id: int, stamp: Any
) -> tuple[int, int]:
    """PostgreSQL, when NIKs race: the batch COPYed into a temporary table (made once per connection) and
    moved by `INSERT … ON CONFLICT DO NOTHING`, which also writes the first decisions of the new rows."""
    table, decisions = Applicant._meta.db_table, EligibilityDecision._meta.db_table
    columns = ", ".join(_IMPORTED)
    cursor.execute(
        "CREATE TEMP TABLE IF NOT EXISTS applicant_stage ON COMMIT DELETE ROWS "  # noqa: S608
        f"AS SELECT {columns} FROM {table} WITH NO DATA"
    )
    with cursor.cursor.copy(f"COPY applicant_stage ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(_IMPORTED_TYPES)
        for row in rows:
            copy.write_row(row)
    cursor.execute(
        f"WITH new AS (INSERT INTO {table} ({columns}) SELECT {columns} FROM applicant_stage "  # noqa: S608
        "ON CONFLICT (nik_index) DO NOTHING RETURNING id, eligible, failing_rules) "
        f"INSERT INTO {decisions} ({_DECISION_COLUMNS}) "
        "SELECT id, %s, eligible, failing_rules, %s, 'import' FROM new RETURNING eligible",
        [ruleset_id, stamp],
    )
    new = [eligible for (eligible,) in cursor.fetchall()]
    return len(new), sum(new)


def _insert_new_batched(rows: list[tuple[Any, ...]], *, ruleset_id: int, stamp: Any) -> tuple[int, int]:
    """SQLite: the rows inserted skipping known NIKs, then the first decisions of those after the last id."""
    table, decisions = Applicant._meta.db_table, EligibilityDecision._meta.db_table
    columns = ", ".join(_COLUMNS)
    native_uuid = connection.features.has_native_uuid_field
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608
        before = cursor.fetchone()[0]
        marks = ", ".join(["%s"] * len(_COLUMNS))
        cursor.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({marks}) ON CONFLICT (nik_index) DO NOTHING",  # noqa: S608
            [(u if native_uuid else u.hex, *row) for u, row in ((uuid.uuid4(), row) for row in rows)],
        )
        cursor.execute(
            f"INSERT INTO {decisions} ({_DECISION_COLUMNS}) "  # noqa: S608
            f"SELECT id, %s, eligible, failing_rules, %s, 'import' FROM {table} WHERE id > %s "
            "RETURNING eligible",
            [ruleset_id, stamp, before],
        )
        new = [eligible for (eligible,) in cursor.fetchall()]
    return len(new), sum(new)


@dataclass
class RecheckResult:
    checked: int = 0
    changed: int = 0


def applicants_recheck(*, indexes: Iterable[str], cause: str, actor: Any) -> RecheckResult:
    """Decide again for the applicants with these NIK blind indexes; store only changed decisions."""
    ruleset = ruleset_ensure()
    if connection.vendor == "postgresql":  # set-based: see _decide_in_full
        with transaction.atomic(), connection.cursor() as cursor:
            _indexes_copy(cursor, "recheck_only", indexes)
            _current, older = _targets_fill(cursor, listed="recheck_only", ruleset=ruleset, current=False)
            if not older:
                return RecheckResult()
            return _decide_in_full(cursor, ruleset=ruleset, checked=older, cause=cause, actor=actor)
    today = timezone.localdate()
    now = timezone.now()
    result = RecheckResult()
    pending = sorted(set(indexes))
    for start in range(0, len(pending), BATCH):
        chunk = pending[start : start + BATCH]
        applicants = list(
            Applicant.objects.filter(nik_index__in=chunk).only(
                "id",
                "nik_index",
                "kk_index",
                "birth_date",
                "citizen",
                "eligible",
                "failing_rules",
                "waived_rules",
                "ruleset_id",
            )
        )
        memberships = list_memberships(a.nik_index for a in applicants)
        kin = family_recipients((a.nik_index, a.kk_index) for a in applicants)
        changed = []
        for applicant in applicants:
            facts = rules.Facts(
                birth_date=applicant.birth_date,
                citizen=applicant.citizen,
                lists=memberships.get(applicant.nik_index, frozenset()),
                kk_recipients=kin.get(applicant.nik_index, 0),
                waived=applicant.waived_rules,
            )
            mask = rules.decide(facts, params=ruleset.params, today=today).mask
            if mask != applicant.failing_rules or applicant.ruleset_id != ruleset.pk:
                applicant.failing_rules, applicant.eligible = mask, mask == 0
                applicant.ruleset_id, applicant.decided_at = ruleset.pk, now
                changed.append(applicant)
        by_mask: dict[int, list[int]] = defaultdict(list)
        for applicant in changed:
            by_mask[applicant.failing_rules].append(applicant.pk)
        with transaction.atomic():
            # A handful of distinct outcomes: one UPDATE per outcome rather than one CASE per row.
            for mask, ids in by_mask.items():
                Applicant.objects.filter(pk__in=ids).update(
                    failing_rules=mask, eligible=mask == 0, ruleset=ruleset, decided_at=now
                )
            EligibilityDecision.objects.bulk_create(
                EligibilityDecision(
                    applicant=a,
                    ruleset=ruleset,
                    eligible=a.eligible,
                    failing_rules=a.failing_rules,
                    decided_at=now,
                    cause=cause,
                )
                for a in changed
            )
            _recheck_audit(actor=actor, cause=cause, checked=len(applicants), changed=[a.pk for a in changed])
        result.checked += len(applicants)
        result.changed += len(changed)
    return result


class InvalidListKind(InvalidInput):
    code = "unknown_list_kind"
    message = _("Unknown list kind. Choose one of: %(kinds)s.")


class ListAlreadyUploaded(Conflict):
    code = "list_already_uploaded"
    message = _("A list of this kind from this source and date is already uploaded. Remove it first.")


class ListSourceRequired(InvalidInput):
    code = "list_source_required"
    message = _("Name the agency the list comes from.")


class ListDateInFuture(InvalidInput):
    code = "list_date_in_future"
    message = _("The list's date %(as_of)s is in the future.")


class ListWithoutNik(InvalidInput):
    code = "list_without_nik"
    message = _("The file holds no valid NIK, so nothing was uploaded. To retire a list, remove it instead.")


@dataclass
class UploadResult:
    exclusion_list: ExclusionList
    entries: int
    rejected: int
    recheck: RecheckResult


def exclusion_list_upload(
    *, kind: str, source: str, as_of: date, niks: Iterable[tuple[int, str]], actor: Any, on_error: ErrorSink
) -> UploadResult:
    """Store a list of NIKs as blind indexes only, retire older lists of the same kind and source,
    and re-check every applicant on the new or retired lists. All of it, or nothing."""
    if kind not in ListKind.values:
        raise InvalidListKind(kinds=", ".join(ListKind.values))
    if not source.strip():
        raise ListSourceRequired()
    if as_of > timezone.localdate():
        raise ListDateInFuture(as_of=as_of.isoformat())
    indexes: set[str] = set()
    rejected = 0
    for line, nik in niks:
        nik = nik.strip()
        if len(nik) != 16 or not (nik.isascii() and nik.isdigit()):
            rejected += 1
            on_error(line, [Problem("nik:not_16_digits", _("A NIK must be exactly 16 digits (0-9)."))])
            continue
        indexes.add(nik_index(nik))
    if not indexes:
        raise ListWithoutNik()
    ordered = sorted(indexes)
    with transaction.atomic():
        if ExclusionList.objects.filter(kind=kind, source=source, as_of=as_of).exists():
            raise ListAlreadyUploaded()
        older = list(ExclusionList.objects.filter(kind=kind, source=source, active=True))
        ExclusionList.objects.filter(pk__in=[o.pk for o in older]).update(
            active=False, removed_at=timezone.now()
        )
        exclusion_list = ExclusionList.objects.create(
            kind=kind,
            source=source,
            as_of=as_of,
            entries_count=len(indexes),
            digest=rows_digest(ordered),
            uploaded_by=actor if hasattr(actor, "pk") else None,
        )
        _entries_store(exclusion_list, ordered)
        audit_record(
            actor=actor,
            action="registry.exclusion_list_uploaded",
            obj=exclusion_list,
            after={
                "kind": kind,
                "source": source,
                "as_of": as_of.isoformat(),
                "entries": len(indexes),
                "digest": exclusion_list.digest,
                "retired": [o.pk for o in older],
            },
        )
        recheck = _recheck_lists(
            list_ids=[exclusion_list.pk, *(o.pk for o in older)],
            cause=f"list:{exclusion_list.pk}",
            actor=actor,
        )
    return UploadResult(exclusion_list, len(indexes), rejected, recheck)


def exclusion_list_extend(
    *, kind: str, source: str, indexes: Iterable[str], actor: Any, cards: Mapping[str, str] | None = None
) -> RecheckResult:
    """Add blind indexes to the programme's own list of a kind (one list per source and day), such as
    the holders of revoked cards, and re-check them. `cards`: the family cards (KK blind index by NIK blind
    index) of registered people among them, when the caller has them at hand; looked up otherwise."""
    if kind not in ListKind.values:
        raise InvalidListKind(kinds=", ".join(ListKind.values))
    ordered = sorted(set(indexes))
    if not ordered:
        return RecheckResult()
    added = rows_digest(ordered)
    with transaction.atomic():
        exclusion_list, created = ExclusionList.objects.select_for_update().get_or_create(
            kind=kind, source=source, as_of=timezone.localdate(), defaults={"digest": rows_digest([])}
        )
        _entries_store(exclusion_list, ordered, new_list=created, cards=cards)
        # The list's digest is that of all its entries, sorted: those just added when the list is new.
        count, digest = (len(ordered), added) if created else _entries_digest(exclusion_list)
        exclusion_list.entries_count, exclusion_list.digest = count, digest
        exclusion_list.save(update_fields=["entries_count", "digest"])
        audit_record(
            actor=actor,
            action="registry.exclusion_list_extended",
            obj=exclusion_list,
            after={"kind": kind, "added": len(ordered), "digest": added},
        )
        return _recheck_lists(
            list_ids=[exclusion_list.pk],
            cause=f"list:{exclusion_list.pk}",
            actor=actor,
            only=None if created else ordered,  # everyone on a new list was just added
        )


def _entries_digest(exclusion_list: ExclusionList) -> tuple[int, str]:
    """How many entries a list has, and `rows_digest` of their blind indexes in sorted order. On PostgreSQL
    the same SHA-256 is computed by the server over the same bytes (each index quoted, one a line, in code
    point order), so the list is not read back into Python; blind indexes are hexadecimal, and a list holding
    anything else is digested in Python."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            lines = "string_agg('\"' || nik_index || E'\"\\n', '' ORDER BY nik_index COLLATE \"C\")"
            cursor.execute(
                "SELECT count(*), bool_and(nik_index ~ '^[0-9A-Za-z]+$'), "  # noqa: S608
                f"encode(sha256(convert_to(coalesce({lines}, ''), 'UTF8')), 'hex') "
                f"FROM {ExclusionEntry._meta.db_table} WHERE exclusion_list_id = %s",
                [exclusion_list.pk],
            )
            count, plain, digest = cursor.fetchone()
        if plain is not False:
            return count, digest
    everyone = sorted(exclusion_list.entries.values_list("nik_index", flat=True))
    return len(everyone), rows_digest(everyone)


def exclusion_list_remove(*, list_id: int, actor: Any) -> RecheckResult:
    """Retire a list and re-check everyone who was on it."""
    with transaction.atomic():
        exclusion_list = ExclusionList.objects.select_for_update().filter(pk=list_id, active=True).first()
        if exclusion_list is None:
            raise NotFound(code="unknown_list")
        exclusion_list.active, exclusion_list.removed_at = False, timezone.now()
        exclusion_list.save(update_fields=["active", "removed_at"])
        audit_record(actor=actor, action="registry.exclusion_list_removed", obj=exclusion_list)
        return _recheck_lists(list_ids=[list_id], cause=f"list_removed:{list_id}", actor=actor)


def _entries_store(
    exclusion_list: ExclusionList,
    indexes: Sequence[str],
    *,
    new_list: bool = True,
    cards: Mapping[str, str] | None = None,
) -> None:
    """Put blind indexes on a list: by COPY on PostgreSQL (through a staging table, skipping those already
    on it, when the list is not new or family cards are to be looked up), in batches elsewhere. An entry on a
    list of former recipients carries the family card of the applicant with that NIK, if registered: from
    `cards` when given, else looked up."""
    families = exclusion_list.kind == ListKind.FORMER_RECIPIENT
    known: Mapping[str, str] = cards if families and cards else {}
    if connection.vendor != "postgresql":
        for start in range(0, len(indexes), BATCH):
            chunk = indexes[start : start + BATCH]
            if families and cards is None:
                registered = Applicant.objects.filter(nik_index__in=chunk)
                known = dict(registered.values_list("nik_index", "kk_index"))
            entries = (
                ExclusionEntry(exclusion_list=exclusion_list, nik_index=i, kk_index=known.get(i))
                for i in chunk
            )
            ExclusionEntry.objects.bulk_create(entries, ignore_conflicts=not new_list)
        return
    entry, applicant = ExclusionEntry._meta.db_table, Applicant._meta.db_table
    with connection.cursor() as cursor:
        if new_list and (cards is not None or not families):
            with cursor.cursor.copy(
                f"COPY {entry} (exclusion_list_id, nik_index, kk_index) FROM STDIN"
            ) as copy:
                for index in indexes:
                    copy.write_row((exclusion_list.pk, index, known.get(index)))
            return
        _indexes_copy(cursor, "entry_stage", indexes)
        card = f"(SELECT kk_index FROM {applicant} a WHERE a.nik_index = s.nik_index)"  # noqa: S608
        cursor.execute(
            f"INSERT INTO {entry} (exclusion_list_id, nik_index, kk_index) "  # noqa: S608
            f"SELECT %s, s.nik_index, {card if families else 'NULL'} FROM entry_stage s ORDER BY s.nik_index "
            "ON CONFLICT DO NOTHING",
            [exclusion_list.pk],
        )


def _indexes_table(cursor: Any, table: str) -> None:
    """An empty temporary table of blind indexes, this connection's own (PostgreSQL)."""
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} (nik_index varchar(64)) ON COMMIT DELETE ROWS")
    cursor.execute(f"TRUNCATE {table}")


def _indexes_copy(cursor: Any, table: str, indexes: Iterable[str]) -> None:
    """Blind indexes into an empty temporary table (PostgreSQL), by COPY, analysed for the planner."""
    indexes = list(indexes)  # a queryset is read before the COPY holds the connection
    _indexes_table(cursor, table)
    with cursor.cursor.copy(f"COPY {table} (nik_index) FROM STDIN") as copy:
        for index in indexes:
            copy.write_row((index,))
    cursor.execute(f"ANALYZE {table}")


def _targets_fill(cursor: Any, *, listed: str, ruleset: RuleSet, current: bool) -> tuple[int, int]:
    """The applicants whose blind index is in the temporary table `listed`, into the temporary table
    `recheck_target` with what deciding them reads (PostgreSQL): birth date, citizenship (-1 unknown), rules
    waived on appeal, the rule bits of every active list they are on (`kinds`), how many others on their
    family card received the programme (`kin`, counted up to the rule set's limit), and, if `current`,
    whether they were decided under `ruleset`, so that only their list and family rules can have changed.
    In table order, so that the updates after it visit the rows in that order; how many are current, and
    how many not."""
    applicant, entry, listing = (m._meta.db_table for m in (Applicant, ExclusionEntry, ExclusionList))
    cursor.execute(
        "CREATE TEMP TABLE IF NOT EXISTS recheck_target (id bigint PRIMARY KEY, current boolean NOT NULL, "
        "birth_date date NOT NULL, citizen smallint NOT NULL, waived bigint NOT NULL, kinds bigint NOT NULL, "
        "kk_index varchar(64) NOT NULL, kin smallint NOT NULL DEFAULT 0) ON COMMIT DELETE ROWS"
    )
    cursor.execute("TRUNCATE recheck_target")
    cases = " ".join(f"WHEN '{k}' THEN {rules.RULE_BIT[k]}" for k in rules.LIST_RULES)
    cursor.execute(
        "INSERT INTO recheck_target (id, current, birth_date, citizen, waived, kinds, kk_index) "  # noqa: S608
        f"SELECT a.id, {'a.ruleset_id = %s' if current else 'false'}, a.birth_date, "
        "COALESCE(a.citizen::int, -1), a.waived_rules, COALESCE(k.kinds, 0), a.kk_index "
        f"FROM (SELECT DISTINCT nik_index FROM {listed}) x JOIN {applicant} a ON a.nik_index = x.nik_index "
        f"LEFT JOIN (SELECT e.nik_index, bit_or(CASE l.kind {cases} ELSE 0 END) AS kinds FROM {entry} e "
        f"JOIN {listing} l ON l.id = e.exclusion_list_id AND l.active "
        f"WHERE e.nik_index IN (SELECT nik_index FROM {listed}) GROUP BY e.nik_index) k "
        "ON k.nik_index = a.nik_index ORDER BY a.id",
        [ruleset.pk] if current else [],
    )
    former = list(
        ExclusionList.objects.filter(active=True, kind=ListKind.FORMER_RECIPIENT).values_list("pk", flat=True)
    )
    if former:
        # The recipients of each family card once (a registered person's entries there carry their card),
        # less the person themself if they are one.
        cursor.execute(
            "UPDATE recheck_target t "  # noqa: S608
            "SET kin = LEAST(r.n - CASE WHEN t.kinds & %s <> 0 THEN 1 ELSE 0 END, %s) "
            "FROM (SELECT f.kk_index, count(DISTINCT f.nik_index) AS n "
            "FROM (SELECT DISTINCT kk_index FROM recheck_target) c "
            f"JOIN {entry} f ON f.kk_index = c.kk_index WHERE f.exclusion_list_id = ANY(%s) "
            "GROUP BY f.kk_index) r WHERE r.kk_index = t.kk_index",
            [rules.RULE_BIT["former_recipient"], int(ruleset.params["max_per_kk"]), former],
        )
    cursor.execute("ANALYZE recheck_target")
    cursor.execute(
        "SELECT count(*) FILTER (WHERE current), count(*) FILTER (WHERE NOT current) FROM recheck_target"
    )
    now_current, older = cursor.fetchone()
    return now_current, older


def _changed_recorded(
    cursor: Any, sql: str, params: list[Any], *, ruleset: RuleSet, now: Any, cause: str
) -> list[int]:
    """Run the `changed` UPDATE (RETURNING id, failing_rules, eligible) and record a decision for each of its
    rows in the same statement; the changed ids, in order."""
    decisions = EligibilityDecision._meta.db_table
    cursor.execute(
        f"WITH changed AS ({sql}), recorded AS (INSERT INTO {decisions} "  # noqa: S608
        "(applicant_id, ruleset_id, eligible, failing_rules, decided_at, cause) "
        "SELECT id, %s, eligible, failing_rules, %s, %s FROM changed ORDER BY id) "
        "SELECT id FROM changed ORDER BY id",
        [*params, ruleset.pk, now, cause],
    )
    return [pk for (pk,) in cursor.fetchall()]


def _recheck_audit(*, actor: Any, cause: str, checked: int, changed: list[int]) -> None:
    if changed:
        audit_record(
            actor=actor,
            action="registry.recheck_batch",
            object_type="registry.applicant",
            after={
                "cause": cause,
                "checked": checked,
                "changed": len(changed),
                "digest": rows_digest(changed),
            },
        )


def _decide_in_full(cursor: Any, *, ruleset: RuleSet, checked: int, cause: str, actor: Any) -> RecheckResult:
    """Decide again, by the pure rules, for the `checked` targets not `current` (PostgreSQL).

    The rules read a few facts, and the applicants share far fewer distinct facts than there are of them:
    each distinct combination is decided once by `rules.decide`, and one statement writes the changed
    decisions and their history.
    """
    cursor.execute(
        "SELECT DISTINCT birth_date, citizen, waived, kinds, kin FROM recheck_target WHERE NOT current"
    )
    combinations = cursor.fetchall()
    today, now = timezone.localdate(), timezone.now()
    masks = [
        rules.decide(
            rules.Facts(
                birth_date=born,
                citizen=None if citizen < 0 else bool(citizen),
                lists=frozenset(k for k in rules.LIST_RULES if kinds & rules.RULE_BIT[k]),
                kk_recipients=kin,
                waived=waived,
            ),
            params=ruleset.params,
            today=today,
        ).mask
        for born, citizen, waived, kinds, kin in combinations
    ]
    columns = [list(column) for column in zip(*combinations, strict=True)]
    applicant = Applicant._meta.db_table
    changed = _changed_recorded(
        cursor,
        f"UPDATE {applicant} a SET failing_rules = d.mask, eligible = (d.mask = 0), ruleset_id = %s, "  # noqa: S608
        "decided_at = %s FROM recheck_target t JOIN unnest(%s::date[], %s::smallint[], %s::bigint[], "
        "%s::bigint[], %s::smallint[], %s::bigint[]) AS d(birth_date, citizen, waived, kinds, kin, mask) "
        "USING (birth_date, citizen, waived, kinds, kin) "
        "WHERE a.id = t.id AND NOT t.current AND (a.failing_rules <> d.mask OR a.ruleset_id <> %s) "
        "RETURNING a.id, a.failing_rules, a.eligible",
        [ruleset.pk, now, *columns, masks, ruleset.pk],
        ruleset=ruleset,
        now=now,
        cause=cause,
    )
    _recheck_audit(actor=actor, cause=cause, checked=checked, changed=changed)
    return RecheckResult(checked=checked, changed=len(changed))


def _families_recheck(returning: Mapping[str, str], *, cause: str, actor: Any) -> None:
    """Once people who received the programme before have registered (NIK blind index: KK blind index): their
    entries on lists of former recipients get their family cards, and their families are decided again (the
    families' recipients were counted without them)."""
    pending = list(returning.items())
    for start in range(0, len(pending), BATCH):
        chunk = dict(pending[start : start + BATCH])
        entries = list(
            ExclusionEntry.objects.filter(
                nik_index__in=chunk, kk_index__isnull=True, exclusion_list__kind=ListKind.FORMER_RECIPIENT
            ).only("id", "nik_index")
        )
        for entry in entries:
            entry.kk_index = chunk[entry.nik_index]
        ExclusionEntry.objects.bulk_update(entries, ["kk_index"], batch_size=BATCH)
    if returning:
        on_cards = Applicant.objects.filter(kk_index__in=set(returning.values()))
        applicants_recheck(indexes=on_cards.values_list("nik_index", flat=True), cause=cause, actor=actor)


def _recheck_lists(
    *, list_ids: list[int], cause: str, actor: Any, only: Sequence[str] | None = None
) -> RecheckResult:
    """Decide again for everyone on these lists (or just `only` of them), when only list memberships changed;
    for a list of former recipients, for their families too (their recipients were counted)."""
    if connection.vendor == "postgresql":
        return _recheck_lists_postgres(list_ids=list_ids, cause=cause, actor=actor, only=only)
    listed = ExclusionEntry.objects.filter(exclusion_list_id__in=list_ids)
    if only is not None:  # just these people on the lists, e.g. those just added
        listed = listed.filter(nik_index__in=only)
    affected: QuerySet[Any, Any] = listed.values("nik_index")
    if _families_affected(list_ids):  # and the rest of their families that reach the limit
        crowded = (
            ExclusionEntry.objects.filter(
                Q(exclusion_list__active=True) | Q(exclusion_list_id__in=list_ids),
                exclusion_list__kind=ListKind.FORMER_RECIPIENT,
                kk_index__in=listed.filter(kk_index__isnull=False).values("kk_index"),
            )
            .values("kk_index")
            .annotate(n=Count("nik_index", distinct=True))
            .filter(n__gte=ruleset_ensure().params["max_per_kk"])
            .values("kk_index")
        )
        affected = Applicant.objects.filter(Q(nik_index__in=affected) | Q(kk_index__in=crowded)).values(
            "nik_index"
        )
    return applicants_recheck(indexes=affected.values_list("nik_index", flat=True), cause=cause, actor=actor)


def _families_affected(list_ids: list[int]) -> bool:
    """Whether changing these lists changes how many of a family received the programme. Then the rest of
    the families of those on them are re-checked too, where the family has as many recipients as the limit,
    the changed lists counted as active (in no other family can a member's family rule change)."""
    return ExclusionList.objects.filter(pk__in=list_ids, kind=ListKind.FORMER_RECIPIENT).exists()


def _recheck_lists_postgres(
    *, list_ids: list[int], cause: str, actor: Any, only: Sequence[str] | None
) -> RecheckResult:
    """`_recheck_lists` on PostgreSQL: who is on the lists (and their families), gathered once into temporary
    tables (each analysed, so the planner knows how many the lists name: entries just stored are not in the
    statistics yet); the list and family rules of those decided under the current rule set redone by one
    statement that also writes their history; the others decided again in full."""
    ruleset = ruleset_ensure()
    excluded = sum(rules.RULE_BIT[k] for k in rules.LIST_RULES if k in ruleset.params["excluded_lists"])
    list_bits = sum(rules.RULE_BIT[k] for k in rules.LIST_RULES)
    kk_bit, limit = rules.RULE_BIT["kk_limit"], int(ruleset.params["max_per_kk"])
    applicant, entry, listing = (m._meta.db_table for m in (Applicant, ExclusionEntry, ExclusionList))
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        _indexes_table(cursor, "recheck_listed")
        if only is None:
            cursor.execute(
                "INSERT INTO recheck_listed (nik_index) "  # noqa: S608
                f"SELECT DISTINCT nik_index FROM {entry} WHERE exclusion_list_id = ANY(%s)",
                [list(list_ids)],
            )
        else:  # just these people on the lists, e.g. those just added
            _indexes_copy(cursor, "recheck_only", only)
            cursor.execute(
                "INSERT INTO recheck_listed (nik_index) SELECT DISTINCT o.nik_index FROM recheck_only o "  # noqa: S608
                f"WHERE EXISTS (SELECT 1 FROM {entry} e WHERE e.nik_index = o.nik_index "
                "AND e.exclusion_list_id = ANY(%s))",
                [list(list_ids)],
            )
        cursor.execute("ANALYZE recheck_listed")
        if _families_affected(list_ids):  # and the rest of their families that reach the limit
            cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS recheck_cards (kk_index varchar(64) PRIMARY KEY) "
                "ON COMMIT DELETE ROWS"
            )
            cursor.execute("TRUNCATE recheck_cards")
            cursor.execute(
                "INSERT INTO recheck_cards SELECT f.kk_index FROM (SELECT DISTINCT e.kk_index "  # noqa: S608
                f"FROM recheck_listed x JOIN {entry} e ON e.nik_index = x.nik_index "
                "WHERE e.exclusion_list_id = ANY(%s) AND e.kk_index IS NOT NULL) c "
                f"JOIN {entry} f ON f.kk_index = c.kk_index JOIN {listing} l ON l.id = f.exclusion_list_id "
                "AND l.kind = %s AND (l.active OR l.id = ANY(%s)) "
                "GROUP BY f.kk_index HAVING count(DISTINCT f.nik_index) >= %s",
                [list(list_ids), ListKind.FORMER_RECIPIENT.value, list(list_ids), limit],
            )
            cursor.execute("ANALYZE recheck_cards")
            cursor.execute(
                "INSERT INTO recheck_listed (nik_index) SELECT b.nik_index FROM recheck_cards c "  # noqa: S608
                f"JOIN {applicant} b ON b.kk_index = c.kk_index"
            )
            cursor.execute("ANALYZE recheck_listed")
        checked, older = _targets_fill(cursor, listed="recheck_listed", ruleset=ruleset, current=True)
        # The rules other than the lists' and the family's are kept as the row has them when it is written.
        family = f"CASE WHEN t.kin >= {limit} THEN {kk_bit} ELSE 0 END"
        mask = (
            f"((a.failing_rules & ~{list_bits | kk_bit}) | (((t.kinds & {excluded}) | {family}) "
            "& ~a.waived_rules))"
        )
        changed = _changed_recorded(
            cursor,
            f"UPDATE {applicant} a SET failing_rules = {mask}, eligible = ({mask} = 0), decided_at = %s "  # noqa: S608
            f"FROM recheck_target t WHERE a.id = t.id AND t.current AND a.failing_rules <> {mask} "
            "RETURNING a.id, a.failing_rules, a.eligible",
            [now],
            ruleset=ruleset,
            now=now,
            cause=cause,
        )
        _recheck_audit(actor=actor, cause=cause, checked=checked, changed=changed)
        full = (
            _decide_in_full(cursor, ruleset=ruleset, checked=older, cause=cause, actor=actor)
            if older
            else RecheckResult()
        )
    return RecheckResult(checked=checked + full.checked, changed=len(changed) + full.changed)


class NikAlreadyRegistered(Conflict):
    code = "nik_already_registered"
    message = _(
        "This NIK is already registered. If it is yours and you did not register it, contact the "
        "complaints service (pengaduan) with your NIK and KK."
    )


class AlreadyRegistered(Conflict):
    code = "already_registered"
    message = _("Your account already has a registration. Open it from your home page.")


class ContactsNotVerified(PrakerjaError):
    status = 403
    code = "contacts_not_verified"
    message = _("Verify your e-mail address and phone number first, with the codes we send you.")


class ConsentRequired(InvalidInput):
    code = "consent_required"
    message = _("Registration needs your consent and your self-declaration: read and tick both.")


def _population_check(applicant: Applicant, answer: dukcapil.PopulationAnswer) -> PopulationCheck:
    return PopulationCheck(
        applicant=applicant,
        status=answer.status,
        citizen=answer.citizen,
        mismatched=list(answer.mismatched),
        reference=answer.reference,
        checked_at=timezone.now(),
    )


def _population_answer(profile: rules.Profile) -> dukcapil.PopulationAnswer:
    query = dukcapil.PopulationQuery(profile.nik, profile.kk, profile.full_name, profile.birth_date)
    try:
        return dukcapil.population_registry().verify(query)
    except OSError:
        return dukcapil.PopulationAnswer("unavailable")


@dataclass(frozen=True)
class _Registration:
    """One registration read, checked and answered by the population registry, waiting to be written."""

    user: Any
    profile: rules.Profile
    answer: dukcapil.PopulationAnswer
    source: str
    language: str  # of the request: the person is written to in it, whichever thread writes the batch


def applicant_register(
    *, user: Any, data: dict[str, str], consents: Iterable[str], source: str = Source.WEB
) -> Applicant:
    """Register the logged-in person: one NIK, one account; every problem is reported at once.

    Registrations arriving together in a process are written together (`GroupCommit`); inside a
    caller's transaction a registration is written alone, in it. Only REGISTRATION_CONCURRENCY run at
    once in a process; beyond that the caller is told to retry (503)."""
    with admission("registration", settings.REGISTRATION_CONCURRENCY):
        registration = _registration_read(user=user, data=data, consents=consents, source=source)
        if connection.in_atomic_block:
            outcome = _registrations_write([registration])[0]
            if isinstance(outcome, Exception):
                raise outcome
            return outcome
        return _registrations.submit(registration)


def _registration_read(
    *, user: Any, data: dict[str, str], consents: Iterable[str], source: str
) -> _Registration:
    if not (user.email_verified_at and user.phone_verified_at):
        raise ContactsNotVerified()
    if set(rules.CONSENT_TEXTS) - set(consents):
        raise ConsentRequired()
    read = rules.read_row(
        {**data, "phone": user.phone, "email": user.email},
        known_regions=names_above_villages(),
        villages=village_codes(),
        today=timezone.localdate(),
    )
    if isinstance(read, list):
        raise InvalidInput(problems=problem_dicts(read))
    return _Registration(user, read, _population_answer(read), source, translation.get_language())


def _registrations_write(registrations: list[_Registration]) -> list[Applicant | PrakerjaError]:
    """Write registrations in one transaction. A registration alone whose account or NIK is registered
    already is answered with why; in a batch, that fails the batch, which `GroupCommit` then writes
    again one registration at a time."""
    ruleset, today = ruleset_ensure(), timezone.localdate()
    indexes = nik_indexes([r.profile.nik for r in registrations])
    families = kk_indexes([r.profile.kk for r in registrations])
    memberships = list_memberships(indexes)
    kin = family_recipients(zip(indexes, families, strict=True))
    none: frozenset[str] = frozenset()
    decisions = [
        rules.decide(
            rules.Facts(
                birth_date=r.profile.birth_date,
                citizen=r.answer.citizen,
                lists=memberships.get(i, none),
                kk_recipients=kin.get(i, 0),
            ),
            params=ruleset.params,
            today=today,
        )
        for r, i in zip(registrations, indexes, strict=True)
    ]
    now = timezone.now()
    new = [
        (_applicant_of(r, index=i, family=f, decision=d, ruleset=ruleset, now=now), r, d)
        for r, i, f, d in zip(registrations, indexes, families, decisions, strict=True)
    ]
    returning = {
        i: f for i, f in zip(indexes, families, strict=True) if "former_recipient" in memberships.get(i, none)
    }
    try:
        with transaction.atomic():
            _registrations_store(new, ruleset=ruleset, now=now)
            _families_recheck(returning, cause="registration", actor="system")
    except IntegrityError:
        if len(registrations) > 1:
            raise
        registered = Applicant.objects.filter(user=registrations[0].user).exists()
        return [AlreadyRegistered() if registered else NikAlreadyRegistered()]
    return [applicant for applicant, _r, _d in new]


def _registrations_store(
    new: list[tuple[Applicant, _Registration, rules.Decision]], *, ruleset: RuleSet, now: Any
) -> None:
    if connection.vendor == "postgresql":
        _registrations_insert_postgres(new, ruleset=ruleset, now=now)
    else:
        Applicant.objects.bulk_create([a for a, _r, _d in new])
        EligibilityDecision.objects.bulk_create(
            EligibilityDecision(
                applicant=a, ruleset=ruleset, eligible=d.eligible, failing_rules=d.mask, decided_at=now,
                cause="registration",
            )
            for a, _r, d in new
        )  # fmt: skip
        PopulationCheck.objects.bulk_create(_population_check(a, r.answer) for a, r, _d in new)
        Consent.objects.bulk_create(
            Consent(applicant=a, kind=kind, text_version=rules.CONSENT_VERSION, accepted_at=now)
            for a, _r, _d in new
            for kind in rules.CONSENT_TEXTS
        )
    audit_append([
        audit_entry(
            actor=r.user,
            action="registry.registered",
            obj=a,
            after={
                "eligible": d.eligible,
                "failing": [reason.code for reason in d.reasons],
                "ruleset": ruleset.version,
                "population": r.answer.status,
            },
        )
        for a, r, d in new
    ])  # fmt: skip
    notify_many([_decision_message(a, d, r.language) for a, r, d in new])


def _registrations_insert_postgres(
    new: list[tuple[Applicant, _Registration, rules.Decision]], *, ruleset: RuleSet, now: Any
) -> None:
    """The applicants, their first decisions, population checks and consents in one statement: every
    column travels as one array, so the statement is the same whatever the batch's size. Sets each
    applicant's id."""
    rows, stamp = _rows_of(
        [(a.nik_index, r.profile) for a, r, _d in new],
        families=[a.kk_index for a, _r, _d in new],
        masks=[d.mask for _a, _r, d in new],
        ruleset=ruleset,
        sources=[r.source for _a, r, _d in new],  # pages and the API share batches
        citizens=[r.answer.citizen for _a, r, _d in new],
        now=now,
    )
    columns = [*_COLUMNS, "user_id"]  # with the pseudonym each applicant already has
    arrays = [
        [a.pseudonym for a, _r, _d in new],
        *(list(column) for column in zip(*rows, strict=True)),
        [r.user.pk for _a, r, _d in new],
        [r.answer.status for _a, r, _d in new],
        [r.answer.citizen for _a, r, _d in new],
        [json.dumps(list(r.answer.mismatched)) for _a, r, _d in new],
        [r.answer.reference for _a, r, _d in new],
    ]
    types = [*_COPY_TYPES, "int8", "varchar", "bool", "text", "varchar"]
    names = ", ".join(columns)
    table, decisions, checks, consents = (
        m._meta.db_table for m in (Applicant, EligibilityDecision, PopulationCheck, Consent)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH input AS (SELECT * FROM unnest({', '.join(f'%s::{t}[]' for t in types)}) "  # noqa: S608
            f"AS i({names}, check_status, check_citizen, check_mismatched, check_reference)), "
            f"new AS (INSERT INTO {table} ({names}) SELECT {names} FROM input "
            "RETURNING id, nik_index, eligible, failing_rules), "
            f"decided AS (INSERT INTO {decisions} (applicant_id, ruleset_id, eligible, failing_rules, "
            "decided_at, cause) SELECT id, %s, eligible, failing_rules, %s, 'registration' FROM new), "
            f"checked AS (INSERT INTO {checks} (applicant_id, status, citizen, mismatched, reference, "
            "checked_at) SELECT new.id, i.check_status, i.check_citizen, i.check_mismatched::jsonb, "
            "i.check_reference, %s FROM new JOIN input i USING (nik_index)), "
            f"consented AS (INSERT INTO {consents} (applicant_id, kind, text_version, accepted_at) "
            "SELECT new.id, k.kind, %s, %s FROM new CROSS JOIN unnest(%s::varchar[]) AS k(kind)) "
            "SELECT nik_index, id FROM new",
            [*arrays, ruleset.pk, stamp, stamp, rules.CONSENT_VERSION, stamp, list(rules.CONSENT_TEXTS)],
        )
        ids = dict(cursor.fetchall())
    for applicant, _r, _d in new:
        applicant.pk = ids[applicant.nik_index]
        applicant._state.adding, applicant._state.db = False, connection.alias


def _applicant_of(
    registration: _Registration,
    *,
    index: str,
    family: str,
    decision: rules.Decision,
    ruleset: RuleSet,
    now: Any,
) -> Applicant:
    p = registration.profile
    return Applicant(
        user=registration.user,
        nik=p.nik,
        nik_index=index,
        kk=p.kk,
        kk_index=family,
        full_name=p.full_name,
        birth_date=p.birth_date,
        sex=p.sex,
        phone=p.phone,
        email=p.email,
        village_id=p.village_code,
        province_code=p.village_code[:2],
        regency_code=p.village_code[:4],
        rural=p.rural,
        education=p.education,
        employment_status=p.employment_status,
        disability=p.disability,
        citizen=registration.answer.citizen,
        source=registration.source,
        registered_at=now,
        eligible=decision.eligible,
        failing_rules=decision.mask,
        ruleset=ruleset,
        decided_at=now,
    )


_registrations: GroupCommit[_Registration, Applicant] = GroupCommit(_registrations_write)


def _decision_message(
    applicant: Applicant, decision: rules.Decision, language: str
) -> tuple[str, str, str, str]:
    with translation.override(language):
        if decision.eligible:
            body = str(
                _("Your Prakerja registration is complete and you are eligible. Join an open wave next.")
            )
        else:
            reasons = "; ".join(r.message for r in decision.reasons)
            body = _(
                "Your Prakerja registration is complete, but you are not eligible: %(reasons)s. "
                "If a reason is wrong, contact the complaints service (pengaduan)."
            ) % {"reasons": reasons}
        return (Channel.EMAIL, applicant.email, str(_("Prakerja registration")), str(body))


def population_check_run(*, applicant: Applicant, actor: Any) -> PopulationCheck:
    """Ask the population registry again, store its answer and decide eligibility again."""
    profile = rules.Profile(
        applicant.nik,
        applicant.kk,
        applicant.full_name,
        applicant.birth_date,
        applicant.sex,
        "",
        "",
        applicant.village_id,
        applicant.rural,
        applicant.education,
        applicant.employment_status,
        applicant.disability,
    )
    answer = _population_answer(profile)
    with transaction.atomic():
        check = _population_check(applicant, answer)
        check.save()
        if answer.status != "unavailable":
            Applicant.objects.filter(pk=applicant.pk).update(citizen=answer.citizen)
        audit_record(
            actor=actor,
            action="registry.population_checked",
            obj=applicant,
            after={"status": answer.status, "mismatched": list(answer.mismatched)},
        )
        applicants_recheck(indexes=[applicant.nik_index], cause="population_check", actor=actor)
    return check


class AptitudeTaken(Conflict):
    code = "aptitude_taken"
    message = _("You have already taken the test. It is taken only once.")


class AptitudeTimeUp(PrakerjaError):
    status = 409
    code = "aptitude_time_up"
    message = _("The time for the test is over. Answers given before the end were saved and scored.")


def aptitude_start(*, applicant: Applicant) -> AptitudeAttempt:
    """Start the test, or return the attempt already running; a finished test cannot start again."""
    with transaction.atomic():
        attempt = AptitudeAttempt.objects.select_for_update().filter(applicant=applicant).first()
        if attempt is not None:
            if attempt.finished_at or timezone.now() >= attempt.deadline:
                raise AptitudeTaken()
            return attempt
        bank = aptitude_bank()
        now = timezone.now()
        attempt = AptitudeAttempt.objects.create(
            applicant=applicant,
            bank_version=bank["version"],
            question_ids=rules.aptitude_draw(bank, seed=secrets.randbits(64)),
            started_at=now,
            deadline=now + timedelta(minutes=rules.APTITUDE_MINUTES),
        )
        audit_record(actor=applicant.user or "system", action="registry.aptitude_started", obj=attempt)
    return attempt


def aptitude_answer(*, attempt: AptitudeAttempt, question_id: str, choice: int) -> None:
    """Save one answer; after the deadline nothing is saved and the test is closed."""
    if question_id not in attempt.question_ids:
        raise InvalidInput(code="unknown_question")
    with transaction.atomic():
        locked = AptitudeAttempt.objects.select_for_update().get(pk=attempt.pk)
        if locked.finished_at:
            raise AptitudeTaken()
        late = timezone.now() >= locked.deadline
        if late:
            _aptitude_close(locked)  # committed before the refusal below
        else:
            locked.answers[question_id] = choice
            locked.save(update_fields=["answers"])
    if late:
        raise AptitudeTimeUp()
    attempt.answers = locked.answers


def aptitude_finish(*, attempt: AptitudeAttempt) -> AptitudeAttempt:
    """Close the test now (or at its deadline, whichever came first) and score it."""
    with transaction.atomic():
        locked = AptitudeAttempt.objects.select_for_update().get(pk=attempt.pk)
        if not locked.finished_at:
            _aptitude_close(locked)
    return locked


def _aptitude_close(attempt: AptitudeAttempt) -> None:
    result = rules.aptitude_score(aptitude_bank(), attempt.question_ids, attempt.answers)
    attempt.finished_at = min(timezone.now(), attempt.deadline)
    attempt.score, attempt.max_score, attempt.categories = (
        result["score"],
        result["max"],
        result["categories"],
    )
    attempt.save(update_fields=["finished_at", "score", "max_score", "categories"])
    audit_record(
        actor=attempt.applicant.user or "system",
        action="registry.aptitude_finished",
        obj=attempt,
        after={"score": attempt.score, "max": attempt.max_score},
    )


class AppealNotAllowed(InvalidInput):
    code = "appeal_not_allowed"
    message = _("You can appeal only a rule that you fail now.")


class AppealOpen(Conflict):
    code = "appeal_open"
    message = _("You already have an appeal about this rule. Wait for its outcome.")


class SameOfficer(PrakerjaError):
    status = 403
    code = "same_officer"
    message = _("A reversal must be approved by a second officer, not by the one who proposed it.")


class AppealWrongState(Conflict):
    code = "appeal_wrong_state"
    message = _("This appeal is no longer waiting for that step.")


def appeal_submit(*, applicant: Applicant, rule_code: str, statement: str, evidence: Any = None) -> Appeal:
    """Contest one failing rule with a statement and, optionally, a document."""
    if rule_code not in rules.RULE_BIT or not applicant.failing_rules & rules.RULE_BIT[rule_code]:
        raise AppealNotAllowed()
    statement = statement.strip()
    if len(statement) < 20:
        raise InvalidInput(
            problems=[
                {
                    "field": "statement",
                    "code": "too_short",
                    "message": str(_("Explain your appeal in at least 20 characters.")),
                }
            ]
        )
    if evidence is not None:
        document_check(evidence)
    try:
        with transaction.atomic():
            appeal = Appeal.objects.create(
                applicant=applicant,
                rule_code=rule_code,
                statement=statement,
                evidence=evidence or "",
                submitted_at=timezone.now(),
            )
            audit_record(
                actor=applicant.user or "system",
                action="registry.appeal_submitted",
                obj=appeal,
                after={"rule": rule_code, "evidence": bool(evidence)},
            )
            _notify_appeal(appeal, _("We received your appeal. A complaints officer will look at it."))
    except IntegrityError:
        raise AppealOpen() from None
    return appeal


def appeal_decide(*, appeal: Appeal, officer: Any, reverse: bool, note: str) -> Appeal:
    """A complaints officer dismisses the appeal, or proposes a reversal for a second officer to approve."""
    with transaction.atomic():
        appeal = Appeal.objects.select_for_update().get(pk=appeal.pk)
        if appeal.status != AppealStatus.SUBMITTED:
            raise AppealWrongState()
        appeal.status = AppealStatus.REVERSAL_PROPOSED if reverse else AppealStatus.DISMISSED
        appeal.decided_by, appeal.decided_at, appeal.decision_note = officer, timezone.now(), note.strip()
        appeal.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        audit_record(
            actor=officer,
            action="registry.appeal_decided",
            obj=appeal,
            after={"status": appeal.status, "note": appeal.decision_note},
        )
        if not reverse:
            _notify_appeal(
                appeal,
                _("Your appeal was dismissed: the rule stands. Reason: %(note)s"),
                note=appeal.decision_note,
            )
    return appeal


def appeal_approve(*, appeal: Appeal, officer: Any, approve: bool) -> Appeal:
    """The second officer confirms or refuses a proposed reversal; a confirmed one waives the rule."""
    with transaction.atomic():
        appeal = Appeal.objects.select_for_update().select_related("applicant").get(pk=appeal.pk)
        if appeal.status != AppealStatus.REVERSAL_PROPOSED:
            raise AppealWrongState()
        if appeal.decided_by_id == officer.pk:
            raise SameOfficer()
        appeal.status = AppealStatus.REVERSED if approve else AppealStatus.REVERSAL_REFUSED
        appeal.approved_by, appeal.approved_at = officer, timezone.now()
        appeal.save(update_fields=["status", "approved_by", "approved_at"])
        audit_record(
            actor=officer,
            action="registry.appeal_approved" if approve else "registry.appeal_refused",
            obj=appeal,
            after={"status": appeal.status},
        )
        if approve:
            applicant = appeal.applicant
            applicant.waived_rules |= rules.RULE_BIT[appeal.rule_code]
            applicant.save(update_fields=["waived_rules"])
            applicants_recheck(indexes=[applicant.nik_index], cause=f"appeal:{appeal.pk}", actor=officer)
            _notify_appeal(appeal, _("Your appeal was accepted: the rule no longer applies to you."))
        else:
            _notify_appeal(appeal, _("Your appeal was not accepted after a second review: the rule stands."))
    return appeal


def _notify_appeal(appeal: Appeal, message: Any, **params: Any) -> None:
    applicant = appeal.applicant
    if applicant.email:
        body = str(message) % params if params else str(message)
        notify(
            channel=Channel.EMAIL,
            recipient=applicant.email,
            subject=str(_("Your Prakerja appeal")),
            body=body,
        )
