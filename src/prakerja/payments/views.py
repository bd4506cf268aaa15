"""Payment pages: the participant's incentives and payout account, the finance officers' money page,
batches, callbacks, reconciliations and platform statements, and a platform's own statements."""

import tempfile
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from prakerja.accounts.permissions import can, require
from prakerja.accounts.services import CodeExpired, WrongCode
from prakerja.core.errors import Forbidden, InvalidInput, NotFound, PrakerjaError
from prakerja.core.forms import add_problems
from prakerja.partners.models import Kind, Partner
from prakerja.partners.selectors import partner_of
from prakerja.payments import selectors, services
from prakerja.payments.forms import (
    BatchBuildForm,
    PayoutAccountForm,
    SettlementForm,
    StatementPaidForm,
    StatementsIssueForm,
)
from prakerja.payments.models import (
    Batch,
    Callback,
    CallbackOutcome,
    DiscrepancyKind,
    EntitlementKind,
    EntitlementStatus,
    PaymentState,
    Provider,
    Reconciliation,
    Statement,
)
from prakerja.regions.selectors import provinces
from prakerja.registry.models import Applicant
from prakerja.registry.views import participant_section
from prakerja.waves.models import Wave

PER_PAGE = 50
DISCREPANCIES_PER_PAGE = 100


def _label(choices: Any, value: str | None) -> str:
    """The display label of a choice value, or the value itself when it is not a choice."""
    if not value:
        return ""
    try:
        return str(choices(value).label)
    except ValueError:
        return value


# --- participants ---------------------------------------------------------------------------------------


@participant_section
def participant_incentives(request: HttpRequest, applicant: Applicant) -> tuple[str, dict[str, Any]] | None:
    """The card holder's benefits on their registration page: received so far, instalments, payout account."""
    benefits = selectors.benefits_of(applicant)
    if benefits is None:
        return None
    rows = [
        {
            "kind": _label(EntitlementKind, e.kind),
            "sequence": e.sequence,
            "amount": e.amount,
            "due_on": e.due_on,
            "status": e.status,
            "status_label": _label(EntitlementStatus, e.status),
            "payment_state": _label(PaymentState, e.payment_state),
        }
        for e in benefits.entitlements
    ]
    return "payments/_participant.html", {
        "benefits": benefits,
        "rows": rows,
        "account": selectors.payout_account(applicant),
    }


def _card_holder(request: HttpRequest) -> Applicant:
    """The logged-in participant's own record, once they hold a card: incentives are paid only to them."""
    applicant: Applicant | None = getattr(request.user, "applicant", None)
    if applicant is None:
        raise NotFound(_("Register first: incentives are paid to card holders."))
    if not hasattr(applicant, "card"):
        raise NotFound(_("Incentives are paid to card holders; you hold no pre-employment card yet."))
    return applicant


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def payout_account_page(request: HttpRequest) -> HttpResponse:
    """Add or change the payout account; the provider confirms it is the participant's own."""
    applicant = _card_holder(request)
    current = selectors.payout_account(applicant)
    initial = {"provider": current.provider} if current else {}
    form = PayoutAccountForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            account = services.payout_account_set(
                applicant=applicant,
                provider=form.cleaned_data["provider"],
                number=form.cleaned_data["number"],
                code=form.cleaned_data["code"].strip(),
            )
        except PrakerjaError as exc:
            about_code = isinstance(exc, services.CodeNeeded | WrongCode | CodeExpired)
            add_problems(form, exc, default="code" if about_code else None)
            if about_code:
                form.add_error(None, exc.detail)  # also above the form, where it is read first
        else:
            messages.success(
                request,
                _("Your %(provider)s account ending %(last4)s is verified: incentives are paid to it.")
                % {"provider": _label(Provider, account.provider), "last4": account.number_last4},
            )
            return redirect("registry:mine")
    return render(
        request,
        "payments/account.html",
        {"form": form, "current": current, "applicant": applicant},
    )


@login_required
@never_cache
@require_http_methods(["POST"])
def payout_account_code(request: HttpRequest) -> HttpResponse:
    """Send the one-time code that a change of payout account needs."""
    applicant = _card_holder(request)
    try:
        services.payout_account_code_send(applicant=applicant)
    except PrakerjaError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("We sent a code to your phone. Enter it below with the new account."))
    return redirect("payments:account")


# --- the programme office: the money page and batches --------------------------------------------------


