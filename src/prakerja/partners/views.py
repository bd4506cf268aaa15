"""Partner pages: sign-up, the application and API credentials on the partner portal; screening, agreements,
standing and conflicts of interest for the programme office."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from prakerja.accounts.permissions import authorize, can, object_rule, require
from prakerja.core.audit import audit_record, audit_trail_for
from prakerja.core.errors import Conflict, InvalidInput, NotFound, PrakerjaError
from prakerja.core.forms import add_problems
from prakerja.identity.rules import Problem
from prakerja.partners import rules, selectors, services
from prakerja.partners.forms import (
    AgreementForm,
    ApplicationForm,
    ConflictForm,
    CooperationForm,
    DocumentForm,
    ReasonForm,
    ScreeningForm,
    SignupForm,
    TieForm,
    TrainerForm,
    VerdictForm,
    WebhookEndpointForm,
    verbose_name,
)
from prakerja.partners.models import (
    ConflictOfInterest,
    ConflictStatus,
    Credential,
    Document,
    DocumentKind,
    Kind,
    Partner,
    PartnerStatus,
    Tie,
    Trainer,
    WebhookStatus,
)
from prakerja.regions.selectors import provinces

# Where credentials can be issued and used: an agreement is signed (the first issue integrates the partner).
CREDENTIAL_STATUSES = (PartnerStatus.AGREEMENT_SIGNED, PartnerStatus.INTEGRATED)
NEXT_STEP = {
    PartnerStatus.DRAFT: gettext_lazy(
        "Fill in the application, declare the owners and directors, upload the documents, then submit it. "
        "Nothing is sent to the programme office before you submit."
    ),
    PartnerStatus.SUBMITTED: gettext_lazy(
        "The application is submitted. A partnership officer will screen it against the published criteria."
    ),
    PartnerStatus.IN_REVIEW: gettext_lazy(
        "A partnership officer is screening the application. One officer proposes the verdict and a second "
        "officer confirms it; you are told the outcome by e-mail."
    ),
    PartnerStatus.APPROVED: gettext_lazy(
        "The application is approved. The programme office will contact you to sign the cooperation "
        "agreement (PKS)."
    ),
    PartnerStatus.REJECTED: gettext_lazy(
        "The application was rejected. You may correct it and submit it again."
    ),
    PartnerStatus.AGREEMENT_SIGNED: gettext_lazy(
        "The cooperation agreement is signed. Issue API credentials to connect your systems."
    ),
    PartnerStatus.INTEGRATED: gettext_lazy("Your systems are connected to Prakerja through the API."),
    PartnerStatus.SUSPENDED: gettext_lazy(
        "The partnership is suspended. Contact the programme office about the reason given below."
    ),
}


def _wrong_state(partner: Partner, *needed: str) -> services.PartnerWrongState:
    return services.PartnerWrongState(
        status=PartnerStatus(partner.status).label,
        needed=" / ".join(str(PartnerStatus(s).label) for s in needed),
    )


def _fields(partner: Partner) -> list[tuple[Any, Any]]:
    """The application's own fields as (label, value) for reading, the other kind's fields left out."""
    names = dict(provinces().values_list("code", "name"))
    shown = [
        ("name", partner.name),
        ("legal_name", partner.legal_name),
        ("legal_form", partner.get_legal_form_display()),
        ("deed_number", partner.deed_number),
        ("deed_date", partner.deed_date),
        ("nib", partner.nib),
        ("address", partner.address),
        ("province_code", names.get(partner.province_code, partner.province_code)),
        ("description", partner.description),
    ]
    if partner.kind == Kind.PLATFORM:
        shown += [
            ("portal_url", partner.portal_url),
            ("it_systems", partner.it_systems),
            ("national_reach", _("yes") if partner.national_reach else _("no")),
            ("other_institutions", partner.other_institutions),
        ]
    else:
        shown += [
            ("accreditation", partner.accreditation),
            ("accreditation_number", partner.accreditation_number),
            ("accredited_until", partner.accredited_until),
        ]
    return [(verbose_name(name), value) for name, value in shown]


def _missing(partner: Partner) -> list[str]:
    """What the draft still lacks, a missing document named by its label rather than its code."""
    problems = services.application_problems(partner)
    return [
        Problem(p.code, p.template, {"kind": DocumentKind(p.params["kind"]).label}).message
        if p.params.get("kind") in DocumentKind.values
        else p.message
        for p in problems
    ]


def _posted_id(request: HttpRequest, name: str) -> int:
    """The id of an object named in the posted form; anything but digits finds nothing."""
    value = request.POST.get(name, "")
    if not (value.isascii() and value.isdigit()):
        raise NotFound()
    return int(value)


def _no_store(response: HttpResponse) -> HttpResponse:
    """A page showing a secret must not be kept by the browser or a proxy."""
    response["Cache-Control"] = "no-store"
    return response


def _credential_step(request: HttpRequest, partner: Partner) -> tuple[Credential, str] | None:
    """Issue, rotate or revoke; the new secret is returned to be shown in this response and nowhere else."""
    action = request.POST.get("action", "")
    try:
        if action == "issue":
            issued = services.credential_issue(partner=partner, officer=request.user)
            messages.success(request, _("Credentials issued. Copy the secret now: it is shown only once."))
            return issued
        credential = get_object_or_404(
            Credential, pk=_posted_id(request, "credential"), partner=partner, revoked_at=None
        )
        if action == "rotate":
            issued = services.credential_rotate(credential=credential, officer=request.user)
            messages.success(
                request,
                _("New credentials issued and %(old)s revoked. Copy the secret now: it is shown only once.")
                % {"old": credential.client_id},
            )
            return issued
        if action == "revoke":
            services.credential_revoke(credential=credential, officer=request.user)
            messages.success(request, _("%(client)s is revoked.") % {"client": credential.client_id})
    except PrakerjaError as exc:
        messages.error(request, exc.detail)
    return None


@object_rule("mitra.view", Document)
def _own_partners_document(user: Any, document: Document) -> bool:
    partner = selectors.partner_of(user)
    return partner is not None and partner.pk == document.partner_id


# --- the partner portal ---------------------------------------------------------------------------------


def _own_partner(request: HttpRequest) -> Partner:
    authorize(request.user, "mitra.view")
    partner = selectors.partner_of(request.user)
    if partner is None:
        raise NotFound(_("This account does not act for a platform or an institution."), code="no_partner")
    return partner


def _own_draft(request: HttpRequest) -> Partner:
    """The member's partner, for a change to the application: only while it is a draft."""
    partner = _own_partner(request)
    authorize(request.user, "mitra.change")
    if partner.status != PartnerStatus.DRAFT:
        raise _wrong_state(partner, PartnerStatus.DRAFT)
    return partner


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("partners:application" if selectors.partner_of(request.user) else "accounts:home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            partner = services.partner_signup(
                kind=data["kind"], name=data["name"], email=data["email"], password=data["password"]
            )
        except PrakerjaError as exc:
            add_problems(form, exc)
        else:
            login(request, partner.members.get().user)
            messages.success(request, _("Account created. Fill in the application, then submit it."))
            return redirect("partners:application")
    return render(request, "partners/signup.html", {"form": form})


