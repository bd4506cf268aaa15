"""Partner reads: whose partner a user acts for, who may sell what, queues for the PMO."""

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from prakerja.identity.rules import Problem
from prakerja.partners.models import (
    ConflictOfInterest,
    ConflictStatus,
    Cooperation,
    Kind,
    Partner,
    PartnerStatus,
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
