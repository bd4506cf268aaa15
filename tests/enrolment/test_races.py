"""On PostgreSQL, with real concurrent connections: 64 purchases against one balance never overdraw it,
and of two simultaneous redemptions of one voucher exactly one succeeds."""

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from prakerja.core.errors import PrakerjaError
from prakerja.enrolment import services
from prakerja.enrolment.models import Purchase, PurchaseStatus
from prakerja.ledger.selectors import balance, ledger_check
from prakerja.regions.selectors import forget_cached_regions
from prakerja.waves.models import Card
from prakerja.waves.services import wave_announce
from tests.conftest import reseed
from tests.waves.helpers import drawn_wave, population

from .test_services import link

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locks under real concurrency: PostgreSQL"
    ),
]


@pytest.fixture
def cards(transactional_db: None) -> list[Card]:
    """Card holders of a drawn wave, committed (after restoring what an earlier flush removed)."""
    reseed()
    wave = drawn_wave(population(40))
    wave_announce(wave=wave, actor="test")
    yield list(Card.objects.select_related("applicant").order_by("pk"))
    forget_cached_regions()


def together(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` in `count` threads released at once, each on its own connection; results or errors."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_64_concurrent_purchases_never_overdraw_one_balance(cards, platform, sell) -> None:
    card = cards[0]
    link(card, platform)
    training = sell(price=100_000)
    start = balance(card.account_code)
    results = together(
        64,
        lambda i: services.purchase_create(
            platform=platform, card_number=card.number, training_id=training.pk
        ),
    )
    outcomes = Counter(type(r).__name__ for r in results)
    bought = start // 100_000
    assert outcomes["Purchase"] == bought, outcomes
    assert outcomes["InsufficientBalance"] == 64 - bought, outcomes
    assert balance(card.account_code) == 0
    assert Purchase.objects.filter(card=card).count() == bought
    assert ledger_check() == []


def test_concurrent_batches_spending_the_same_cards_never_overdraw_them(cards, platform, sell) -> None:
    holders = cards[:4]
    for card in holders:
        link(card, platform)
    training = sell(price=300_000)
    start = {card.pk: balance(card.account_code) for card in holders}
    wanted = [services.PurchaseWanted(card.number, training.pk) for card in holders] * 3
    results = together(16, lambda i: services.purchases_create(platform=platform, wanted=wanted[i % 4 :]))
    assert not [r for r in results if isinstance(r, Exception)], results
    for card in holders:
        bought = Purchase.objects.filter(card=card).count()
        assert bought == start[card.pk] // 300_000
        assert balance(card.account_code) == start[card.pk] - bought * 300_000
    assert ledger_check() == []


def test_two_simultaneous_redemptions_of_one_voucher_one_wins(cards, platform, sell, institution) -> None:
    card = cards[0]
    link(card, platform)
    training = sell(price=100_000)
    purchase = services.purchase_create(platform=platform, card_number=card.number, training_id=training.pk)
    results = together(
        2, lambda i: services.voucher_redeem(institution=institution, code=purchase.voucher_code)
    )
    winners = [r for r in results if isinstance(r, Purchase)]
    losers = [r for r in results if isinstance(r, PrakerjaError)]
    assert len(winners) == 1 and len(losers) == 1 and losers[0].code == "purchase_wrong_state"
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.REDEEMED
    assert balance(services.payable_account(platform)) == 100_000
