"""A small population and a small wave for the page, API and browser tests of waves."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.test import Client
from django.utils import timezone

from prakerja.accounts.models import User
from prakerja.identity.generator import COLUMNS, generate_people
from prakerja.regions.models import Level, Region
from prakerja.registry.models import Applicant
from prakerja.registry.services import applicants_import
from prakerja.waves import rules
from prakerja.waves.models import Scheme, Wave
from prakerja.waves.services import seed_commit, wave_close, wave_create, wave_join, wave_open, wave_select

SEED = "3c" * 32
QUOTAS = {"31": 10, "32": 20, "3273": 8, "3204": 12}
TOTAL = 30


def population(count: int = 120, seed: int = 11) -> list[Applicant]:
    """`count` registered people in Bandung city, Bandung regency and Central Jakarta."""
    villages = list(
        Region.objects.filter(level=Level.VILLAGE)
        .filter(code__regex=r"^(3273|3204|3171)")
        .values_list("code", "rural")
    )
    people = generate_people(count, villages=villages, seed=seed, today=timezone.localdate())
    rows = ((n, dict(zip(COLUMNS, p.row(), strict=True))) for n, p in enumerate(people, start=2))
    applicants_import(rows=rows, actor="test", on_error=lambda line, problems: None)
    return list(Applicant.objects.order_by("pk"))


def participant(applicant: Applicant, make_user: Callable[..., User], language: str = "en") -> Client:
    """A logged-in client of the applicant's own account."""
    user = make_user("participant")
    Applicant.objects.filter(pk=applicant.pk).update(user=user)
    applicant.user = user
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def new_wave(number: int = 1, **overrides: Any) -> Wave:
    now = timezone.now()
    fields: dict[str, Any] = dict(
        number=number,
        name=f"Gelombang {number}",
        scheme=Scheme.objects.get(code="semi-bansos-2020"),
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=3),
        total_quota=TOTAL,
        quotas=QUOTAS,
        priority={"employment": ["laid_off"]},
        actor="test",
    )
    fields.update(overrides)
    return wave_create(**fields)


def open_wave_with(applicants: list[Applicant], **overrides: Any) -> Wave:
    """An open wave with a published commitment, every eligible applicant given joined."""
    wave = new_wave(**overrides)
    wave_open(wave=wave, actor="test")
    seed_commit(wave=wave, commitment=rules.commitment(SEED), actor="test")
    for applicant in applicants:
        if applicant.eligible:
            wave_join(wave=wave, applicant=applicant)
    wave.refresh_from_db()
    return wave


def drawn_wave(applicants: list[Applicant], **overrides: Any) -> Wave:
    wave = open_wave_with(applicants, **overrides)
    wave_close(wave=wave, actor="test")
    wave_select(wave=wave, seed=SEED, actor="test")
    wave.refresh_from_db()
    return wave
