"""Ledger reads, including the check of every invariant."""

from collections.abc import Callable

from django.db.models import Count, F, Sum

from prakerja.ledger.models import Account, JournalEntry
from prakerja.registry.selectors import registry_check

# Later apps add the invariants of their own books (a subsidiary ledger against its control account); the
# registry, an earlier app, has its links checked here too.
CHECKS: list[Callable[[], list[str]]] = [registry_check]


def check_register(check: Callable[[], list[str]]) -> Callable[[], list[str]]:
    if check not in CHECKS:
        CHECKS.append(check)
    return check


def balance(code: str) -> int:
    return Account.objects.values_list("balance", flat=True).get(code=code)


def balance_or_zero(code: str) -> int:
    return Account.objects.filter(code=code).values_list("balance", flat=True).first() or 0


def ledger_check() -> list[str]:
    """Every breach of the ledger's invariants, described; an empty list means the books hold."""
    problems = []
    unbalanced = (
        JournalEntry.objects.annotate(total=Sum("postings__amount"), n=Count("postings"))
        .exclude(total=0, n__gte=2)
        .values_list("pk", "total", "n")
    )
    problems += [f"entry {pk} has {n} postings summing to {total}" for pk, total, n in unbalanced]
    drifted = (
        Account.objects.annotate(posted=Sum("postings__amount"))
        .exclude(balance=F("posted"))
        .exclude(balance=0, posted__isnull=True)
        .values_list("code", "balance", "posted")
    )
    problems += [
        f"account {code} shows {shown} but its postings sum to {posted or 0}"
        for code, shown, posted in drifted
    ]
    total = Account.objects.aggregate(total=Sum("balance"))["total"] or 0
    if total:
        problems.append(f"the balances of all accounts sum to {total}, not zero")
    negative = Account.objects.filter(allow_negative=False, balance__lt=0).values_list("code", "balance")
    problems += [f"account {code} is negative ({amount}) but may not be" for code, amount in negative]
    reversals = JournalEntry.objects.filter(reverses__isnull=False).prefetch_related(
        "postings", "reverses__postings"
    )
    for entry in reversals:
        assert entry.reverses is not None
        original = {(p.account_id, p.amount) for p in entry.reverses.postings.all()}
        mirrored = {(p.account_id, -p.amount) for p in entry.postings.all()}
        if original != mirrored:
            problems.append(f"entry {entry.pk} does not mirror entry {entry.reverses_id} that it reverses")
    for check in CHECKS:
        problems += check()
    return problems
