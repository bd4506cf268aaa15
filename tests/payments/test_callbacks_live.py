"""The simulator's own callbacks reach the programme over HTTP: duplicated, out of order, some forged."""

from typing import Any

from prakerja.ledger.selectors import ledger_check
from prakerja.payments import services
from prakerja.payments.models import Callback, CallbackOutcome, PaymentState
from prakerja.payments.simulator import decide

from .conftest import earn, verify


def test_the_providers_callbacks_bring_every_outcome_once_whatever_their_order(
    committed_cards, platform, institution, sell, start_simulator, make_user, live_server, settings: Any
) -> None:
    start_simulator()  # answers the account checks
    training = sell(price=250_000)
    for card in committed_cards[:10]:
        earn(card, platform, institution, training)
        verify(card, "gopay")
    services.entitlements_schedule(actor="test")
    maker, checker = make_user("finance_officer"), make_user("finance_officer")
    batch = services.batch_approve(batch=services.batch_build(actor=maker), actor=checker)
    keys = list(batch.payments.values_list("key", flat=True))
    # The provider decides each payment by (seed, key): a seed under which these keys end in all three states.
    seed = next(
        seed
        for seed in range(1000)
        if {decide(seed, key, 0.3, 0.3)[0] for key in keys} == {"paid", "failed", "returned"}
    )
    simulator = start_simulator(
        callback_url=f"{live_server.url}/api/v1/payments/callbacks/",
        failure_rate=0.3,
        return_rate=0.3,
        duplicate_rate=1.0,
        reorder=True,
        forge_rate=0.5,
        delay=0.05,
        callback_batch=3,
        seed=seed,
    )
    services.batch_send(batch=batch, actor=checker)
    assert simulator.flush(timeout=30)
    final = {
        line.split(",")[0]: line.split(",")[3] for line in simulator.settlement("gopay").splitlines()[1:]
    }
    ours = dict(batch.payments.values_list("key", "state"))
    assert ours == final
    assert {PaymentState.PAID, PaymentState.FAILED, PaymentState.RETURNED} <= set(ours.values())
    assert Callback.objects.filter(outcome=CallbackOutcome.REJECTED).exists()  # the forged copies
    assert Callback.objects.filter(outcome=CallbackOutcome.IGNORED).exists()  # the duplicates
    assert ledger_check() == []
