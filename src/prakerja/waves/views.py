"""Wave pages: waves and the draw for the PMO, the public draw record, and joining for participants."""

import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from prakerja.accounts.permissions import authorize, can, require
from prakerja.core.errors import InvalidInput, NotFound, PrakerjaError
from prakerja.core.forms import add_problems
from prakerja.core.time import local_time
from prakerja.ledger.selectors import balance
from prakerja.regions.selectors import names_above_villages
from prakerja.registry.models import Applicant, EmploymentStatus
from prakerja.registry.views import participant_section
from prakerja.waves import rules, selectors, services
from prakerja.waves.forms import CommitmentForm, SeedForm, SimulationForm, WaveForm
from prakerja.waves.models import Entry, EntryStatus, Wave, WaveStatus

DRAWN_WAVES = (WaveStatus.SELECTED, WaveStatus.ANNOUNCED)
DIMENSIONS = {
    "province": gettext_lazy("Province"),
    "sex": gettext_lazy("Sex"),
    "rural": gettext_lazy("Rural or urban"),
    "disability": gettext_lazy("Disability"),
    "age_band": gettext_lazy("Age band at the close"),
}


def _public_wave(number: int) -> Wave:
    """A wave the public may see: any but a draft."""
    wave = services.wave_by_number(number)
    if wave.status == WaveStatus.DRAFT:
        raise NotFound(_("There is no wave %(number)d."), number=number)
    return wave


# --- the programme office -----------------------------------------------------------------------------


@require("waves.view")
@require_http_methods(["GET", "POST"])
def wave_list(request: HttpRequest) -> HttpResponse:
    form = WaveForm(request.POST or None)
    if request.method == "POST":
        authorize(request.user, "waves.change")
        if form.is_valid():
            data = form.cleaned_data
            try:
                wave = services.wave_create(
                    number=data["number"],
                    name=data["name"].strip(),
                    scheme=data["scheme"],
                    opens_at=data["opens_at"],
                    closes_at=data["closes_at"],
                    total_quota=data["total_quota"],
                    quotas=data["quotas"],
                    priority=form.priority(),
                    actor=request.user,
                )
            except PrakerjaError as exc:
                add_problems(form, exc)
            else:
                messages.success(request, _("Wave %(number)d created as a draft.") % {"number": wave.number})
                return redirect("waves:detail", number=wave.number)
    waves = Wave.objects.select_related("scheme").annotate(entrants=Count("entries"))
    return render(
        request,
        "waves/wave_list.html",
        {"waves": waves, "form": form, "perms_change": can(request.user, "waves.change")},
    )


def _priority_labels(priority: dict[str, Any], names: dict[str, str]) -> list[str]:
    labels = []
    if priority.get("employment"):
        statuses = ", ".join(
            str(EmploymentStatus(v).label) if v in EmploymentStatus.values else v
            for v in priority["employment"]
        )
        labels.append(_("Employment status: %(statuses)s") % {"statuses": statuses})
    if priority.get("regions"):
        regions = ", ".join(f"{names.get(c, c)} ({c})" for c in priority["regions"])
        labels.append(_("Hard-hit regions: %(regions)s") % {"regions": regions})
    if priority.get("disability"):
        labels.append(_("People with a disability"))
    if priority.get("rural"):
        labels.append(_("People in rural areas (desa)"))
    return labels


def _detail(request: HttpRequest, wave: Wave, **forms: Any) -> HttpResponse:
    names = names_above_villages()
    places = dict(wave.quotas.values_list("region_code", "places"))
    cells = rules.cells(places)
    per_cell: dict[str, tuple[int, int]] = {
        row["cell"]: (row["n"], row["chosen"])
        for row in Entry.objects.filter(wave=wave)
        .values("cell")
        .annotate(
            # Carried over to a later wave after this one's draw: still an entrant of this draw.
            n=Count("pk", filter=~Q(status=EntryStatus.EXCLUDED)),
            chosen=Count("pk", filter=Q(status__in=[EntryStatus.SELECTED, EntryStatus.REVOKED])),
        )
    }
    quotas = [
        {
            "code": code,
            "name": names.get(code, code),
            "places": n,
            "cell": code in cells,
            "entrants": per_cell.get(code, (0, 0))[0],
            "selected": per_cell.get(code, (0, 0))[1],
        }
        for code, n in sorted(places.items())
    ]
    by_status = dict(Entry.objects.filter(wave=wave).values_list("status").annotate(n=Count("pk")))
    return render(
        request,
        "waves/wave_detail.html",
        {
            "wave": wave,
            "quotas": quotas,
            "statuses": [(label, by_status.get(value, 0)) for value, label in EntryStatus.choices],
            "entries_total": sum(by_status.values()),
            "priority": _priority_labels(wave.priority, names),
            "drawn": wave.status in DRAWN_WAVES,
            "perms_change": can(request.user, "waves.change"),
            "commitment_form": forms.get("commitment_form") or CommitmentForm(),
            "seed_form": forms.get("seed_form") or SeedForm(),
        },
    )


