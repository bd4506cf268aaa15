"""Partner writes: sign up, fill and submit an application, screen it (maker-checker), record the agreement,
issue API credentials, declare owners and cooperation, detect and decide conflicts of interest, suspend."""

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from standardwebhooks import Webhook

from prakerja.accounts.models import Role, User
from prakerja.accounts.services import ContactTaken, user_create
from prakerja.core.audit import audit_record
from prakerja.core.crypto import blind_index, mask
from prakerja.core.errors import Conflict, InvalidInput, NotAuthenticated, NotFound, PrakerjaError, invalid
from prakerja.core.models import Channel
from prakerja.core.notifications import notify
from prakerja.core.uploads import document_check
from prakerja.identity.rules import Problem
from prakerja.identity.selectors import nik_check
from prakerja.partners import rules
from prakerja.partners.models import (
    AccessToken,
    Agreement,
    ConflictOfInterest,
    ConflictStatus,
    Cooperation,
    Credential,
    Document,
    DocumentKind,
    Kind,
    LegalForm,
    Member,
    Partner,
    PartnerStatus,
    Party,
    PartyKind,
    Screening,
    Tie,
    TieRole,
    Trainer,
    Verdict,
    VerdictStatus,
    WebhookEndpoint,
    WebhookMessage,
    WebhookStatus,
)
from prakerja.partners.selectors import IN_GOOD_STANDING

log = logging.getLogger(__name__)

ROLE_OF_KIND = {Kind.PLATFORM: Role.PLATFORM_STAFF, Kind.INSTITUTION: Role.INSTITUTION_STAFF}
# The application's own fields a partner may fill while it is a draft.
EDITABLE = (
    "name",
    "legal_name",
    "legal_form",
    "deed_number",
    "deed_date",
    "nib",
    "address",
    "province_code",
    "portal_url",
    "description",
    "it_systems",
    "national_reach",
    "other_institutions",
    "accreditation",
    "accreditation_number",
    "accredited_until",
)


class PartnerInvalid(InvalidInput):
    code = "partner_invalid"
    message = _("The application is not complete: %(reasons)s")


class PartnerWrongState(Conflict):
    code = "partner_wrong_state"
    message = _("The partner is %(status)s; this step needs it %(needed)s.")


class SameOfficer(PrakerjaError):
    status = 403
    code = "same_officer"
    message = _("A second officer must confirm this, not the one who proposed it.")


class WrongCredentials(NotAuthenticated):
    code = "invalid_client"
    message = _("The client id or secret is wrong, or the credential was revoked.")


# The partner API's OAuth2 realm, named in every WWW-Authenticate challenge.
REALM = "prakerja-partner"


class InvalidScope(PrakerjaError):
    code = "invalid_scope"
    message = _("A scope asked for is not one a %(kind)s may have; it may have: %(allowed)s.")


class TokenInvalid(NotAuthenticated):
    code = "invalid_token"
    message = _("The access token is not valid: it is unknown or was revoked. Ask for a new one.")
    www_authenticate = (
        f'Bearer realm="{REALM}", error="invalid_token", '
        'error_description="The access token is unknown or was revoked"'
    )


class TokenExpired(NotAuthenticated):
    code = "token_expired"
    message = _("The access token expired at %(at)s (UTC). Ask for a new one.")
    www_authenticate = (
        f'Bearer realm="{REALM}", error="invalid_token", error_description="The access token expired"'
    )


def _invalid(problems: list[Problem]) -> PartnerInvalid:
    return invalid(PartnerInvalid, problems)


def _require(partner: Partner, *statuses: str) -> None:
    if partner.status not in statuses:
        raise PartnerWrongState(
            status=PartnerStatus(partner.status).label,
            needed=" / ".join(str(PartnerStatus(s).label) for s in statuses),
        )


def _locked(partner: Partner) -> Partner:
    return Partner.objects.select_for_update().get(pk=partner.pk)


def _changeable(partner: Partner) -> Partner:
    """Owners, trainers and cooperation change in a draft or in good standing, never while being screened."""
    partner = _locked(partner)
    _require(partner, PartnerStatus.DRAFT, *IN_GOOD_STANDING)
    return partner


def _tell_members(partner: Partner, subject: Any, body: Any, **params: Any) -> None:
    text = str(body) % params if params else str(body)
    for email in partner.members.values_list("user__email", flat=True):
        if email:
            notify(channel=Channel.EMAIL, recipient=email, subject=str(subject), body=text)


# --- the partner's side ---------------------------------------------------------------------------------


def partner_register(*, kind: str, name: str, actor: Any) -> Partner:
    """A draft application; the PMO may open one for a partner onboarded on paper."""
    name = name.strip()
    problems = []
    if kind not in Kind.values:
        problems.append(
            {"field": "kind", "code": "invalid", "message": str(_("Choose the kind of partner."))}
        )
    if not name:
        problems.append({"field": "name", "code": "missing", "message": str(_("Enter the partner's name."))})
    if problems:
        raise InvalidInput(problems=problems)
    with transaction.atomic():
        partner = Partner.objects.create(
            kind=kind, name=name, created_by=actor if isinstance(actor, User) else None
        )
        audit_record(
            actor=actor, action="partners.registered", obj=partner, after={"kind": kind, "name": name}
        )
    return partner


