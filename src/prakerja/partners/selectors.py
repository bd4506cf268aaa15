"""Partner reads: whose partner a user acts for, who may sell what, queues for the PMO."""

from typing import Any

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.utils.translation import gettext_lazy as _

from prakerja.identity.rules import Problem
from prakerja.partners.models import (
    ConflictOfInterest,
    ConflictStatus,
    Cooperation,
    Credential,
    Kind,
    Partner,
    PartnerStatus,
    Screening,
    Verdict,
    VerdictStatus,
    WebhookEndpoint,
    WebhookMessage,
)

# An approved partner stays in good standing through its agreement and integration; suspension ends it.
IN_GOOD_STANDING = (PartnerStatus.APPROVED, PartnerStatus.AGREEMENT_SIGNED, PartnerStatus.INTEGRATED)


def partner_of(user: Any) -> Partner | None:
    """The partner a user acts for, or None."""
    member = getattr(user, "partner_member", None) if getattr(user, "is_authenticated", False) else None
    return member.partner if member else None


def partners(*, kind: str = "", status: str = "") -> QuerySet[Partner]:
    rows = Partner.objects.all()
    if kind:
        rows = rows.filter(kind=kind)
    if status:
        rows = rows.filter(status=status)
    return rows


def status_counts() -> dict[str, int]:
    """How many partners are in each status (every status, zero included)."""
    counts = dict(Partner.objects.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    return {status: counts.get(status, 0) for status in PartnerStatus.values}


def cooperation_candidates() -> QuerySet[Partner]:
    """The registered institutions a platform may declare it works with: any past the draft, not rejected."""
    return Partner.objects.filter(kind=Kind.INSTITUTION).exclude(
        status__in=[PartnerStatus.DRAFT, PartnerStatus.REJECTED]
    )


def findings_of_round(partner: Partner) -> dict[str, Screening]:
    """The current review round's finding per criterion."""
    rows = partner.screenings.filter(round=partner.review_round).select_related("officer")
    return {row.criterion: row for row in rows}


def proposed_verdict(partner: Partner) -> Verdict | None:
    """The current round's verdict waiting for a second officer, if any."""
    return (
        partner.verdicts.filter(round=partner.review_round, status=VerdictStatus.PROPOSED)
        .select_related("proposed_by")
        .first()
    )


def live_credentials(partner: Partner) -> QuerySet[Credential]:
    return partner.credentials.filter(revoked_at=None).order_by("created_at")


def conflicts(*, partner: Partner | None = None) -> QuerySet[ConflictOfInterest]:
    """Conflicts of interest, those awaiting a decision first; only those involving `partner` when given."""
    rows = ConflictOfInterest.objects.select_related("platform", "institution", "decided_by")
    if partner is not None:
        rows = rows.filter(Q(platform=partner) | Q(institution=partner))
    flagged_first = Case(
        When(status=ConflictStatus.FLAGGED, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return rows.order_by(flagged_first, "-linked", "-detected_at", "pk")


def listing_problem(*, platform: Partner, institution: Partner) -> Problem | None:
    """Why this platform may not sell this institution's trainings, or None when it may."""
    if platform.kind != Kind.PLATFORM or platform.status != PartnerStatus.INTEGRATED:
        return Problem("platform:not_integrated", _("Only an integrated platform may list trainings."))
    if institution.status not in IN_GOOD_STANDING:
        return Problem("institution:not_approved", _("The institution is not an approved partner."))
    if not Cooperation.objects.filter(platform=platform, institution=institution).exists():
        return Problem(
            "institution:no_cooperation",
            _("The platform has not declared cooperation with this institution."),
        )
    conflict = ConflictOfInterest.objects.filter(
        platform=platform, institution=institution, linked=True
    ).first()
    if conflict and conflict.status == ConflictStatus.FORBIDDEN:
        return Problem(
            "conflict:forbidden",
            _("The programme office forbade this pair: the platform and the institution share owners."),
        )
    if conflict and conflict.status == ConflictStatus.FLAGGED:
        return Problem(
            "conflict:flagged",
            _("The platform and the institution share owners; the programme office has not decided yet."),
        )
    return None


def webhook_endpoint(partner: Partner) -> WebhookEndpoint | None:
    """The partner's active webhook endpoint, or None."""
    return WebhookEndpoint.objects.filter(partner=partner, active=True).first()


def webhook_messages(partner: Partner, *, status: str = "") -> QuerySet[WebhookMessage]:
    """The partner's own webhook messages, newest first, of one status or all."""
    rows = WebhookMessage.objects.filter(partner=partner)
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-id")
