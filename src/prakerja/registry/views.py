"""Registry pages: registration for participants; search, one applicant and counts for the PMO."""

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from prakerja.accounts.models import User
from prakerja.accounts.permissions import authorize, can, object_rule, require, role_allows
from prakerja.core.audit import audit_record, audit_trail_for
from prakerja.core.crypto import mask
from prakerja.core.errors import InvalidInput, NotFound, PrakerjaError
from prakerja.regions.selectors import provinces
from prakerja.registry import rules, selectors, services
from prakerja.registry.forms import AppealDecisionForm, AppealForm, ExclusionUploadForm, ProfileForm
from prakerja.registry.models import Appeal, AppealStatus, Applicant, AptitudeAttempt, ExclusionList, RuleSet

# A later app adds its part of the participant's own page (the waves joined, the card) without the registry
# importing it: a function of (request, applicant) giving a template and its context, or None.
ParticipantSection = Callable[[HttpRequest, Applicant], tuple[str, dict[str, Any]] | None]
PARTICIPANT_SECTIONS: list[ParticipantSection] = []


def participant_section(section: ParticipantSection) -> ParticipantSection:
    """Register a section of the participant's registration page (see PARTICIPANT_SECTIONS)."""
    if section not in PARTICIPANT_SECTIONS:
        PARTICIPANT_SECTIONS.append(section)
    return section


@object_rule("applicants.view", Applicant)
def _own_record_or_programme_office(user: object, applicant: Applicant) -> bool:
    return applicant.user_id == getattr(user, "pk", None) or role_allows(
        getattr(user, "role", ""), "applicants.view"
    )


@require("applicants.view")
@require_http_methods(["GET", "POST"])
def applicant_list(request: HttpRequest) -> HttpResponse:
    nik_error = ""
    if request.method == "POST":  # a NIK travels in the body, never in the URL
        nik = request.POST.get("nik", "").strip()
        found = (
            selectors.applicant_by_nik(nik) if len(nik) == 16 and nik.isascii() and nik.isdigit() else None
        )
        if found:
            return redirect("registry:applicant", pk=found.pk)
        nik_error = _("No applicant has this NIK.") if len(nik) == 16 else _("A NIK has exactly 16 digits.")
    filters = {key: request.GET.get(key, "") for key in ("name", "province", "eligible")}
    page = Paginator(selectors.applicants_search(**filters), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "registry/applicant_list.html",
        {
            "page": page,
            "filters": filters,
            "provinces": provinces(),
            "nik_error": nik_error,
            "query": "&".join(f"{k}={v}" for k, v in filters.items() if v),
        },
    )


@require("applicants.view")
@require_http_methods(["GET", "POST"])
def applicant_detail(request: HttpRequest, pk: int) -> HttpResponse:
    applicant = get_object_or_404(Applicant.objects.select_related("village", "ruleset"), pk=pk)
    authorize(request.user, "applicants.view", applicant)
    if request.method == "POST":  # ask the population registry again
        authorize(request.user, "applicants.change", applicant)
        check = services.population_check_run(applicant=applicant, actor=request.user)
        messages.success(request, _("Population registry answered: %(status)s.") % {"status": check.status})
        return redirect("registry:applicant", pk=pk)
    rulesets = {r.pk: r for r in RuleSet.objects.all()}
    decisions = [
        (d, rules.reasons_from_mask(d.failing_rules, rulesets[d.ruleset_id].params))
        for d in applicant.decisions.order_by("-decided_at", "-id")[:20]
    ]
    audit_record(actor=request.user, action="registry.applicant_viewed", obj=applicant)
    return render(
        request,
        "registry/applicant_detail.html",
        {
            "a": applicant,
            "masked_nik": mask(applicant.nik),
            "masked_kk": mask(applicant.kk),
            "decisions": decisions,
            "trail": audit_trail_for(applicant),
            "aptitude": AptitudeAttempt.objects.filter(
                applicant=applicant, finished_at__isnull=False
            ).first(),
            "appeals": applicant.appeals.order_by("-submitted_at"),
            "population": applicant.population_checks.order_by("-checked_at").first(),
            "perms_change": can(request.user, "applicants.change", applicant),
        },
    )


