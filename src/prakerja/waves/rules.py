"""Pure rules of waves: quotas that add up, priority tiers, the seed commitment and the draw itself.

The draw is specified in docs/selection.md; `draw` here is the reference implementation in plain Python
(what `prakerja waves verify` runs) and `draw_fast` the same algorithm over numpy arrays (what selection
runs). A test holds the two to the same answers.
"""

import hashlib
import re
from collections import defaultdict
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from django.utils.translation import gettext_lazy as _

from prakerja.identity.rules import Problem

ALGORITHM = "prakerja-draw-1"
MASK64 = (1 << 64) - 1
SEED_PATTERN = re.compile(r"^[0-9a-f]{64}$")
PRIORITY_KEYS = ("employment", "regions", "disability", "rural")
EMPLOYMENT_STATUSES = ("unemployed", "laid_off", "worker", "micro_entrepreneur")
AGE_BANDS = ((18, 24), (25, 34), (35, 44), (45, 54), (55, 200))


# --- quotas -------------------------------------------------------------------------------------------


def quota_problems(total: int, quotas: Mapping[str, int], known_regions: Container[str]) -> list[Problem]:
    """Why quotas per province (2-digit codes) and per regency (4-digit) do not fit the total."""
    problems: list[Problem] = []
    by_province = {code: n for code, n in quotas.items() if len(code) == 2}
    by_regency = {code: n for code, n in quotas.items() if len(code) == 4 and code in known_regions}
    for code, n in quotas.items():
        if len(code) not in (2, 4) or code not in known_regions:
            problems.append(
                Problem("quotas:unknown_region", _("Unknown province or regency %(code)s."), {"code": code})
            )
        elif n < 0:
            problems.append(
                Problem("quotas:negative", _("The quota of %(code)s is negative."), {"code": code})
            )
    if total <= 0:
        problems.append(Problem("total_quota:not_positive", _("The total quota must be more than zero."), {}))
    if sum(by_province.values()) != total:
        problems.append(
            Problem(
                "quotas:sum",
                _("The province quotas add up to %(sum)d, not to the total quota %(total)d."),
                {"sum": sum(by_province.values()), "total": total},
            )
        )
    regency_sums: dict[str, int] = defaultdict(int)
    for code, n in by_regency.items():
        regency_sums[code[:2]] += n
    for province, n in sorted(regency_sums.items()):
        if province not in by_province:
            problems.append(
                Problem(
                    "quotas:regency_without_province",
                    _("Province %(code)s has regency quotas but no quota of its own."),
                    {"code": province},
                )
            )
        elif n != by_province[province]:
            problems.append(
                Problem(
                    "quotas:regency_sum",
                    _("The regency quotas of province %(code)s add up to %(sum)d, not to its %(quota)d."),
                    {"code": province, "sum": n, "quota": by_province[province]},
                )
            )
    return problems


def cells(quotas: Mapping[str, int]) -> dict[str, int]:
    """The quota cells of the draw: each regency with a quota, and each province without regency quotas."""
    split = {code[:2] for code in quotas if len(code) == 4}
    return {code: n for code, n in quotas.items() if len(code) == 4 or code not in split}


def cell_of(cell_codes: Iterable[str], *, province_code: str, regency_code: str) -> str | None:
    codes = set(cell_codes)
    if regency_code in codes:
        return regency_code
    return province_code if province_code in codes else None


# --- priority -----------------------------------------------------------------------------------------


def priority_problems(priority: Mapping[str, Any], known_regions: Container[str]) -> list[Problem]:
    problems = [
        Problem("priority:unknown", _("Unknown priority criterion %(key)s."), {"key": key})
        for key in priority
        if key not in PRIORITY_KEYS
    ]
    for key in ("employment", "regions"):
        value = priority.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(
                Problem(f"priority:{key}", _("Priority %(key)s must be a list of codes."), {"key": key})
            )
    regions, employment = priority.get("regions", []), priority.get("employment", [])
    for code in regions if isinstance(regions, list) else []:
        if len(str(code)) not in (2, 4) or code not in known_regions:
            problems.append(
                Problem(
                    "priority:unknown_region",
                    _("Unknown priority province or regency %(code)s."),
                    {"code": code},
                )
            )
    for code in employment if isinstance(employment, list) else []:
        if code not in EMPLOYMENT_STATUSES:
            problems.append(
                Problem(
                    "priority:unknown_employment", _("Unknown employment status %(code)s."), {"code": code}
                )
            )
    return problems


