"""Catalogue pages: the participants' catalogue and training page, the institutions' trainings, the platforms'
shelf, and curation, prices, uptake and review moderation for the programme office."""

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from prakerja.accounts.permissions import authorize, can, object_rule, require
from prakerja.catalog import rules, selectors, services
from prakerja.catalog.forms import (
    CatalogueForm,
    CurationForm,
    ListingForm,
    ModerationForm,
    SessionForm,
    TrainingForm,
)
from prakerja.catalog.models import (
    Listing,
    Mode,
    Review,
    ReviewStatus,
    Sector,
    Session,
    Training,
    TrainingStatus,
)
from prakerja.core.errors import Forbidden, InvalidInput, PrakerjaError
from prakerja.core.forms import add_problems
from prakerja.ledger.selectors import balance
from prakerja.partners.models import Kind, Partner
from prakerja.partners.selectors import partner_of
from prakerja.regions.selectors import names_above_villages
from prakerja.waves.models import Card, CardStatus

PER_PAGE = 20


@object_rule("mitra.view", Training)
@object_rule("mitra.change", Training)
def _own_institutions_training(user: Any, training: Training) -> bool:
    partner = partner_of(user)
    return partner is not None and partner.pk == training.institution_id


@object_rule("mitra.change", Listing)
def _own_platforms_listing(user: Any, listing: Listing) -> bool:
    partner = partner_of(user)
    return partner is not None and partner.pk == listing.platform_id


def _placed(sessions: Any) -> list[Session]:
    """Sessions with the names of their district and regency, for display."""
    names = names_above_villages()
    rows = list(sessions)
    for session in rows:
        parts = (names.get(session.village_code[:6]), names.get(session.regency_code))
        session.place = ", ".join(p for p in parts if p)
    return rows


# --- participants -------------------------------------------------------------------------------------


def _card_balance(user: Any) -> int | None:
    """The training balance of the logged-in participant's active card, if they hold one."""
    applicant = getattr(user, "applicant", None) if getattr(user, "is_authenticated", False) else None
    card = Card.objects.filter(applicant=applicant, status=CardStatus.ACTIVE).first() if applicant else None
    return balance(card.account_code) if card else None


def catalogue(request: HttpRequest) -> HttpResponse:
    """Search the catalogue; an htmx request gets only the results, a plain one the whole page."""
    own_balance = _card_balance(request.user)
    data = request.GET.copy()
    if own_balance is not None and "max_price" not in data:
        data["max_price"] = str(own_balance)  # within my balance, unless the participant clears it
    form = CatalogueForm(data)
    form.is_valid()
    filters = form.filters()
    try:
        found = selectors.trainings_search(**filters, per_page=PER_PAGE)
    except InvalidInput as exc:  # a value no form field stops (none today) still gives a page, not a trace
        add_problems(form, exc)
        found = selectors.SearchPage(total=0, page=1, per_page=PER_PAGE)
    query = {k: v for k, v in data.items() if k != "page"}
    context = {
        "form": form,
        "found": found,
        "query": urlencode(query),
        "own_balance": own_balance,
        "within_balance": own_balance is not None and filters["max_price"] == own_balance,
    }
    htmx: Any = getattr(request, "htmx", None)
    partial = bool(htmx) and not htmx.boosted and not htmx.history_restore_request
    response = render(request, "catalog/_results.html" if partial else "catalog/catalogue.html", context)
    patch_vary_headers(response, ("HX-Request",))  # the same URL answers a page or a fragment
    return response


def training_page(request: HttpRequest, pk: int) -> HttpResponse:
    detail = selectors.training_detail(pk)
    _placed(detail.sessions)
    return render(request, "catalog/training.html", {"d": detail, "t": detail.training})


# --- institutions -------------------------------------------------------------------------------------


def _partner(request: HttpRequest, kind: str) -> Partner:
    partner = partner_of(request.user)
    if partner is None or partner.kind != kind:
        raise Forbidden(
            _("This page is for staff of a training institution.")
            if kind == Kind.INSTITUTION
            else _("This page is for staff of a digital platform.")
        )
    return partner


def _own_training(request: HttpRequest, pk: int, action: str = "mitra.view") -> Training:
    training = get_object_or_404(Training.objects.select_related("institution"), pk=pk)
    authorize(request.user, action, training)
    return training


