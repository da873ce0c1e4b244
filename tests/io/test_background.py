"""Read-ahead and write-behind threads: order, bounded queues, errors where they belong."""

from __future__ import annotations

import threading
import time

import pytest

from facepaint.io.background import WriteBehind, read_ahead


def test_read_ahead_keeps_order_and_runs_ahead() -> None:
    produced: list[int] = []

    def items():
        for i in range(20):
            produced.append(i)
            yield i

    out = []
    for item in read_ahead(items(), depth=3):
        time.sleep(0.002)
        out.append(item)
    assert out == list(range(20))
    # Bounded: the producer never gets more than depth (+1 in hand) ahead of the consumer.
    seen = []
    gen = read_ahead(items(), depth=2)
    produced.clear()
    seen.append(next(gen))
    time.sleep(0.1)
    assert len(produced) <= 4
    gen.close()


def test_read_ahead_reraises_at_the_failing_item_and_stops_early() -> None:
    def items():
        yield 1
        yield 2
        raise ValueError("bad frame 3")

    got = []
    with pytest.raises(ValueError, match="bad frame 3"):
        for item in read_ahead(items()):
            got.append(item)
    assert got == [1, 2]

    def endless():
        i = 0
        while True:
            yield i
            i += 1

    before = threading.active_count()
    for item in read_ahead(endless(), depth=2):
        if item == 5:
            break
    time.sleep(0.3)
    assert threading.active_count() <= before  # the worker stopped
    with pytest.raises(ValueError, match="depth"):
        next(read_ahead([], depth=0))


def test_write_behind_writes_everything_in_order() -> None:
    written: list[int] = []

    def slow_write(item: int) -> None:
        time.sleep(0.001)
        written.append(item)

    with WriteBehind(slow_write, depth=2) as behind:
        for i in range(30):
            behind.put(i)
    assert written == list(range(30))


def test_write_behind_reraises_a_write_error_and_writes_nothing_after_it() -> None:
    """Item 0 fails while items 1 and 2 wait in the queue: close() raises the write error and
    1 and 2 are never attempted; a put after the failure raises it too."""
    attempted: list[int] = []
    writing, release = threading.Event(), threading.Event()

    def failing(item: int) -> None:
        attempted.append(item)
        if item == 0:
            writing.set()
            release.wait(5)
            raise OSError("disk full")

    behind = WriteBehind(failing, depth=3)
    behind.put(0)
    assert writing.wait(5)
    behind.put(1)
    behind.put(2)
    release.set()
    with pytest.raises(OSError, match="disk full"):
        behind.close()
    assert attempted == [0], "the items queued after the failing one are dropped, not written"

    failed = threading.Event()

    def fail_at_once(item: int) -> None:
        failed.set()
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        with WriteBehind(fail_at_once, depth=1) as behind:
            behind.put(0)
            assert failed.wait(5)
            time.sleep(0.05)  # the worker records the error right after raising it
            behind.put(1)
            raise AssertionError("put after a failed write must raise the write error")


def test_write_behind_drops_what_is_queued_when_the_caller_fails() -> None:
    """The caller raises while item 0 is being written and items 1 and 2 wait in the queue: the
    caller's error comes through, item 0 completes, 1 and 2 are never written, and the worker
    has stopped when the block is left."""
    written: list[int] = []
    writing, release = threading.Event(), threading.Event()

    def write(item: int) -> None:
        if item == 0:
            writing.set()
            release.wait(5)
        written.append(item)

    behind = WriteBehind(write, depth=3)
    timer = threading.Timer(0.2, release.set)  # lets item 0 finish once the caller has failed
    with pytest.raises(RuntimeError, match="painter failed"):
        with behind:
            behind.put(0)
            assert writing.wait(5)
            behind.put(1)
            behind.put(2)
            timer.start()
            raise RuntimeError("painter failed")
    assert release.is_set(), "the block was left only after item 0 was written"
    assert written == [0]
    assert not behind._worker.is_alive()
