"""Group commit: items that arrive while a write runs are written together, each thread gets its own
outcome, and a failing batch fails only the items that fail alone."""

import threading
import time

import pytest

from prakerja.core.batching import GroupCommit


class Writes:
    """A write function that records its batches and can be held while threads queue behind it."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.hold = threading.Event()
        self.hold.set()
        self.started = threading.Event()

    def __call__(self, items: list[int]) -> list[int | Exception]:
        self.batches.append(list(items))
        self.started.set()
        self.hold.wait(5)
        if 13 in items:
            if len(items) > 1:
                raise RuntimeError("the whole batch fails")
            return [ValueError("unlucky")]
        return [item * 10 for item in items]


def _submit_all(group: GroupCommit[int, int], items: list[int], writes: Writes) -> dict[int, object]:
    outcomes: dict[int, object] = {}

    def run(item: int) -> None:
        try:
            outcomes[item] = group.submit(item)
        except Exception as error:
            outcomes[item] = error

    writes.hold.clear()
    first = threading.Thread(target=run, args=(items[0],))
    first.start()
    assert writes.started.wait(5)
    rest = [threading.Thread(target=run, args=(item,)) for item in items[1:]]
    for thread in rest:
        thread.start()
    deadline = time.monotonic() + 5
    while group.waiting < len(rest) and time.monotonic() < deadline:
        time.sleep(0.001)
    writes.hold.set()
    for thread in [first, *rest]:
        thread.join(5)
    return outcomes


def test_items_arriving_during_a_write_are_written_together_in_one_call() -> None:
    writes = Writes()
    group: GroupCommit[int, int] = GroupCommit(writes)
    outcomes = _submit_all(group, [1, 2, 3, 4, 5], writes)
    assert outcomes == {1: 10, 2: 20, 3: 30, 4: 40, 5: 50}
    assert writes.batches[0] == [1] and sorted(writes.batches[1]) == [2, 3, 4, 5] and len(writes.batches) == 2


def test_a_failing_batch_is_written_again_item_by_item_and_fails_only_its_bad_item() -> None:
    writes = Writes()
    group: GroupCommit[int, int] = GroupCommit(writes)
    outcomes = _submit_all(group, [1, 2, 13, 4], writes)
    assert outcomes[1] == 10 and outcomes[2] == 20 and outcomes[4] == 40
    assert isinstance(outcomes[13], ValueError)
    assert sorted(writes.batches[1]) == [2, 4, 13] and [13] in writes.batches[2:]


def test_batches_are_limited_and_an_item_alone_is_written_at_once() -> None:
    writes = Writes()
    group: GroupCommit[int, int] = GroupCommit(writes, limit=2)
    assert group.submit(7) == 70 and writes.batches == [[7]]
    writes.batches.clear()
    _submit_all(group, [1, 2, 3, 4, 5], writes)
    assert max(len(batch) for batch in writes.batches) == 2
    assert sorted(item for batch in writes.batches for item in batch) == [1, 2, 3, 4, 5]


def test_an_exception_for_an_item_is_raised_in_its_own_thread() -> None:
    group: GroupCommit[int, int] = GroupCommit(lambda items: [KeyError(item) for item in items])
    with pytest.raises(KeyError):
        group.submit(3)


def test_under_contention_one_write_runs_at_a_time_and_every_item_gets_its_own_result() -> None:
    running, most, batches = [0], [0], []
    guard = threading.Lock()

    def write(items: list[int]) -> list[int]:
        with guard:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.0005 * len(items))
        batches.append(len(items))
        with guard:
            running[0] -= 1
        return [item * 2 for item in items]

    group: GroupCommit[int, int] = GroupCommit(write, limit=7)
    results: dict[int, int] = {}

    def run(start: int) -> None:
        for item in range(start, start + 20):
            results[item] = group.submit(item)

    threads = [threading.Thread(target=run, args=(n * 100,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == {item: item * 2 for n in range(24) for item in range(n * 100, n * 100 + 20)}
    assert most[0] == 1 and max(batches) <= 7 and len(batches) < len(results)