def _application_page(request: HttpRequest, partner: Partner, **forms: Any) -> HttpResponse:
    draft = partner.status == PartnerStatus.DRAFT
    editable = draft and can(request.user, "mitra.change")
    initial = {name: getattr(partner, name) for name in services.EDITABLE}
    return render(
        request,
        "partners/application.html",
        {
            "partner": partner,
            "next_step": NEXT_STEP[PartnerStatus(partner.status)],
            "editable": editable,
            "can_upload": can(request.user, "mitra.change")
            and partner.status in (PartnerStatus.DRAFT, *selectors.IN_GOOD_STANDING),
            "fields": _fields(partner),
            "ties": partner.ties.select_related("party").order_by("role", "party__name"),
            "trainers": partner.trainers.order_by("name"),
            "cooperations": partner.cooperations.select_related("institution").order_by("institution__name"),
            "documents": partner.documents.order_by("-uploaded_at"),
            "missing": _missing(partner) if draft else [],
            "credentials_open": partner.status in CREDENTIAL_STATUSES,
            "application_form": forms.get("application_form")
            or ApplicationForm(initial=initial, kind=partner.kind),
            "tie_form": forms.get("tie_form") or TieForm(),
            "trainer_form": forms.get("trainer_form") or TrainerForm(),
            "cooperation_form": forms.get("cooperation_form")
            or CooperationForm(
                initial={
                    "institutions": [c.institution_id for c in partner.cooperations.all()],
                    "other_institutions": partner.other_institutions,
                }
            ),
            "document_form": forms.get("document_form") or DocumentForm(kind=partner.kind),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def application(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _application_page(request, _own_partner(request))
    partner = _own_draft(request)
    form = ApplicationForm(request.POST, kind=partner.kind)
    if form.is_valid():
        try:
            services.partner_update(partner=partner, data=form.cleaned_data, actor=request.user)
        except PrakerjaError as exc:
            add_problems(form, exc)
        else:
            messages.success(request, _("The application is saved."))
            return redirect("partners:application")
    return _application_page(request, partner, application_form=form)


@login_required
@require_http_methods(["POST"])
def tie_add(request: HttpRequest) -> HttpResponse:
    partner = _own_draft(request)
    form = TieForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            tie = services.tie_add(
                partner=partner,
                party_kind=data["party_kind"],
                name=data["name"],
                number=data["number"],
                role=data["role"],
                share_percent=data["share_percent"],
                actor=request.user,
            )
        except PrakerjaError as exc:
            add_problems(form, exc)
        else:
            messages.success(
                request,
                _("%(name)s is declared as %(role)s.")
                % {"name": tie.party.name, "role": tie.get_role_display()},
            )
            return redirect("partners:application")
    return _application_page(request, partner, tie_form=form)


@login_required
@require_http_methods(["POST"])
def tie_remove(request: HttpRequest, pk: int) -> HttpResponse:
    partner = _own_draft(request)
    tie = get_object_or_404(Tie.objects.select_related("party"), pk=pk, partner=partner)
    services.tie_remove(tie=tie, actor=request.user)
    messages.success(request, _("%(name)s is removed.") % {"name": tie.party.name})
    return redirect("partners:application")


@login_required
@require_http_methods(["POST"])
def trainer_add(request: HttpRequest) -> HttpResponse:
    partner = _own_draft(request)
    form = TrainerForm(request.POST)
    if form.is_valid():
        try:
            trainer = services.trainer_add(institution=partner, actor=request.user, **form.cleaned_data)
        except PrakerjaError as exc:
            add_problems(form, exc)
        else:
            messages.success(request, _("Trainer %(name)s is added.") % {"name": trainer.name})
            return redirect("partners:application")
    return _application_page(request, partner, trainer_form=form)


@login_required
@require_http_methods(["POST"])
def trainer_remove(request: HttpRequest, pk: int) -> HttpResponse:
    partner = _own_draft(request)
    trainer = get_object_or_404(Trainer, pk=pk, institution=partner)
    services.trainer_remove(trainer=trainer, actor=request.user)
    messages.success(request, _("Trainer %(name)s is removed.") % {"name": trainer.name})
    return redirect("partners:application")


@login_required
@require_http_methods(["POST"])
def cooperation(request: HttpRequest) -> HttpResponse:
    partner = _own_draft(request)
    form = CooperationForm(request.POST)
    if form.is_valid():
        try:
            # Both halves of one declaration: the registered institutions and the others, named in text.
            with transaction.atomic():
                services.partner_update(
                    partner=partner,
                    data={"other_institutions": form.cleaned_data["other_institutions"]},
                    actor=request.user,
                )
                services.cooperation_set(
                    platform=partner, institutions=form.cleaned_data["institutions"], actor=request.user
                )
        except PrakerjaError as exc:
            add_problems(form, exc)
        else:
            messages.success(request, _("The cooperating institutions are saved."))
            return redirect("partners:application")
    return _application_page(request, partner, cooperation_form=form)


@login_required
@require_http_methods(["POST"])
def document_upload(request: HttpRequest) -> HttpResponse:
    partner = _own_partner(request)
    authorize(request.user, "mitra.change")
    form = DocumentForm(request.POST, request.FILES, kind=partner.kind)
    if form.is_valid():
        try:
            document = services.document_upload(
                partner=partner,
                kind=form.cleaned_data["kind"],
                upload=form.cleaned_data["file"],
                actor=request.user,
            )
        except PrakerjaError as exc:
            add_problems(form, exc, default="file")
        else:
            messages.success(
                request,
                _("%(name)s is uploaded as %(kind)s.")
                % {"name": document.original_name, "kind": document.get_kind_display()},
            )
            return redirect("partners:application")
    return _application_page(request, partner, document_form=form)


@login_required
@require_http_methods(["POST"])
def submit(request: HttpRequest) -> HttpResponse:
    partner = _own_draft(request)
    try:
        services.partner_submit(partner=partner, actor=request.user)
    except PrakerjaError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("The application is submitted. We sent you a confirmation by e-mail."))
    return redirect("partners:application")


@login_required
@require_http_methods(["POST"])
def reopen(request: HttpRequest) -> HttpResponse:
    partner = _own_partner(request)
    authorize(request.user, "mitra.change")
    try:
        services.partner_reopen(partner=partner, actor=request.user)
    except PrakerjaError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("The application is a draft again: correct it and submit it."))
    return redirect("partners:application")


@login_required
@require_http_methods(["GET", "POST"])
def credentials(request: HttpRequest) -> HttpResponse:
    partner = _own_partner(request)
    issued = None
    if request.method == "POST":
        authorize(request.user, "mitra.change")
        if partner.status not in CREDENTIAL_STATUSES:
            raise _wrong_state(partner, *CREDENTIAL_STATUSES)
        issued = _credential_step(request, partner)
        partner.refresh_from_db()
    return _no_store(
        render(
            request,
            "partners/credentials.html",
            {
                "partner": partner,
                "open": partner.status in CREDENTIAL_STATUSES,
                "manage": partner.status in CREDENTIAL_STATUSES and can(request.user, "mitra.change"),
                "live": selectors.live_credentials(partner),
                "revoked": partner.credentials.exclude(revoked_at=None).order_by("-revoked_at"),
                "issued": issued,
                "agreement": services.agreement_in_force(partner),
            },
        )
    )


@login_required
def document_download(request: HttpRequest, pk: int) -> FileResponse:
    """A partner's document, to its own members and to programme office staff who may read partners."""
    document = Document.objects.select_related("partner").filter(pk=pk).first()
    if document is None or not (
        can(request.user, "partners.view") or can(request.user, "mitra.view", document)
    ):
        raise NotFound()  # the same answer whether it exists or not
    audit_record(
        actor=request.user,
        action="partners.document_downloaded",
        obj=document.partner,
        after={"document": document.pk},
    )
    return FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        filename=document.original_name,
        content_type=document.content_type,
    )


