"""The draw's pure rules: the reference draw and the fast draw agree, and the rules around them hold."""

import uuid
from datetime import date

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from prakerja.waves import rules

SEED = "9f" * 32


def _fast(
    entrants: list[rules.Entrant], quotas: dict[str, int], seed: str, *, as_indexes: bool = False
) -> list[tuple[str, str, int, bool]]:
    high, low = rules.pseudonym_halves([e.pseudonym for e in entrants])
    families = {i: (e.family, e.allowance) for i, e in enumerate(entrants) if e.family}
    codes = sorted({e.cell for e in entrants})
    cells = (
        np.array([codes.index(e.cell) for e in entrants], dtype=np.int32)
        if as_indexes
        else np.array([e.cell for e in entrants], dtype="U4")
    )
    order, selected = rules.draw_fast(
        cells=cells,
        codes=codes if as_indexes else None,
        tiers=np.array([e.tier for e in entrants], dtype=np.int16),
        high=high,
        low=low,
        quotas=quotas,
        seed=seed,
        families=families,
    )
    out, position, previous = [], 0, None
    for i, chosen in zip(order.tolist(), selected.tolist(), strict=True):
        position = position + 1 if entrants[i].cell == previous else 1
        previous = entrants[i].cell
        out.append((entrants[i].pseudonym, entrants[i].cell, position, chosen))
    return out


entrant_lists = st.lists(
    st.tuples(
        st.uuids(version=4),
        st.sampled_from(["11", "1101", "1102", "32", "3273"]),
        st.integers(0, 2),
        st.sampled_from(["", "", "", "fam-a", "fam-b"]),
    ),
    max_size=60,
    unique_by=lambda t: t[0],
)


@settings(max_examples=150, deadline=None)
@given(entrant_lists, st.dictionaries(st.sampled_from(["11", "1101", "1102", "32"]), st.integers(0, 8)),
       st.binary(min_size=32, max_size=32))  # fmt: skip
def test_the_fast_draw_is_the_reference_draw(rows, quotas, seed_bytes) -> None:
    allowance = {"fam-a": 1, "fam-b": 0}
    entrants = [rules.Entrant(str(u), cell, tier, fam, allowance.get(fam, 0)) for u, cell, tier, fam in rows]
    seed = seed_bytes.hex()
    reference = [(p.pseudonym, p.cell, p.position, p.selected) for p in rules.draw(entrants, quotas, seed)]
    assert _fast(entrants, quotas, seed) == reference
    assert _fast(entrants, quotas, seed, as_indexes=True) == reference


def test_a_cell_takes_its_quota_in_tier_order_then_lottery_order() -> None:
    entrants = [rules.Entrant(str(uuid.UUID(int=n * 7919 + 1)), "3273", n % 3) for n in range(30)]
    placed = rules.draw(entrants, {"3273": 12}, SEED)
    tiers = {e.pseudonym: e.tier for e in entrants}
    assert sum(p.selected for p in placed) == 12
    assert [tiers[p.pseudonym] for p in placed] == sorted(tiers[p.pseudonym] for p in placed)
    assert all(tiers[p.pseudonym] == 0 for p in placed[:10])  # ten in tier 0, drawn first
    keys = rules.draw_keys(SEED)
    tier0 = [p.pseudonym for p in placed if tiers[p.pseudonym] == 0]
    assert tier0 == sorted(tier0, key=lambda p: rules.lottery_number(p, keys))


def test_another_seed_gives_another_order_and_the_same_seed_the_same() -> None:
    entrants = [rules.Entrant(str(uuid.uuid4()), "31", 0) for _ in range(200)]
    first = [p.pseudonym for p in rules.draw(entrants, {"31": 20}, SEED) if p.selected]
    again = [p.pseudonym for p in rules.draw(list(reversed(entrants)), {"31": 20}, SEED) if p.selected]
    other = [p.pseudonym for p in rules.draw(entrants, {"31": 20}, "01" * 32) if p.selected]
    assert first == again
    assert first != other


def test_a_family_never_takes_more_places_than_it_has_left() -> None:
    family = [rules.Entrant(str(uuid.UUID(int=n)), "31", 0, "fam", 2) for n in range(1, 4)]
    others = [rules.Entrant(str(uuid.UUID(int=1000 + n)), "31", 1) for n in range(5)]
    placed = rules.draw(family + others, {"31": 6}, SEED)
    chosen = [p.pseudonym for p in placed if p.selected]
    assert len(chosen) == 6
    assert sum(p in {e.pseudonym for e in family} for p in chosen) == 2


def test_the_commitment_is_sha256_of_the_seed_text() -> None:
    import hashlib

    assert rules.commitment(SEED) == hashlib.sha256(SEED.encode()).hexdigest()
    assert rules.seed_problems(SEED) == []
    assert rules.seed_problems("AB" * 32) and rules.seed_problems("ab" * 31)


def test_quotas_must_add_up_and_name_real_regions() -> None:
    known = {"31", "32", "3273", "3204"}
    assert rules.quota_problems(30, {"31": 10, "32": 20, "3273": 5, "3204": 15}, known) == []
    codes = {p.code for p in rules.quota_problems(30, {"31": 10, "32": 10, "3273": 5, "99": 1}, known)}
    assert codes == {"quotas:sum", "quotas:regency_sum", "quotas:unknown_region"}
    assert {p.code for p in rules.quota_problems(0, {}, known)} == {"total_quota:not_positive"}
    assert rules.cells({"31": 10, "32": 20, "3273": 5, "3204": 15}) == {"31": 10, "3273": 5, "3204": 15}


def test_tiers_count_the_priority_criteria_missed() -> None:
    priority = {"employment": ["laid_off"], "regions": ["3273"]}
    person = dict(province_code="32", regency_code="3273", disability=False, rural=True)
    assert rules.tier(priority, employment_status="laid_off", **person) == 0
    assert rules.tier(priority, employment_status="worker", **person) == 1
    assert rules.tier(priority, employment_status="worker", **{**person, "regency_code": "3204"}) == 2
    assert rules.tier({}, employment_status="worker", **person) == 0


def test_card_numbers_carry_a_luhn_check_digit() -> None:
    number = rules.card_number(1, 42)
    assert len(number) == 16 and number.startswith("5001")
    assert rules.card_number_valid(number)
    assert not rules.card_number_valid(number[:-1] + str((int(number[-1]) + 1) % 10))


def test_age_bands() -> None:
    assert rules.age_band(date(2000, 6, 1), date(2026, 5, 31)) == "25-34"
    assert rules.age_band(date(1960, 1, 1), date(2026, 1, 1)) == "55+"