def partner_signup(*, kind: str, name: str, email: str, password: str) -> Partner:
    """A partner's first staff account and its draft application, in one step."""
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput(
            problems=[
                {"field": "email", "code": "invalid", "message": str(_("The e-mail address is not valid."))}
            ]
        ) from None
    if kind not in Kind.values:
        raise InvalidInput(
            problems=[{"field": "kind", "code": "invalid", "message": str(_("Choose the kind of partner."))}]
        )
    try:  # the same password rules as every other account
        validate_password(password, User(username=email, email=email))
    except ValidationError as exc:
        raise InvalidInput(
            problems=[{"field": "password", "code": "weak", "message": str(m)} for m in exc.messages]
        ) from None
    if User.objects.filter(email__iexact=email).exists():
        raise ContactTaken()
    with transaction.atomic():
        user = user_create(
            username=email,
            password=password,
            role=ROLE_OF_KIND[Kind(kind)],
            email=email,
            actor="system:mitra",
        )
        partner = partner_register(kind=kind, name=name, actor=user)
        member_add(partner=partner, user=user, actor=user)
    return partner


def member_add(*, partner: Partner, user: User, actor: Any) -> Member:
    """Let a user act for a partner; the user's role must fit the partner's kind."""
    if user.role != ROLE_OF_KIND[Kind(partner.kind)]:
        raise InvalidInput(_("This account's role does not fit the partner's kind."))
    with transaction.atomic():
        try:
            with transaction.atomic():
                member = Member.objects.create(partner=partner, user=user)
        except IntegrityError:
            raise Conflict(_("This account already acts for a partner.")) from None
        audit_record(actor=actor, action="partners.member_added", obj=partner, after={"user": user.pk})
    return member


def partner_update(*, partner: Partner, data: Mapping[str, Any], actor: Any) -> Partner:
    """Change the draft application's own fields; anything else in `data` is refused."""
    unknown = set(data) - set(EDITABLE)
    if unknown:
        raise InvalidInput(
            code="unknown_fields", problems=[{"field": f, "code": "unknown", "message": f} for f in unknown]
        )
    problems: list[Problem] = []
    if data.get("nib"):
        nib_problem = rules.nib_problem(str(data["nib"]))
        if nib_problem:
            problems.append(nib_problem)
    if data.get("portal_url"):
        try:
            URLValidator(schemes=["https", "http"])(data["portal_url"])
        except ValidationError:
            problems.append(Problem("portal_url:invalid", _("Enter a web address starting with https://.")))
    if data.get("legal_form") and data["legal_form"] not in LegalForm.values:
        problems.append(Problem("legal_form:invalid", _("Choose the legal form.")))
    if problems:
        raise _invalid(problems)
    with transaction.atomic():
        partner = _locked(partner)
        _require(partner, PartnerStatus.DRAFT)
        before = {k: str(getattr(partner, k)) for k in data}
        for key, value in data.items():
            setattr(partner, key, value.strip() if isinstance(value, str) else value)
        partner.save()
        audit_record(
            actor=actor,
            action="partners.updated",
            obj=partner,
            before=before,
            after={k: str(v) for k, v in data.items()},
        )
    return partner


def trainer_add(*, institution: Partner, name: str, competency: str, certificate: str, actor: Any) -> Trainer:
    if institution.kind != Kind.INSTITUTION:
        raise InvalidInput(_("Only a training institution has trainers."))
    if not name.strip() or not competency.strip():
        raise InvalidInput(_("Enter the trainer's name and competency."))
    with transaction.atomic():
        institution = _changeable(institution)
        trainer = Trainer.objects.create(
            institution=institution,
            name=name.strip(),
            competency=competency.strip(),
            certificate=certificate.strip(),
        )
        audit_record(
            actor=actor, action="partners.trainer_added", obj=institution, after={"trainer": trainer.name}
        )
    return trainer


def trainer_remove(*, trainer: Trainer, actor: Any) -> None:
    with transaction.atomic():
        _changeable(trainer.institution)
        audit_record(
            actor=actor,
            action="partners.trainer_removed",
            obj=trainer.institution,
            before={"trainer": trainer.name},
        )
        trainer.delete()


def document_upload(*, partner: Partner, kind: str, upload: Any, actor: Any) -> Document:
    """Store a document outside the web root after checking its type, size and content."""
    if kind not in DocumentKind.values:
        raise InvalidInput(_("Choose the kind of document."))
    content_type, content = document_check(upload)
    with transaction.atomic():
        partner = _locked(partner)
        _require(partner, PartnerStatus.DRAFT, *IN_GOOD_STANDING)
        document = Document(
            partner=partner,
            kind=kind,
            original_name=Path(upload.name).name[:200],
            content_type=content_type,
            size=upload.size,
            sha256=hashlib.sha256(content).hexdigest(),
            uploaded_by=actor if isinstance(actor, User) else None,
        )
        # The stored name is random: the original name may carry personal data and is kept only in the row.
        upload.name = f"{secrets.token_hex(16)}{Path(upload.name).suffix.lower()}"
        document.file = upload
        document.save()
        audit_record(
            actor=actor,
            action="partners.document_uploaded",
            obj=partner,
            after={"kind": kind, "sha256": document.sha256},
        )
    return document


