"""Pure rules of incentives and payouts: instalment dates, payment states, callback signatures,
settlement-file lines and account-check answers."""

import calendar
import csv
import hashlib
import hmac
from collections.abc import Iterator
from datetime import date, datetime
from typing import NamedTuple

OUTCOMES = ("paid", "failed", "returned")  # what a provider may report of a payment


# A payment's state only moves forward: pending → sent → paid | failed; failed → retried | returned (by the
# programme); paid → returned. Below, what a provider's report does to a payment in each state: the states
# it passes through (a "returned" that arrives before its "paid" counts as both); () when the news is repeated
# or older than what is known; absent when it contradicts what is known (a failure of a paid payment, a return
# of a failed one).
_REPORTS: dict[str, dict[str, tuple[str, ...]]] = {
    "sent": {"paid": ("paid",), "failed": ("failed",), "returned": ("paid", "returned")},
    "paid": {"paid": (), "returned": ("returned",)},
    "returned": {"paid": (), "returned": ()},
    "failed": {"failed": ()},
    "retried": {"failed": ()},
}


def transitions() -> list[tuple[str, str, str, bool, bool, bool]]:
    """The table above as rows for a set-based settlement to join: (current state, reported outcome, the
    state it ends in, and whether it passes through paid, failed and returned). Old news ends where it is."""
    return [
        (
            current,
            reported,
            path[-1] if path else current,
            "paid" in path,
            "failed" in path,
            "returned" in path,
        )
        for current, reports in _REPORTS.items()
        for reported, path in reports.items()
    ]


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it is shorter."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def instalment_dates(start: date, instalments: int) -> list[date]:
    """Monthly instalments, the first on `start`."""
    return [add_months(start, n) for n in range(instalments)]


def provider_key(secret: str, provider: str) -> bytes:
    """Each provider's callback signing key, derived from the shared secret."""
    return hmac.new(secret.encode(), f"provider-callback:{provider}".encode(), hashlib.sha256).digest()


def callback_signature(key: bytes, timestamp: int, body: bytes) -> str:
    """`v1=` and HMAC-SHA256 of "<timestamp>.<body>" in hex."""
    return "v1=" + hmac.new(key, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def callback_problem(
    key: bytes, timestamp: str, signature: str, body: bytes, now: int, tolerance: int
) -> str:
    """Why a callback cannot be trusted ("" when it can): a missing, stale or wrong signature."""
    if not timestamp or not signature:
        return "unsigned"
    try:
        sent = int(timestamp)
    except ValueError:
        return "bad timestamp"
    if abs(now - sent) > tolerance:
        return "stale timestamp"
    expected = callback_signature(key, sent, body)
    if not any(hmac.compare_digest(expected, given.strip()) for given in signature.split(",")):
        return "signature does not match"
    return ""


SETTLEMENT_HEADER = ("payment_key", "reference", "amount", "state", "settled_at")


class SettlementLine(NamedTuple):  # a tuple: a million are made per file
    key: str
    reference: str
    amount: int
    state: str
    settled_at: datetime


def settlement_fields(text: str) -> Iterator[tuple[int, list[str]]]:
    """The lines of a settlement file as (line number, fields), blank lines left out. A line without quotes
    is split at its commas (a third of the csv module's time, a second saved per million lines); one with
    quotes is read as CSV, on its own line (a settlement file has one payment per line)."""
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line:
            continue
        yield number, (next(csv.reader([line])) if '"' in line else line.split(","))


def settlement_line(fields: list[str]) -> SettlementLine | str:
    """One line of a provider's settlement file, or why it is malformed."""
    if len(fields) != len(SETTLEMENT_HEADER):
        return f"expected {len(SETTLEMENT_HEADER)} fields, found {len(fields)}"
    key, reference, amount, state, settled_at = map(str.strip, fields)
    if not key:
        return "payment_key is empty"
    if not amount.isdigit() or int(amount) <= 0:
        return f"amount {amount[:20]!r} is not a positive whole number of rupiah"
    if state not in OUTCOMES:
        return f"state {state[:20]!r} is not one of {', '.join(OUTCOMES)}"
    try:
        moment = datetime.fromisoformat(settled_at)
    except ValueError:
        return f"settled_at {settled_at[:40]!r} is not an ISO date and time"
    if moment.tzinfo is None:
        return "settled_at has no time zone"
    return SettlementLine(key, reference, int(amount), state, moment)


def mask_name(name: str) -> str:
    """ "Budi Santoso" -> "B*** S******": enough for a person to recognise their own account."""
    return " ".join(word[0] + "*" * (len(word) - 1) for word in name.split() if word)


def account_number_problem(provider: str, number: str) -> str:
    """What is wrong with an account number for the provider, as a code ("" when nothing is): "digits",
    "bank_length" (a BNI account has 10 digits) or "wallet_phone" (an e-wallet is a phone number, 08 and
    10-13 digits)."""
    if not number.isdigit():
        return "digits"
    if provider == "bni":
        return "" if len(number) == 10 else "bank_length"
    if not (number.startswith("08") and 10 <= len(number) <= 13):
        return "wallet_phone"
    return ""
