"""A complete platform application and a complete institution application, ready to submit."""

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from prakerja.accounts.models import Role, User
from prakerja.identity.rules import nik_digits
from prakerja.partners import services
from prakerja.partners.models import Partner
from prakerja.regions.models import Level, Region

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def pdf(name: str = "deed.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


def nik(serial: int) -> str:
    district = Region.objects.filter(level=Level.DISTRICT, code__startswith="3273").values_list(
        "code", flat=True
    )[0]
    return nik_digits(district, date(1980, 5, 17), "L", serial)


def apply(
    kind: str, name: str, nib: str, *, owner: int, director: int, institutions: list[Partner] | None = None
) -> Partner:
    """Sign up and fill in a complete application of `kind`."""
    partner = services.partner_signup(
        kind=kind, name=name, email=f"{nib}@example.org", password="pw-Long-enough-77"
    )
    actor = partner.members.get().user
    fields: dict[str, Any] = {
        "legal_name": f"PT {name}",
        "legal_form": "pt",
        "deed_number": "AHU-0012345.AH.01.01",
        "deed_date": date(2018, 3, 1),
        "nib": nib,
        "address": "Jl. Asia Afrika 1, Bandung",
        "province_code": "32",
        "description": "Pelatihan kerja",
    }
    if kind == "platform":
        fields |= {
            "portal_url": "https://belajar.example.id",
            "it_systems": "Cloud, ISO 27001",
            "other_institutions": "" if institutions else "LPK Sejahtera (not registered yet)",
            "national_reach": True,
        }
    services.partner_update(partner=partner, data=fields, actor=actor)
    for doc in ("deed", "nib") + (("it_systems",) if kind == "platform" else ()):
        services.document_upload(partner=partner, kind=doc, upload=pdf(f"{doc}.pdf"), actor=actor)
    services.tie_add(
        partner=partner,
        party_kind="person",
        name="Budi Santoso",
        number=nik(owner),
        role="owner",
        share_percent=60,
        actor=actor,
    )
    services.tie_add(
        partner=partner,
        party_kind="person",
        name="Siti Aminah",
        number=nik(director),
        role="director",
        share_percent=None,
        actor=actor,
    )
    if kind == "institution":
        services.trainer_add(
            institution=partner, name="Andi", competency="Pemrograman web", certificate="BNSP-1", actor=actor
        )
    else:
        services.cooperation_set(platform=partner, institutions=institutions or [], actor=actor)
    return partner


def approve(partner: Partner, maker: User, checker: User) -> None:
    from prakerja.partners.rules import CRITERIA

    if partner.status == "draft":
        services.partner_submit(partner=partner, actor=partner.members.get().user)
    services.review_start(partner=partner, officer=maker)
    for criterion in CRITERIA[partner.kind]:
        services.screening_record(
            partner=partner,
            criterion=criterion,
            passed=True,
            evidence="Checked the document",
            note="",
            officer=maker,
        )
    verdict = services.verdict_propose(partner=partner, approve=True, note="", officer=maker)
    services.verdict_check(verdict=verdict, officer=checker, confirm=True)


@pytest.fixture
def officers(make_user: Callable[..., User]) -> tuple[User, User]:
    return make_user(Role.PARTNERSHIP_OFFICER), make_user(Role.PARTNERSHIP_OFFICER)
