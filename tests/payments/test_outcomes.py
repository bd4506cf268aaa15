"""Provider outcomes: signed callbacks (forged, stale, repeated, out of order), settlement files,
statements."""

import json
import time
from typing import Any

import pytest
from django.test import Client

from prakerja.ledger.selectors import balance, ledger_check
from prakerja.payments import rules, services
from prakerja.payments.models import (
    Callback,
    CallbackOutcome,
    DiscrepancyKind,
    EntitlementStatus,
    Payment,
    PaymentState,
    Statement,
)
from prakerja.payments.selectors import benefits_report
from prakerja.waves.services import FUND_ACCOUNT

from .conftest import earn, verify

URL = "/api/v1/payments/callbacks/"


@pytest.fixture
def sent(cards, platform, institution, sell, simulator, make_user, settings) -> list[Payment]:
    """Four payments handed to the providers and acknowledged, outcomes not yet known."""
    training = sell(price=400_000)
    for card in cards[:4]:
        earn(card, platform, institution, training)
        verify(card, "ovo")
    services.entitlements_schedule(actor="test")
    maker, checker = make_user("finance_officer"), make_user("finance_officer")
    batch = services.batch_approve(batch=services.batch_build(actor=maker), actor=checker)
    services.batch_send(batch=batch, actor=checker)
    return list(batch.payments.order_by("pk"))


def post(
    events: list[dict[str, Any]], *, provider: str = "ovo", secret: str = "", at: int = 0, **kw: Any
) -> Any:
    from django.conf import settings

    body = json.dumps({"provider": provider, "events": events}).encode()
    timestamp = at or int(time.time())
    key = rules.provider_key(secret or settings.PAYMENT_PROVIDER_SECRET, provider)
    signature = kw.pop("signature", None) or rules.callback_signature(key, timestamp, body)
    return Client().post(
        URL,
        body,
        content_type="application/json",
        headers={"X-Callback-Timestamp": str(timestamp), "X-Callback-Signature": signature},
    )


def test_a_signed_callback_moves_payments_forward_once(sent) -> None:
    first, second = sent[:2]
    events = [{"key": first.key, "state": "paid", "reference": "R1"}, {"key": second.key, "state": "failed"}]
    answer = post(events)
    assert answer.status_code == 200 and answer.json() == {"received": 2, "applied": 2}
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, first.provider_reference, second.state) == ("paid", "R1", "failed")
    assert first.entitlement.status == EntitlementStatus.PAID
    assert balance(services.PAID_ACCOUNT) == 600_000
    assert balance(services.transit_account("ovo")) == 2 * 600_000  # the other two
    # The same news again, and older news: nothing moves; a payment never goes backwards.
    again = post([*events, {"key": first.key, "state": "failed"}])
    assert again.json()["applied"] == 0
    first.refresh_from_db()
    assert first.state == "paid"
    assert Callback.objects.filter(outcome=CallbackOutcome.IGNORED).count() == 1
    assert ledger_check() == []


def test_a_return_that_arrives_before_its_payment_counts_as_both_and_goes_back_to_the_fund(sent) -> None:
    payment = sent[0]
    fund = balance(FUND_ACCOUNT)
    assert post([{"key": payment.key, "state": "returned", "reason": "account closed"}]).status_code == 200
    assert post([{"key": payment.key, "state": "paid"}]).json()["applied"] == 0
    payment.refresh_from_db()
    assert payment.state == PaymentState.RETURNED
    assert payment.entitlement.status == EntitlementStatus.RETURNED
    assert balance(FUND_ACCOUNT) == fund + 600_000 and balance(services.PAID_ACCOUNT) == 0
    assert ledger_check() == []