def _wave(request: HttpRequest) -> int | None:
    value = request.GET.get("wave", "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 9 else None


@require("payments.view")
def money(request: HttpRequest) -> HttpResponse:
    wave = _wave(request)
    names = dict(provinces().values_list("code", "name"))
    rows = selectors.money_summary(wave=wave)
    for row in rows:
        row["province_name"] = names.get(row["province"], row["province"] or "—")
    totals = {column: sum(row[column] for row in rows) for column in selectors.MONEY_COLUMNS}
    may_change = can(request.user, "payments.change")
    page = Paginator(selectors.batches(), PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "payments/money.html",
        {
            "rows": rows,
            "totals": totals,
            "wave": wave,
            "waves": Wave.objects.order_by("number").values_list("number", flat=True),
            "page": page,
            "query": f"wave={wave}" if wave is not None else "",
            "may_change": may_change,
            "build_form": BatchBuildForm() if may_change else None,
            "held_back": selectors.held_back(),
        },
    )


@require("payments.change")
@require_http_methods(["POST"])
def batch_build(request: HttpRequest) -> HttpResponse:
    form = BatchBuildForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the day by which the entitlements are due."))
        return redirect("payments:money")
    try:
        batch = services.batch_build(actor=request.user, due_by=form.cleaned_data["due_by"])
    except PrakerjaError as exc:
        messages.error(request, exc.detail)
        return redirect("payments:money")
    messages.success(
        request,
        _("Batch %(batch)d built: %(n)d payments. Another finance officer must approve it.")
        % {"batch": batch.pk, "n": batch.payment_count},
    )
    return redirect("payments:batch", pk=batch.pk)


@require("payments.view")
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(Batch, pk=pk)
    states = dict(batch.payments.values_list("state").annotate(n=Count("pk")).order_by())
    may_change = can(request.user, "payments.change")
    return render(
        request,
        "payments/batch.html",
        {
            "batch": batch,
            "chunks": batch.chunks.order_by("provider", "sequence"),
            "states": [(label, states.get(value, 0)) for value, label in PaymentState.choices],
            "may_change": may_change,
            "is_maker": batch.built_by_id == request.user.pk,
        },
    )


@require("payments.change")
@require_http_methods(["POST"])
def batch_approve(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(Batch, pk=pk)
    try:
        services.batch_approve(batch=batch, actor=request.user)
    except PrakerjaError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("Batch %(batch)d approved: it may be sent.") % {"batch": batch.pk})
    return redirect("payments:batch", pk=batch.pk)


@require("payments.change")
@require_http_methods(["POST"])
def batch_send(request: HttpRequest, pk: int) -> HttpResponse:
    """Send (or resume) an approved batch within this request: the gateway acknowledges each chunk."""
    batch = get_object_or_404(Batch, pk=pk)
    try:
        result = services.batch_send(batch=batch, actor=request.user)
    except PrakerjaError as exc:
        messages.error(request, exc.detail)
    else:
        batch.refresh_from_db()
        messages.success(
            request,
            _("Payments handed to the providers: %(payments)d, in %(chunks)d chunks (%(resent)d sent again).")
            % {"chunks": result.chunks, "payments": result.payments, "resent": result.resent},
        )
    return redirect("payments:batch", pk=batch.pk)


@require("payments.view")
def callbacks(request: HttpRequest) -> HttpResponse:
    rows = Callback.objects.order_by("-received_at", "-pk")
    return render(
        request,
        "payments/callbacks.html",
        {
            "page": Paginator(rows, 100).get_page(request.GET.get("page")),
            "rejected": CallbackOutcome.REJECTED,
        },
    )


# --- reconciliation ---------------------------------------------------------------------------------------


def _reconcile_upload(request: HttpRequest, form: SettlementForm) -> Reconciliation | None:
    """Save the upload to a temporary file named like the original and reconcile it; None on a refusal."""
    upload = form.cleaned_data["file"]
    name = Path(upload.name or "settlement.csv").name or "settlement.csv"
    with tempfile.TemporaryDirectory(prefix="settlement-") as folder:
        path = Path(folder) / name
        with path.open("wb") as out:
            for piece in upload.chunks():
                out.write(piece)
        try:
            return services.reconcile(provider=form.cleaned_data["provider"], path=path, actor=request.user)
        except PrakerjaError as exc:
            add_problems(form, exc, default="file")
            return None


@require("payments.view")
@require_http_methods(["GET", "POST"])
def reconciliations(request: HttpRequest) -> HttpResponse:
    may_change = can(request.user, "payments.change")
    if request.method == "POST" and not may_change:
        raise Forbidden()
    form = SettlementForm(request.POST or None, request.FILES or None) if may_change else None
    if form is not None and request.method == "POST" and form.is_valid():
        run = _reconcile_upload(request, form)
        if run is not None:
            messages.success(
                request,
                _("Settlement file reconciled: %(lines)d lines, %(applied)d outcomes applied.")
                % {"lines": run.lines, "applied": run.counts.get("applied", 0)},
            )
            return redirect("payments:reconciliation", pk=run.pk)
    rows = Reconciliation.objects.order_by("-pk")
    return render(
        request,
        "payments/reconciliations.html",
        {"form": form, "page": Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))},
    )


