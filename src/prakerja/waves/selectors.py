"""Wave reads: the published draw and its check, fairness reports, simulations, an applicant's waves."""

import csv
import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from django.db.models import Case, CharField, Count, F, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from prakerja.identity.rules import Problem
from prakerja.regions.selectors import names_above_villages
from prakerja.registry.models import Applicant, Sex
from prakerja.waves import rules
from prakerja.waves.models import Entry, EntryStatus, Scheme, Wave, WaveStatus

DRAWN = (EntryStatus.SELECTED, EntryStatus.REVOKED)


@dataclass
class Verification:
    problems: list[str] = field(default_factory=list)
    entrants: int = 0
    selected: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def draw_verify_files(manifest_path: Path, inputs_path: Path) -> Verification:
    """Re-run the draw from the published files alone and compare with the published selection."""
    report = Verification()
    manifest = json.loads(manifest_path.read_text())
    published = inputs_path.read_bytes()
    if manifest.get("algorithm") != rules.ALGORITHM:
        report.problems.append(f"unknown algorithm {manifest.get('algorithm')!r}")
        return report
    if hashlib.sha256(published).hexdigest() != manifest["inputs_sha256"]:
        report.problems.append("the inputs file is not the one the manifest names (SHA-256 differs)")
    if rules.seed_problems(manifest["seed"]) or rules.commitment(manifest["seed"]) != manifest["commitment"]:
        report.problems.append("the revealed seed does not match the published commitment")
        return report
    rows = csv.DictReader(published.decode("ascii").splitlines())
    entrants = [
        rules.Entrant(r["pseudonym"], r["cell"], int(r["tier"]), r["family"], int(r["allowance"] or 0))
        for r in rows
    ]
    selected: dict[str, list[str]] = defaultdict(list)
    for placed in rules.draw(entrants, manifest["quotas"], manifest["seed"]):
        if placed.selected:
            selected[placed.cell].append(placed.pseudonym)
    if dict(selected) != {cell: names for cell, names in manifest["selected"].items() if names}:
        differing = sorted(
            set(selected) ^ set(manifest["selected"])
            | {c for c in selected if selected[c] != manifest["selected"].get(c)}
        )
        report.problems.append(
            f"the draw gives another selection in {len(differing)} cell(s): {differing[:10]}"
        )
    report.entrants, report.selected = len(entrants), sum(len(v) for v in selected.values())
    return report


def draw_verify(wave: Wave) -> Verification:
    """The published files re-run, and checked against the wave's commitment and the stored selection."""
    from prakerja.waves.services import draw_files

    inputs_path, manifest_path = draw_files(wave)
    if wave.status not in (WaveStatus.SELECTED, WaveStatus.ANNOUNCED):
        return Verification(problems=[f"wave {wave.number} has not been drawn yet"])
    if not inputs_path.exists() or not manifest_path.exists():
        return Verification(problems=[f"the published files of wave {wave.number} are missing"])
    report = draw_verify_files(manifest_path, inputs_path)
    manifest = json.loads(manifest_path.read_text())
    if manifest["commitment"] != wave.seed_commitment or manifest["seed"] != wave.seed:
        report.problems.append("the files' seed or commitment is not the wave's")
    if manifest["inputs_sha256"] != wave.draw_digest:
        report.problems.append("the inputs file is not the one recorded at the draw")
    if manifest["quotas"] != rules.cells(dict(wave.quotas.values_list("region_code", "places"))):
        report.problems.append("the published quotas are not the wave's")
    drawn = {
        str(p)
        for p in Entry.objects.filter(wave=wave, status__in=DRAWN).values_list(
            "applicant__pseudonym", flat=True
        )
    }
    announced = {p for names in manifest["selected"].values() for p in names}
    missing = announced - drawn
    if missing:
        report.problems.append(f"{len(missing)} person(s) drawn are not recorded as selected")
    report.selected = len(announced)
    return report


# --- fairness -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    group: str
    label: str
    entrants: int
    selected: int

    @property
    def rate(self) -> float:
        return self.selected / self.entrants if self.entrants else 0.0


