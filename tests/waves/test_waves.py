"""A whole wave on a real database: create, open, join, commit, close, draw, verify, announce, revoke."""

import importlib
import json
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from prakerja.core.audit import audit_verify
from prakerja.core.errors import Conflict, InvalidInput
from prakerja.core.models import OutboxMessage
from prakerja.ledger.models import JournalEntry
from prakerja.ledger.selectors import balance, ledger_check
from prakerja.ledger.services import entry_post
from prakerja.registry.models import Applicant
from prakerja.registry.services import exclusion_list_extend
from prakerja.waves import rules
from prakerja.waves.models import (
    Card,
    CardStatus,
    Entry,
    EntryStatus,
    Scheme,
    SchemeInUse,
    Wave,
    WaveStatus,
)
from prakerja.waves.selectors import draw_verify, draw_verify_files, fairness_report, wave_simulate
from prakerja.waves.services import (
    BUDGET_ACCOUNT,
    FUND_ACCOUNT,
    NotJoinable,
    SeedMismatch,
    Unannounced,
    WaveInvalid,
    WaveOverlap,
    cards_revoke_expired,
    draw_files,
    seed_commit,
    waiting_order,
    wave_announce,
    wave_close,
    wave_create,
    wave_join,
    wave_open,
    wave_select,
)

pytestmark = pytest.mark.django_db
SEED = "5e" * 32
QUOTAS = {"31": 20, "32": 40, "3273": 15, "3204": 25}


def _wave(number: int = 1, **overrides):
    now = timezone.now()
    fields = dict(
        number=number,
        name=f"Gelombang {number}",
        scheme=Scheme.objects.get(code="semi-bansos-2020"),
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=3),
        total_quota=60,
        quotas=QUOTAS,
        priority={"employment": ["laid_off"]},
        actor="test",
    )
    fields.update(overrides)
    return wave_create(**fields)


def _drawn(applicants):
    wave = _wave()
    wave_open(wave=wave, actor="test")
    for applicant in applicants:
        if applicant.eligible:
            wave_join(wave=wave, applicant=applicant)
    seed_commit(wave=wave, commitment=rules.commitment(SEED), actor="test")
    wave_close(wave=wave, actor="test")
    wave_select(wave=wave, seed=SEED, actor="test")
    wave.refresh_from_db()
    return wave


def test_quotas_windows_and_overlaps_are_checked() -> None:
    with pytest.raises(WaveInvalid) as caught:
        _wave(quotas={"31": 20, "32": 30, "3273": 15, "9999": 1})
    assert {p["code"] for p in caught.value.problems} == {"sum", "regency_sum", "unknown_region"}
    past = timezone.now() - timedelta(days=10)
    with pytest.raises(WaveInvalid) as caught:
        _wave(opens_at=past, closes_at=past + timedelta(days=2))
    assert [p["code"] for p in caught.value.problems] == ["past"]
    _wave(1)
    with pytest.raises(WaveOverlap):
        _wave(2)


def test_a_whole_wave_is_drawn_fairly_and_can_be_verified(applicants) -> None:
    wave = _drawn(applicants)
    eligible = sum(a.eligible for a in applicants)
    entries = Entry.objects.filter(wave=wave)
    assert entries.count() == eligible
    selected = entries.filter(status=EntryStatus.SELECTED)
    per_cell = {c: selected.filter(cell=c).count() for c in ("31", "3273", "3204")}
    waiting = {c: entries.filter(cell=c, status=EntryStatus.ENTERED).count() for c in per_cell}
    for cell, quota in rules.cells(QUOTAS).items():
        assert per_cell[cell] == quota or waiting[cell] == 0
    # Priority: in no cell does a non-priority entrant get a place while a laid-off one waits.
    for cell in per_cell:
        if entries.filter(cell=cell, status=EntryStatus.ENTERED, applicant__employment_status="laid_off"):
            assert not selected.filter(cell=cell).exclude(applicant__employment_status="laid_off").exists()
    report = draw_verify(wave)
    assert report.ok, report.problems
    assert report.selected == selected.count()
    assert wave.status == WaveStatus.SELECTED and wave.seed == SEED


