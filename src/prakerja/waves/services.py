"""Wave writes: create, open, join, commit the seed, close, draw, announce, issue and revoke cards."""

import csv
import hashlib
import io
import json
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from prakerja.core.audit import audit_record, rows_digest
from prakerja.core.errors import Conflict, InvalidInput, NotFound, invalid
from prakerja.core.models import Channel, OutboxMessage
from prakerja.core.money import format_rupiah
from prakerja.identity.rules import Problem
from prakerja.ledger.services import account_open, entry_post
from prakerja.regions.selectors import names_above_villages
from prakerja.registry import rules as registry_rules
from prakerja.registry.models import Applicant
from prakerja.registry.services import applicants_recheck, exclusion_list_extend, ruleset_ensure
from prakerja.waves import rules
from prakerja.waves.models import Card, CardStatus, Entry, EntryStatus, Quota, Scheme, Wave, WaveStatus

BATCH = 5_000
BUDGET_ACCOUNT = "state:budget"
FUND_ACCOUNT = "programme:fund"


class WaveInvalid(InvalidInput):
    code = "wave_invalid"
    message = _("The wave cannot be saved: %(reasons)s")


class WaveExists(Conflict):
    code = "wave_exists"
    message = _("Wave %(number)d already exists.")


class WaveOverlap(Conflict):
    code = "wave_overlap"
    message = _("The registration window overlaps wave %(number)d; waves follow one another.")


class WaveWrongState(Conflict):
    code = "wave_wrong_state"
    message = _("Wave %(number)d is %(status)s; this step needs it %(needed)s.")


class Unannounced(Conflict):
    code = "wave_unannounced"
    message = _(
        "Wave %(number)d is not announced yet: its entrants hear the result before the next wave opens."
    )


class NotJoinable(Conflict):
    code = "not_joinable"
    message = _("You cannot join this wave: %(reason)s")


class SeedMismatch(InvalidInput):
    code = "seed_mismatch"
    message = _("The revealed seed does not match the commitment published for wave %(number)d.")


def _invalid(problems: list[Problem]) -> WaveInvalid:
    return invalid(WaveInvalid, problems)


def _require(wave: Wave, *statuses: str) -> None:
    if wave.status not in statuses:
        raise WaveWrongState(
            number=wave.number,
            status=WaveStatus(wave.status).label,
            needed=" / ".join(str(WaveStatus(s).label) for s in statuses),
        )


def _locked(wave: Wave) -> Wave:
    return Wave.objects.select_for_update().get(pk=wave.pk)


def wave_create(
    *,
    number: int,
    name: str,
    scheme: Scheme,
    opens_at: datetime,
    closes_at: datetime,
    total_quota: int,
    quotas: Mapping[str, int],
    priority: Mapping[str, Any] | None = None,
    actor: Any,
) -> Wave:
    """A draft wave with quotas per province (and optionally per regency) that add up to the total."""
    priority = dict(priority or {})
    if isinstance(priority.get("regions"), list):
        priority["regions"] = [str(code).replace(".", "") for code in priority["regions"]]
    quotas = {code.replace(".", ""): n for code, n in quotas.items()}
    known = names_above_villages()
    problems = rules.quota_problems(total_quota, quotas, known)
    problems += rules.priority_problems(priority, known)
    if closes_at <= opens_at:
        problems.append(Problem("closes_at:before_opening", _("The window must close after it opens."), {}))
    if closes_at <= timezone.now():
        problems.append(Problem("closes_at:past", _("The registration window is already over."), {}))
    if problems:
        raise _invalid(problems)
    with transaction.atomic():
        if Wave.objects.filter(number=number).exists():
            raise WaveExists(number=number)
        overlapping = Wave.objects.filter(opens_at__lt=closes_at, closes_at__gt=opens_at).first()
        if overlapping:
            raise WaveOverlap(number=overlapping.number)
        wave = Wave.objects.create(
            number=number,
            name=name,
            scheme=scheme,
            opens_at=opens_at,
            closes_at=closes_at,
            total_quota=total_quota,
            priority=priority,
            created_by=actor if hasattr(actor, "pk") else None,
        )
        Quota.objects.bulk_create(
            Quota(wave=wave, region_code=c, places=n) for c, n in sorted(quotas.items())
        )
        audit_record(
            actor=actor,
            action="waves.created",
            obj=wave,
            after={"scheme": scheme.code, "total_quota": total_quota, "quotas": quotas, "priority": priority},
        )
    return wave