@require("applicants.view")
def applicant_counts(request: HttpRequest) -> HttpResponse:
    ruleset = selectors.ruleset_current()
    counts = selectors.counts_by_failing_rule()
    every_rule = rules.active_reasons(ruleset.params if ruleset else rules.DEFAULT_PARAMS)
    return render(
        request,
        "registry/applicant_counts.html",
        {
            "by_province": selectors.counts_by_province(),
            "by_rule": [(reason, counts[reason.code]) for reason in every_rule],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def register_profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    if Applicant.objects.filter(user=user).exists():
        return redirect("registry:mine")
    if not (user.email_verified_at and user.phone_verified_at):
        messages.info(request, _("Verify your e-mail address and phone number first."))
        return redirect(f"{reverse('accounts:verify')}?next={reverse('registry:register')}")
    form = ProfileForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.applicant_register(user=user, data=form.service_data(), consents=form.consents())
        except InvalidInput as exc:
            for problem in getattr(exc, "problems", []):
                field = problem["field"] if problem["field"] in form.fields else None
                form.add_error(field, problem["message"])
            if not getattr(exc, "problems", []):
                form.add_error(None, exc.detail)
        except PrakerjaError as exc:
            form.add_error(None, exc.detail)
        else:
            return redirect("registry:mine")
    return render(request, "registry/register.html", {"form": form})


@login_required
def my_registration(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    applicant = Applicant.objects.filter(user=request.user).select_related("village", "ruleset").first()
    if applicant is None:
        return redirect("registry:register")
    appeals = list(applicant.appeals.order_by("-submitted_at"))
    open_appeals = {a.rule_code for a in appeals if a.status != AppealStatus.DISMISSED}
    sections = [part for section in PARTICIPANT_SECTIONS if (part := section(request, applicant))]
    return render(
        request,
        "registry/mine.html",
        {
            "a": applicant,
            "masked_nik": mask(applicant.nik),
            "appeals": appeals,
            "open_appeals": open_appeals,
            "sections": sections,
        },
    )


def _own_applicant(request: HttpRequest) -> Applicant:
    assert isinstance(request.user, User)
    applicant = Applicant.objects.filter(user=request.user).first()
    if applicant is None:
        raise NotFound(_("Register first: the test belongs to your registration."), code="not_registered")
    return applicant


@login_required
@require_http_methods(["GET", "POST"])
def aptitude_intro(request: HttpRequest) -> HttpResponse:
    applicant = _own_applicant(request)
    if request.method == "POST":
        services.aptitude_start(applicant=applicant)
        return redirect("registry:aptitude_questions")
    attempt = AptitudeAttempt.objects.filter(applicant=applicant).first()
    if attempt and not attempt.finished_at and timezone.now() >= attempt.deadline:
        attempt = services.aptitude_finish(attempt=attempt)
    return render(
        request,
        "registry/aptitude_intro.html",
        {
            "attempt": attempt,
            "minutes": rules.APTITUDE_MINUTES,
            "bank": selectors.aptitude_bank(),
        },
    )


@login_required
def aptitude_questions(request: HttpRequest) -> HttpResponse:
    attempt = AptitudeAttempt.objects.filter(applicant=_own_applicant(request)).first()
    if attempt is None or attempt.finished_at or timezone.now() >= attempt.deadline:
        return redirect("registry:aptitude")
    by_id = {q["id"]: q for q in selectors.aptitude_bank()["questions"]}
    questions = [
        (number, by_id[qid], attempt.answers.get(qid)) for number, qid in enumerate(attempt.question_ids, 1)
    ]
    return render(request, "registry/aptitude_questions.html", {"attempt": attempt, "questions": questions})


@login_required
@require_http_methods(["POST"])
def aptitude_answer(request: HttpRequest) -> HttpResponse:
    """One answer, saved as it is picked (htmx); 409 once the time is over."""
    attempt = get_object_or_404(AptitudeAttempt, applicant=_own_applicant(request))
    try:
        choice = int(request.POST.get("choice", ""))
    except ValueError:
        raise InvalidInput(code="invalid_choice") from None
    services.aptitude_answer(attempt=attempt, question_id=request.POST.get("question", ""), choice=choice)
    return HttpResponse(status=204)


@login_required
@require_http_methods(["POST"])
def aptitude_finish(request: HttpRequest) -> HttpResponse:
    """Finish: answers sent with the form (the page without JavaScript) are saved first, in time only."""
    attempt = get_object_or_404(AptitudeAttempt, applicant=_own_applicant(request))
    for question_id in attempt.question_ids:
        value = request.POST.get(question_id, "")
        if value.isdigit() and attempt.answers.get(question_id) != int(value):
            try:
                services.aptitude_answer(attempt=attempt, question_id=question_id, choice=int(value))
            except (services.AptitudeTimeUp, services.AptitudeTaken):
                break
    services.aptitude_finish(attempt=attempt)
    return redirect("registry:aptitude")


@login_required
@require_http_methods(["GET", "POST"])
def appeal_new(request: HttpRequest, rule_code: str) -> HttpResponse:
    applicant = _own_applicant(request)
    form = AppealForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.appeal_submit(
                applicant=applicant,
                rule_code=rule_code,
                statement=form.cleaned_data["statement"],
                evidence=form.cleaned_data["evidence"],
            )
        except InvalidInput as exc:
            for problem in exc.problems or [{"field": "", "message": exc.detail}]:
                form.add_error(
                    problem["field"] if problem["field"] in form.fields else None, problem["message"]
                )
        except PrakerjaError as exc:
            form.add_error(None, exc.detail)
        else:
            messages.success(request, _("Your appeal was sent."))
            return redirect("registry:mine")
    reason = next((r for r in applicant.reasons if r.code == rule_code), None)
    if reason is None:
        raise services.AppealNotAllowed()
    return render(request, "registry/appeal_new.html", {"form": form, "reason": reason})


@require("appeals.view")
def appeal_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", AppealStatus.SUBMITTED)
    appeals = Appeal.objects.select_related("applicant").order_by("submitted_at")
    if status in AppealStatus.values:
        appeals = appeals.filter(status=status)
    page = Paginator(appeals, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "registry/appeal_list.html",
        {"page": page, "status": status, "statuses": AppealStatus.choices},
    )


@require("appeals.view")
@require_http_methods(["GET", "POST"])
def appeal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    appeal = get_object_or_404(Appeal.objects.select_related("applicant", "decided_by", "approved_by"), pk=pk)
    form = AppealDecisionForm(request.POST or None)
    if request.method == "POST":
        authorize(request.user, "appeals.decide", appeal)
        action = request.POST.get("action", "")
        try:
            if action in ("dismiss", "reverse") and form.is_valid():
                services.appeal_decide(
                    appeal=appeal,
                    officer=request.user,
                    reverse=action == "reverse",
                    note=form.cleaned_data["note"],
                )
                return redirect("registry:appeal", pk=pk)
            if action in ("approve", "refuse"):
                services.appeal_approve(appeal=appeal, officer=request.user, approve=action == "approve")
                return redirect("registry:appeal", pk=pk)
        except PrakerjaError as exc:
            messages.error(request, exc.detail)
            return redirect("registry:appeal", pk=pk)
    reason = rules.Reason(
        appeal.rule_code, rules.params_for(appeal.rule_code, appeal.applicant.ruleset.params)
    )
    return render(request, "registry/appeal_detail.html", {"appeal": appeal, "form": form, "reason": reason})


@require("appeals.view")
def appeal_evidence(request: HttpRequest, pk: int) -> FileResponse:
    """The uploaded document, only through this checked view (uploads are outside the web root)."""
    appeal = get_object_or_404(Appeal, pk=pk)
    if not appeal.evidence:
        raise NotFound()
    audit_record(actor=request.user, action="registry.appeal_evidence_viewed", obj=appeal)
    return FileResponse(
        appeal.evidence.open("rb"), as_attachment=True, filename=Path(str(appeal.evidence.name)).name
    )


@require("exclusions.view")
@require_http_methods(["GET", "POST"])
def exclusion_lists(request: HttpRequest) -> HttpResponse:
    form = ExclusionUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        authorize(request.user, "exclusions.change")
        if "remove" in request.POST:
            try:
                removed = services.exclusion_list_remove(
                    list_id=int(request.POST["remove"]), actor=request.user
                )
            except (ValueError, PrakerjaError):
                messages.error(request, _("That list does not exist or is already removed."))
            else:
                messages.success(
                    request, _("List removed; %(changed)d decisions changed.") % {"changed": removed.changed}
                )
            return redirect("registry:exclusions")
        if form.is_valid():
            try:
                niks = _niks_from_upload(form.cleaned_data["file"])
                uploaded = services.exclusion_list_upload(
                    kind=form.cleaned_data["kind"],
                    source=form.cleaned_data["source"].strip(),
                    as_of=form.cleaned_data["as_of"],
                    niks=niks,
                    actor=request.user,
                    on_error=lambda *_: None,
                )
            except PrakerjaError as exc:
                form.add_error(None, exc.detail)
            else:
                messages.success(
                    request,
                    _(
                        "%(entries)d NIKs stored, %(rejected)d lines rejected; "
                        "%(checked)d applicants re-checked, %(changed)d decisions changed."
                    )
                    % {
                        "entries": uploaded.entries,
                        "rejected": uploaded.rejected,
                        "checked": uploaded.recheck.checked,
                        "changed": uploaded.recheck.changed,
                    },
                )
                return redirect("registry:exclusions")
    lists = ExclusionList.objects.order_by("-active", "kind", "-as_of")
    return render(request, "registry/exclusion_lists.html", {"form": form, "lists": lists})


def _niks_from_upload(upload: Any) -> list[tuple[int, str]]:
    try:
        text = upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(
            _("The file is not UTF-8 text; save it as CSV UTF-8 and upload it again.")
        ) from None
    rows = csv.reader(io.StringIO(text))
    return [
        (n, row[0])
        for n, row in enumerate(rows, start=1)
        if row and not (n == 1 and not row[0].strip().isdigit())
    ]
