"""Incentives from completion to payment: schedule, accounts, batches, sending, outcomes, the books."""

import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from prakerja.accounts.services import WrongCode
from prakerja.core.models import OutboxMessage
from prakerja.ledger.selectors import balance, ledger_check
from prakerja.payments import services
from prakerja.payments.models import (
    AccountStatus,
    BatchStatus,
    Entitlement,
    EntitlementStatus,
    Payment,
    PaymentState,
    PayoutAccount,
)
from prakerja.payments.providers import ProviderUnavailable
from prakerja.payments.selectors import benefits_of
from prakerja.waves.services import FUND_ACCOUNT

from .conftest import earn, verify


@pytest.fixture
def officers(make_user: Any) -> tuple[Any, Any]:
    return make_user("finance_officer"), make_user("finance_officer")


def test_the_incentive_falls_due_only_after_the_first_completed_training_is_rated(
    cards, platform, institution, sell
) -> None:
    training = sell(price=400_000)
    rated, unrated = cards[0], cards[1]
    earn(rated, platform, institution, training)
    earn(unrated, platform, institution, training, rate=False)
    fund = balance(FUND_ACCOUNT)
    result = services.entitlements_schedule(actor="test")
    assert (result.participants, result.incentives) == (1, 4)
    rows = list(Entitlement.objects.filter(applicant=rated.applicant).order_by("sequence"))
    assert [r.amount for r in rows] == [600_000] * 4
    first = rows[0].due_on
    assert [r.due_on.month for r in rows] == [(first.month - 1 + n) % 12 + 1 for n in range(4)]
    assert first == timezone.localdate()
    assert balance(FUND_ACCOUNT) == fund - 2_400_000
    assert balance(services.OWED_ACCOUNT) == 2_400_000
    again = services.entitlements_schedule(actor="test")
    assert (again.participants, again.incentives) == (0, 0)
    assert not Entitlement.objects.filter(applicant=unrated.applicant).exists()
    assert ledger_check() == []


def test_only_the_first_completed_training_counts(cards, platform, institution, sell) -> None:
    card = cards[0]
    earn(card, platform, institution, sell(price=300_000))
    earn(card, platform, institution, sell(price=200_000, title_id="Pelatihan kedua"))
    services.entitlements_schedule(actor="test")
    assert Entitlement.objects.filter(applicant=card.applicant).count() == 4


def test_a_payout_account_is_verified_by_the_provider_and_a_change_needs_a_code(
    cards, simulator, make_user, settings
) -> None:
    card = cards[0]
    applicant = card.applicant
    applicant.user = make_user()
    applicant.save(update_fields=["user"])
    with pytest.raises(services.PayoutAccountInvalid) as bad:
        services.payout_account_set(applicant=applicant, provider="ovo", number="12ab")
    assert bad.value.problems[0]["field"] == "number"
    with pytest.raises(services.PayoutAccountRefused):
        services.payout_account_set(applicant=applicant, provider="dana", number="081234567999")
    refused = PayoutAccount.objects.get(applicant=applicant)
    assert refused.status == AccountStatus.REJECTED and refused.reason == "name_mismatch"
    first = verify(card, "bni")
    assert first.status == AccountStatus.VERIFIED and first.number_last4 == first.number[-4:]
    with pytest.raises(services.CodeNeeded):
        services.payout_account_set(applicant=applicant, provider="gopay", number="081298765431")
    services.payout_account_code_send(applicant=applicant)
    body = OutboxMessage.objects.order_by("-pk").first().body
    code = re.findall(r"\b\d{6}\b", body)[0]
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(WrongCode):
        services.payout_account_set(applicant=applicant, provider="gopay", number="081298765431", code=wrong)
    gateway, settings.PAYMENT_PROVIDER_URL = settings.PAYMENT_PROVIDER_URL, "http://127.0.0.1:9"
    with pytest.raises(ProviderUnavailable):
        services.payout_account_set(applicant=applicant, provider="gopay", number="081298765431", code=code)
    settings.PAYMENT_PROVIDER_URL = gateway  # the provider is back, and the code was not used up
    second = services.payout_account_set(
        applicant=applicant, provider="gopay", number="081298765431", code=code
    )
    first.refresh_from_db()
    assert (first.status, second.status) == (AccountStatus.REPLACED, AccountStatus.VERIFIED)
    # The account number is encrypted at rest.
    with connection.cursor() as cursor:
        cursor.execute("SELECT number FROM payments_payoutaccount WHERE id = %s", [second.pk])
        assert "081298765431" not in cursor.fetchone()[0]


def _earned_and_verified(cards, platform, institution, sell, n: int = 3) -> list[Any]:
    training = sell(price=400_000)
    for card in cards[:n]:
        earn(card, platform, institution, training)
        verify(card, "ovo" if card.pk % 2 else "bni")
    services.entitlements_schedule(actor="test")
    return cards[:n]


