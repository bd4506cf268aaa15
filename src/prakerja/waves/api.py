"""Waves over the API: every wave's public record, and joining and outcomes for the logged-in participant."""

from datetime import datetime

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from ninja.security import django_auth

from prakerja.core.errors import NotFound
from prakerja.regions.selectors import names_above_villages
from prakerja.registry.models import Applicant
from prakerja.waves import selectors, services
from prakerja.waves.models import Entry, Wave, WaveStatus

router = Router(tags=["waves"])


class WaveOut(Schema):
    number: int
    name: str
    status: str
    opens_at: datetime
    closes_at: datetime
    scheme: str
    total_quota: int
    seed_commitment: str | None
    seed: str | None


class QuotaOut(Schema):
    region_code: str
    name: str
    places: int


class WaveDetailOut(WaveOut):
    quotas: list[QuotaOut]


class EntryOut(Schema):
    wave: int
    wave_name: str
    status: str
    status_label: str
    card_number: str | None
    purchase_deadline: datetime | None


def _out(wave: Wave) -> WaveOut:
    return WaveOut(
        number=wave.number,
        name=wave.name,
        status=wave.status,
        opens_at=wave.opens_at,
        closes_at=wave.closes_at,
        scheme=wave.scheme.code,
        total_quota=wave.total_quota,
        seed_commitment=wave.seed_commitment or None,
        seed=wave.seed or None,
    )


def _entry_out(entry: Entry) -> EntryOut:
    card = getattr(entry, "card", None)
    return EntryOut(
        wave=entry.wave.number,
        wave_name=entry.wave.name,
        status=entry.status,
        status_label=entry.get_status_display(),
        card_number=card.number if card else None,
        purchase_deadline=card.purchase_deadline if card else None,
    )


def _public(number: int) -> Wave:
    wave = services.wave_by_number(number)
    if wave.status == WaveStatus.DRAFT:
        raise NotFound(_("There is no wave %(number)d."), number=number)
    return wave


def _applicant(request: HttpRequest) -> Applicant:
    applicant: Applicant | None = getattr(request.user, "applicant", None)
    if applicant is None:
        raise NotFound(code="not_registered")
    return applicant


@router.get("", response=list[WaveOut])
def wave_list(request: HttpRequest) -> list[WaveOut]:
    """Every wave past its draft, newest first; the seed once revealed at the draw."""
    waves = Wave.objects.exclude(status=WaveStatus.DRAFT).select_related("scheme").order_by("-number")
    return [_out(w) for w in waves]


@router.get("/me", response=list[EntryOut], auth=django_auth)
def my_entries(request: HttpRequest) -> list[EntryOut]:
    """The logged-in participant's waves: status of each entry and, once issued, the card number."""
    return [_entry_out(e) for e in selectors.entries_of(_applicant(request))]


@router.get("/{number}", response=WaveDetailOut)
def wave_detail(request: HttpRequest, number: int) -> WaveDetailOut:
    """One wave with its quotas per province and regency."""
    wave = _public(number)
    names = names_above_villages()
    quotas = [
        QuotaOut(region_code=code, name=names.get(code, code), places=places)
        for code, places in wave.quotas.order_by("region_code").values_list("region_code", "places")
    ]
    return WaveDetailOut(**_out(wave).dict(), quotas=quotas)


@router.post("/{number}/join", response={201: EntryOut}, auth=django_auth)
def join(request: HttpRequest, number: int) -> Status:
    """Enter the logged-in participant in the open wave's draw; 409 with the reason when it cannot be."""
    entry = services.wave_join(wave=_public(number), applicant=_applicant(request))
    return Status(201, _entry_out(entry))