def cooperation_set(*, platform: Partner, institutions: Iterable[Partner], actor: Any) -> None:
    """The registered institutions a platform sells for, replacing the earlier declaration."""
    chosen = {i.pk: i for i in institutions}
    if platform.kind != Kind.PLATFORM or any(i.kind != Kind.INSTITUTION for i in chosen.values()):
        raise InvalidInput(_("A platform cooperates with training institutions."))
    with transaction.atomic():
        platform = _changeable(platform)
        current = set(platform.cooperations.values_list("institution_id", flat=True))
        platform.cooperations.exclude(institution_id__in=chosen).delete()
        Cooperation.objects.bulk_create(
            [Cooperation(platform=platform, institution_id=pk) for pk in chosen if pk not in current]
        )
        audit_record(
            actor=actor,
            action="partners.cooperation_set",
            obj=platform,
            before={"institutions": sorted(current)},
            after={"institutions": sorted(chosen)},
        )


def _party_key(kind: str, number: str) -> tuple[str, str]:
    """The graph key of a person (blind index of the NIK) or a company (its NIB), and a masked hint."""
    number = number.strip().replace(".", "")
    if kind == PartyKind.PERSON:
        if nik_check(number).problems:
            raise InvalidInput(
                problems=[{"field": "number", "code": "invalid", "message": str(_("The NIK is not valid."))}]
            )
        return blind_index(number, purpose="party"), mask(number)
    problem = rules.nib_problem(number)
    if problem:
        raise InvalidInput(problems=[{"field": "number", "code": "invalid", "message": problem.message}])
    return f"nib:{number}", number


def tie_add(
    *,
    partner: Partner,
    party_kind: str,
    name: str,
    number: str,
    role: str,
    share_percent: int | None,
    actor: Any,
) -> Tie:
    """Declare an owner, director, commissioner or affiliated company; conflicts are detected again."""
    if party_kind not in PartyKind.values or role not in TieRole.values:
        raise InvalidInput(_("Choose who this is and their role."))
    if not name.strip():
        raise InvalidInput(
            problems=[{"field": "name", "code": "missing", "message": str(_("Enter the name."))}]
        )
    if share_percent is not None and not 0 < share_percent <= 100:
        raise InvalidInput(
            problems=[
                {"field": "share_percent", "code": "invalid", "message": str(_("A share is 1 to 100 %."))}
            ]
        )
    key, hint = _party_key(party_kind, number)
    with transaction.atomic():
        partner = _changeable(partner)
        party, _created = Party.objects.get_or_create(
            key=key, defaults={"kind": party_kind, "name": name.strip(), "id_hint": hint}
        )
        try:
            with transaction.atomic():
                tie = Tie.objects.create(partner=partner, party=party, role=role, share_percent=share_percent)
        except IntegrityError:
            raise Conflict(_("This person or company is already declared in that role.")) from None
        audit_record(
            actor=actor,
            action="partners.tie_added",
            obj=partner,
            after={"party": party.pk, "role": role, "hint": hint},
        )
        conflicts_detect(actor=actor)
    return tie


def tie_remove(*, tie: Tie, actor: Any) -> None:
    with transaction.atomic():
        _changeable(tie.partner)
        partner = tie.partner
        audit_record(
            actor=actor,
            action="partners.tie_removed",
            obj=partner,
            before={"party": tie.party_id, "role": tie.role},
        )
        tie.delete()
        conflicts_detect(actor=actor)


def _application(partner: Partner) -> rules.Application:
    roles = list(partner.ties.values_list("role", flat=True))
    return rules.Application(
        kind=partner.kind,
        legal_form=partner.legal_form,
        legal_name=partner.legal_name,
        deed_number=partner.deed_number,
        nib=partner.nib,
        portal_url=partner.portal_url,
        it_systems=partner.it_systems,
        national_reach=partner.national_reach,
        cooperations=partner.cooperations.count(),
        other_institutions=partner.other_institutions,
        trainers=partner.trainers.count(),
        owners=sum(r in ("owner", "affiliate") for r in roles),
        directors=sum(r == "director" for r in roles),
        documents=frozenset(partner.documents.values_list("kind", flat=True)),
    )


def application_problems(partner: Partner) -> list[Problem]:
    """What the partner must still fill in before submitting."""
    return rules.application_problems(_application(partner))


def partner_submit(*, partner: Partner, actor: Any) -> Partner:
    """Send a complete draft for screening."""
    with transaction.atomic():
        partner = _locked(partner)
        _require(partner, PartnerStatus.DRAFT)
        problems = application_problems(partner)
        if problems:
            raise _invalid(problems)
        partner.status, partner.submitted_at = PartnerStatus.SUBMITTED, timezone.now()
        partner.save(update_fields=["status", "submitted_at"])
        audit_record(actor=actor, action="partners.submitted", obj=partner)
        conflicts_detect(actor=actor)
        _tell_members(
            partner,
            _("Prakerja partner application received"),
            _("We received the application of %(name)s. A partnership officer will screen it."),
            name=partner.name,
        )
    return partner


def partner_reopen(*, partner: Partner, actor: Any) -> Partner:
    """A rejected applicant may correct its application and submit it again."""
    with transaction.atomic():
        partner = _locked(partner)
        _require(partner, PartnerStatus.REJECTED)
        partner.status = PartnerStatus.DRAFT
        partner.save(update_fields=["status"])
        audit_record(actor=actor, action="partners.reopened", obj=partner)
    return partner


# --- screening by the programme office ------------------------------------------------------------------


