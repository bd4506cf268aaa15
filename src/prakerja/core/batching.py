"""Group commit: writes handed in by concurrent request threads go to the database together.

A thread that finds nobody writing writes everything waiting (its own item and whatever arrived while
the previous write ran) in one call; the others wait for their own outcome. Nothing waits on a timer:
an item that arrives alone is written at once, and under load the batches grow by themselves.
"""

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
_PENDING = object()


class _Slot(Generic[Item]):
    __slots__ = ("item", "outcome")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.outcome: object = _PENDING


class GroupCommit(Generic[Item, Result]):
    """`write(items)` returns one outcome per item, in order: its result, or the exception to raise in
    the thread that handed it in. If a whole batch fails, each of its items is written again alone, so
    one bad item fails only its own request."""

    def __init__(self, write: Callable[[list[Item]], Sequence[Result | Exception]], *, limit: int = 500):
        self._write = write
        self._limit = limit
        self._condition = threading.Condition()
        self._waiting: list[_Slot[Item]] = []
        self._writing = False

    @property
    def waiting(self) -> int:
        """How many items wait for the write in progress to end."""
        with self._condition:
            return len(self._waiting)

    def submit(self, item: Item) -> Result:
        slot = _Slot(item)
        with self._condition:
            self._waiting.append(slot)
        while True:
            with self._condition:
                while self._writing and slot.outcome is _PENDING:
                    self._condition.wait()
                if slot.outcome is not _PENDING:
                    break
                batch, self._waiting = self._waiting[: self._limit], self._waiting[self._limit :]
                self._writing = True
            outcomes: list[Result | Exception] = []
            try:
                outcomes = self._outcomes([s.item for s in batch])
            finally:
                with self._condition:
                    for done, outcome in zip(batch, outcomes, strict=False):
                        done.outcome = outcome
                    for left in batch:  # only when writing itself raised (say, KeyboardInterrupt)
                        if left.outcome is _PENDING:
                            left.outcome = RuntimeError("the batch this item was in was not written")
                    self._writing = False
                    self._condition.notify_all()
        if isinstance(slot.outcome, Exception):
            raise slot.outcome
        return slot.outcome  # type: ignore[return-value]

    def _outcomes(self, items: list[Item]) -> list[Result | Exception]:
        try:
            outcomes = list(self._write(items))
        except Exception as error:
            if len(items) == 1:
                return [error]
            return [self._outcomes([item])[0] for item in items]
        if len(outcomes) != len(items):
            raise ValueError(f"write returned {len(outcomes)} outcomes for {len(items)} items")
        return outcomes
