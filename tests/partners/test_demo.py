"""The demo's partners: every stage of onboarding present, conflicts flagged and some decided."""

import pytest

from prakerja.demo.partners import PLATFORMS, demo_partners
from prakerja.demo.services import demo_users_ensure
from prakerja.partners.models import ConflictOfInterest, ConflictStatus, Kind, Partner, PartnerStatus
from prakerja.partners.selectors import listing_problem, partner_of

pytestmark = pytest.mark.django_db


def test_demo_partners_cover_every_stage() -> None:
    demo_users_ensure()
    demo_partners(institutions=40)
    counts = {
        (kind, status): Partner.objects.filter(kind=kind, status=status).count()
        for kind in Kind.values
        for status in PartnerStatus.values
    }
    assert counts[(Kind.PLATFORM, PartnerStatus.INTEGRATED)] == len(PLATFORMS) - 1
    assert counts[(Kind.INSTITUTION, PartnerStatus.APPROVED)] == 10
    for status in ("draft", "submitted", "in_review", "rejected"):
        assert counts[(Kind.INSTITUTION, status)] > 0, status
    conflicts = ConflictOfInterest.objects.all()
    assert {c.status for c in conflicts} == {
        ConflictStatus.FLAGGED,
        ConflictStatus.ALLOWED,
        ConflictStatus.FORBIDDEN,
    }
    forbidden = conflicts.get(status=ConflictStatus.FORBIDDEN)
    assert (
        listing_problem(platform=forbidden.platform, institution=forbidden.institution).code
        == "conflict:forbidden"
    )
    from prakerja.accounts.models import User

    assert partner_of(User.objects.get(username="mitra.platform")).name == PLATFORMS[0][0]
    assert partner_of(User.objects.get(username="mitra.lembaga")).status == PartnerStatus.APPROVED
    assert demo_partners() == 0  # a second run adds nothing
