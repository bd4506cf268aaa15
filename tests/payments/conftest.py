"""Card holders who completed and rated a training, the provider simulator on loopback, verified accounts."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from prakerja.enrolment.models import Purchase
from prakerja.enrolment.services import training_rate
from prakerja.payments.models import PayoutAccount
from prakerja.payments.services import payout_account_set
from prakerja.payments.simulator import Simulator, SimulatorConfig
from prakerja.waves.models import Card
from prakerja.waves.services import wave_announce
from tests.conftest import reseed
from tests.enrolment.conftest import cards, institution, platform, sell  # noqa: F401
from tests.enrolment.helpers import buy, complete
from tests.waves.helpers import drawn_wave, population


@pytest.fixture
def committed_cards(transactional_db: None) -> list[Card]:
    """Card holders whose data other threads and processes see (a live server, a killed sender)."""
    reseed()
    wave_announce(wave=drawn_wave(population(60)), actor="test")
    return list(Card.objects.select_related("applicant").order_by("pk"))


@pytest.fixture
def start_simulator(settings: Any) -> Iterator[Callable[..., Simulator]]:
    """Start the provider simulator on a free loopback port and point the adapter at it."""
    running: list[Simulator] = []

    def start(**options: Any) -> Simulator:
        config = {
            "port": 0,
            "secret": settings.PAYMENT_PROVIDER_SECRET,
            "failure_rate": 0.0,
            "return_rate": 0.0,
        }
        simulator = Simulator(SimulatorConfig(**{**config, **options}))
        settings.PAYMENT_PROVIDER_URL = simulator.start()
        running.append(simulator)
        return simulator

    yield start
    for simulator in running:
        simulator.stop()


@pytest.fixture
def simulator(start_simulator: Callable[..., Simulator]) -> Simulator:
    return start_simulator()


def earn(card: Card, seller: Any, trainer: Any, training: Any, rate: bool = True) -> Purchase:
    """Buy on `seller`, complete at `trainer` and (by default) rate a training: the incentive falls due."""
    purchase = buy(card, seller, training)
    complete(purchase, trainer)
    if rate:
        training_rate(purchase=purchase, applicant=card.applicant, rating=5, text="Bagus")
    purchase.refresh_from_db()
    return purchase


def number_for(card: Card, provider: str = "ovo") -> str:
    """A distinct account number the simulator answers with a match (see docs/payment-providers.md)."""
    return f"9{card.pk:08d}1" if provider == "bni" else f"0812{card.pk:07d}1"


def verify(card: Card, provider: str = "ovo") -> PayoutAccount:
    return payout_account_set(applicant=card.applicant, provider=provider, number=number_for(card, provider))