def test_verification_catches_a_changed_input_file(applicants) -> None:
    wave = _drawn(applicants)
    inputs, manifest = draw_files(wave)
    lines = inputs.read_text().splitlines()
    # Move a tier-1 entrant to tier 0 and fix the digest so that only the selection differs.
    victim = next(i for i, line in enumerate(lines[1:], 1) if line.split(",")[2] == "1")
    parts = lines[victim].split(",")
    lines[victim] = ",".join([parts[0], parts[1], "0", *parts[3:]])
    inputs.write_text("\n".join(lines) + "\n")
    assert not draw_verify(wave).ok
    data = json.loads(manifest.read_text())
    import hashlib

    data["inputs_sha256"] = hashlib.sha256(inputs.read_bytes()).hexdigest()
    manifest.write_text(json.dumps(data))
    offline = draw_verify_files(manifest, inputs)
    assert offline.problems and "another selection" in offline.problems[0]


def test_the_revealed_seed_must_match_the_commitment(applicants) -> None:
    wave = _wave()
    wave_open(wave=wave, actor="test")
    wave_join(wave=wave, applicant=next(a for a in applicants if a.eligible))
    with pytest.raises(Conflict):
        wave_close(wave=wave, actor="test")  # no commitment yet
    seed_commit(wave=wave, commitment=rules.commitment(SEED), actor="test")
    with pytest.raises(Conflict):
        seed_commit(wave=wave, commitment=rules.commitment("00" * 32), actor="test")
    wave_close(wave=wave, actor="test")
    with pytest.raises(SeedMismatch):
        wave_select(wave=wave, seed="00" * 32, actor="test")
    with pytest.raises(InvalidInput):
        wave_select(wave=wave, seed="not-a-seed", actor="test")


def test_joining_is_refused_with_a_reason(applicants) -> None:
    wave = _wave()
    eligible, ineligible = applicants[:2]
    exclusion_list_extend(kind="student", source="test", indexes=[ineligible.nik_index], actor="test")
    ineligible.refresh_from_db()
    with pytest.raises(NotJoinable):
        wave_join(wave=wave, applicant=eligible)  # still a draft
    wave_open(wave=wave, actor="test")
    with pytest.raises(NotJoinable):
        wave_join(wave=wave, applicant=ineligible)
    wave_join(wave=wave, applicant=eligible)
    with pytest.raises(NotJoinable) as caught:
        wave_join(wave=wave, applicant=eligible)
    assert "already joined this wave" in caught.value.in_both_languages()


def test_announcement_issues_funded_cards_and_tells_everyone(applicants) -> None:
    wave = _drawn(applicants)
    appropriated = wave.total_quota * wave.scheme.total_per_recipient
    result = wave_announce(wave=wave, actor="test")
    selected = Entry.objects.filter(wave=wave, status=EntryStatus.SELECTED).count()
    assert result.cards == selected == Card.objects.count()
    card = Card.objects.select_related("applicant").first()
    assert rules.card_number_valid(card.number)
    assert balance(card.account_code) == wave.scheme.training_balance
    assert balance(FUND_ACCOUNT) == appropriated - selected * wave.scheme.training_balance
    assert ledger_check() == []
    assert (
        OutboxMessage.objects.filter(subject="Prakerja gelombang 1: hasil seleksi").count() == result.messages
    )
    assert result.messages == Entry.objects.filter(wave=wave).count()
    assert OutboxMessage.objects.filter(body__contains=card.number).count() == 1
    # Once in a lifetime: a card holder is now a former recipient in the registry.
    card.applicant.refresh_from_db()
    assert not card.applicant.eligible and "former_recipient" in {r.code for r in card.applicant.reasons}
    again = wave_announce(wave=wave, actor="test")
    assert (again.cards, again.messages) == (0, 0)
    assert audit_verify().ok