@require("mitra.view")
@require_http_methods(["GET", "POST"])
def institution_trainings(request: HttpRequest) -> HttpResponse:
    institution = _partner(request, Kind.INSTITUTION)
    form = TrainingForm(request.POST or None)
    if request.method == "POST":
        authorize(request.user, "mitra.change")
        if form.is_valid():
            try:
                training = services.training_create(actor=request.user, data=form.cleaned_data)
            except PrakerjaError as exc:
                add_problems(form, exc)
            else:
                messages.success(request, _("Training saved as a draft. Add its sessions, then submit it."))
                return redirect("catalog:institution_training", pk=training.pk)
    return render(
        request,
        "catalog/institution_trainings.html",
        {"institution": institution, "trainings": selectors.trainings_of(institution), "form": form},
    )


def _institution_page(request: HttpRequest, training: Training, **forms: Any) -> HttpResponse:
    editable = training.status in services.EDITABLE
    return render(
        request,
        "catalog/institution_training.html",
        {
            "t": training,
            "editable": editable and can(request.user, "mitra.change", training),
            "form": forms.get("form") or TrainingForm(initial=TrainingForm.initial_of(training)),
            "session_form": forms.get("session_form") or SessionForm(),
            "sessions": _placed(training.sessions.order_by("starts_at")),
            "curations": selectors.curations_of(training),
            "needs_place": training.mode in rules.WITH_A_PLACE,
        },
    )


@require("mitra.view")
@require_http_methods(["GET", "POST"])
def institution_training(request: HttpRequest, pk: int) -> HttpResponse:
    training = _own_training(request, pk)
    if request.method == "GET":
        return _institution_page(request, training)
    authorize(request.user, "mitra.change", training)
    form = TrainingForm(request.POST)
    if form.is_valid():
        try:
            services.training_update(training=training, actor=request.user, data=form.cleaned_data)
        except PrakerjaError as exc:
            add_problems(form, exc)
        else:
            messages.success(request, _("Training saved."))
            return redirect("catalog:institution_training", pk=pk)
    return _institution_page(request, training, form=form)


@require("mitra.change")
@require_http_methods(["POST"])
def session_add(request: HttpRequest, pk: int) -> HttpResponse:
    training = _own_training(request, pk, "mitra.change")
    form = SessionForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.session_add(
                training=training,
                actor=request.user,
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                village_code=data["village_code"],
                address=data["address"],
                capacity=data["capacity"],
            )
        except PrakerjaError as exc:
            add_problems(form, exc)
        else:
            messages.success(request, _("Session added."))
            return redirect("catalog:institution_training", pk=pk)
    return _institution_page(request, training, session_form=form)


@require("mitra.change")
@require_http_methods(["POST"])
def session_remove(request: HttpRequest, pk: int, session_pk: int) -> HttpResponse:
    training = _own_training(request, pk, "mitra.change")
    session = get_object_or_404(Session, pk=session_pk, training=training)
    try:
        services.session_remove(session=session, actor=request.user)
    except PrakerjaError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("Session removed."))
    return redirect("catalog:institution_training", pk=pk)


@require("mitra.change")
@require_http_methods(["POST"])
def training_submit(request: HttpRequest, pk: int) -> HttpResponse:
    training = _own_training(request, pk, "mitra.change")
    try:
        services.training_submit(training=training, actor=request.user)
    except PrakerjaError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("Submitted: the programme office curates it next."))
    return redirect("catalog:institution_training", pk=pk)


# --- platforms ----------------------------------------------------------------------------------------


@require("mitra.view")
def platform_shelf(request: HttpRequest) -> HttpResponse:
    platform = _partner(request, Kind.PLATFORM)
    return render(
        request,
        "catalog/platform_shelf.html",
        {
            "platform": platform,
            "items": selectors.shelf(platform),
            "perms_change": can(request.user, "mitra.change"),
        },
    )


@require("mitra.change")
@require_http_methods(["POST"])
def listing_create(request: HttpRequest, pk: int) -> HttpResponse:
    platform = _partner(request, Kind.PLATFORM)
    training = get_object_or_404(Training.objects.select_related("institution"), pk=pk)
    form = ListingForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("catalog:platform_shelf")
    try:
        services.listing_create(
            platform=platform, training=training, price=form.cleaned_data["price"], actor=request.user
        )
    except PrakerjaError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("Listed: participants see your price on the training's page."))
    return redirect("catalog:platform_shelf")


