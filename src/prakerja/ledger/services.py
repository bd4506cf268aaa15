"""Ledger writes: opening accounts, posting balanced entries (idempotently), reversing them."""

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Subquery, Sum
from django.utils.translation import gettext_lazy as _

from prakerja.core.audit import audit_record
from prakerja.core.errors import Conflict, InvalidInput
from prakerja.ledger import rules
from prakerja.ledger.models import Account, JournalEntry, Posting

BATCH = 5_000
AUDITED_POSTINGS = 20  # larger entries are audited by the digest of their postings


class UnbalancedEntry(InvalidInput):
    code = "unbalanced_entry"
    message = _("This movement of money does not balance: %(reasons)s.")


class UnknownAccount(InvalidInput):
    code = "unknown_account"
    message = _("Unknown ledger account: %(codes)s.")


class InsufficientBalance(Conflict):
    code = "insufficient_balance"
    message = _("The balance of %(account)s is too low for this movement.")


class IdempotencyMismatch(Conflict):
    code = "idempotency_mismatch"
    message = _("This idempotency key was already used for a different movement.")


class AlreadyReversed(Conflict):
    code = "already_reversed"
    message = _("This entry has already been reversed.")


def account_open(*, code: str, name: str, allow_negative: bool = False) -> Account:
    """The account with this code, opened if it does not exist yet."""
    account, _created = Account.objects.get_or_create(
        code=code, defaults={"name": name, "allow_negative": allow_negative}
    )
    return account


def balances_lock(codes: Sequence[str]) -> dict[str, int]:
    """The balances of these accounts, locked in code order until the transaction ends (as `entry_post`
    locks them), so a caller can decide a batch of movements before posting it."""
    rows = Account.objects.select_for_update().filter(code__in=set(codes)).order_by("code")
    return dict(rows.values_list("code", "balance"))


def entry_post(
    *,
    postings: Sequence[tuple[str, int]],
    memo: str,
    actor: Any,
    idempotency_key: str | None = None,
    reverses: JournalEntry | None = None,
    open_accounts: Mapping[str, str] | None = None,
    audited: bool = True,
) -> JournalEntry:
    """Book (account code, amount) postings that sum to zero, all or nothing.

    Accounts are locked in code order (so two entries never wait on each other in a circle) and none
    that forbids it may go below zero. A replayed idempotency key returns the first entry. Accounts in
    `open_accounts` (code: name) are opened by the entry itself, so thousands of cards are funded in one
    set-based entry rather than one entry each. `audited=False` leaves the audit entry to the caller, which
    must record the business action naming this entry (one append to the chain instead of two).
    """
    problems = rules.posting_problems(postings)
    if problems:
        raise UnbalancedEntry(reasons="; ".join(problems))
    fingerprint = rules.fingerprint(postings, memo)
    if idempotency_key and (first := _replayed(idempotency_key, fingerprint)):
        return first
    try:
        with transaction.atomic():
            if open_accounts:
                Account.objects.bulk_create(
                    (Account(code=code, name=name) for code, name in open_accounts.items()), batch_size=BATCH
                )
            codes = sorted({code for code, _ in postings})
            accounts = {
                a.code: a for a in Account.objects.select_for_update().filter(code__in=codes).order_by("code")
            }
            missing = [c for c in codes if c not in accounts]
            if missing:
                raise UnknownAccount(codes=", ".join(missing))
            entry = JournalEntry.objects.create(
                memo=memo,
                idempotency_key=idempotency_key,
                fingerprint=fingerprint,
                reverses=reverses,
                actor_label=actor.get_username() if hasattr(actor, "get_username") else str(actor),
            )
            Posting.objects.bulk_create(
                (Posting(entry=entry, account=accounts[c], amount=a) for c, a in postings), batch_size=BATCH
            )
            moved = Posting.objects.filter(entry=entry, account=OuterRef("pk")).values("account")
            Account.objects.filter(postings__entry=entry).update(
                balance=F("balance") + Subquery(moved.annotate(total=Sum("amount")).values("total"))
            )
            for account in Account.objects.filter(postings__entry=entry, allow_negative=False, balance__lt=0):
                raise InsufficientBalance(account=account.code)
            if not audited:
                return entry
            shown = (
                {"postings": [[c, a] for c, a in postings]}
                if len(postings) <= AUDITED_POSTINGS
                else {"postings_count": len(postings), "postings_digest": fingerprint}
            )
            audit_record(
                actor=actor,
                action="ledger.entry_posted",
                obj=entry,
                after={"memo": memo, **shown, "reverses": reverses.pk if reverses else None},
            )
    except IntegrityError:
        if idempotency_key and (first := _replayed(idempotency_key, fingerprint)):
            return first  # the same key posted a moment ago by a concurrent request
        if reverses is not None:
            raise AlreadyReversed() from None
        raise
    return entry


def _replayed(key: str, fingerprint: str) -> JournalEntry | None:
    first = JournalEntry.objects.filter(idempotency_key=key).first()
    if first is not None and first.fingerprint != fingerprint:
        raise IdempotencyMismatch()
    return first


def entry_reverse(*, entry: JournalEntry, memo: str, actor: Any) -> JournalEntry:
    """The correction of an entry: the same postings with the opposite sign, linked to it."""
    if JournalEntry.objects.filter(reverses=entry).exists():
        raise AlreadyReversed()
    postings = [(p.account.code, -p.amount) for p in entry.postings.select_related("account")]
    return entry_post(postings=postings, memo=memo, actor=actor, reverses=entry)