def _age_band_expression(on: date) -> Case:
    whens = []
    for low, high in rules.AGE_BANDS:
        youngest_born = date(on.year - low, on.month, min(on.day, 28))
        label = f"{low}+" if high >= 200 else f"{low}-{high}"
        whens.append(When(applicant__birth_date__lte=youngest_born, then=Value(label)))
    return Case(*reversed(whens), default=Value(f"<{rules.AGE_BANDS[0][0]}"), output_field=CharField())


def fairness_report(wave: Wave) -> dict[str, list[Rate]]:
    """Selection rates of those in the wave's draw (who joined and were still eligible at the close, also
    those later carried over to the next wave) by province, sex, rural/urban, disability and age band."""
    on = timezone.localdate(wave.closed_at) if wave.closed_at else timezone.localdate()
    entries = Entry.objects.filter(wave=wave).exclude(status=EntryStatus.EXCLUDED)
    names = names_above_villages()
    dimensions: dict[str, Any] = {
        "province": "applicant__province_code",
        "sex": "applicant__sex",
        "rural": "applicant__rural",
        "disability": "applicant__disability",
        "age_band": _age_band_expression(on),
    }
    report: dict[str, list[Rate]] = {}
    for dimension, expression in dimensions.items():
        rows = (
            entries.annotate(group=F(expression) if isinstance(expression, str) else expression)
            .values("group")
            .annotate(n=Count("pk"), chosen=Count("pk", filter=Q(status__in=DRAWN)))
            .order_by("group")
        )
        report[dimension] = [
            Rate(str(r["group"]), _label(dimension, r["group"], names), r["n"], r["chosen"]) for r in rows
        ]
    return report


def _label(dimension: str, value: Any, names: Mapping[str, str]) -> str:
    if dimension == "province":
        return names.get(value, value)
    if dimension == "sex":
        return str(Sex(value).label)
    if dimension == "rural":
        return str(_("Rural (desa)") if value else _("Urban (kelurahan)"))
    if dimension == "disability":
        return str(_("With a disability") if value else _("Without a disability"))
    return str(value)


# --- simulation ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellProjection:
    code: str
    name: str
    quota: int
    pool: int

    @property
    def recipients(self) -> int:
        return min(self.quota, self.pool)


@dataclass(frozen=True)
class Simulation:
    problems: list[Problem]
    cells: list[CellProjection]
    per_recipient: int
    training_balance: int

    @property
    def recipients(self) -> int:
        return sum(c.recipients for c in self.cells)

    @property
    def unfilled(self) -> int:
        return sum(c.quota - c.recipients for c in self.cells)

    @property
    def budget(self) -> int:
        return self.recipients * self.per_recipient

    @property
    def training_budget(self) -> int:
        return self.recipients * self.training_balance


def wave_simulate(*, scheme: Scheme, total_quota: int, quotas: Mapping[str, int]) -> Simulation:
    """Projected recipients per quota cell and the budget, from who is eligible in the registry today."""
    quotas = {code.replace(".", ""): n for code, n in quotas.items()}
    names = names_above_villages()
    problems = rules.quota_problems(total_quota, quotas, names)
    cell_quotas = rules.cells(quotas) if not problems else {}
    pool = Applicant.objects.filter(eligible=True, card__isnull=True)
    regency_cells = [c for c in cell_quotas if len(c) == 4]
    province_cells = [c for c in cell_quotas if len(c) == 2]
    counts: dict[str, int] = dict(
        pool.filter(regency_code__in=regency_cells).values_list("regency_code").annotate(n=Count("pk"))
    )
    counts.update(
        pool.filter(province_code__in=province_cells)
        .exclude(regency_code__in=regency_cells)
        .values_list("province_code")
        .annotate(n=Count("pk"))
    )
    projections = [
        CellProjection(code, names.get(code, code), quota, counts.get(code, 0))
        for code, quota in sorted(cell_quotas.items())
    ]
    return Simulation(problems, projections, scheme.total_per_recipient, scheme.training_balance)


# --- an applicant's waves -----------------------------------------------------------------------------


def entries_of(applicant: Applicant) -> QuerySet[Entry]:
    return (
        Entry.objects.filter(applicant=applicant)
        .select_related("wave__scheme", "card")
        .order_by("-wave__number")
    )


def open_wave() -> Wave | None:
    now = timezone.now()
    return (
        Wave.objects.filter(status=WaveStatus.OPEN, opens_at__lte=now, closes_at__gt=now)
        .select_related("scheme")
        .first()
    )