def _funds_ready() -> None:
    account_open(code=BUDGET_ACCOUNT, name="State budget (APBN) appropriations", allow_negative=True)
    account_open(code=FUND_ACCOUNT, name="Programme fund")


def wave_open(*, wave: Wave, actor: Any) -> int:
    """Open the wave for joining, fund its benefits (balances, incentives), carry over earlier waiting lists.

    Returns how many entries were carried over."""
    with transaction.atomic():
        wave = _locked(wave)
        _require(wave, WaveStatus.DRAFT)
        if wave.closes_at <= timezone.now():
            raise _invalid([Problem("closes_at:past", _("The registration window is already over."), {})])
        other = Wave.objects.filter(status=WaveStatus.OPEN).exclude(pk=wave.pk).first()
        if other:
            raise WaveOverlap(number=other.number)
        unannounced = Wave.objects.filter(status__in=[WaveStatus.CLOSED, WaveStatus.SELECTED]).first()
        if unannounced:
            raise Unannounced(number=unannounced.number)
        _funds_ready()
        entry_post(
            postings=[
                (BUDGET_ACCOUNT, -wave.total_quota * wave.scheme.total_per_recipient),
                (FUND_ACCOUNT, wave.total_quota * wave.scheme.total_per_recipient),
            ],
            memo=f"Training balances and incentives of wave {wave.number}",
            actor=actor,
            idempotency_key=f"wave:{wave.number}:appropriation",
        )
        wave.status, wave.opened_at = WaveStatus.OPEN, timezone.now()
        wave.save(update_fields=["status", "opened_at"])
        carried = _carry_over(wave)
        audit_record(actor=actor, action="waves.opened", obj=wave, after={"carried_over": carried})
    return carried


def _carry_over(wave: Wave) -> int:
    """Entries left on the waiting lists of earlier waves join this one, if still eligible."""
    cell_codes = list(wave.quotas.values_list("region_code", flat=True))
    waiting = Entry.objects.filter(
        wave__status=WaveStatus.ANNOUNCED,
        status=EntryStatus.ENTERED,
        applicant__eligible=True,
        applicant__card__isnull=True,
    ).values_list("pk", "applicant_id", "applicant__province_code", "applicant__regency_code")
    now, carried = timezone.now(), 0
    batch: list[tuple[int, int, str]] = []

    def flush() -> None:
        Entry.objects.bulk_create(
            Entry(wave=wave, applicant_id=a, cell=c, joined_at=now, carried_from_id=pk) for pk, a, c in batch
        )
        Entry.objects.filter(pk__in=[pk for pk, _a, _c in batch]).update(status=EntryStatus.CARRIED_OVER)
        batch.clear()

    for pk, applicant_id, province, regency in waiting.iterator(chunk_size=BATCH):
        cell = rules.cell_of(cell_codes, province_code=province, regency_code=regency)
        if cell is None:
            continue
        batch.append((pk, applicant_id, cell))
        carried += 1
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    return carried


def wave_join(*, wave: Wave, applicant: Applicant) -> Entry:
    """An eligible applicant who never held a card enters the open wave's draw in their region's cell."""
    now = timezone.now()
    wave = Wave.objects.get(pk=wave.pk)
    if wave.status != WaveStatus.OPEN or not wave.opens_at <= now < wave.closes_at:
        raise NotJoinable(reason=_("the wave is not open for joining."))
    if not applicant.eligible:
        raise NotJoinable(reason=_("you are not eligible; your registration page says why."))
    if Card.objects.filter(applicant=applicant).exists():
        raise NotJoinable(reason=_("the programme is received only once."))
    if Entry.objects.filter(wave=wave, applicant=applicant).exists():
        raise NotJoinable(reason=_("you have already joined this wave."))
    if Entry.objects.filter(
        applicant=applicant, status=EntryStatus.ENTERED, wave__status__in=[WaveStatus.OPEN, WaveStatus.CLOSED]
    ).exists():
        raise NotJoinable(reason=_("you are already in another wave's draw."))
    cell_codes = wave.quotas.filter(places__gt=0).values_list("region_code", flat=True)
    cell = rules.cell_of(
        cell_codes, province_code=applicant.province_code, regency_code=applicant.regency_code
    )
    if cell is None:
        raise NotJoinable(reason=_("this wave has no places for your region."))
    with transaction.atomic():
        entry = Entry.objects.create(wave=wave, applicant=applicant, cell=cell, joined_at=now)
        audit_record(actor=applicant.user or "system", action="waves.joined", obj=entry)
    return entry