def test_expired_cards_are_revoked_and_the_places_go_down_the_waiting_list(applicants) -> None:
    wave = _drawn(applicants)
    wave_announce(wave=wave, actor="test")
    cards = list(Card.objects.select_related("entry").order_by("pk"))
    idle = [c for c in cards if c.entry.cell == "3204"][:2]
    Card.objects.exclude(pk__in=[c.pk for c in idle]).update(first_purchase_at=timezone.now())
    fund_before = balance(FUND_ACCOUNT)
    assert cards_revoke_expired(actor="test").revoked == 0  # not yet past the deadline
    later = idle[0].purchase_deadline + timedelta(days=1)
    result = cards_revoke_expired(actor="test", now=later)
    assert (result.revoked, result.replaced) == (2, 2)
    order = [p for p in waiting_order(wave, ["3204"])["3204"] if not p.selected]
    replacements = set(
        str(p)
        for p in Entry.objects.filter(wave=wave, cell="3204", status=EntryStatus.SELECTED, card__isnull=False)
        .exclude(pk__in=[c.entry_id for c in cards])
        .values_list("applicant__pseudonym", flat=True)
    )
    assert replacements == {p.pseudonym for p in order[:2]}
    for card in idle:
        card.refresh_from_db()
        card.applicant.refresh_from_db()
        assert card.status == CardStatus.REVOKED and balance(card.account_code) == 0
        assert "blacklist" in {r.code for r in card.applicant.reasons}
    # Two balances came back and two went out again.
    assert balance(FUND_ACCOUNT) == fund_before
    assert ledger_check() == []
    assert cards_revoke_expired(actor="test", now=later).revoked == 0


def test_the_waiting_list_carries_over_to_the_next_wave(applicants) -> None:
    first = _drawn(applicants)
    now = timezone.now()
    second = _wave(
        2, opens_at=first.closes_at + timedelta(hours=1), closes_at=first.closes_at + timedelta(days=5)
    )
    with pytest.raises(Unannounced):  # wave 1's entrants hear their result first
        wave_open(wave=second, actor="test")
    wave_announce(wave=first, actor="test")
    # Whose family received two cards is no longer eligible (the family limit) and is not carried over.
    unselected = Entry.objects.filter(wave=first, status=EntryStatus.ENTERED).select_related("applicant")
    cards_of = Counter(Card.objects.values_list("applicant__kk_index", flat=True))
    left = [e.applicant for e in unselected if not e.applicant.eligible]
    assert left and all([r.code for r in a.reasons] == ["kk_limit"] for a in left)
    assert {a.pk for a in left} == {e.applicant.pk for e in unselected if cards_of[e.applicant.kk_index] >= 2}
    waiting = len(unselected) - len(left)
    assert wave_open(wave=second, actor="test") == waiting > 0
    assert Entry.objects.filter(wave=first, status=EntryStatus.CARRIED_OVER).count() == waiting
    assert Entry.objects.filter(wave=second, carried_from__isnull=False).count() == waiting
    # Wave 1's fairness report still counts those carried over among the entrants of its draw.
    assert sum(r.entrants for r in fairness_report(first)["sex"]) == Entry.objects.filter(wave=first).count()
    assert now < second.closes_at


def test_priority_regions_are_normalised_and_checked() -> None:
    wave = _wave(priority={"regions": ["32.73"], "employment": ["laid_off"]})
    assert wave.priority["regions"] == ["3273"]
    with pytest.raises(WaveInvalid) as caught:
        _wave(2, priority={"regions": ["99"], "employment": ["retired"]})
    assert {p["code"] for p in caught.value.problems} == {"unknown_region", "unknown_employment"}


def test_a_scheme_used_by_a_wave_cannot_change() -> None:
    wave = _wave()
    wave.scheme.training_balance += 1
    with pytest.raises(SchemeInUse):
        wave.scheme.save()
    unused = Scheme.objects.get(code="normal-2022")
    unused.note = "edited before use"
    unused.save()


def test_the_fairness_report_accounts_for_every_entrant(applicants) -> None:
    wave = _drawn(applicants)
    entrants = Entry.objects.filter(wave=wave).count()
    selected = Entry.objects.filter(wave=wave, status=EntryStatus.SELECTED).count()
    report = fairness_report(wave)
    assert set(report) == {"province", "sex", "rural", "disability", "age_band"}
    for rates in report.values():
        assert sum(r.entrants for r in rates) == entrants
        assert sum(r.selected for r in rates) == selected
    assert {r.group for r in report["province"]} == {"31", "32"}


