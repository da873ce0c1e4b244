"""Decoding ahead and encoding behind the painter, on worker threads.

Decoding (FFmpeg through PyAV) and H.264 encoding (x264) run in C without the GIL, so while the
pipeline paints frame ``t`` a reader thread can decode frame ``t + 1`` and a writer thread encode
frame ``t - 1``: on a machine where the painter leaves cores idle part of the time, the video's
own input/output then costs little wall time. Queues are bounded (a few frames), so memory stays
flat however long the video is, and order is kept (one thread each).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_DONE = object()


def read_ahead(items: Iterable[T], *, depth: int = 3) -> Iterator[T]:
    """Yield ``items`` in order while a worker thread produces up to ``depth`` of them ahead.

    An exception raised by ``items`` is re-raised here, at the position where it occurred.
    Closing the generator early (``break``) stops the worker after its current item.
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        ready.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put(_DONE)
        except BaseException as error:  # handed to the consumer, raised there
            ready.put(_Failure(error))

    worker = threading.Thread(target=produce, name="facepaint-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                ready.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class WriteBehind:
    """Call ``write(item)`` on a worker thread, in order, with at most ``depth`` items waiting.

    ``put(item)`` returns as soon as the item is queued; an exception raised by ``write`` is
    re-raised by the next ``put`` or by ``close``. ``close()`` waits until everything queued is
    written. Use as a context manager: leaving it closes (and on an error, stops without writing
    what is still queued).
    """

    def __init__(self, write, *, depth: int = 3) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self._write = write
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._abort = threading.Event()
        self._worker = threading.Thread(target=self._run, name="facepaint-write-behind", daemon=True)
        self._worker.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if self._error is not None or self._abort.is_set():
                continue  # drain without writing after a failure
            try:
                self._write(item)
            except BaseException as error:
                self._error = error

    def _raise_pending(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def put(self, item: Any) -> None:
        self._raise_pending()
        self._queue.put(item)

    def close(self) -> None:
        """Wait for everything queued to be written; re-raise a write error."""
        if self._worker.is_alive():
            self._queue.put(_DONE)
            self._worker.join()
        self._raise_pending()

    def __enter__(self) -> "WriteBehind":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._abort.set()
            if self._worker.is_alive():
                self._queue.put(_DONE)
                self._worker.join()
            return
        self.close()