def wave_join_many(*, wave: Wave, applicants: QuerySet[Applicant], actor: Any) -> int:
    """Enter, set-based, every applicant of the query who may join (assisted joining by local agents, the
    demo): eligible, never held a card, in no other wave's draw, with a cell in this wave."""
    wave = Wave.objects.get(pk=wave.pk)
    if wave.status != WaveStatus.OPEN:
        raise NotJoinable(reason=_("the wave is not open for joining."))
    cell_codes = list(wave.quotas.filter(places__gt=0).values_list("region_code", flat=True))
    busy = Entry.objects.filter(
        status=EntryStatus.ENTERED, wave__status__in=[WaveStatus.OPEN, WaveStatus.CLOSED]
    ).values("applicant_id")
    candidates = (
        applicants.filter(eligible=True, card__isnull=True)
        .exclude(pk__in=busy)
        .order_by("pk")
        .values_list("pk", "province_code", "regency_code")
    )
    now, joined = timezone.now(), 0
    rows = candidates.iterator(chunk_size=BATCH)
    while batch := list(islice(rows, BATCH)):
        entries = []
        for pk, province, regency in batch:
            cell = rules.cell_of(cell_codes, province_code=province, regency_code=regency)
            if cell is not None:
                entries.append(Entry(wave=wave, applicant_id=pk, cell=cell, joined_at=now))
        with transaction.atomic():
            Entry.objects.bulk_create(entries)
            audit_record(
                actor=actor,
                action="waves.joined_batch",
                obj=wave,
                after={"entries": len(entries), "digest": rows_digest(e.applicant_id for e in entries)},
            )
        joined += len(entries)
    return joined


def seed_commit(*, wave: Wave, commitment: str, actor: Any) -> Wave:
    """Publish SHA-256 of the secret seed, once, before the wave closes."""
    commitment = commitment.strip().lower()
    if not rules.SEED_PATTERN.match(commitment):
        raise _invalid([Problem("commitment:format", _("A commitment is 64 hexadecimal characters."), {})])
    with transaction.atomic():
        wave = _locked(wave)
        _require(wave, WaveStatus.DRAFT, WaveStatus.OPEN)
        if wave.seed_commitment:
            raise Conflict(_("The seed of wave %(number)d is already committed."), number=wave.number)
        wave.seed_commitment, wave.committed_at = commitment, timezone.now()
        wave.save(update_fields=["seed_commitment", "committed_at"])
        audit_record(actor=actor, action="waves.seed_committed", obj=wave, after={"commitment": commitment})
    return wave


@dataclass(frozen=True)
class CloseResult:
    entrants: int
    rechecked: int
    excluded: int


def wave_close(*, wave: Wave, actor: Any) -> CloseResult:
    """Stop joining, decide eligibility again under the rule set in force, and set aside who fails it."""
    with transaction.atomic():
        wave = _locked(wave)
        _require(wave, WaveStatus.OPEN)
        if not wave.seed_commitment:
            raise Conflict(_("Commit to a seed before closing wave %(number)d."), number=wave.number)
        # Closing early ends the window now, so the next wave may open at once.
        wave.status, wave.closed_at = WaveStatus.CLOSED, timezone.now()
        wave.closes_at = min(wave.closes_at, wave.closed_at)
        wave.save(update_fields=["status", "closed_at", "closes_at"])
    ruleset = ruleset_ensure()
    entrants = Entry.objects.filter(wave=wave, status=EntryStatus.ENTERED)
    stale = (
        entrants.exclude(applicant__ruleset=ruleset) if ruleset.params.get("max_age") is None else entrants
    )
    result = applicants_recheck(
        indexes=stale.values_list("applicant__nik_index", flat=True),
        cause=f"wave_close:{wave.number}",
        actor=actor,
    )
    with transaction.atomic():
        excluded = Entry.objects.filter(
            pk__in=entrants.filter(applicant__eligible=False).values("pk")
        ).update(status=EntryStatus.EXCLUDED)
        wave.ruleset = ruleset
        wave.save(update_fields=["ruleset"])
        counted = Entry.objects.filter(wave=wave).exclude(status=EntryStatus.CARRIED_OVER).count()
        audit_record(
            actor=actor,
            action="waves.closed",
            obj=wave,
            after={"ruleset": ruleset.version, "entrants": counted, "excluded": excluded},
        )
    return CloseResult(entrants=counted, rechecked=result.checked, excluded=excluded)