# --- the programme office -------------------------------------------------------------------------------


@require("partners.view")
def partner_list(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    status = request.GET.get("status", "")
    kind = kind if kind in Kind.values else ""
    status = status if status in PartnerStatus.values else ""
    page = Paginator(selectors.partners(kind=kind, status=status).order_by("name", "pk"), 50).get_page(
        request.GET.get("page")
    )
    counts = selectors.status_counts()
    return render(
        request,
        "partners/pmo_list.html",
        {
            "page": page,
            "kind": kind,
            "status": status,
            "kinds": Kind.choices,
            "statuses": [(value, label, counts[value]) for value, label in PartnerStatus.choices],
            "total": sum(counts.values()),
            "query": "&".join(f"{k}={v}" for k, v in (("kind", kind), ("status", status)) if v),
            "flagged": selectors.conflicts().filter(status=ConflictStatus.FLAGGED, linked=True).count(),
        },
    )


def _screening_rows(partner: Partner, bound: tuple[str, ScreeningForm] | None) -> list[dict[str, Any]]:
    findings = selectors.findings_of_round(partner)
    rows = []
    for code, label in rules.CRITERIA[partner.kind].items():
        finding = findings.get(code)
        if bound and bound[0] == code:
            form = bound[1]
        else:
            initial = (
                {
                    "passed": "true" if finding.passed else "false",
                    "evidence": finding.evidence,
                    "note": finding.note,
                }
                if finding
                else {}
            )
            form = ScreeningForm(initial=initial, auto_id=f"id_{code}_%s")
        rows.append({"code": code, "label": label, "finding": finding, "form": form})
    return rows


def _detail(
    request: HttpRequest,
    partner: Partner,
    *,
    issued: tuple[Credential, str] | None = None,
    screening: tuple[str, ScreeningForm] | None = None,
    **forms: Any,
) -> HttpResponse:
    status = PartnerStatus(partner.status)
    proposed = selectors.proposed_verdict(partner)
    response = render(
        request,
        "partners/pmo_detail.html",
        {
            "partner": partner,
            "fields": _fields(partner),
            "perms_change": can(request.user, "partners.change"),
            "documents": partner.documents.order_by("kind", "-uploaded_at"),
            "ties": partner.ties.select_related("party").order_by("role", "party__name"),
            "trainers": partner.trainers.order_by("name"),
            "sells_for": partner.cooperations.select_related("institution").order_by("institution__name"),
            "sold_by": partner.platform_cooperations.select_related("platform").order_by("platform__name"),
            "conflicts": selectors.conflicts(partner=partner),
            "members": partner.members.select_related("user").order_by("joined_at"),
            "in_review": status == PartnerStatus.IN_REVIEW,
            "screening_rows": _screening_rows(partner, screening),
            "proposed": proposed,
            "verdicts": partner.verdicts.select_related("proposed_by", "checked_by").order_by("-round"),
            "agreements": [
                (a, a.commission_cap_bp / 100) for a in partner.agreements.select_related("recorded_by")
            ],
            "agreement_open": status in selectors.IN_GOOD_STANDING,
            "credentials_open": status in CREDENTIAL_STATUSES,
            "live": selectors.live_credentials(partner),
            "revoked": partner.credentials.exclude(revoked_at=None).order_by("-revoked_at"),
            "issued": issued,
            "good_standing": status in selectors.IN_GOOD_STANDING,
            "trail": audit_trail_for(partner),
            "verdict_form": forms.get("verdict_form") or VerdictForm(),
            "agreement_form": forms.get("agreement_form") or AgreementForm(),
            "suspend_form": forms.get("suspend_form") or ReasonForm(),
        },
    )
    return _no_store(response) if issued else response


@require("partners.view")
def partner_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, services.partner_get(pk))


