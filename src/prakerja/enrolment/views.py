"""Enrolment pages: public certificate verification, the participant's trainings and certificate, the
partners' sales and participants, and purchase totals and implausible completions for the programme office."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from prakerja.accounts.permissions import require
from prakerja.core.errors import Forbidden, NotFound, PrakerjaError
from prakerja.core.forms import add_problems
from prakerja.enrolment import rules, selectors, services
from prakerja.enrolment.forms import CancelForm, RatingForm
from prakerja.enrolment.models import Purchase, PurchaseStatus
from prakerja.partners.models import Kind, Partner
from prakerja.partners.selectors import partner_of
from prakerja.registry.models import Applicant
from prakerja.registry.views import participant_section

PER_PAGE = 50
PROBLEMS = {
    "before_redemption": gettext_lazy("Completed before the voucher was redeemed"),
    "faster_than_hours": gettext_lazy("Completed faster than the training's hours"),
    "overlapping_attendance": gettext_lazy("Attended sessions at overlapping times"),
}


# --- public verification --------------------------------------------------------------------------------


def verify(request: HttpRequest, code: str) -> HttpResponse:
    """Anyone may check a certificate: valid or not, the holder's masked name, never their NIK."""
    check = selectors.certificate_verify(code)
    return render(
        request,
        "enrolment/verify.html",
        {"check": check, "public_key": services.public_key_b64()},
        status=200 if check.found else 404,
    )


def public_key(request: HttpRequest) -> HttpResponse:
    """The certificates' Ed25519 public key, raw 32 bytes in base64, for scripts to fetch."""
    return HttpResponse(services.public_key_b64() + "\n", content_type="text/plain; charset=utf-8")


# --- participants ---------------------------------------------------------------------------------------


def _own_applicant(request: HttpRequest) -> Applicant:
    applicant: Applicant | None = getattr(request.user, "applicant", None)
    if applicant is None:
        raise NotFound(_("Register first: trainings are bought with the card of your registration."))
    return applicant


def _own_purchase(request: HttpRequest, pk: int) -> Purchase:
    """One of the participant's own purchases; anyone else's is a 404, exactly like a missing one."""
    purchases = selectors.own_purchases(_own_applicant(request)).select_related("training", "platform")
    return get_object_or_404(purchases, pk=pk)


@login_required
@never_cache
def my_trainings(request: HttpRequest) -> HttpResponse:
    applicant = _own_applicant(request)
    return render(
        request,
        "enrolment/mine.html",
        {
            "applicant": applicant,
            "rows": selectors.participant_trainings(applicant),
        },
    )


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def purchase_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Withdraw from an unredeemed purchase within the window, after a confirmation."""
    applicant = _own_applicant(request)
    purchase = _own_purchase(request, pk)
    form = CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.purchase_cancel(
                purchase=purchase,
                actor=request.user,
                reason=form.cleaned_data["reason"] or "withdrawn by the participant",
                by_participant=True,
            )
        except PrakerjaError as exc:
            add_problems(form, exc)
        else:
            messages.success(request, _("Purchase cancelled: its price is back on your card."))
            return redirect("enrolment:mine")
    window = timedelta(days=settings.PRAKERJA_WITHDRAWAL_DAYS)
    return render(
        request,
        "enrolment/cancel.html",
        {
            "p": purchase,
            "form": form,
            "applicant": applicant,
            "withdraw_until": purchase.created_at + window,
            "open": purchase.status == PurchaseStatus.PAID
            and rules.may_withdraw(purchased_at=purchase.created_at, now=timezone.now(), window=window),
        },
    )


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def training_rate(request: HttpRequest, pk: int) -> HttpResponse:
    """Rate and review a training the participant completed."""
    applicant = _own_applicant(request)
    purchase = _own_purchase(request, pk)
    form = RatingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.training_rate(
                purchase=purchase,
                applicant=applicant,
                rating=form.cleaned_data["rating"],
                text=form.cleaned_data["text"],
            )
        except PrakerjaError as exc:
            add_problems(form, exc)
        else:
            messages.success(request, _("Thank you: your rating is published on the training's page."))
            return redirect("enrolment:mine")
    return render(
        request,
        "enrolment/rate.html",
        {"p": purchase, "form": form, "completed": purchase.status == PurchaseStatus.COMPLETED},
    )


@login_required
def certificate_download(request: HttpRequest, code: str) -> HttpResponse:
    """The certificate's PDF, for its own participant only."""
    certificate = selectors.certificate_of(applicant=_own_applicant(request), code=code)
    if certificate is None:
        raise NotFound(_("You hold no certificate with this code."))
    response = HttpResponse(selectors.certificate_pdf(certificate), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="sertifikat-prakerja-{certificate.code}.pdf"'
    response["Cache-Control"] = "private, no-store"  # it carries the participant's full name
    return response


@participant_section
def participant_trainings(request: HttpRequest, applicant: Applicant) -> tuple[str, dict[str, Any]] | None:
    """A link to the participant's trainings on their registration page, once they hold a card."""
    if not hasattr(applicant, "card"):
        return None
    counts = dict(selectors.own_purchases(applicant).values_list("status").annotate(n=Count("pk")))
    return "enrolment/_participant.html", {"counts": counts, "total": sum(counts.values())}


# --- partners -------------------------------------------------------------------------------------------


def _partner(request: HttpRequest, kind: str) -> Partner:
    partner = partner_of(request.user)
    if partner is None or partner.kind != kind:
        raise Forbidden(
            _("This page is for staff of a training institution.")
            if kind == Kind.INSTITUTION
            else _("This page is for staff of a digital platform.")
        )
    return partner


def _status(request: HttpRequest) -> str:
    status = request.GET.get("status", "")
    return status if status in PurchaseStatus.values else ""


@require("mitra.view")
def platform_sales(request: HttpRequest) -> HttpResponse:
    platform = _partner(request, Kind.PLATFORM)
    status = _status(request)
    rows, totals = selectors.platform_sales(platform, status=status), selectors.partner_totals(platform)
    return render(
        request,
        "enrolment/platform_sales.html",
        {
            "platform": platform,
            "page": Paginator(rows, PER_PAGE).get_page(request.GET.get("page")),
            "totals": totals,
            "status": status,
            "statuses": PurchaseStatus.choices,
        },
    )


@require("mitra.view")
def institution_participants(request: HttpRequest) -> HttpResponse:
    institution = _partner(request, Kind.INSTITUTION)
    status = _status(request)
    rows = selectors.institution_participants(institution, status=status)
    totals = selectors.partner_totals(institution)
    return render(
        request,
        "enrolment/institution_participants.html",
        {
            "institution": institution,
            "page": Paginator(rows, PER_PAGE).get_page(request.GET.get("page")),
            "totals": totals,
            "status": status,
            "statuses": PurchaseStatus.choices,
        },
    )


# --- the programme office -------------------------------------------------------------------------------


@require("catalog.view")
def pmo_purchases(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "enrolment/pmo_purchases.html",
        {
            "platforms": selectors.purchase_totals("platform"),
            "institutions": selectors.purchase_totals("institution"),
        },
    )


@require("catalog.view")
def pmo_implausible(request: HttpRequest) -> HttpResponse:
    try:
        days = min(max(int(request.GET.get("hari", "90")), 1), 3660)
    except ValueError:
        days = 90
    found = selectors.implausible_completions(since=timezone.now() - timedelta(days=days))
    rows = [(item.purchase, [PROBLEMS.get(p, p) for p in item.problems]) for item in found]
    return render(request, "enrolment/pmo_implausible.html", {"rows": rows, "days": days})