def _tier_expression(priority: Mapping[str, Any]) -> Any:
    """`rules.tier` as a database expression, so tiers are computed where the rows are."""
    missed: Any = Value(0)
    conditions = []
    if "employment" in priority:
        conditions.append(Q(applicant__employment_status__in=priority["employment"]))
    if "regions" in priority:
        conditions.append(
            Q(applicant__province_code__in=priority["regions"])
            | Q(applicant__regency_code__in=priority["regions"])
        )
    if priority.get("disability"):
        conditions.append(Q(applicant__disability=True))
    if priority.get("rural"):
        conditions.append(Q(applicant__rural=True))
    for condition in conditions:
        missed = missed + Case(When(condition, then=Value(0)), default=Value(1), output_field=IntegerField())
    return missed


@dataclass
class DrawInputs:
    """What the draw runs on, as published: one row per entrant, and the families where the limit binds."""

    entry_ids: np.ndarray
    pseudonyms: list[str]
    cells: np.ndarray
    codes: list[str]  # the cell codes in ascending order
    cell_ids: np.ndarray  # each entrant's index into `codes`
    tiers: np.ndarray
    families: dict[int, tuple[str, int]]  # entrant index: (family, places the family may still take)


def draw_inputs(wave: Wave, seed: str) -> DrawInputs:
    """The entrants of a closed wave with their cell and tier, and the families that can hit the KK limit,
    in the published order: by cell, then pseudonym."""
    query = (
        Entry.objects.filter(wave=wave, status=EntryStatus.ENTERED)
        .annotate(tier=_tier_expression(wave.priority))
        .order_by()
        .values_list("pk", "applicant__pseudonym", "cell", "tier", "applicant__kk_index")
    )
    # Read raw rows (no model layer per row) and sort in numpy rather than make the database sort them.
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if connection.vendor == "postgresql":
        raw = [(pk, str(pseudonym), cell, tier, kk_index) for pk, pseudonym, cell, tier, kk_index in rows]
    else:  # SQLite keeps UUIDs as 32 hex digits
        raw = [
            (pk, str(uuid.UUID(pseudonym)), cell, tier, kk_index)
            for pk, pseudonym, cell, tier, kk_index in rows
        ]
    del rows
    raw.sort(key=lambda row: (row[2], row[1]))
    ids = [row[0] for row in raw]
    pseudonyms = [row[1] for row in raw]
    cells = [row[2] for row in raw]
    tiers = [row[3] for row in raw]
    kk = [row[4] for row in raw]
    del raw
    assert wave.ruleset is not None
    families = _binding_families(wave, kk, seed, wave.ruleset.params["max_per_kk"])
    codes = sorted(set(cells))
    position = {code: i for i, code in enumerate(codes)}
    return DrawInputs(
        entry_ids=np.array(ids, dtype=np.int64),
        pseudonyms=pseudonyms,
        cells=np.array(cells, dtype="U4"),
        codes=codes,
        cell_ids=np.fromiter((position[c] for c in cells), dtype=np.int32, count=len(cells)),
        tiers=np.array(tiers, dtype=np.int16),
        families=families,
    )


def _binding_families(wave: Wave, kk: list[str], seed: str, max_per_kk: int) -> dict[int, tuple[str, int]]:
    """Entrants whose family (KK) has more entrants than places left; others can never hit the limit.

    The places a family has taken are counted from the cards side (families with a card holder), so no
    query carries millions of KK indexes."""
    counts: dict[str, int] = defaultdict(int)
    for kk_index in kk:
        counts[kk_index] += 1
    recipients = dict(
        Card.objects.values("applicant__kk_index")
        .annotate(n=Count("pk"))
        .values_list("applicant__kk_index", "n")
    )
    left = {
        k: max(max_per_kk - recipients.get(k, 0), 0) for k, n in counts.items() if n > 1 or k in recipients
    }
    binding = {k for k, places in left.items() if counts[k] > places}
    # A family's published name: not linkable to the KK, nor across waves (it depends on the seed).
    names = {k: hashlib.sha256(f"{seed}:{k}".encode()).hexdigest()[:16] for k in binding}
    return {i: (names[k], left[k]) for i, k in enumerate(kk) if k in binding}


