"""Survey pages: the participant's surveys and the form to fill one; the PMO's instruments, schedules and
the outcome page."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from prakerja.accounts.permissions import can, require
from prakerja.core.errors import NotFound, PrakerjaError
from prakerja.core.forms import add_problems
from prakerja.registry.models import Applicant
from prakerja.registry.views import participant_section
from prakerja.surveys import rules, selectors, services
from prakerja.surveys.forms import AnswerForm, InstrumentForm, ScheduleForm
from prakerja.surveys.models import Instrument
from prakerja.waves.models import Scheme

# --- participants ---------------------------------------------------------------------------------------


def _own_applicant(request: HttpRequest) -> Applicant:
    applicant: Applicant | None = getattr(request.user, "applicant", None)
    if applicant is None:
        raise NotFound(_("Register first: surveys are sent to card holders after their training."))
    return applicant


@login_required
@never_cache
def my_surveys(request: HttpRequest) -> HttpResponse:
    applicant = _own_applicant(request)
    return render(
        request,
        "surveys/mine.html",
        {"applicant": applicant, "rows": selectors.invitations_for(applicant)},
    )


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def survey_fill(request: HttpRequest, pk: int) -> HttpResponse:
    """One of the participant's own surveys; anyone else's is a 404, exactly like a missing one."""
    applicant = _own_applicant(request)
    invitation = get_object_or_404(
        selectors.own_invitations(applicant).select_related("item__instrument"), pk=pk
    )
    instrument = invitation.item.instrument
    form = AnswerForm(instrument.questions, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.response_submit(invitation=invitation, applicant=applicant, answers=form.answers())
        except PrakerjaError as exc:
            add_problems(form, exc)
        else:
            messages.success(request, _("Thank you: your answers are saved."))
            return redirect("surveys:mine")
    row = next(r for r in selectors.invitations_for(applicant) if r.invitation.pk == invitation.pk)
    return render(
        request,
        "surveys/fill.html",
        {
            "invitation": invitation,
            "row": row,
            "form": form,
            "applicant": applicant,
            "answers": selectors.answers_shown(invitation) if row.status == rules.COMPLETED else [],
        },
    )


@participant_section
def participant_surveys(request: HttpRequest, applicant: Applicant) -> tuple[str, dict[str, Any]] | None:
    """The participant's surveys on their registration page, once they are invited to any."""
    rows = selectors.invitations_for(applicant)
    if not rows:
        return None
    return "surveys/_participant.html", {
        "rows": rows,
        "open": sum(r.status == rules.OPEN for r in rows),
    }


# --- the programme office -------------------------------------------------------------------------------


@require("surveys.view")
def pmo_surveys(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "surveys/pmo_surveys.html",
        {
            "instruments": [
                (i, selectors.in_language(i.title_id, i.title_en), n) for i, n in selectors.instruments()
            ],
            "schedules": selectors.schedules(),
            "may_change": can(request.user, "surveys.change"),
        },
    )


@require("surveys.change")
@require_http_methods(["GET", "POST"])
def instrument_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create an instrument, or change one nobody has answered yet."""
    instrument = get_object_or_404(Instrument, pk=pk) if pk is not None else None
    form = InstrumentForm(request.POST or None, instrument=instrument)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if instrument is None:
                instrument = services.instrument_create(
                    actor=request.user,
                    code=data["code"],
                    title_id=data["title_id"],
                    title_en=data["title_en"],
                    questions=data["questions"],
                )
                if not data["active"]:
                    services.instrument_update(
                        actor=request.user,
                        instrument=instrument,
                        title_id=instrument.title_id,
                        title_en=instrument.title_en,
                        questions=instrument.questions,
                        active=False,
                    )
            else:
                services.instrument_update(
                    actor=request.user,
                    instrument=instrument,
                    title_id=data["title_id"],
                    title_en=data["title_en"],
                    questions=data["questions"],
                    active=data["active"],
                )
        except PrakerjaError as exc:
            add_problems(form, exc)
        else:
            messages.success(request, _("Survey %(code)s saved.") % {"code": instrument.code})
            return redirect("surveys:pmo")
    return render(request, "surveys/instrument_edit.html", {"form": form, "instrument": instrument})


@require("surveys.change")
@require_http_methods(["GET", "POST"])
def schedule_edit(request: HttpRequest, code: str) -> HttpResponse:
    scheme = get_object_or_404(Scheme, code=code)
    form = ScheduleForm(scheme, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.schedule_set(actor=request.user, scheme=scheme, items=form.items())
        except PrakerjaError as exc:
            add_problems(form, exc)
        else:
            messages.success(
                request, _("The survey schedule of %(scheme)s is saved.") % {"scheme": scheme.name}
            )
            return redirect("surveys:pmo")
    return render(request, "surveys/schedule_edit.html", {"form": form, "scheme": scheme})


@require("surveys.view")
def pmo_outcomes(request: HttpRequest) -> HttpResponse:
    waves = list(selectors.waves())
    schemes = list(Scheme.objects.order_by("code"))
    wave = next((w for w in waves if str(w.number) == request.GET.get("gelombang", "")), None)
    scheme = next((s for s in schemes if s.code == request.GET.get("skema", "")), None)
    return render(
        request,
        "surveys/pmo_outcomes.html",
        {
            "outcomes": selectors.outcomes(wave=wave, scheme=scheme),
            "waves": waves,
            "schemes": schemes,
            "wave": wave,
            "scheme": scheme,
        },
    )
