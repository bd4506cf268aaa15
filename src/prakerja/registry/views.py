"""Registry pages: registration for participants; search, one applicant and counts for the PMO."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from prakerja.accounts.models import User
from prakerja.accounts.permissions import authorize, object_rule, require, role_allows
from prakerja.core.audit import audit_record, audit_trail_for
from prakerja.core.crypto import mask
from prakerja.core.errors import InvalidInput, PrakerjaError
from prakerja.regions.selectors import provinces
from prakerja.registry import rules, selectors, services
from prakerja.registry.forms import ProfileForm
from prakerja.registry.models import Applicant, RuleSet


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
def applicant_detail(request: HttpRequest, pk: int) -> HttpResponse:
    applicant = get_object_or_404(Applicant.objects.select_related("village", "ruleset"), pk=pk)
    authorize(request.user, "applicants.view", applicant)
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
    return render(request, "registry/mine.html", {"a": applicant, "masked_nik": mask(applicant.nik)})