def review_start(*, partner: Partner, officer: Any) -> int:
    """A partnership officer takes a submitted application into review; returns the round number."""
    with transaction.atomic():
        partner = _locked(partner)
        _require(partner, PartnerStatus.SUBMITTED)
        partner.status, partner.review_round = PartnerStatus.IN_REVIEW, partner.review_round + 1
        partner.save(update_fields=["status", "review_round"])
        audit_record(
            actor=officer,
            action="partners.review_started",
            obj=partner,
            after={"round": partner.review_round},
        )
    return partner.review_round


def screening_record(
    *, partner: Partner, criterion: str, passed: bool, evidence: str, note: str, officer: Any
) -> Screening:
    """Record (or correct) the finding on one published criterion in the open round."""
    if criterion not in rules.CRITERIA[partner.kind]:
        raise InvalidInput(_("Unknown criterion."))
    if not evidence.strip():
        raise InvalidInput(
            problems=[
                {"field": "evidence", "code": "missing", "message": str(_("Say what evidence you checked."))}
            ]
        )
    with transaction.atomic():
        partner = _locked(partner)
        _require(partner, PartnerStatus.IN_REVIEW)
        number = partner.review_round
        if partner.verdicts.filter(round=number, status=VerdictStatus.PROPOSED).exists():
            raise Conflict(_("A verdict is proposed for this round; the second officer decides first."))
        finding, _created = Screening.objects.update_or_create(
            partner=partner,
            round=number,
            criterion=criterion,
            defaults={
                "passed": passed,
                "evidence": evidence.strip(),
                "note": note.strip(),
                "officer": officer,
                "at": timezone.now(),
            },
        )
        audit_record(
            actor=officer,
            action="partners.screened",
            obj=partner,
            after={"round": number, "criterion": criterion, "passed": passed},
        )
    return finding


def verdict_propose(*, partner: Partner, approve: bool, note: str, officer: Any) -> Verdict:
    """The maker's proposal: approve when every criterion passed, reject when one failed."""
    with transaction.atomic():
        partner = _locked(partner)
        _require(partner, PartnerStatus.IN_REVIEW)
        number = partner.review_round
        findings = dict(partner.screenings.filter(round=number).values_list("criterion", "passed"))
        problem = rules.verdict_problem(findings, partner.kind, approve)
        if problem:
            raise _invalid([problem])
        if not approve and not note.strip():
            raise InvalidInput(
                problems=[{"field": "note", "code": "missing", "message": str(_("Explain the rejection."))}]
            )
        verdict = partner.verdicts.filter(round=number).first()
        if verdict and verdict.status == VerdictStatus.PROPOSED:
            raise Conflict(_("A verdict is already proposed for this round."))
        verdict = verdict or Verdict(partner=partner, round=number)
        verdict.approve, verdict.note, verdict.status = approve, note.strip(), VerdictStatus.PROPOSED
        verdict.proposed_by, verdict.proposed_at = officer, timezone.now()
        verdict.checked_by = verdict.checked_at = None
        verdict.save()
        audit_record(
            actor=officer,
            action="partners.verdict_proposed",
            obj=partner,
            after={"round": number, "approve": approve},
        )
    return verdict


def verdict_check(*, verdict: Verdict, officer: Any, confirm: bool) -> Verdict:
    """The checker confirms the proposal (the partner is approved or rejected) or returns it to review."""
    with transaction.atomic():
        verdict = Verdict.objects.select_for_update().get(pk=verdict.pk)
        if verdict.status != VerdictStatus.PROPOSED:
            raise Conflict(_("This verdict is not waiting for a second officer."))
        if verdict.proposed_by_id == getattr(officer, "pk", None):
            raise SameOfficer()
        partner = _locked(verdict.partner)
        verdict.checked_by, verdict.checked_at = officer, timezone.now()
        verdict.status = VerdictStatus.CONFIRMED if confirm else VerdictStatus.RETURNED
        verdict.save(update_fields=["checked_by", "checked_at", "status"])
        if confirm:
            partner.status = PartnerStatus.APPROVED if verdict.approve else PartnerStatus.REJECTED
            partner.decided_at, partner.status_note = timezone.now(), verdict.note[:500]
            partner.save(update_fields=["status", "decided_at", "status_note"])
            outcome = _("approved") if verdict.approve else _("rejected")
            _tell_members(
                partner,
                _("Prakerja partner application: %(outcome)s") % {"outcome": outcome},
                _("The application of %(name)s was %(outcome)s. %(note)s"),
                name=partner.name,
                outcome=outcome,
                note=verdict.note,
            )
        audit_record(
            actor=officer,
            action="partners.verdict_confirmed" if confirm else "partners.verdict_returned",
            obj=partner,
            after={"round": verdict.round, "approve": verdict.approve},
        )
    return verdict


