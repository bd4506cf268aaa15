"""The simulator's own callbacks reach the programme over HTTP: duplicated, out of order, some forged."""

from typing import Any

from prakerja.ledger.selectors import ledger_check
from prakerja.payments import services
from prakerja.payments.models import Callback, CallbackOutcome, Payment, PaymentState

from .conftest import earn, verify


def test_the_providers_callbacks_bring_every_outcome_once_whatever_their_order(
    committed_cards, platform, institution, sell, start_simulator, make_user, live_server, settings: Any
) -> None:
    simulator = start_simulator(
        callback_url=f"{live_server.url}/api/v1/payments/callbacks/",
        failure_rate=0.3,
        return_rate=0.3,
        duplicate_rate=1.0,
        reorder=True,
        forge_rate=0.5,
        delay=0.05,
        callback_batch=3,
        seed=5,
    )
    training = sell(price=250_000)
    for card in committed_cards[:10]:
        earn(card, platform, institution, training)
        verify(card, "gopay")
    services.entitlements_schedule(actor="test")
    maker, checker = make_user("finance_officer"), make_user("finance_officer")
    batch = services.batch_approve(batch=services.batch_build(actor=maker), actor=checker)
    services.batch_send(batch=batch, actor=checker)
    assert simulator.flush(timeout=30)
    final = {
        line.split(",")[0]: line.split(",")[3] for line in simulator.settlement("gopay").splitlines()[1:]
    }
    ours = dict(Payment.objects.filter(batch=batch).values_list("key", "state"))
    assert ours == final
    assert {PaymentState.PAID, PaymentState.FAILED, PaymentState.RETURNED} <= set(ours.values())
    assert Callback.objects.filter(outcome=CallbackOutcome.REJECTED).exists()  # the forged copies
    assert Callback.objects.filter(outcome=CallbackOutcome.IGNORED).exists()  # the duplicates
    assert ledger_check() == []
