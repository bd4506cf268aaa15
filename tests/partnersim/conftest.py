"""The enrolment fixtures (an integrated platform selling an approved institution's trainings), with cards
from a real drawn wave made in a transactional test: the sim's server thread has its own connection."""

from collections.abc import Iterator

import pytest

from prakerja.regions.selectors import forget_cached_regions
from prakerja.waves.models import Card
from prakerja.waves.services import wave_announce
from tests.conftest import reseed
from tests.enrolment.conftest import institution, platform, sell
from tests.waves.helpers import drawn_wave, population

__all__ = ["institution", "platform", "sell"]


@pytest.fixture
def cards(transactional_db: None) -> Iterator[list[Card]]:
    """Card holders of a drawn wave, committed (after restoring what an earlier flush removed)."""
    reseed()
    wave = drawn_wave(population(40))
    wave_announce(wave=wave, actor="test")
    yield list(Card.objects.select_related("applicant").order_by("pk"))
    forget_cached_regions()