def agreement_record(
    *,
    partner: Partner,
    number: str,
    signed_on: date,
    starts_on: date,
    ends_on: date,
    commission_cap_bp: int = rules.DEFAULT_COMMISSION_CAP_BP,
    officer: Any,
) -> Agreement:
    """Record the signed cooperation agreement (PKS); an approved partner becomes `agreement signed`."""
    problems = []
    if not number.strip():
        problems.append(Problem("number:missing", _("Enter the agreement number.")))
    if ends_on <= starts_on:
        problems.append(Problem("ends_on:before_start", _("The agreement must end after it starts.")))
    if not 0 <= commission_cap_bp <= rules.DEFAULT_COMMISSION_CAP_BP:
        problems.append(Problem("commission_cap_bp:invalid", _("The commission cap is 0 to 15 %.")))
    if problems:
        raise _invalid(problems)
    with transaction.atomic():
        partner = _locked(partner)
        _require(partner, *IN_GOOD_STANDING)
        try:
            with transaction.atomic():
                agreement = Agreement.objects.create(
                    partner=partner,
                    number=number.strip(),
                    signed_on=signed_on,
                    starts_on=starts_on,
                    ends_on=ends_on,
                    commission_cap_bp=commission_cap_bp,
                    recorded_by=officer,
                    recorded_at=timezone.now(),
                )
        except IntegrityError:
            raise Conflict(_("An agreement with this number is already recorded.")) from None
        if partner.status == PartnerStatus.APPROVED:
            partner.status = PartnerStatus.AGREEMENT_SIGNED
            partner.save(update_fields=["status"])
        audit_record(
            actor=officer,
            action="partners.agreement_recorded",
            obj=partner,
            after={"number": agreement.number, "ends_on": str(ends_on), "cap_bp": commission_cap_bp},
        )
    return agreement


def agreement_in_force(partner: Partner, on: date | None = None) -> Agreement | None:
    on = on or timezone.localdate()
    return partner.agreements.filter(starts_on__lte=on, ends_on__gte=on).order_by("-signed_on").first()


# --- API credentials ------------------------------------------------------------------------------------


def _digest(secret: str) -> str:
    # Secrets are 256 random bits: a keyed digest is enough (a slow password hash would only cost time).
    return hmac.new(settings.SECRET_KEY.encode(), secret.encode(), hashlib.sha256).hexdigest()


def credential_issue(*, partner: Partner, officer: Any) -> tuple[Credential, str]:
    """A new client id and secret for a partner with an agreement in force; the secret is returned once."""
    with transaction.atomic():
        partner = _locked(partner)
        _require(partner, PartnerStatus.AGREEMENT_SIGNED, PartnerStatus.INTEGRATED)
        if agreement_in_force(partner) is None:
            raise Conflict(_("No agreement is in force today: record one before issuing credentials."))
        secret = secrets.token_urlsafe(32)
        credential = Credential.objects.create(
            partner=partner,
            client_id=f"pk_{partner.kind[:4]}_{secrets.token_hex(10)}",
            secret_digest=_digest(secret),
            created_at=timezone.now(),
            created_by=officer,
        )
        if partner.status == PartnerStatus.AGREEMENT_SIGNED:
            partner.status = PartnerStatus.INTEGRATED
            partner.save(update_fields=["status"])
        audit_record(
            actor=officer,
            action="partners.credential_issued",
            obj=partner,
            after={"client_id": credential.client_id},
        )
    return credential, secret


def credential_revoke(*, credential: Credential, officer: Any) -> Credential:
    with transaction.atomic():
        credential = Credential.objects.select_for_update().get(pk=credential.pk)
        if credential.revoked_at is None:
            credential.revoked_at, credential.revoked_by = timezone.now(), officer
            credential.save(update_fields=["revoked_at", "revoked_by"])
            credential.access_tokens.filter(revoked_at=None).update(revoked_at=credential.revoked_at)
            audit_record(
                actor=officer,
                action="partners.credential_revoked",
                obj=credential.partner,
                after={"client_id": credential.client_id},
            )
    return credential


def credential_rotate(*, credential: Credential, officer: Any) -> tuple[Credential, str]:
    """Replace a credential: the new one is issued and the old one revoked in the same step."""
    with transaction.atomic():
        if credential.revoked_at is not None:
            raise Conflict(_("This credential is already revoked."))
        issued = credential_issue(partner=credential.partner, officer=officer)
        credential_revoke(credential=credential, officer=officer)
    return issued


def credential_check(*, client_id: str, secret: str) -> Credential:
    """The live credential of an integrated partner these match; the same error for every kind of failure."""
    credential = (
        Credential.objects.select_related("partner").filter(client_id=client_id, revoked_at=None).first()
    )
    expected = credential.secret_digest if credential else _digest("")
    if not hmac.compare_digest(expected, _digest(secret)) or credential is None:
        raise WrongCredentials()
    if credential.partner.status != PartnerStatus.INTEGRATED:
        raise WrongCredentials()
    return credential


def credential_authenticate(*, client_id: str, secret: str) -> Partner:
    """The integrated partner a live credential belongs to; the same error for every kind of failure."""
    return credential_check(client_id=client_id, secret=secret).partner


def token_issue(*, credential: Credential, scope: str | None) -> tuple[AccessToken, str]:
    """An OAuth2 access token for a checked credential and the scopes asked; the token is returned once."""
    kind = credential.partner.kind
    granted = rules.scope_grant(kind, scope)
    if granted is None:
        raise InvalidScope(kind=kind, allowed=" ".join(rules.SCOPES[kind]))
    token = secrets.token_urlsafe(32)  # 256 random bits
    now = timezone.now()
    with transaction.atomic():
        # Tokens long expired say nothing any more: each client's are cleared as it asks for new ones.
        AccessToken.objects.filter(credential=credential, expires_at__lt=now - timedelta(days=1)).delete()
        access = AccessToken.objects.create(
            credential=credential,
            digest=_digest(token),
            scopes=" ".join(granted),
            issued_at=now,
            expires_at=now + timedelta(seconds=settings.PRAKERJA_PARTNER_TOKEN_SECONDS),
        )
    return access, token