def test_a_simulation_projects_recipients_and_budget(applicants) -> None:
    scheme = Scheme.objects.get(code="semi-bansos-2020")
    simulation = wave_simulate(scheme=scheme, total_quota=60, quotas=QUOTAS)
    assert simulation.problems == []
    pool = {c.code: c.pool for c in simulation.cells}
    assert pool["3273"] == Applicant.objects.filter(eligible=True, regency_code="3273").count()
    assert all(c.recipients == min(c.quota, c.pool) for c in simulation.cells)
    assert simulation.budget == simulation.recipients * 3_550_000
    assert wave_simulate(scheme=scheme, total_quota=10, quotas=QUOTAS).problems


def test_a_family_with_two_card_holders_gets_no_third_place(applicants) -> None:
    first = _drawn(applicants)
    wave_announce(wave=first, actor="test")
    holders = list(Card.objects.select_related("applicant")[:2])
    waiting = Entry.objects.filter(wave=first, status=EntryStatus.ENTERED).select_related("applicant").first()
    family = holders[0].applicant.kk_index
    Applicant.objects.filter(pk__in=[holders[1].applicant_id, waiting.applicant_id]).update(kk_index=family)
    roomy = {"31": 500, "32": 500, "3273": 250, "3204": 250}  # a place for everyone in every cell
    second = _wave(
        2,
        opens_at=first.closes_at + timedelta(hours=1),
        closes_at=first.closes_at + timedelta(days=5),
        total_quota=1000,
        quotas=roomy,
    )
    wave_open(wave=second, actor="test")
    seed_commit(wave=second, commitment=rules.commitment(SEED), actor="test")
    wave_close(wave=second, actor="test")
    wave_select(wave=second, seed=SEED, actor="test")
    entries = Entry.objects.filter(wave=second)
    assert entries.get(applicant=waiting.applicant).status == EntryStatus.ENTERED
    inputs, _manifest = draw_files(second)
    rows = {row.split(",")[0]: row.split(",") for row in inputs.read_text().splitlines()[1:]}
    family_code, places_left = rows[str(waiting.applicant.pseudonym)][3:]
    assert family_code and places_left == "0"
    # With a place for everyone, only the family limit leaves anyone out: each of them has a family code.
    left_out = entries.filter(status=EntryStatus.ENTERED).values_list("applicant__pseudonym", flat=True)
    assert left_out and all(rows[str(p)][3] for p in left_out)
    second.refresh_from_db()
    assert draw_verify(second).ok


def test_waves_opened_before_incentives_get_them_appropriated_once(db) -> None:
    from django.apps import apps

    migration = importlib.import_module("prakerja.waves.migrations.0004_appropriate_incentives")
    later = timezone.now() + timedelta(days=5)
    legacy, current = _wave(1), _wave(2, opens_at=later, closes_at=later + timedelta(days=3))
    wave_open(wave=current, actor="test")  # appropriates the whole benefit already
    Wave.objects.filter(pk=legacy.pk).update(status=WaveStatus.CLOSED)
    scheme = legacy.scheme
    entry_post(  # what opening a wave used to appropriate: the training balances only
        postings=[
            (BUDGET_ACCOUNT, -legacy.total_quota * scheme.training_balance),
            (FUND_ACCOUNT, legacy.total_quota * scheme.training_balance),
        ],
        memo="Training balances of wave 1",
        actor="test",
        idempotency_key="wave:1:appropriation",
    )
    fund = balance(FUND_ACCOUNT)
    migration.appropriate(apps, None)
    migration.appropriate(apps, None)
    rest = scheme.total_per_recipient - scheme.training_balance
    assert balance(FUND_ACCOUNT) == fund + legacy.total_quota * rest
    assert JournalEntry.objects.filter(idempotency_key__endswith=":appropriation:incentives").count() == 1
    assert ledger_check() == []
