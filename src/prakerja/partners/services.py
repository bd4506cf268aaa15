"""Partner writes: sign up, fill and submit an application, screen it (maker-checker), record the agreement,
issue API credentials, declare owners and cooperation, detect and decide conflicts of interest, suspend."""

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, date, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

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
)
from prakerja.partners.selectors import IN_GOOD_STANDING

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
