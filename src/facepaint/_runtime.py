"""Process-wide settings that the per-frame stages rely on for speed, applied once at import."""

from __future__ import annotations

import ctypes
import os
import sys

# glibc's malloc serves blocks above a threshold (128 KiB, adapting up to 32 MiB) with fresh mmap()s
# and returns them to the kernel on free(). A frame makes many such arrays (canvases, fields,
# flows: 2-25 MiB at 1080p), so every frame paid page faults on first touch: measured here, a fresh
# 1080p float32 canvas made rendering 50k strokes 136 ms instead of 70 ms. Keeping freed blocks
# in the heap makes them reusable at no cost; the process then holds its peak working set (which
# is bounded: the pipeline's state does not grow with the video), instead of unmapping it.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_KEEP_BYTES = 1 << 30


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed large blocks for reuse; False where that does not apply (not Linux
    with glibc, or the user set MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ themselves)."""
    if not sys.platform.startswith("linux") or "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, _KEEP_BYTES)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 2 * _KEEP_BYTES - 1))
    except (OSError, AttributeError):  # musl or another libc: keep its defaults
        return False


# Numba's parallel kernels run on an OpenMP pool. With the default (active) wait policy, idle
# workers spin; on a machine with more busy processes than cores they are descheduled while
# spinning and each parallel call then pays ~10-15 ms of hand-over (measured here: one ETF pass on a
# 128x128 crop 12 ms vs 0.16 ms with PASSIVE; large kernels are unaffected). A frame makes dozens
# of such calls. Set before the OpenMP runtime starts (it reads the variable once); a value the
# user exported wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
keep_freed_memory()


def release_freed_memory() -> bool:
    """Give the heap's free pages back to the kernel (glibc ``malloc_trim``); False where that
    does not apply.

    :func:`keep_freed_memory` makes a painting process hold its peak working set, which is right
    while frames are painted but not for a long-lived process that sits idle between jobs (the
    web app: about 1 GB resident after a 720p job instead of 0.3 GB). Call it when a job is done.
    """
    import gc

    gc.collect()  # the stylizer's arrays may be held by reference cycles until the next collection
    if not sys.platform.startswith("linux"):
        return False
    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


_M_ARENA_MAX = -8


def limit_malloc_arenas(count: int = 2) -> bool:
    """Let glibc's malloc use at most ``count`` arenas from now on; False where that does not
    apply (not Linux with glibc, or the user set MALLOC_ARENA_MAX).

    Each thread that allocates gets an arena of its own, up to 8 per core, and each
    ``stylize_video`` call starts fresh worker threads. In a process that runs job after job
    (the web app), the arenas fragment: measured here, 12 runs of ``stylize_video`` on 720p frames
    in one process grew from 385 to 558 MiB resident even with :func:`release_freed_memory` after
    each, and stayed at 323-327 MiB with two arenas.
    """
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, int(count)))
    except (OSError, AttributeError):
        return False