def test_a_batch_is_built_by_one_officer_approved_by_another_and_paid(
    cards, platform, institution, sell, simulator, officers, settings
) -> None:
    settings.PAYMENT_CHUNK_SIZE = 2
    paid_cards = _earned_and_verified(cards, platform, institution, sell)
    unverified = cards[3]
    earn(unverified, platform, institution, sell(price=100_000, title_id="Lain"))
    services.entitlements_schedule(actor="test")
    maker, checker = officers
    batch = services.batch_build(actor=maker)
    # Only the first instalment is due today, and only to verified accounts.
    assert batch.payment_count == 3 and batch.total == 1_800_000
    assert not Payment.objects.filter(entitlement__applicant=unverified.applicant).exists()
    assert sum(c.payment_count for c in batch.chunks.all()) == 3 and batch.chunks.count() == 2
    with pytest.raises(services.MakerCannotCheck):
        services.batch_approve(batch=batch, actor=maker)
    with pytest.raises(services.BatchWrongState):
        services.batch_send(batch=batch, actor=checker)
    services.batch_approve(batch=batch, actor=checker)
    with pytest.raises(services.BatchEmpty):
        services.batch_build(actor=maker)  # everything due is already in a batch
    result = services.batch_send(batch=batch, actor=checker)
    batch.refresh_from_db()
    assert (result.chunks, result.payments, batch.status) == (2, 3, BatchStatus.SENT)
    assert balance(services.transit_account("ovo")) + balance(services.transit_account("bni")) == 1_800_000
    assert ledger_check() == []
    settlement = tmp_file(simulator.settlement("ovo"), "ovo.csv", settings)
    run = services.reconcile(provider="ovo", path=settlement, actor=checker)
    assert run.counts["paid"] == run.counts["applied"] >= 1
    run = services.reconcile(
        provider="bni", path=tmp_file(simulator.settlement("bni"), "bni.csv", settings), actor=checker
    )
    assert Payment.objects.filter(state=PaymentState.PAID).count() == 3
    assert balance(services.PAID_ACCOUNT) == 1_800_000
    assert not run.discrepancies.exists()
    benefits = benefits_of(paid_cards[0].applicant)
    assert benefits.incentives_paid == 600_000 and benefits.training_spent == 400_000
    assert benefits.owed == 3 * 600_000
    assert ledger_check() == []
    # The next month's instalment is due a month later, in a new batch with new keys.
    later = services.batch_build(actor=maker, due_by=timezone.localdate() + timedelta(days=32))
    assert later.payment_count == 3
    assert not set(later.payments.values_list("key", flat=True)) & set(
        batch.payments.values_list("key", flat=True)
    )


def tmp_file(text: str, name: str, settings: Any) -> Any:
    path = settings.MEDIA_ROOT.parent / name
    path.write_text(text)
    return path


def test_an_interrupted_send_resumes_without_paying_anyone_twice(
    cards, platform, institution, sell, simulator, officers, settings, monkeypatch
) -> None:
    settings.PAYMENT_CHUNK_SIZE = 1
    _earned_and_verified(cards, platform, institution, sell, n=4)
    maker, checker = officers
    batch = services.batch_approve(batch=services.batch_build(actor=maker), actor=checker)
    real = services.providers

    class Dies:
        """Hands the first chunks to the provider, then the process 'dies' after the provider accepted."""

        def __init__(self) -> None:
            self.adapter, self.calls = real(), 0

        def disburse(self, **kw: Any) -> Any:
            self.calls += 1
            receipt = self.adapter.disburse(**kw)
            if self.calls == 2:
                raise KeyboardInterrupt  # killed after the provider took the chunk, before we knew
            return receipt

    monkeypatch.setattr(services, "providers", Dies)
    with pytest.raises(KeyboardInterrupt):
        services.batch_send(batch=batch, actor=checker)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.SENDING
    assert batch.chunks.filter(acknowledged_at__isnull=True).count() == 3
    monkeypatch.setattr(services, "providers", real)
    result = services.batch_send(batch=batch, actor=checker)
    assert (result.chunks, result.resent) == (3, 1)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.SENT
    lines = [line for p in ("ovo", "bni") for line in simulator.settlement(p).splitlines()[1:]]
    keys = [line.split(",")[0] for line in lines]
    assert sorted(keys) == sorted(batch.payments.values_list("key", flat=True))  # each once
    assert ledger_check() == []


def test_failed_payments_are_retried_with_a_new_key_then_returned_to_the_fund(
    cards, platform, institution, sell, start_simulator, officers, settings
) -> None:
    settings.PAYMENT_MAX_ATTEMPTS = 2
    simulator = start_simulator(failure_rate=1.0)
    card = _earned_and_verified(cards, platform, institution, sell, n=1)[0]
    provider = PayoutAccount.objects.get(applicant=card.applicant).provider
    maker, checker = officers
    fund = balance(FUND_ACCOUNT)
    for attempt in (1, 2):
        batch = services.batch_approve(batch=services.batch_build(actor=maker), actor=checker)
        services.batch_send(batch=batch, actor=checker)
        path = tmp_file(simulator.settlement(provider), f"s{attempt}.csv", settings)
        services.reconcile(provider=provider, path=path, actor=checker)
        payment = batch.payments.get()
        assert (payment.state, payment.attempt) == (PaymentState.FAILED, attempt)
        assert ledger_check() == []
    assert Payment.objects.filter(state=PaymentState.RETRIED).count() == 1
    with pytest.raises(services.BatchEmpty):
        services.batch_build(actor=maker)  # the second failure was the last allowed: returned instead
    entitlement = Entitlement.objects.get(applicant=card.applicant, sequence=1)
    assert entitlement.status == EntitlementStatus.RETURNED
    assert balance(FUND_ACCOUNT) == fund + 600_000
    assert ledger_check() == []
