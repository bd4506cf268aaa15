"""The enrolment fixtures (an integrated platform selling an approved institution's trainings), with cards
from a real drawn wave made in a transactional test: the sim's server thread has its own connection."""

import importlib
from collections.abc import Iterator

import pytest

from prakerja.regions.models import Region
from prakerja.regions.selectors import forget_cached_names
from prakerja.regions.services import regions_load
from prakerja.waves.models import Card, Scheme
from prakerja.waves.services import wave_announce
from tests.enrolment.conftest import institution, platform, sell
from tests.waves.helpers import drawn_wave, population

__all__ = ["institution", "platform", "sell"]


@pytest.fixture
def cards(transactional_db: None) -> Iterator[list[Card]]:
    """A transactional test before this one may have flushed the regions and the schemes: restore them."""
    forget_cached_names()
    if not Region.objects.filter(code="3273").exists():
        regions_load()
    for scheme in importlib.import_module("prakerja.waves.migrations.0002_seed_schemes").SCHEMES:
        Scheme.objects.get_or_create(code=scheme["code"], defaults=scheme)
    wave = drawn_wave(population(40))
    wave_announce(wave=wave, actor="test")
    yield list(Card.objects.select_related("applicant").order_by("pk"))
    forget_cached_names()