def _step(request: HttpRequest, pk: int, run: Callable[[Partner], str]) -> HttpResponse:
    """One step that needs no form: run it, say what happened (or why not), back to the partner."""
    try:
        messages.success(request, run(services.partner_get(pk)))
    except PrakerjaError as exc:
        messages.error(request, exc.detail)
    return redirect("partners:pmo_detail", pk=pk)


@require("partners.change")
@require_http_methods(["POST"])
def review_start(request: HttpRequest, pk: int) -> HttpResponse:
    def run(partner: Partner) -> str:
        number = services.review_start(partner=partner, officer=request.user)
        return _("Review round %(round)d started: screen every criterion.") % {"round": number}

    return _step(request, pk, run)


@require("partners.change")
@require_http_methods(["POST"])
def screen(request: HttpRequest, pk: int) -> HttpResponse:
    partner = services.partner_get(pk)
    code = request.POST.get("criterion", "")
    if code not in rules.CRITERIA[partner.kind]:
        raise InvalidInput(_("Unknown criterion."), code="unknown_criterion")
    form = ScreeningForm(request.POST, auto_id=f"id_{code}_%s")
    if form.is_valid():
        try:
            services.screening_record(
                partner=partner, criterion=code, officer=request.user, **form.cleaned_data
            )
        except PrakerjaError as exc:
            add_problems(form, exc)
        else:
            messages.success(
                request,
                _("Finding recorded: %(criterion)s.") % {"criterion": rules.CRITERIA[partner.kind][code]},
            )
            return redirect(f"{reverse('partners:pmo_detail', kwargs={'pk': pk})}#screening")
    return _detail(request, partner, screening=(code, form))