def tier(
    priority: Mapping[str, Any],
    *,
    employment_status: str,
    province_code: str,
    regency_code: str,
    disability: bool,
    rural: bool,
) -> int:
    """How many of the wave's priority criteria the applicant does not meet: tier 0 is drawn first."""
    missed = 0
    if "employment" in priority:
        missed += employment_status not in priority["employment"]
    if "regions" in priority:
        missed += province_code not in priority["regions"] and regency_code not in priority["regions"]
    if priority.get("disability"):
        missed += not disability
    if priority.get("rural"):
        missed += not rural
    return missed


# --- the seed -----------------------------------------------------------------------------------------


def seed_problems(seed: str) -> list[Problem]:
    if SEED_PATTERN.match(seed):
        return []
    return [Problem("seed:format", _("A seed is 64 lowercase hexadecimal characters (32 bytes)."), {})]


def commitment(seed: str) -> str:
    """What the PMO publishes before the close: SHA-256 of the seed's 64 hex characters as ASCII."""
    return hashlib.sha256(seed.encode("ascii")).hexdigest()


def draw_keys(seed: str) -> tuple[int, int]:
    """The two 64-bit keys of the draw: the first 16 bytes of SHA-256 over the seed's 32 bytes."""
    digest = hashlib.sha256(bytes.fromhex(seed)).digest()
    return int.from_bytes(digest[:8], "big"), int.from_bytes(digest[8:16], "big")


# --- the draw -----------------------------------------------------------------------------------------


def mix64(z: int) -> int:
    """SplitMix64's finaliser: a bijection of 64-bit integers that scatters every input bit."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def lottery_number(pseudonym: str, keys: tuple[int, int]) -> int:
    """The keyed pseudo-random number of one pseudonym (a UUID) in this draw."""
    value = int(pseudonym.replace("-", ""), 16)
    high, low = value >> 64, value & MASK64
    return mix64(mix64(high ^ keys[0]) ^ low ^ keys[1])


@dataclass(frozen=True)
class Entrant:
    """One line of the published draw inputs; `family` is set only where the family limit can bind."""

    pseudonym: str
    cell: str
    tier: int
    family: str = ""
    allowance: int = 0  # places the family may still take, when `family` is set


@dataclass(frozen=True)
class Placed:
    pseudonym: str
    cell: str
    position: int  # 1-based place in the cell's order
    selected: bool


def draw(entrants: Iterable[Entrant], quotas: Mapping[str, int], seed: str) -> list[Placed]:
    """Each cell ordered by tier, then lottery number; the first `quota` selected, skipping anyone whose
    family has no place left; cells in ascending code order (families can span cells)."""
    keys = draw_keys(seed)
    by_cell: dict[str, list[Entrant]] = defaultdict(list)
    for entrant in entrants:
        by_cell[entrant.cell].append(entrant)
    allowance = {e.family: e.allowance for cell in by_cell.values() for e in cell if e.family}
    placed: list[Placed] = []
    for cell in sorted(by_cell):
        ordered = sorted(
            by_cell[cell], key=lambda e: (e.tier, lottery_number(e.pseudonym, keys), e.pseudonym)
        )
        free = quotas.get(cell, 0)
        for position, entrant in enumerate(ordered, start=1):
            chosen = free > 0 and (not entrant.family or allowance[entrant.family] > 0)
            if chosen:
                free -= 1
                if entrant.family:
                    allowance[entrant.family] -= 1
            placed.append(Placed(entrant.pseudonym, cell, position, chosen))
    return placed


def _mix64_array(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def lottery_numbers(high: np.ndarray, low: np.ndarray, keys: tuple[int, int]) -> np.ndarray:
    """`lottery_number` over arrays of the pseudonyms' high and low 64-bit halves."""
    with np.errstate(over="ignore"):
        return _mix64_array(_mix64_array(high ^ np.uint64(keys[0])) ^ low ^ np.uint64(keys[1]))


