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


def test_write_behind_reraises_a_write_error_and_aborts_on_caller_error() -> None:
    def failing(item: int) -> None:
        if item == 3:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        with WriteBehind(failing, depth=1) as behind:
            for i in range(100):
                behind.put(i)
                time.sleep(0.001)
    written: list[int] = []
    with pytest.raises(RuntimeError, match="painter failed"):
        with WriteBehind(written.append, depth=50) as behind:
            behind.put(1)
            raise RuntimeError("painter failed")
    assert written in ([], [1])  # what was queued when the caller failed is not all written