def _draw_dir() -> Path:
    folder = Path(settings.MEDIA_ROOT) / "draws"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def draw_files(wave: Wave) -> tuple[Path, Path]:
    """Where the published inputs (CSV) and manifest (JSON) of a wave's draw are kept."""
    folder = _draw_dir()
    return folder / f"wave-{wave.number}-inputs.csv", folder / f"wave-{wave.number}-draw.json"


def _inputs_csv(inputs: DrawInputs) -> bytes:
    out = io.StringIO()
    out.write("pseudonym,cell,tier,family,allowance\n")
    families = inputs.families
    for i, (pseudonym, cell, tier) in enumerate(
        zip(inputs.pseudonyms, inputs.cells.tolist(), inputs.tiers.tolist(), strict=True)
    ):
        family, left = families.get(i, ("", ""))
        out.write(f"{pseudonym},{cell},{tier},{family},{left}\n")
    return out.getvalue().encode("ascii")


@dataclass(frozen=True)
class SelectResult:
    entrants: int
    selected: int
    seconds_draw: float


def wave_select(*, wave: Wave, seed: str, actor: Any) -> SelectResult:
    """Reveal the seed, draw every cell, store who is selected and publish the inputs and the result."""
    seed = seed.strip().lower()
    if problems := rules.seed_problems(seed):
        raise _invalid(problems)
    wave = Wave.objects.get(pk=wave.pk)
    _require(wave, WaveStatus.CLOSED)
    if rules.commitment(seed) != wave.seed_commitment:
        raise SeedMismatch(number=wave.number)
    inputs = draw_inputs(wave, seed)
    quotas = rules.cells(dict(wave.quotas.values_list("region_code", "places")))
    started = time.perf_counter()
    high, low = rules.pseudonym_halves(inputs.pseudonyms)
    order, selected = rules.draw_fast(
        cells=inputs.cell_ids,
        codes=inputs.codes,
        tiers=inputs.tiers,
        high=high,
        low=low,
        quotas=quotas,
        seed=seed,
        families=inputs.families,
    )
    seconds = time.perf_counter() - started
    chosen = order[selected]
    positions = _positions(inputs.cell_ids, order)
    published = _inputs_csv(inputs)
    by_cell: dict[str, list[str]] = defaultdict(list)
    for i in chosen.tolist():
        by_cell[str(inputs.cells[i])].append(inputs.pseudonyms[i])
    manifest = {
        "algorithm": rules.ALGORITHM,
        "wave": wave.number,
        "commitment": wave.seed_commitment,
        "seed": seed,
        "quotas": quotas,
        "inputs_sha256": hashlib.sha256(published).hexdigest(),
        "entrants": len(inputs.pseudonyms),
        "selected": dict(sorted(by_cell.items())),
    }
    inputs_path, manifest_path = draw_files(wave)
    with transaction.atomic():
        wave = _locked(wave)
        _require(wave, WaveStatus.CLOSED)
        _store_selection(inputs.entry_ids[chosen].tolist(), positions[chosen].tolist())
        wave.status, wave.seed, wave.selected_at = WaveStatus.SELECTED, seed, timezone.now()
        wave.draw_digest = hashlib.sha256(published).hexdigest()
        wave.save(update_fields=["status", "seed", "selected_at", "draw_digest"])
        audit_record(
            actor=actor,
            action="waves.selected",
            obj=wave,
            after={
                "seed": seed,
                "entrants": len(inputs.pseudonyms),
                "selected": int(selected.sum()),
                "inputs_sha256": manifest["inputs_sha256"],
                "selected_digest": rows_digest(sorted(int(inputs.entry_ids[i]) for i in chosen.tolist())),
            },
        )
        inputs_path.write_bytes(published)
        manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return SelectResult(entrants=len(inputs.pseudonyms), selected=int(selected.sum()), seconds_draw=seconds)