def test_a_payment_and_its_return_in_one_callback_move_in_their_order(sent) -> None:
    payment = sent[0]
    fund = balance(FUND_ACCOUNT)
    events = [{"key": payment.key, "state": "paid"}, {"key": payment.key, "state": "returned"}]
    assert post(events).json() == {"received": 2, "applied": 2}
    payment.refresh_from_db()
    assert payment.state == PaymentState.RETURNED
    assert balance(FUND_ACCOUNT) == fund + 600_000 and balance(services.PAID_ACCOUNT) == 0
    assert ledger_check() == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"secret": "someone-else"}, "signature does not match"),
        ({"at": int(time.time()) - 3600}, "stale timestamp"),
        ({"signature": "v1=00"}, "signature does not match"),
        ({"provider": "bank-x"}, "unknown provider"),
    ],
)
def test_forged_stale_and_unknown_callbacks_are_refused_and_logged(sent, change, reason) -> None:
    answer = post([{"key": sent[0].key, "state": "paid"}], **change)
    assert answer.status_code == 401
    assert answer.json()["type"] == "urn:prakerja:problem:callback_rejected"
    logged = Callback.objects.get()
    assert (logged.outcome, logged.reason) == (CallbackOutcome.REJECTED, reason)
    sent[0].refresh_from_db()
    assert sent[0].state == PaymentState.SENT


def test_a_callback_for_an_unknown_payment_is_logged_with_it(sent) -> None:
    answer = post([{"key": "P999999-1", "state": "paid"}, {"key": sent[0].key, "state": "paid"}])
    assert answer.json() == {"received": 2, "applied": 1}
    assert "1 unknown payment(s): P999999-1" in Callback.objects.get().reason


def test_a_settlement_file_lists_every_discrepancy_and_is_reconciled_once(sent, tmp_path, make_user) -> None:
    first, second, third, _fourth = sent
    post([{"key": first.key, "state": "paid"}])
    lines = [
        ",".join(rules.SETTLEMENT_HEADER),
        f"{first.key},R1,600000,failed,2026-11-25T10:00:00+07:00",  # contradicts the callback
        f"{second.key},R2,600000,paid,2026-11-25T10:00:00+07:00",  # the callback never came: applied
        f"{second.key},R2,600000,paid,2026-11-25T10:00:00+07:00",  # listed twice
        "P424242-1,R9,600000,paid,2026-11-25T10:00:00+07:00",  # unknown
        f"{third.key},R3,1,paid,2026-11-25T10:00:00+07:00",  # other amount
        "garbage line",
        "P1-1,R,600000,paid,yesterday",
    ]
    path = tmp_path / "ovo.csv"
    path.write_text("\n".join(lines) + "\n")
    officer = make_user("finance_officer")
    run = services.reconcile(provider="ovo", path=path, actor=officer)
    kinds = sorted(run.discrepancies.values_list("kind", "line"), key=str)
    assert sorted(k for k, _line in kinds) == sorted(
        [
            DiscrepancyKind.STATE,
            DiscrepancyKind.DUPLICATE,
            DiscrepancyKind.UNKNOWN,
            DiscrepancyKind.AMOUNT,
            DiscrepancyKind.MALFORMED,
            DiscrepancyKind.MALFORMED,
            DiscrepancyKind.MISSING,  # the third: sent, and its only line had another amount
        ]
    )
    assert {line for k, line in kinds if k == DiscrepancyKind.MALFORMED} == {7, 8}
    second.refresh_from_db()
    assert second.state == PaymentState.PAID
    assert run.counts["applied"] == 1
    with pytest.raises(services.AlreadyReconciled):
        services.reconcile(provider="ovo", path=path, actor=officer)
    bad = tmp_path / "latin1.csv"
    bad.write_bytes(",".join(rules.SETTLEMENT_HEADER).encode() + b"\nP1-1,Jos\xe9,1,paid,x\n")
    with pytest.raises(services.SettlementUnreadable) as unreadable:
        services.reconcile(provider="ovo", path=bad, actor=officer)
    assert "not UTF-8 (byte" in unreadable.value.detail
    headless = tmp_path / "headless.csv"
    headless.write_text("key,amount\n")
    with pytest.raises(services.SettlementUnreadable) as headless_error:
        services.reconcile(provider="ovo", path=headless, actor=officer)
    assert "payment_key,reference,amount,state,settled_at" in headless_error.value.detail
    assert ledger_check() == []


