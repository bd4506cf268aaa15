"""Pure enrolment rules: codes, the redeem and withdrawal windows, when a completion is plausible, and the
text a certificate's signature covers."""

import secrets
from datetime import datetime, timedelta
from itertools import pairwise

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: read aloud and typed by people


def new_code(length: int) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def normal_code(text: str) -> str:
    """A code as typed by a person: spaces and dashes dropped, upper case."""
    return "".join(ch for ch in text.upper() if ch not in " -")


def redeem_window(
    *,
    session_start: datetime | None,
    purchased_at: datetime,
    before: timedelta,
    after: timedelta,
    online: timedelta,
) -> tuple[datetime, datetime]:
    """When a voucher may be redeemed: around the session's start, or for a self-paced online training
    from the purchase for a period."""
    if session_start is None:
        return purchased_at, purchased_at + online
    return session_start - before, session_start + after


def may_withdraw(*, purchased_at: datetime, now: datetime, window: timedelta) -> bool:
    """A participant may withdraw from an unredeemed purchase within the withdrawal window."""
    return now <= purchased_at + window


def completion_problems(
    *, redeemed_at: datetime, completed_at: datetime, hours: int, attended: list[tuple[datetime, datetime]]
) -> list[str]:
    """Why a reported completion looks impossible: before redemption, faster than the training's hours,
    or sessions attended at overlapping times."""
    problems = []
    if completed_at < redeemed_at:
        problems.append("before_redemption")
    if completed_at - redeemed_at < timedelta(hours=hours):
        problems.append("faster_than_hours")
    spans = sorted(attended)
    if any(later[0] < earlier[1] for earlier, later in pairwise(spans)):
        problems.append("overlapping_attendance")
    return problems


def certificate_text(*, code: str, name: str, training: str, institution: str, completed_on: str) -> bytes:
    """The exact bytes a certificate's signature covers; the verification page rebuilds and checks them."""
    return "\n".join(("PRAKERJA-CERTIFICATE-1", code, name, training, institution, completed_on)).encode()
