"""Shot tasks for the tests of facepaint.scale that misbehave on purpose (importable by name in
worker processes: tests/ is on their path)."""

from __future__ import annotations

import os
from pathlib import Path

from facepaint.errors import FacepaintError
from facepaint.scale import paint_shot


def die_once(task):
    """Kill the worker process in the middle of shot 1 the first time (a marker file beside the
    work folder remembers it), then paint normally."""
    marker = Path(task.video).parent.parent / "died-once"
    if task.shot.index == 1 and not marker.exists():
        marker.write_text(str(os.getpid()))
        os._exit(9)
    return paint_shot(task)


def stop_after_first(task):
    """Paint shot 0; fail every other shot (an interrupted run)."""
    if task.shot.index > 0:
        raise FacepaintError("stopped on purpose")
    return paint_shot(task)


def numba_threads(_):
    """After the worker's set-up, a kernel compiled now (not in numba's cache) runs, and the
    threads numba was configured with, started and gives this thread: (config, started, used)."""
    import numba
    import numpy as np
    from numba.np.ufunc import parallel

    @numba.njit(parallel=True)
    def total(a):
        s = 0.0
        for i in numba.prange(a.shape[0]):
            s += a[i]
        return s

    total(np.ones(64))
    return numba.config.NUMBA_NUM_THREADS, parallel.get_thread_count(), numba.get_num_threads()


def spin(seconds):
    """Busy for ``seconds`` (a stand-in for a shot), then the worker's pid."""
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.01)
    return os.getpid()
