"""The append-only audit trail: every entry's hash covers its content and the hash before it."""

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC
from typing import Any, ParamSpec

from django.db import connection, transaction
from django.utils import timezone

from prakerja.core.models import AuditEntry

GENESIS = "0" * 64
P = ParamSpec("P")
_CHAIN_LOCK = 7_300_001  # PostgreSQL advisory lock id that serialises appends to the chain


def _canonical(entry: AuditEntry) -> bytes:
    content = {
        "at": entry.at.astimezone(UTC).isoformat(),
        "actor": entry.actor_id,
        "actor_label": entry.actor_label,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "before": entry.before,
        "after": entry.after,
        "prev": entry.prev_hash,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_digest(entry: AuditEntry) -> str:
    return hashlib.sha256(_canonical(entry)).hexdigest()


def rows_digest(rows: Iterable[Any]) -> str:
    """A digest of a batch's rows, so one audit entry can stand for a whole bulk batch."""
    digest = hashlib.sha256()
    for row in rows:
        if type(row) is str and row.isascii() and row.isalnum():  # blind indexes: JSON adds only quotes
            digest.update(f'"{row}"\n'.encode())
        else:
            digest.update(json.dumps(row, sort_keys=True, default=str).encode())
            digest.update(b"\n")
    return digest.hexdigest()


def audit_entry(
    *,
    actor: Any,
    action: str,
    obj: Any = None,
    object_type: str = "",
    object_id: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """An entry not yet in the chain, for `audit_append`; `actor` is a user or a system label."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    is_user = hasattr(actor, "pk")
    return AuditEntry(
        at=timezone.now(),
        actor=actor if is_user else None,
        actor_label=actor.get_username() if is_user else str(actor),
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before=before,
        after=after,
    )


def _appended(build: Callable[P, AuditEntry]) -> Callable[P, AuditEntry]:
    def record(*args: P.args, **kwargs: P.kwargs) -> AuditEntry:
        return audit_append([build(*args, **kwargs)])[0]

    record.__doc__ = "Append one entry, built from the arguments of `audit_entry`."
    return record


def audit_append(entries: list[AuditEntry]) -> list[AuditEntry]:
    """Chain the entries, in order, after the last one and store them with one lock and one insert."""
    # Inside a caller's transaction no savepoint is needed: a failed append fails the whole action.
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK])
        last = AuditEntry.objects.order_by("-id").values_list("entry_hash", flat=True).first() or GENESIS
        for entry in entries:
            entry.prev_hash = last
            entry.entry_hash = last = entry_digest(entry)
        return AuditEntry.objects.bulk_create(entries)


audit_record = _appended(audit_entry)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    broken_id: int | None = None
    reason: str = ""


def audit_verify() -> ChainReport:
    """Walk the chain from the start; the first entry whose hash or link does not hold breaks it."""
    prev = GENESIS
    checked = 0
    for entry in AuditEntry.objects.order_by("id").iterator(chunk_size=2000):
        if entry.prev_hash != prev:
            return ChainReport(False, checked, entry.id, "link to the previous entry is broken")
        if entry_digest(entry) != entry.entry_hash:
            return ChainReport(False, checked, entry.id, "content does not match its hash")
        prev = entry.entry_hash
        checked += 1
    return ChainReport(True, checked)


def audit_trail_for(obj: Any) -> list[AuditEntry]:
    return list(
        AuditEntry.objects.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk)).order_by("id")
    )
