"""Pure rules of double-entry bookkeeping."""

import hashlib
import json
from collections.abc import Sequence


def posting_problems(postings: Sequence[tuple[str, int]]) -> list[str]:
    """What makes a set of (account code, amount) postings unbookable; empty when it balances."""
    problems = []
    if len(postings) < 2:
        problems.append("an entry needs at least two postings")
    for code, amount in postings:
        if isinstance(amount, bool) or not isinstance(amount, int):
            problems.append(f"amount for {code} is not a whole number of rupiah")
        elif amount == 0:
            problems.append(f"amount for {code} is zero")
    if not problems and sum(amount for _, amount in postings) != 0:
        problems.append("postings do not sum to zero")
    return problems


def fingerprint(postings: Sequence[tuple[str, int]], memo: str) -> str:
    """Identifies what was asked, so that a replayed idempotency key with other content is refused."""
    canonical = json.dumps({"memo": memo, "postings": sorted(postings)}, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