@require("partners.change")
@require_http_methods(["POST"])
def verdict_propose(request: HttpRequest, pk: int) -> HttpResponse:
    partner = services.partner_get(pk)
    form = VerdictForm(request.POST)
    if form.is_valid():
        try:
            services.verdict_propose(partner=partner, officer=request.user, **form.cleaned_data)
        except PrakerjaError as exc:
            add_problems(form, exc)
        else:
            messages.success(request, _("Verdict proposed: a second officer must confirm it."))
            return redirect("partners:pmo_detail", pk=pk)
    return _detail(request, partner, verdict_form=form)


@require("partners.change")
@require_http_methods(["POST"])
def verdict_check(request: HttpRequest, pk: int) -> HttpResponse:
    confirm = request.POST.get("action") == "confirm"

    def run(partner: Partner) -> str:
        verdict = selectors.proposed_verdict(partner)
        if verdict is None:
            raise Conflict(_("No verdict is waiting for a second officer."))
        services.verdict_check(verdict=verdict, officer=request.user, confirm=confirm)
        if not confirm:
            return _("The verdict is returned to review.")
        partner.refresh_from_db()
        return _("Verdict confirmed: the partner is %(status)s.") % {"status": partner.get_status_display()}

    return _step(request, pk, run)


@require("partners.change")
@require_http_methods(["POST"])
def agreement(request: HttpRequest, pk: int) -> HttpResponse:
    partner = services.partner_get(pk)
    form = AgreementForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            recorded = services.agreement_record(
                partner=partner,
                number=data["number"],
                signed_on=data["signed_on"],
                starts_on=data["starts_on"],
                ends_on=data["ends_on"],
                commission_cap_bp=form.basis_points(),
                officer=request.user,
            )
        except PrakerjaError as exc:
            add_problems(form, exc, rename={"commission_cap_bp": "commission_cap"})
        else:
            messages.success(request, _("Agreement %(number)s recorded.") % {"number": recorded.number})
            return redirect("partners:pmo_detail", pk=pk)
    return _detail(request, partner, agreement_form=form)