def token_resolve(*, token: str) -> AccessToken:
    """The live access token with its credential and partner, checked at each use: revoking is immediate."""
    access = (
        AccessToken.objects.select_related("credential__partner").filter(digest=_digest(token)).first()
        if 0 < len(token) <= 100
        else None
    )
    if (
        access is None
        or access.revoked_at is not None
        or access.credential.revoked_at is not None
        or access.credential.partner.status != PartnerStatus.INTEGRATED
    ):
        raise TokenInvalid()
    if access.expires_at <= timezone.now():
        raise TokenExpired(at=access.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"))
    return access


# --- standing -------------------------------------------------------------------------------------------


def partner_suspend(*, partner: Partner, reason: str, officer: Any) -> Partner:
    """Suspend a partner: a platform cannot sell, an institution's trainings leave the catalogue."""
    if not reason.strip():
        raise InvalidInput(
            problems=[{"field": "reason", "code": "missing", "message": str(_("Give the reason."))}]
        )
    with transaction.atomic():
        partner = _locked(partner)
        _require(partner, *IN_GOOD_STANDING)
        before = partner.status
        partner.status, partner.status_note = PartnerStatus.SUSPENDED, reason.strip()[:500]
        partner.save(update_fields=["status", "status_note"])
        # Its tokens would work again on reinstatement otherwise; the partner asks for new ones then.
        AccessToken.objects.filter(credential__partner=partner, revoked_at=None).update(
            revoked_at=timezone.now()
        )
        audit_record(
            actor=officer,
            action="partners.suspended",
            obj=partner,
            before={"status": before},
            after={"reason": reason},
        )
        _tell_members(
            partner,
            _("Prakerja partnership suspended"),
            _("%(name)s is suspended: %(reason)s"),
            name=partner.name,
            reason=reason,
        )
    return partner


def partner_reinstate(*, partner: Partner, officer: Any) -> Partner:
    """Lift a suspension: the partner returns to the furthest state its agreement and credentials allow."""
    with transaction.atomic():
        partner = _locked(partner)
        _require(partner, PartnerStatus.SUSPENDED)
        if partner.credentials.filter(revoked_at=None).exists():
            partner.status = PartnerStatus.INTEGRATED
        elif partner.agreements.exists():
            partner.status = PartnerStatus.AGREEMENT_SIGNED
        else:
            partner.status = PartnerStatus.APPROVED
        partner.status_note = ""
        partner.save(update_fields=["status", "status_note"])
        audit_record(
            actor=officer, action="partners.reinstated", obj=partner, after={"status": partner.status}
        )
    return partner


# --- conflicts of interest ------------------------------------------------------------------------------


def conflicts_detect(*, actor: Any) -> dict[str, int]:
    """Walk the ownership graph; flag new linked pairs, keep decided ones, mark pairs no longer linked."""
    with transaction.atomic():
        partners = {
            pk: (kind, name, f"nib:{nib}" if nib else "")
            for pk, kind, name, nib in Partner.objects.exclude(status=PartnerStatus.DRAFT).values_list(
                "pk", "kind", "name", "nib"
            )
        }
        ties = Tie.objects.values_list("partner_id", "party__key", "party__name")
        pairs = rules.linked_pairs(partners, ties)
        now = timezone.now()
        existing = {
            (c.platform_id, c.institution_id): c for c in ConflictOfInterest.objects.select_for_update()
        }
        new = [
            ConflictOfInterest(platform_id=p, institution_id=i, path=path, detected_at=now)
            for (p, i), path in pairs.items()
            if (p, i) not in existing
        ]
        ConflictOfInterest.objects.bulk_create(new)
        changed = []
        for pair, conflict in existing.items():
            linked = pair in pairs
            path = pairs.get(pair, conflict.path)
            if conflict.linked != linked or conflict.path != path:
                conflict.linked, conflict.path = linked, path
                changed.append(conflict)
        ConflictOfInterest.objects.bulk_update(changed, ["linked", "path"])
        if new or changed:
            audit_record(
                actor=actor,
                action="partners.conflicts_detected",
                object_type="partners.conflictofinterest",
                after={"new": len(new), "changed": len(changed), "linked": len(pairs)},
            )
    return {"new": len(new), "changed": len(changed), "linked": len(pairs)}


def conflict_decide(
    *, conflict: ConflictOfInterest, allow: bool, note: str, officer: Any
) -> ConflictOfInterest:
    """The PMO allows the pair with a note, or forbids it (the platform cannot list that institution)."""
    if not note.strip():
        raise InvalidInput(
            problems=[{"field": "note", "code": "missing", "message": str(_("Explain the decision."))}]
        )
    with transaction.atomic():
        conflict = ConflictOfInterest.objects.select_for_update().get(pk=conflict.pk)
        before = conflict.status
        conflict.status = ConflictStatus.ALLOWED if allow else ConflictStatus.FORBIDDEN
        conflict.note, conflict.decided_by, conflict.decided_at = note.strip(), officer, timezone.now()
        conflict.save(update_fields=["status", "note", "decided_by", "decided_at"])
        audit_record(
            actor=officer,
            action="partners.conflict_decided",
            obj=conflict,
            before={"status": before},
            after={"status": conflict.status},
        )
    return conflict


def partner_get(pk: int) -> Partner:
    partner = Partner.objects.filter(pk=pk).first()
    if partner is None:
        raise NotFound()
    return partner


# --- webhooks to partners (Standard Webhooks) ------------------------------------------------------------


class WebhookUrlInvalid(InvalidInput):
    code = "webhook_url_invalid"
    message = _("The webhook address is not accepted: %(reason)s")


class WebhookMessageUnknown(NotFound):
    code = "webhook_message_unknown"
    message = _("There is no such webhook message for your organisation.")


class WebhookNotReplayable(Conflict):
    code = "webhook_not_replayable"
    message = _(
        "This message is still waiting to be delivered; only a delivered or failed one is sent again."
    )


WEBHOOK_TIMEOUT_SECONDS = 5.0
# A claimed message is not picked again for this long: a crashed deliverer's messages come back by themselves.
WEBHOOK_LEASE = timedelta(minutes=2)
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class WebhookSend(Protocol):
    """POSTs one delivery and returns the HTTP status; raises OSError when no answer came."""

    def __call__(self, *, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int: ...


def _loopback_allowed() -> bool:
    return bool(settings.PRAKERJA_WEBHOOK_ALLOW_LOOPBACK)


def webhook_url_problem(url: str) -> str | None:
    """Why an address cannot receive webhooks, or None: https only; http to this machine in development."""
    parsed = urlsplit(url)
    host = (parsed.hostname or "").lower()
    loopback = host in _LOOPBACK_HOSTS
    try:
        URLValidator(schemes=["https", "http"])(url)
    except ValidationError:
        return str(_("enter a full address starting with https://."))
    if len(url) > 500:
        return str(_("it is longer than 500 characters."))
    if parsed.username or parsed.password:
        return str(_("it must not carry a user name or password."))
    if loopback and not _loopback_allowed():
        return str(_("this machine's own address is accepted only in development."))
    if parsed.scheme != "https" and not loopback:
        return str(_("it must start with https://."))
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    # An internal address would let a partner make the programme's servers call into its own network.
    if not loopback and not address.is_global:
        return str(_("a private or reserved IP address cannot receive webhooks."))
    return None


def _new_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def webhook_endpoint_set(*, partner: Partner, url: str, actor: Any) -> tuple[WebhookEndpoint, str | None]:
    """Set where the partner's webhooks go; a first endpoint gets a secret, returned this once (else None)."""
    url = url.strip()
    reason = webhook_url_problem(url)
    if reason:
        raise WebhookUrlInvalid(
            reason=reason, problems=[{"field": "url", "code": "invalid", "message": reason}]
        )
    with transaction.atomic():
        partner = _locked(partner)
        _require(partner, *IN_GOOD_STANDING)
        endpoint = WebhookEndpoint.objects.filter(partner=partner, active=True).first()
        secret = None
        if endpoint is None:
            secret = _new_webhook_secret()
            endpoint = WebhookEndpoint.objects.create(
                partner=partner, url=url, secret=secret, created_at=timezone.now()
            )
            before = None
        else:
            before = {"url": endpoint.url}
            endpoint.url = url
            endpoint.save(update_fields=["url"])
        audit_record(
            actor=actor,
            action="partners.webhook_endpoint_set",
            obj=partner,
            before=before,
            after={"url": url},
        )
    return endpoint, secret


def webhook_secret_rotate(*, partner: Partner, actor: Any) -> tuple[WebhookEndpoint, str]:
    """A new signing secret for the partner's endpoint, returned this once; the old one stops at once."""
    with transaction.atomic():
        partner = _locked(partner)
        endpoint = WebhookEndpoint.objects.select_for_update().filter(partner=partner, active=True).first()
        if endpoint is None:
            raise Conflict(_("Set the webhook address first."), code="webhook_endpoint_missing")
        secret = _new_webhook_secret()
        endpoint.secret = secret
        endpoint.save(update_fields=["secret"])
        audit_record(actor=actor, action="partners.webhook_secret_rotated", obj=partner)
    return endpoint, secret


def webhook_enqueue(
    *, partner: Partner | Sequence[Partner], event_type: str, data: Mapping[str, Any]
) -> list[WebhookMessage]:
    """Record an event for one partner or several, in the caller's transaction; `webhooks deliver` sends it.

    A partner without an endpoint yet gets the message too: it is delivered once an endpoint is set.
    """
    partners = [partner] if isinstance(partner, Partner) else list(partner)
    return webhook_enqueue_many(events=[(p, event_type, data) for p in partners])


def webhook_enqueue_many(*, events: Sequence[tuple[Partner, str, Mapping[str, Any]]]) -> list[WebhookMessage]:
    """Record many (partner, event type, data) events at once, in the caller's transaction."""
    now = timezone.now()
    stamp = now.astimezone(UTC).isoformat().replace("+00:00", "Z")
    messages = []
    for partner, event_type, data in events:
        if event_type not in rules.WEBHOOK_EVENTS:
            raise ValueError(f"unknown webhook event type: {event_type}")
        payload = {
            "type": event_type,
            "timestamp": stamp,
            "data": json.loads(json.dumps(data, cls=DjangoJSONEncoder)),
        }
        messages.append(
            WebhookMessage(
                partner=partner,
                event_id=f"msg_{secrets.token_hex(16)}",
                event_type=event_type,
                payload=payload,
                created_at=now,
                next_attempt_at=now,
            )
        )
    with transaction.atomic(savepoint=False):
        return WebhookMessage.objects.bulk_create(messages)


def webhook_body(message: WebhookMessage) -> bytes:
    """The exact bytes sent and signed: the payload as compact JSON, the same on every try."""
    return json.dumps(message.payload, separators=(",", ":"), ensure_ascii=False).encode()


def webhook_headers(*, message: WebhookMessage, body: bytes, secret: str, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one delivery, signed by the standardwebhooks library."""
    signature = Webhook(secret).sign(
        msg_id=message.event_id, timestamp=at.astimezone(UTC), data=body.decode()
    )
    return {
        "Content-Type": "application/json",
        "User-Agent": "Prakerja-Webhooks/1",
        "webhook-id": message.event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect could point anywhere, an internal address included: it counts as a failed delivery.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def webhook_post(*, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
    """POST with urllib, no redirects followed; the HTTP status, whatever it is."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise ValueError("webhooks go over http(s) only")
    host = (parts.hostname or "").lower()
    if not (host in _LOOPBACK_HOSTS and _loopback_allowed()):
        # A name may resolve to an internal address even though the address given was a name: check again.
        for *_rest, sockaddr in socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP):
            if not ipaddress.ip_address(sockaddr[0]).is_global:
                raise OSError(f"{host} resolves to an address that is not public")
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)


def _claim_due(*, limit: int, now: datetime) -> list[WebhookMessage]:
    """Take up to `limit` due messages of partners with an endpoint; concurrent deliverers take others."""
    with transaction.atomic():
        due = WebhookMessage.objects.filter(
            status=WebhookStatus.PENDING,
            next_attempt_at__lte=now,
        ).filter(Exists(WebhookEndpoint.objects.filter(partner=OuterRef("partner"), active=True)))
        if connection.vendor == "postgresql":
            due = due.select_for_update(skip_locked=True)
        ids = list(due.order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit])
        WebhookMessage.objects.filter(pk__in=ids).update(next_attempt_at=now + WEBHOOK_LEASE)
    return list(WebhookMessage.objects.filter(pk__in=ids).order_by("next_attempt_at", "id"))