@require("waves.view")
def wave_detail(request: HttpRequest, number: int) -> HttpResponse:
    return _detail(request, services.wave_by_number(number))


def _step(request: HttpRequest, number: int, run: Callable[[Wave], str]) -> HttpResponse:
    """One step of a wave that needs no form: run it, say what happened (or why not), back to the wave."""
    try:
        messages.success(request, run(services.wave_by_number(number)))
    except PrakerjaError as exc:
        messages.error(request, exc.detail)
    return redirect("waves:detail", number=number)


@require("waves.change")
@require_http_methods(["POST"])
def wave_open(request: HttpRequest, number: int) -> HttpResponse:
    def run(wave: Wave) -> str:
        carried = services.wave_open(wave=wave, actor=request.user)
        return _(
            "Wave %(number)d is open for joining; %(carried)d entrants carried over from waiting lists."
        ) % {
            "number": number,
            "carried": carried,
        }

    return _step(request, number, run)


@require("waves.change")
@require_http_methods(["POST"])
def wave_commit(request: HttpRequest, number: int) -> HttpResponse:
    wave = services.wave_by_number(number)
    form = CommitmentForm(request.POST)
    if form.is_valid():
        try:
            services.seed_commit(wave=wave, commitment=form.cleaned_data["commitment"], actor=request.user)
        except PrakerjaError as exc:
            add_problems(form, exc)
        else:
            messages.success(request, _("The seed commitment is published."))
            return redirect("waves:detail", number=number)
    return _detail(request, wave, commitment_form=form)


@require("waves.change")
@require_http_methods(["POST"])
def wave_close(request: HttpRequest, number: int) -> HttpResponse:
    def run(wave: Wave) -> str:
        closed = services.wave_close(wave=wave, actor=request.user)
        return _("Wave %(number)d is closed: %(entrants)d entrants, %(excluded)d no longer eligible.") % {
            "number": number,
            "entrants": closed.entrants,
            "excluded": closed.excluded,
        }

    return _step(request, number, run)


@require("waves.change")
@require_http_methods(["POST"])
def wave_select(request: HttpRequest, number: int) -> HttpResponse:
    wave = services.wave_by_number(number)
    form = SeedForm(request.POST)
    if form.is_valid():
        try:
            drawn = services.wave_select(wave=wave, seed=form.cleaned_data["seed"], actor=request.user)
        except PrakerjaError as exc:
            add_problems(form, exc)
        else:
            messages.success(
                request,
                _("Wave %(number)d is drawn: %(selected)d of %(entrants)d entrants selected.")
                % {"number": number, "selected": drawn.selected, "entrants": drawn.entrants},
            )
            return redirect("waves:detail", number=number)
    return _detail(request, wave, seed_form=form)


@require("waves.change")
@require_http_methods(["POST"])
def wave_announce(request: HttpRequest, number: int) -> HttpResponse:
    def run(wave: Wave) -> str:
        announced = services.wave_announce(wave=wave, actor=request.user)
        return _("Results announced: %(cards)d cards issued, %(messages)d messages queued.") % {
            "cards": announced.cards,
            "messages": announced.messages,
        }

    return _step(request, number, run)


@require("waves.view")
def wave_fairness(request: HttpRequest, number: int) -> HttpResponse:
    wave = services.wave_by_number(number)
    report = selectors.fairness_report(wave)
    tables = []
    for dimension, title in DIMENSIONS.items():
        rows = report.get(dimension, [])
        entrants, selected = sum(r.entrants for r in rows), sum(r.selected for r in rows)
        tables.append(
            {
                "title": title,
                "rows": [(r, r.rate * 100) for r in rows],
                "entrants": entrants,
                "selected": selected,
                "percent": selected / entrants * 100 if entrants else 0.0,
            }
        )
    return render(
        request,
        "waves/wave_fairness.html",
        {"wave": wave, "tables": tables, "drawn": wave.status in DRAWN_WAVES},
    )