def test_platform_statements_keep_the_commission_within_the_cap(
    cards, platform, institution, sell, make_user
) -> None:
    from django.utils import timezone

    training = sell(price=333_333)
    for card in cards[:2]:
        earn(card, platform, institution, training, rate=False)
    payable = balance(f"payable:platform:{platform.pk}")
    officer = make_user("finance_officer")
    [statement] = services.statements_issue(period_end=timezone.localdate(), actor=officer)
    assert (statement.purchases, statement.gross) == (2, 666_666)
    assert statement.commission == 2 * (333_333 * statement.commission_cap_bp // 10_000)
    assert statement.commission + statement.institutions_share == statement.gross
    assert balance(f"payable:platform:{platform.pk}") == payable - 666_666
    assert services.statements_issue(period_end=timezone.localdate(), actor=officer) == []
    services.statement_paid(statement=statement, reference="TRF-1", actor=officer)
    with pytest.raises(services.StatementAlreadyPaid):
        services.statement_paid(statement=statement, reference="TRF-1", actor=officer)
    assert balance(services.PLATFORMS_PAID_ACCOUNT) == 666_666
    assert Statement.objects.get().paid_reference == "TRF-1"
    assert ledger_check() == []


def test_the_benefits_report_counts_participants_by_total_received(sent) -> None:
    post([{"key": sent[0].key, "state": "paid"}])
    report = benefits_report()
    scheme = report["semi-bansos-2020"]
    assert scheme["totals"]["1000000"] == 1  # 400,000 spent + one 600,000 instalment
    assert scheme["totals"]["400000"] == 3
    assert scheme["participants"] == sum(scheme["totals"].values())


def settlement(tmp_path, name: str, payments: list[Payment], state: str = "paid"):
    lines = [",".join(rules.SETTLEMENT_HEADER)]
    lines += [f"{p.key},R{p.pk},{p.amount},{state},2026-11-25T10:00:00+07:00" for p in payments]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_chunk_is_settled_once_no_payment_in_it_awaits_an_outcome(sent, tmp_path, make_user) -> None:
    officer = make_user("finance_officer")
    chunk = sent[0].chunk
    first = services.reconcile(provider="ovo", path=settlement(tmp_path, "a.csv", sent[:3]), actor=officer)
    assert list(first.discrepancies.values_list("kind", "payment_key")) == [("missing", sent[3].key)]
    chunk.refresh_from_db()
    assert chunk.settled_at is None  # the fourth is still awaited
    second = services.reconcile(provider="ovo", path=settlement(tmp_path, "b.csv", sent[3:]), actor=officer)
    assert second.counts == {"applied": 1, "paid": 1} and not second.discrepancies.exists()
    chunk.refresh_from_db()
    assert chunk.settled_at is not None
    assert ledger_check() == []


def test_the_books_check_every_link_of_a_payment(sent) -> None:
    payment = sent[0]
    Payment.objects.create(
        chunk=payment.chunk,
        entitlement=payment.entitlement,
        account=payment.account,
        provider=payment.provider,
        amount=payment.amount,
        attempt=2,
        key=f"P{payment.entitlement_id}-2",
        state=PaymentState.PENDING,
        updated_at=payment.updated_at,
    )
    Payment.objects.filter(pk=sent[1].pk).update(provider="dana")  # its chunk goes to OVO
    Payment.objects.filter(pk=sent[2].pk).update(account_id=sent[3].account_id)  # someone else's account
    Payment.objects.filter(pk=sent[3].pk).update(entitlement_id=10**9)
    problems = ledger_check()
    assert f"entitlement {payment.entitlement_id} has more than one live payment" in problems
    assert f"payment {sent[1].key} is not in a chunk of its provider" in problems
    assert f"payment {sent[2].key} went to an account not verified as its payee's" in problems
    assert f"payment {sent[3].key} names an entitlement that does not exist" in problems
