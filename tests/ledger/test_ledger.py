import uuid

import pytest
from django.core.management import call_command
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prakerja.ledger.models import Account, JournalEntry, Posting
from prakerja.ledger.rules import posting_problems
from prakerja.ledger.selectors import balance, ledger_check
from prakerja.ledger.services import (
    AlreadyReversed,
    IdempotencyMismatch,
    InsufficientBalance,
    UnbalancedEntry,
    UnknownAccount,
    account_open,
    entry_post,
    entry_reverse,
)

pytestmark = pytest.mark.django_db
ACTOR = "system:test"


@pytest.fixture
def books():
    account_open(code="budget", name="State budget", allow_negative=True)
    account_open(code="fund", name="Programme fund")
    account_open(code="card:1", name="Training balance of participant 1")
    entry_post(postings=[("budget", -5_000_000), ("fund", 5_000_000)], memo="funding", actor=ACTOR)


@pytest.mark.parametrize(
    ("postings", "problem"),
    [
        ([("a", 5)], "at least two"),
        ([("a", 5), ("b", -4)], "sum to zero"),
        ([("a", 0), ("b", 0)], "zero"),
        ([("a", 1.5), ("b", -1.5)], "whole number"),
        ([("a", True), ("b", -1)], "whole number"),
    ],
)
def test_unbookable_postings(postings, problem) -> None:
    assert any(problem in p for p in posting_problems(postings))


def test_a_balanced_entry_moves_money(books) -> None:
    entry_post(postings=[("fund", -1_000_000), ("card:1", 1_000_000)], memo="card issued", actor=ACTOR)
    assert (balance("budget"), balance("fund"), balance("card:1")) == (-5_000_000, 4_000_000, 1_000_000)
    assert ledger_check() == []


def test_refused_entries_write_nothing(books) -> None:
    before = (JournalEntry.objects.count(), Posting.objects.count(), balance("fund"))
    with pytest.raises(UnbalancedEntry):
        entry_post(postings=[("fund", -10), ("card:1", 9)], memo="bad", actor=ACTOR)
    with pytest.raises(UnknownAccount):
        entry_post(postings=[("fund", -10), ("card:999", 10)], memo="bad", actor=ACTOR)
    with pytest.raises(InsufficientBalance):
        entry_post(postings=[("fund", -5_000_001), ("card:1", 5_000_001)], memo="too much", actor=ACTOR)
    assert (JournalEntry.objects.count(), Posting.objects.count(), balance("fund")) == before
    assert ledger_check() == []


def test_a_replayed_key_returns_the_first_entry_and_other_content_is_refused(books) -> None:
    postings = [("fund", -300_000), ("card:1", 300_000)]
    first = entry_post(postings=postings, memo="purchase", actor=ACTOR, idempotency_key="pay-1")
    again = entry_post(postings=postings, memo="purchase", actor=ACTOR, idempotency_key="pay-1")
    assert again.pk == first.pk and balance("card:1") == 300_000
    with pytest.raises(IdempotencyMismatch):
        entry_post(
            postings=[("fund", -1), ("card:1", 1)], memo="purchase", actor=ACTOR, idempotency_key="pay-1"
        )


def test_corrections_are_reversals(books) -> None:
    entry = entry_post(postings=[("fund", -700_000), ("card:1", 700_000)], memo="card issued", actor=ACTOR)
    reversal = entry_reverse(entry=entry, memo="card revoked", actor=ACTOR)
    assert reversal.reverses == entry
    assert balance("card:1") == 0 and balance("fund") == 5_000_000
    with pytest.raises(AlreadyReversed):
        entry_reverse(entry=entry, memo="again", actor=ACTOR)
    spent = entry_post(postings=[("fund", -100), ("card:1", 100)], memo="x", actor=ACTOR)
    entry_post(postings=[("card:1", -100), ("fund", 100)], memo="spent back", actor=ACTOR)
    with pytest.raises(InsufficientBalance):
        entry_reverse(entry=spent, memo="would overdraw the card", actor=ACTOR)
    assert ledger_check() == []


def test_the_check_finds_tampering(books, capsys) -> None:
    call_command("ledger", "check")
    assert "Ledger holds" in capsys.readouterr().out
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Account._meta.db_table} SET balance = balance + 1 WHERE code = 'fund'")
        cursor.execute(f"UPDATE {Posting._meta.db_table} SET amount = amount - 1 WHERE amount = -5000000")
    problems = ledger_check()
    assert any("fund shows" in p for p in problems)
    assert any("summing to -1" in p for p in problems)
    with pytest.raises(SystemExit) as exit_info:
        call_command("ledger", "check")
    assert exit_info.value.code == 1


transfer = st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(1, 2_000_000))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(transfers=st.lists(transfer, min_size=1, max_size=25))
def test_the_invariants_hold_whatever_is_attempted(books, transfers) -> None:
    prefix = uuid.uuid4().hex[:8]
    codes = [f"{prefix}:{i}" for i in range(4)]
    for code in codes:
        account_open(code=code, name=code)
    entry_post(postings=[("budget", -3_000_000), (codes[0], 3_000_000)], memo="seed", actor=ACTOR)
    for source, target, amount in transfers:
        if source == target:
            continue
        before = {c: balance(c) for c in codes}
        try:
            entry_post(postings=[(codes[source], -amount), (codes[target], amount)], memo="move", actor=ACTOR)
        except InsufficientBalance:
            assert {c: balance(c) for c in codes} == before  # a refused movement leaves no trace
    assert sum(balance(c) for c in codes) == 3_000_000
    assert all(balance(c) >= 0 for c in codes)
    assert ledger_check() == []