def pseudonym_halves(pseudonyms: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    raw = np.frombuffer(b"".join(bytes.fromhex(p.replace("-", "")) for p in pseudonyms), dtype=">u8")
    pairs = raw.reshape(-1, 2).astype(np.uint64)
    return pairs[:, 0].copy(), pairs[:, 1].copy()


def draw_fast(
    *,
    cells: np.ndarray,
    tiers: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    quotas: Mapping[str, int],
    seed: str,
    families: Mapping[int, tuple[str, int]] | None = None,
    codes: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The draw over arrays (cell codes, tiers, pseudonym halves): the order of entrants (indexes into the
    arrays, cell by cell) and which of them are selected. `families` maps an entrant's index to its
    (family, allowance) where the family limit can bind; those cells are walked one by one. With `codes`
    (the cell codes in ascending order), `cells` holds each entrant's index into them instead of a code."""
    if len(cells) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    numbers = lottery_numbers(high, low, draw_keys(seed))
    if codes is None:
        code_array, cell_ids = np.unique(cells, return_inverse=True)  # codes sorted as strings, as in `draw`
    else:
        assert list(codes) == sorted(codes), "cell codes must be in ascending order"
        code_array, cell_ids = np.array(codes), cells
    # Sort by lottery number once, then stably by (cell, tier): one 64-bit sort and one radix sort of
    # small integers, rather than a five-key lexsort. Equal numbers (all but impossible) fall back to it.
    by_number = np.argsort(numbers, kind="stable")
    ranked = numbers[by_number]
    if len(ranked) > 1 and bool(np.any(ranked[1:] == ranked[:-1])):
        by_number = np.lexsort((low, high, numbers))
    group = cell_ids.astype(np.int64) * (int(tiers.max()) + 1) + tiers.astype(np.int64)
    if group.max() < 2**15:
        group = group.astype(np.int16)  # numpy sorts 16-bit integers stably by radix, in linear time
    order = by_number[np.argsort(group[by_number], kind="stable")]
    sorted_ids = cell_ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    ends = np.r_[starts[1:], len(order)]
    sorted_cells = code_array[sorted_ids[starts]]
    selected = np.zeros(len(order), dtype=bool)
    family_cells = (
        set(code_array[np.unique(cell_ids[np.fromiter(families, dtype=np.int64)])].tolist())
        if families
        else set()
    )
    allowance = {family: left for family, left in (families or {}).values()}
    for start, end, cell in zip(starts.tolist(), ends.tolist(), sorted_cells.tolist(), strict=True):
        free = quotas.get(cell, 0)
        if cell not in family_cells:
            selected[start : start + min(free, end - start)] = True
            continue
        for slot in range(start, end):
            if free == 0:
                break
            member = (families or {}).get(int(order[slot]))
            if member and allowance[member[0]] <= 0:
                continue
            selected[slot] = True
            free -= 1
            if member:
                allowance[member[0]] -= 1
    return order, selected


# --- cards and reports --------------------------------------------------------------------------------


def luhn_digit(digits: str) -> str:
    total = 0
    for position, char in enumerate(reversed(digits)):
        n = int(char)
        if position % 2 == 0:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return str((10 - total % 10) % 10)


def card_number(wave: int, serial: int) -> str:
    """16 digits: 5, the wave in 3 digits, the serial in 11, and a Luhn check digit."""
    body = f"5{wave:03d}{serial:011d}"
    return body + luhn_digit(body)


def card_number_valid(number: str) -> bool:
    return len(number) == 16 and number.isdigit() and luhn_digit(number[:-1]) == number[-1]


def age_band(born: date, on: date) -> str:
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    for low, high in AGE_BANDS:
        if low <= age <= high:
            return f"{low}+" if high >= 200 else f"{low}-{high}"
    return f"<{AGE_BANDS[0][0]}"