@require("payments.view")
def reconciliation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(Reconciliation, pk=pk)
    kinds = dict(DiscrepancyKind.choices)
    counts = [(kinds.get(key, key), n) for key, n in sorted(run.counts.items()) if key in kinds]
    outcomes = [(_label(PaymentState, key), n) for key, n in sorted(run.counts.items()) if key not in kinds]
    rows = run.discrepancies.order_by("pk")
    return render(
        request,
        "payments/reconciliation.html",
        {
            "run": run,
            "counts": counts,
            "outcomes": outcomes,
            "page": Paginator(rows, DISCREPANCIES_PER_PAGE).get_page(request.GET.get("page")),
        },
    )


# --- platform statements -------------------------------------------------------------------------------


@require("payments.view")
def statements(request: HttpRequest) -> HttpResponse:
    may_change = can(request.user, "payments.change")
    rows = Statement.objects.select_related("platform").order_by("-period_end", "platform__name")
    return render(
        request,
        "payments/statements.html",
        {
            "page": Paginator(rows, PER_PAGE).get_page(request.GET.get("page")),
            "may_change": may_change,
            "issue_form": StatementsIssueForm() if may_change else None,
            "paid_form": StatementPaidForm() if may_change else None,
        },
    )


@require("payments.change")
@require_http_methods(["POST"])
def statements_issue(request: HttpRequest) -> HttpResponse:
    form = StatementsIssueForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the last day of the period."))
        return redirect("payments:statements")
    try:
        issued = services.statements_issue(period_end=form.cleaned_data["period_end"], actor=request.user)
    except PrakerjaError as exc:
        messages.error(request, exc.detail)
    else:
        if issued:
            messages.success(request, _("%(n)d statements issued.") % {"n": len(issued)})
        else:
            messages.info(request, _("No completed training is left to put on a statement."))
    return redirect("payments:statements")


@require("payments.change")
@require_http_methods(["POST"])
def statement_paid(request: HttpRequest, pk: int) -> HttpResponse:
    statement = get_object_or_404(Statement, pk=pk)
    form = StatementPaidForm(request.POST)
    try:
        if not form.is_valid():
            raise InvalidInput(_("Give the transfer's reference."))
        reference = form.cleaned_data["reference"]
        services.statement_paid(statement=statement, reference=reference, actor=request.user)
    except PrakerjaError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(
            request,
            _("The transfer of statement %(number)d is recorded.") % {"number": statement.pk},
        )
    return redirect(reverse("payments:statements") + f"#statement-{statement.pk}")


# --- the platform portal ---------------------------------------------------------------------------------


def _platform(request: HttpRequest) -> Partner:
    partner = partner_of(request.user)
    if partner is None or partner.kind != Kind.PLATFORM:
        raise Forbidden(_("This page is for staff of a digital platform."))
    return partner


@require("mitra.view")
def platform_statements(request: HttpRequest) -> HttpResponse:
    platform = _platform(request)
    rows = Statement.objects.filter(platform=platform).order_by("-period_end")
    return render(
        request,
        "payments/platform_statements.html",
        {"platform": platform, "page": Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))},
    )


@require("mitra.view")
def platform_statement(request: HttpRequest, pk: int) -> HttpResponse:
    """One of the platform's own statements with its lines; another platform's is a 404 like a missing one."""
    platform = _platform(request)
    statement = get_object_or_404(Statement.objects.filter(platform=platform), pk=pk)
    lines = statement.lines.select_related("purchase__training").order_by("pk")
    return render(
        request,
        "payments/platform_statement.html",
        {
            "platform": platform,
            "statement": statement,
            "page": Paginator(lines, DISCREPANCIES_PER_PAGE).get_page(request.GET.get("page")),
        },
    )