@require("partners.change")
@require_http_methods(["POST"])
def credentials_manage(request: HttpRequest, pk: int) -> HttpResponse:
    partner = services.partner_get(pk)
    issued = _credential_step(request, partner)
    partner.refresh_from_db()
    if issued is None:
        return redirect("partners:pmo_detail", pk=pk)
    return _detail(request, partner, issued=issued)


@require("partners.change")
@require_http_methods(["POST"])
def suspend(request: HttpRequest, pk: int) -> HttpResponse:
    partner = services.partner_get(pk)
    form = ReasonForm(request.POST)
    if form.is_valid():
        try:
            services.partner_suspend(
                partner=partner, reason=form.cleaned_data["reason"], officer=request.user
            )
        except PrakerjaError as exc:
            add_problems(form, exc)
        else:
            messages.success(request, _("%(name)s is suspended.") % {"name": partner.name})
            return redirect("partners:pmo_detail", pk=pk)
    return _detail(request, partner, suspend_form=form)


@require("partners.change")
@require_http_methods(["POST"])
def reinstate(request: HttpRequest, pk: int) -> HttpResponse:
    def run(partner: Partner) -> str:
        partner = services.partner_reinstate(partner=partner, officer=request.user)
        return _("The suspension is lifted: the partner is %(status)s.") % {
            "status": partner.get_status_display()
        }

    return _step(request, pk, run)