def _store_selection(ids: list[int], positions: list[int]) -> None:
    """Mark these entries selected at these positions: set-based, not one UPDATE per entry."""
    table = Entry._meta.db_table
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 50_000):
            chunk_ids, chunk_positions = ids[start : start + 50_000], positions[start : start + 50_000]
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"UPDATE {table} SET status = %s, position = v.position "  # noqa: S608
                    "FROM unnest(%s::bigint[], %s::integer[]) AS v(id, position) "
                    f"WHERE {table}.id = v.id",
                    [EntryStatus.SELECTED, chunk_ids, chunk_positions],
                )
            else:
                cursor.executemany(
                    f"UPDATE {table} SET status = %s, position = %s WHERE id = %s",  # noqa: S608
                    [
                        (EntryStatus.SELECTED.value, p, i)
                        for i, p in zip(chunk_ids, chunk_positions, strict=True)
                    ],
                )


def _positions(cells: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Each entrant's 1-based place in its cell's order."""
    positions = np.empty(len(order), dtype=np.int64)
    sorted_cells = cells[order]
    starts = np.r_[True, sorted_cells[1:] != sorted_cells[:-1]]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))
    positions[order] = np.arange(len(order)) - group_start + 1
    return positions


# --- announcement and cards ---------------------------------------------------------------------------


def _issue_cards(
    wave: Wave, entries: list[tuple[int, int]], *, actor: Any, key: str, now: datetime | None = None
) -> list[Card]:
    """Cards for (entry id, applicant id) pairs, each funded with the scheme's balance in one entry."""
    now = now or timezone.now()
    deadline = now + timedelta(days=wave.scheme.purchase_deadline_days)
    cards = [
        Card(
            number=rules.card_number(wave.number, entry_id),
            entry_id=entry_id,
            applicant_id=applicant_id,
            issued_at=now,
            purchase_deadline=deadline,
        )
        for entry_id, applicant_id in entries
    ]
    if not cards:
        return cards
    balance = wave.scheme.training_balance
    Card.objects.bulk_create(cards, batch_size=BATCH)
    # Once in a lifetime: the registry now decides every card holder a former recipient.
    holders = Applicant.objects.filter(pk__in=[a for _e, a in entries])
    cards_of = dict(holders.values_list("nik_index", "kk_index"))
    exclusion_list_extend(
        kind="former_recipient",
        source="prakerja: card holders",
        indexes=cards_of,
        actor=actor,
        cards=cards_of,
    )
    entry_post(
        postings=[(FUND_ACCOUNT, -balance * len(cards)), *((c.account_code, balance) for c in cards)],
        memo=f"Training balances, wave {wave.number}",
        actor=actor,
        idempotency_key=key,
        open_accounts={c.account_code: f"Training balance, card {c.number}" for c in cards},
    )
    return cards


def _message(entry_status: str, wave: Wave, *, card: Card | None, reasons: str) -> tuple[str, str]:
    subject = _("Prakerja wave %(number)d: the result") % {"number": wave.number}
    if entry_status == EntryStatus.SELECTED and card is not None:
        body = _(
            "Congratulations, you are selected in wave %(number)d. Your card number is %(card)s with a "
            "training balance of %(balance)s. Buy your first training before %(deadline)s, or the card "
            "is revoked."
        ) % {
            "number": wave.number,
            "card": card.number,
            "balance": format_rupiah(wave.scheme.training_balance),
            "deadline": timezone.localdate(card.purchase_deadline).isoformat(),
        }
    elif entry_status == EntryStatus.EXCLUDED:
        body = _(
            "You are not selected in wave %(number)d because you were not eligible at its close: "
            "%(reasons)s. If a reason is wrong, you may appeal it."
        ) % {"number": wave.number, "reasons": reasons}
    else:
        body = _(
            "You are not selected in wave %(number)d: the places of your region went to others in the draw. "
            "You stay on the waiting list and are carried over to the next wave."
        ) % {"number": wave.number}
    return str(subject), str(body)


def _queue_messages(wave: Wave, entry_ids: list[int]) -> int:
    """One outbox message per entry, written in one statement; the outbox sender delivers them."""
    # Only the fields a message needs: every encrypted field loaded is a decryption per entrant.
    entries = (
        Entry.objects.filter(pk__in=entry_ids)
        .select_related("applicant__ruleset")
        .only(
            "status",
            "applicant__email",
            "applicant__phone",
            "applicant__failing_rules",
            "applicant__ruleset__params",
        )
    )
    cards = {card.entry_id: card for card in Card.objects.filter(entry_id__in=entry_ids)}
    now, messages = timezone.now(), []
    with translation.override("id"):
        for entry in entries:
            applicant = entry.applicant
            card = cards.get(entry.pk)
            reasons = (
                "; ".join(
                    r.message
                    for r in registry_rules.reasons_from_mask(
                        applicant.failing_rules, applicant.ruleset.params
                    )
                )
                if entry.status == EntryStatus.EXCLUDED
                else ""
            )
            subject, body = _message(entry.status, wave, card=card, reasons=reasons)
            if applicant.email:
                messages.append(
                    OutboxMessage(
                        channel=Channel.EMAIL, recipient=applicant.email, subject=subject, body=body
                    )
                )
            elif applicant.phone:
                messages.append(OutboxMessage(channel=Channel.SMS, recipient=applicant.phone, body=body))
    OutboxMessage.objects.bulk_create(messages, batch_size=BATCH)
    Entry.objects.filter(pk__in=entry_ids).update(announced_at=now)
    return len(messages)


@dataclass(frozen=True)
class AnnounceResult:
    cards: int
    messages: int


def wave_announce(*, wave: Wave, actor: Any) -> AnnounceResult:
    """Issue the cards of those selected and tell every entrant the outcome; safe to run again."""
    wave = Wave.objects.get(pk=wave.pk)
    _require(wave, WaveStatus.SELECTED, WaveStatus.ANNOUNCED)
    cards = messages = 0
    # Both loops walk the wave in id order from where the last batch ended, so no batch re-reads the
    # rows already done; a run cut short resumes where it stopped.
    selected = Entry.objects.filter(wave=wave, status=EntryStatus.SELECTED, card__isnull=True).order_by("pk")
    last = 0
    while batch := list(selected.filter(pk__gt=last).values_list("pk", "applicant_id")[:BATCH]):
        last = batch[-1][0]
        with transaction.atomic():
            issued = _issue_cards(wave, batch, actor=actor, key=f"wave:{wave.number}:cards:{batch[0][0]}")
            cards += len(issued)
    pending = (
        Entry.objects.filter(wave=wave, announced_at__isnull=True)
        .exclude(status=EntryStatus.CARRIED_OVER)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    last = 0
    while ids := list(pending.filter(pk__gt=last)[:BATCH]):
        last = ids[-1]
        with transaction.atomic():
            messages += _queue_messages(wave, ids)
    with transaction.atomic():
        wave = _locked(wave)
        if wave.status != WaveStatus.ANNOUNCED:
            wave.status, wave.announced_at = WaveStatus.ANNOUNCED, timezone.now()
            wave.save(update_fields=["status", "announced_at"])
        audit_record(
            actor=actor, action="waves.announced", obj=wave, after={"cards": cards, "messages": messages}
        )
    return AnnounceResult(cards=cards, messages=messages)


# --- revocation and the waiting list ------------------------------------------------------------------


@dataclass(frozen=True)
class RevokeResult:
    revoked: int
    replaced: int


def cards_revoke_expired(*, actor: Any, now: datetime | None = None) -> RevokeResult:
    """Revoke every active card with no purchase by its deadline: the balance returns to the fund, the
    holder is barred, and each freed place goes to the next on that cell's waiting list."""
    now = now or timezone.now()
    expired = Card.objects.filter(
        status=CardStatus.ACTIVE, first_purchase_at__isnull=True, purchase_deadline__lt=now
    ).select_related("entry__wave", "applicant")
    revoked = replaced = 0
    while batch := list(expired.order_by("pk")[:BATCH]):
        with transaction.atomic():
            replaced += _revoke(batch, actor=actor, now=now)
            revoked += len(batch)
    return RevokeResult(revoked=revoked, replaced=replaced)


def _revoke(cards: list[Card], *, actor: Any, now: datetime) -> int:
    from prakerja.ledger.models import Account

    balances = dict(
        Account.objects.filter(code__in=[c.account_code for c in cards]).values_list("code", "balance")
    )
    returned = [(c.account_code, -balances[c.account_code]) for c in cards if balances.get(c.account_code)]
    if returned:
        entry_post(
            postings=[*returned, (FUND_ACCOUNT, -sum(amount for _code, amount in returned))],
            memo="Balances of revoked cards return to the fund",
            actor=actor,
            idempotency_key=f"revoke:{cards[0].pk}:{cards[-1].pk}:{len(cards)}",
        )
    Card.objects.filter(pk__in=[c.pk for c in cards]).update(status=CardStatus.REVOKED, revoked_at=now)
    Entry.objects.filter(pk__in=[c.entry_id for c in cards]).update(status=EntryStatus.REVOKED)
    exclusion_list_extend(
        kind="blacklist",
        source="prakerja: card revoked, no purchase by the deadline",
        indexes=[c.applicant.nik_index for c in cards],
        actor=actor,
    )
    audit_record(
        actor=actor,
        action="waves.cards_revoked",
        object_type="waves.card",
        after={"cards": len(cards), "digest": rows_digest(sorted(c.pk for c in cards))},
    )
    freed: dict[int, list[str]] = defaultdict(list)
    for card in cards:
        freed[card.entry.wave_id].append(card.entry.cell)
    replaced = 0
    for wave_id, cells in freed.items():
        wave = Wave.objects.select_related("scheme", "ruleset").get(pk=wave_id)
        replaced += _refill(wave, cells, actor=actor, now=now)
    return replaced


def waiting_order(wave: Wave, cells: Iterable[str]) -> dict[str, list[rules.Placed]]:
    """The published draw order of the given cells, read from the published inputs."""
    wanted = set(cells)
    inputs_path, _manifest = draw_files(wave)
    with inputs_path.open(newline="") as handle:
        entrants = [
            rules.Entrant(r["pseudonym"], r["cell"], int(r["tier"]), r["family"], int(r["allowance"] or 0))
            for r in csv.DictReader(handle)
            if r["cell"] in wanted
        ]
    quotas = rules.cells(dict(wave.quotas.values_list("region_code", "places")))
    placed = rules.draw(entrants, quotas, wave.seed)
    by_cell: dict[str, list[rules.Placed]] = defaultdict(list)
    for p in placed:
        by_cell[p.cell].append(p)
    return by_cell


def _refill(wave: Wave, cells: list[str], *, actor: Any, now: datetime) -> int:
    """Select the next waiting entrants, in the published order, for places freed in these cells."""
    if wave.status not in (WaveStatus.SELECTED, WaveStatus.ANNOUNCED):
        return 0
    wanted: dict[str, int] = defaultdict(int)
    for cell in cells:
        wanted[cell] += 1
    orders = waiting_order(wave, wanted)
    waiting = {
        str(pseudonym): pk
        for pseudonym, pk in Entry.objects.filter(
            wave=wave, status=EntryStatus.ENTERED, cell__in=list(wanted), applicant__eligible=True
        ).values_list("applicant__pseudonym", "pk")
    }
    families = dict(Entry.objects.filter(pk__in=waiting.values()).values_list("pk", "applicant__kk_index"))
    assert wave.ruleset is not None
    max_per_kk = wave.ruleset.params["max_per_kk"]
    cards_of: dict[str, int] = defaultdict(int)
    for kk_index in Card.objects.filter(applicant__kk_index__in=set(families.values())).values_list(
        "applicant__kk_index", flat=True
    ):
        cards_of[kk_index] += 1
    chosen: list[tuple[int, int]] = []
    for cell, places in wanted.items():
        for placed in orders.get(cell, []):
            if places == 0:
                break
            entry_id = waiting.get(placed.pseudonym)
            if entry_id is None or placed.selected or cards_of[families[entry_id]] >= max_per_kk:
                continue
            chosen.append((entry_id, placed.position))
            cards_of[families[entry_id]] += 1
            places -= 1
    for entry_id, position in chosen:
        Entry.objects.filter(pk=entry_id).update(status=EntryStatus.SELECTED, position=position)
    pairs = list(Entry.objects.filter(pk__in=[e for e, _p in chosen]).values_list("pk", "applicant_id"))
    if pairs:
        _issue_cards(wave, pairs, actor=actor, key=f"wave:{wave.number}:refill:{pairs[0][0]}", now=now)
        if wave.status == WaveStatus.ANNOUNCED:
            _queue_messages(wave, [pk for pk, _a in pairs])
        audit_record(
            actor=actor,
            action="waves.waiting_list_selected",
            obj=wave,
            after={"entries": sorted(pk for pk, _a in pairs)},
        )
    return len(pairs)


def wave_by_number(number: int) -> Wave:
    wave = Wave.objects.select_related("scheme", "ruleset").filter(number=number).first()
    if wave is None:
        raise NotFound(_("There is no wave %(number)d."), number=number)
    return wave