@require("mitra.change")
@require_http_methods(["POST"])
def listing_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    _partner(request, Kind.PLATFORM)
    listing = get_object_or_404(Listing, pk=pk)
    authorize(request.user, "mitra.change", listing)
    try:
        services.listing_withdraw(listing=listing, actor=request.user)
    except PrakerjaError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("Listing withdrawn."))
    return redirect("catalog:platform_shelf")


# --- the programme office -----------------------------------------------------------------------------


@require("catalog.view")
def curation_queue(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", TrainingStatus.SUBMITTED)
    if status not in TrainingStatus.values:
        status = ""
    return render(
        request,
        "catalog/pmo_queue.html",
        {
            "trainings": selectors.curation_queue(status)[:500],
            "status": status,
            "statuses": TrainingStatus.choices,
        },
    )


def _curation_page(
    request: HttpRequest, training: Training, form: CurationForm | None = None
) -> HttpResponse:
    reference, outlier = selectors.price_check(training)
    applicable = rules.checklist_for(training.mode)
    if form is None:
        form = CurationForm(initial={"checklist": [], "outcome": ""})
    return render(
        request,
        "catalog/pmo_training.html",
        {
            "t": training,
            "form": form,
            "applicable": applicable,
            "sessions": _placed(training.sessions.order_by("starts_at")),
            "listings": training.listings.select_related("platform").order_by("platform__name"),
            "curations": selectors.curations_of(training),
            "reference": reference,
            "outlier": outlier,
            "per_hour": training.price / training.hours if training.hours else None,
            "perms_change": can(request.user, "catalog.change"),
        },
    )


@require("catalog.view")
@require_http_methods(["GET", "POST"])
def curation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    training = get_object_or_404(Training.objects.select_related("institution"), pk=pk)
    if request.method == "GET":
        return _curation_page(request, training)
    authorize(request.user, "catalog.change")
    form = CurationForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.training_curate(
                training=training,
                officer=request.user,
                outcome=data["outcome"],
                checklist=dict.fromkeys(data["checklist"], True),
                reasons=data["reasons"],
            )
        except PrakerjaError as exc:
            add_problems(form, exc)
        else:
            messages.success(request, _("Decision recorded."))
            return redirect("catalog:curation_detail", pk=pk)
    return _curation_page(request, training, form)


@require("catalog.view")
def prices(request: HttpRequest) -> HttpResponse:
    sectors, modes = dict(Sector.choices), dict(Mode.choices)
    return render(
        request,
        "catalog/pmo_prices.html",
        {
            "references": [
                (sectors.get(r.sector, r.sector), modes.get(r.mode, r.mode), r)
                for r in selectors.reference_prices().values()
            ],
            "outliers": selectors.price_outliers(),
            "min_trainings": rules.REFERENCE_MIN_TRAININGS,
            "factor": rules.OUTLIER_FACTOR,
        },
    )


@require("catalog.view")
def uptake(request: HttpRequest) -> HttpResponse:
    return render(request, "catalog/pmo_uptake.html", {"u": selectors.uptake()})


@require("catalog.view")
def reviews(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in ReviewStatus.values:
        status = ""
    return render(
        request,
        "catalog/pmo_reviews.html",
        {
            "reviews": selectors.reviews_for_moderation(status)[:200],
            "status": status,
            "statuses": ReviewStatus.choices,
            "perms_change": can(request.user, "catalog.change"),
        },
    )


@require("catalog.change")
@require_http_methods(["POST"])
def review_moderate(request: HttpRequest, pk: int) -> HttpResponse:
    review = get_object_or_404(Review.objects.select_related("training"), pk=pk)
    form = ModerationForm(request.POST)
    if form.is_valid():
        hide = form.cleaned_data["hide"]
        try:
            services.review_moderate(
                review=review, officer=request.user, hide=hide, note=form.cleaned_data["note"]
            )
        except PrakerjaError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, _("Review hidden.") if hide else _("Review published again."))
    else:
        messages.error(request, "; ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect("catalog:reviews")
