"""Card holders from a real drawn and announced wave; an integrated platform selling an approved training."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from prakerja.accounts.models import User
from prakerja.catalog import services as catalog
from prakerja.catalog.models import Training
from prakerja.partners.models import Cooperation, Partner
from prakerja.waves.models import Card
from prakerja.waves.services import wave_announce
from tests.catalog.conftest import VILLAGE, approve, partner, training_data
from tests.waves.helpers import drawn_wave, population


@pytest.fixture
def cards(db: Any) -> list[Card]:
    wave = drawn_wave(population(120))
    wave_announce(wave=wave, actor="test")
    return list(Card.objects.select_related("applicant").order_by("pk"))


@pytest.fixture
def institution(db: Any) -> Partner:
    return partner("institution", "LPK Maju", status="approved")


@pytest.fixture
def platform(institution: Partner) -> Partner:
    org = partner("platform", "Belajar", status="integrated", portal_url="https://belajar.example")
    Cooperation.objects.create(platform=org, institution=institution)
    return org


@pytest.fixture
def sell(platform: Partner, institution: Partner, make_user: Callable[..., User]) -> Callable[..., Training]:
    """An approved training of the institution, listed by the platform at `price`."""
    officer = make_user("partnership_officer")

    def make(price: int = 400_000, mode: str = "online", **overrides: Any) -> Training:
        training = catalog.training_create(
            actor="test", institution=institution, data=training_data(price=price, mode=mode, **overrides)
        )
        if mode != "online":
            start = timezone.now() + timedelta(hours=2)
            catalog.session_add(
                training=training,
                actor="test",
                starts_at=start,
                ends_at=start + timedelta(hours=4),
                village_code=VILLAGE,
                address="Jl. Asia Afrika 1",
                capacity=20,
            )
        catalog.training_submit(training=training, actor="test")
        training = approve(training, officer)
        catalog.listing_create(platform=platform, training=training, price=price, actor="test")
        return training

    return make
