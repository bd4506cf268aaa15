"""Load shedding: an expensive action runs at most N at a time in a process; the rest are told at once
to retry (503 with Retry-After) instead of queueing until they time out."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from prakerja.core.errors import Overloaded

_gates: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_lock = threading.Lock()


def _gate(name: str, limit: int) -> threading.BoundedSemaphore:
    """The gate of an action with that many places (a changed limit is a new gate)."""
    with _lock:
        if (name, limit) not in _gates:
            _gates[name, limit] = threading.BoundedSemaphore(limit)
        return _gates[name, limit]


@contextmanager
def admission(name: str, limit: int) -> Iterator[None]:
    """Run the block once one of `limit` places is free within ADMISSION_WAIT seconds; else Overloaded."""
    gate = _gate(name, limit)
    if not gate.acquire(timeout=settings.ADMISSION_WAIT):
        raise Overloaded()
    try:
        yield
    finally:
        gate.release()
