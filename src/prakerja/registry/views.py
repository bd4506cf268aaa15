"""Programme-office pages of the registry: search, one applicant, counts."""

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from prakerja.accounts.permissions import authorize, object_rule, require, role_allows
from prakerja.core.audit import audit_record, audit_trail_for
from prakerja.core.crypto import mask
from prakerja.regions.selectors import provinces
from prakerja.registry import rules, selectors
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