def _short_error(exc: BaseException) -> str:
    """What went wrong, short, without the body or headers (the signature stays out of the log)."""
    reason = getattr(exc, "reason", None)
    text = f"{type(exc).__name__}: {reason}" if reason is not None else type(exc).__name__
    return text[:200]


def webhooks_deliver(
    *, limit: int = 100, now: datetime | None = None, send: WebhookSend | None = None
) -> dict[str, int]:
    """Send due messages to each partner's endpoint; a 2xx delivers, anything else waits for the next try."""
    now = now or timezone.now()
    send = send or webhook_post
    messages = _claim_due(limit=limit, now=now)
    endpoints = {
        e.partner_id: e
        for e in WebhookEndpoint.objects.filter(partner_id__in={m.partner_id for m in messages}, active=True)
    }
    counts = {"delivered": 0, "retrying": 0, "failed": 0}
    for message in messages:
        endpoint = endpoints.get(message.partner_id)
        if endpoint is None:  # removed since the claim: the message waits for a new one
            continue
        body = webhook_body(message)
        # Receivers check the timestamp against their clock: it is always the real time of sending.
        headers = webhook_headers(message=message, body=body, secret=endpoint.secret, at=timezone.now())
        status_code: int | None = None
        try:
            status_code = send(url=endpoint.url, body=body, headers=headers, timeout=WEBHOOK_TIMEOUT_SECONDS)
            error = "" if 200 <= status_code < 300 else f"HTTP {status_code}"
        # URLError, timeouts and refused connections are OSErrors; a garbled answer an HTTPException.
        except (OSError, http.client.HTTPException, ValueError) as exc:
            error = _short_error(exc)
        message.attempts += 1
        message.last_status_code, message.last_error = status_code, error
        if not error:
            message.status, message.delivered_at = WebhookStatus.DELIVERED, timezone.now()
            counts["delivered"] += 1
        else:
            delay = rules.webhook_retry_delay(message.attempts)
            if delay is None:
                message.status = WebhookStatus.FAILED
                counts["failed"] += 1
            else:
                message.next_attempt_at = now + delay
                counts["retrying"] += 1
            log.warning(
                "webhook %s to partner %s not delivered (try %s): %s",
                message.event_id,
                message.partner_id,
                message.attempts,
                error,
            )
        # One row at a time on purpose: each result is kept even if a later delivery crashes the run.
        message.save(
            update_fields=[
                "attempts",
                "status",
                "next_attempt_at",
                "last_status_code",
                "last_error",
                "delivered_at",
            ]
        )
    return counts


def webhook_replay(*, event_id: str, actor: Any, partner: Partner | None = None) -> WebhookMessage:
    """Send a delivered or failed message again, from a fresh schedule; a partner reaches only its own."""
    with transaction.atomic():
        found = WebhookMessage.objects.select_for_update().filter(event_id=event_id.strip())
        if partner is not None:
            found = found.filter(partner=partner)
        message = found.first()
        if message is None:
            raise WebhookMessageUnknown()
        if message.status == WebhookStatus.PENDING:
            raise WebhookNotReplayable()
        before = {"status": message.status, "attempts": message.attempts}
        message.status, message.attempts, message.next_attempt_at = WebhookStatus.PENDING, 0, timezone.now()
        message.last_status_code, message.last_error, message.delivered_at = None, "", None
        message.save()
        audit_record(actor=actor, action="partners.webhook_replayed", obj=message, before=before)
    return message