@require("partners.view")
@require_http_methods(["GET", "POST"])
def conflict_list(request: HttpRequest) -> HttpResponse:
    bound: tuple[int, ConflictForm] | None = None
    if request.method == "POST":
        authorize(request.user, "partners.change")
        conflict = get_object_or_404(ConflictOfInterest, pk=_posted_id(request, "conflict"))
        form = ConflictForm(request.POST, auto_id=f"id_c{conflict.pk}_%s")
        if form.is_valid():
            allow = request.POST.get("decision") == "allow"
            try:
                services.conflict_decide(
                    conflict=conflict, allow=allow, note=form.cleaned_data["note"], officer=request.user
                )
            except PrakerjaError as exc:
                add_problems(form, exc)
            else:
                messages.success(
                    request,
                    (
                        _("%(platform)s and %(institution)s: allowed.")
                        if allow
                        else _("%(platform)s and %(institution)s: forbidden.")
                    )
                    % {"platform": conflict.platform.name, "institution": conflict.institution.name},
                )
                return redirect("partners:conflicts")
        bound = (conflict.pk, form)
    rows = [
        (
            conflict,
            bound[1] if bound and bound[0] == conflict.pk else ConflictForm(auto_id=f"id_c{conflict.pk}_%s"),
        )
        for conflict in selectors.conflicts()
    ]
    return render(
        request,
        "partners/pmo_conflicts.html",
        {"rows": rows, "perms_change": can(request.user, "partners.change")},
    )


WEBHOOK_LOG_PER_PAGE = 50


def _webhook_step(request: HttpRequest, partner: Partner) -> str | None:
    """Set the address, rotate the secret or replay a message; a new secret is returned to show once."""
    action = request.POST.get("action", "")
    try:
        if action == "set":
            form = WebhookEndpointForm(request.POST)
            if not form.is_valid():
                messages.error(request, _("Enter the webhook address."))
                return None
            _endpoint, secret = services.webhook_endpoint_set(
                partner=partner, url=form.cleaned_data["url"], actor=request.user
            )
            messages.success(request, _("The webhook address is saved."))
            return secret
        if action == "rotate":
            _endpoint, secret = services.webhook_secret_rotate(partner=partner, actor=request.user)
            messages.success(request, _("A new signing secret is issued; the old one no longer signs."))
            return secret
        if action == "replay":
            message = services.webhook_replay(
                event_id=request.POST.get("event_id", ""), partner=partner, actor=request.user
            )
            messages.success(request, _("%(id)s is queued to be sent again.") % {"id": message.event_id})
    except PrakerjaError as exc:
        messages.error(request, exc.detail)
    return None


@login_required
@require_http_methods(["GET", "POST"])
def webhook(request: HttpRequest) -> HttpResponse:
    """The partner's webhook address, its signing secret (shown once) and the delivery log."""
    partner = _own_partner(request)
    secret = None
    if request.method == "POST":
        authorize(request.user, "mitra.change")
        secret = _webhook_step(request, partner)
        if secret is None:
            return redirect("partners:webhook")
    status = request.GET.get("status", "")
    status = status if status in WebhookStatus.values else ""
    endpoint = selectors.webhook_endpoint(partner)
    page = Paginator(selectors.webhook_messages(partner, status=status), WEBHOOK_LOG_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return _no_store(
        render(
            request,
            "partners/webhook.html",
            {
                "partner": partner,
                "endpoint": endpoint,
                "secret": secret,
                "manage": can(request.user, "mitra.change"),
                "form": WebhookEndpointForm(initial={"url": endpoint.url if endpoint else ""}),
                "page": page,
                "status": status,
                "statuses": WebhookStatus.choices,
                "query": f"status={status}" if status else "",
            },
        )
    )