@require("waves.view")
@require_http_methods(["GET", "POST"])
def wave_simulate(request: HttpRequest) -> HttpResponse:
    """A what-if over today's registry: nothing is written, so viewing is enough."""
    form = SimulationForm(request.POST or None)
    simulation = None
    if request.method == "POST" and form.is_valid():
        simulation = selectors.wave_simulate(
            scheme=form.cleaned_data["scheme"],
            total_quota=form.cleaned_data["total_quota"],
            quotas=form.cleaned_data["quotas"],
        )
        for problem in simulation.problems:
            field = problem.code.partition(":")[0]
            form.add_error(field if field in form.fields else None, problem.message)
        if simulation.problems:
            simulation = None
    return render(request, "waves/simulate.html", {"form": form, "simulation": simulation})


# --- the public record of a draw ----------------------------------------------------------------------


@lru_cache(maxsize=8)
def _manifest(path: str, modified: int) -> dict[str, Any]:
    """A published manifest, read once per version of the file (it lists every selected pseudonym)."""
    return dict(json.loads(Path(path).read_text()))


def draw_public(request: HttpRequest, number: int) -> HttpResponse:
    """What anyone may check: the commitment before the close, the seed and the published files after."""
    wave = _public_wave(number)
    drawn = wave.status in DRAWN_WAVES
    inputs_path, manifest_path = services.draw_files(wave)
    manifest = (
        _manifest(str(manifest_path), manifest_path.stat().st_mtime_ns)
        if drawn and manifest_path.exists()
        else None
    )
    entrants = (
        manifest["entrants"]
        if manifest
        else Entry.objects.filter(wave=wave).exclude(status=EntryStatus.EXCLUDED).count()
    )
    selected = sum(len(p) for p in manifest["selected"].values()) if manifest else None
    names = names_above_villages()
    return render(
        request,
        "waves/draw_public.html",
        {
            "wave": wave,
            "drawn": drawn,
            "manifest": manifest,
            "entrants": entrants,
            "selected": selected,
            "inputs_name": inputs_path.name,
            "manifest_name": manifest_path.name,
            "quotas": [
                (code, names.get(code, code), n)
                for code, n in sorted(
                    rules.cells(dict(wave.quotas.values_list("region_code", "places"))).items()
                )
            ],
        },
    )


def _published(number: int, which: int) -> FileResponse:
    wave = _public_wave(number)
    path: Path = services.draw_files(wave)[which]
    if wave.status not in DRAWN_WAVES or not path.exists():
        raise NotFound(_("The draw of wave %(number)d is not published yet."), number=number)
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name)


def draw_inputs(request: HttpRequest, number: int) -> FileResponse:
    """The published inputs of the draw (CSV): pseudonym, cell, tier, family, allowance."""
    return _published(number, 0)


def draw_manifest(request: HttpRequest, number: int) -> FileResponse:
    """The published manifest of the draw (JSON): commitment, seed, quotas, digest and who was selected."""
    return _published(number, 1)


# --- participants -------------------------------------------------------------------------------------


def _own_applicant(request: HttpRequest) -> Applicant:
    applicant: Applicant | None = getattr(request.user, "applicant", None)
    if applicant is None:
        raise NotFound(_("Register first: waves are joined from your registration."), code="not_registered")
    return applicant


@login_required
@require_http_methods(["POST"])
def wave_join(request: HttpRequest) -> HttpResponse:
    applicant = _own_applicant(request)
    try:
        number = int(request.POST.get("wave", ""))
    except ValueError:
        raise InvalidInput(code="invalid_wave") from None
    try:
        entry = services.wave_join(wave=services.wave_by_number(number), applicant=applicant)
    except PrakerjaError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(
            request,
            _("You joined wave %(number)d. The draw is held after it closes on %(closes)s.")
            % {"number": number, "closes": local_time(entry.wave.closes_at, applicant.province_code)},
        )
    return redirect("registry:mine")


@participant_section
def participant_waves(request: HttpRequest, applicant: Applicant) -> tuple[str, dict[str, Any]]:
    """The participant's waves on their registration page: join the open one, see each outcome."""
    entries = list(selectors.entries_of(applicant))
    current = selectors.open_wave()
    joinable = current if current and all(e.wave_id != current.pk for e in entries) else None
    rows = [
        {
            "entry": entry,
            "card": getattr(entry, "card", None),
            "balance": balance(entry.card.account_code) if hasattr(entry, "card") else None,
            "waiting": entry.status == EntryStatus.ENTERED and entry.wave.status in DRAWN_WAVES,
            "drawn": entry.wave.status in DRAWN_WAVES,
        }
        for entry in entries
    ]
    return "waves/_participant.html", {"joinable": joinable, "rows": rows, "applicant": applicant}
