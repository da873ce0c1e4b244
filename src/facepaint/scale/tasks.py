"""Painting one shot: the task that workers run (a process of the local pool or a Dask worker).

A task gets and returns small picklable values (paths, the settings, a report): the frames are
decoded and the shot's video is written where the task runs, in the work folder.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from facepaint.errors import FacepaintError
from facepaint.scale.plan import RunSettings, write_record
from facepaint.scale.shots import Shot, frame_digest


@dataclass(frozen=True)
class ShotTask:
    """One shot of one video to paint.

    Attributes
    ----------
    source : str
        The input.
    shot : Shot
    settings : RunSettings
    fps : float
        The video's frame rate (the plan's).
    video, record : str
        Where the shot's video and then its record go (the work folder).
    """

    source: str
    shot: Shot
    settings: RunSettings
    fps: float
    video: str
    record: str


@dataclass(frozen=True)
class ShotResult:
    """What painting a shot did (the record's content)."""

    index: int
    start: int
    frames: int
    seconds: float  #: wall time of the task
    cpu_seconds: float  #: CPU time of the task's process during it (all threads)
    peak_rss_mib: float  #: peak resident memory of the worker process so far
    worker: str  #: host:pid
    seeked: bool  #: the range was decoded after a seek (False: from the start, skipping)


class ShotMismatch(FacepaintError):
    """A shot painted differently than planned (a cut found or missed): its frames would not
    be those of one sequential run."""


def prepare_worker(threads: int | None = None) -> None:
    """Settings of a worker process, made before numba is imported: compiled kernels are cached
    on disk (numba's cache, ``NUMBA_CACHE_DIR``, default ``~/.cache/facepaint/numba`` for
    workers, whose package folder may not be writable) so that each worker loads instead of
    compiling them, and the painter's parallel kernels use ``threads`` threads (the cores shared
    among the workers) instead of each using every core."""
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "facepaint" / "numba"))
    if threads is not None:
        os.environ["NUMBA_NUM_THREADS"] = str(max(1, int(threads)))
    if "numba" in sys.modules:
        # Unpickling this function imported the package, and numba with it, before the variables
        # were set: numba's configuration must be read again now, before its threads start.
        # Otherwise its pool started with every core, and the first kernel compiled later (a
        # cache miss) re-read the variables and failed ("Cannot set NUMBA_NUM_THREADS ... once
        # the threads have been launched").
        import numba
        from numba.core import config

        try:
            config.reload_config()
        except RuntimeError:  # the threads already run: limit this thread's kernels instead
            pass
        if threads is not None:
            numba.set_num_threads(min(max(1, int(threads)), config.NUMBA_NUM_THREADS))


def _frames_of(task: ShotTask):
    """The shot's frames, with their indexes in the video, and whether a seek was used.

    The range is read from ``start_s + start / fps`` (the reader seeks to the key frame before
    it); if its first frame is not the planned one (a stream whose timestamps do not map back
    exactly), the video is read from its start and the frames before the shot skipped.
    """
    from facepaint.io import open_video
    from facepaint.types import Frame

    s, shot, fps = task.settings, task.shot, task.fps
    base = s.start_s or 0.0
    reader = open_video(task.source, fps=s.fps, start_s=(base + shot.start / fps) or None, max_frames=shot.frames)
    frames = iter(reader)
    first = next(frames, None)
    if first is not None and frame_digest(first.image) == shot.digest:
        yield True, Frame(index=shot.start, time_s=shot.start / fps, image=first.image)
        for frame in frames:
            index = shot.start + frame.index
            yield True, Frame(index=index, time_s=index / fps, image=frame.image)
        return
    whole = open_video(task.source, fps=s.fps, start_s=s.start_s, end_s=s.end_s, max_frames=s.max_frames)
    for frame in whole:
        if frame.index >= shot.stop:
            break
        if frame.index >= shot.start:
            yield False, frame


def paint_shot(task: ShotTask) -> ShotResult:
    """Paint one shot into ``task.video`` (renamed there when complete), then write its record.

    The painter starts the shot as a scene cut at its first frame would
    (:meth:`facepaint.pipeline.Stylizer.start_shot`), so its frames are those of one run over the
    whole video; the cuts it finds inside the range must be the planned ones
    (:class:`ShotMismatch` otherwise).
    """
    import resource

    from facepaint.io import VideoWriter
    from facepaint.io.background import WriteBehind, read_ahead
    from facepaint.pipeline import Stylizer

    started, cpu0 = time.perf_counter(), time.process_time()
    s, shot = task.settings, task.shot
    stylizer = Stylizer(s.config, seed=s.seed)
    stylizer.start_shot(shot.start)
    seeked = True
    with VideoWriter(task.video, fps=task.fps, crf=s.crf, preset=s.preset) as writer:
        with WriteBehind(writer.write) as behind:
            held = None
            for seeked, frame in read_ahead(_frames_of(task)):
                if held is not None:
                    behind.put(stylizer.process(held, upcoming=frame))
                held = frame
            if held is not None:
                behind.put(stylizer.process(held))
        painted = writer.frames_written
        if painted != shot.frames:
            raise ShotMismatch(f"shot {shot.index} of '{task.source}' gave {painted} frames, {shot.frames} planned; the input may have changed")
        if stylizer.stats.scene_cuts != shot.cuts:
            raise ShotMismatch(
                f"shot {shot.index} of '{task.source}' (frames {shot.start}-{shot.stop - 1}) had {stylizer.stats.scene_cuts} "
                f"scene cut(s) where {shot.cuts} were planned"
            )
    result = ShotResult(
        index=shot.index,
        start=shot.start,
        frames=painted,
        seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu0,
        peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        worker=f"{socket.gethostname()}:{os.getpid()}",
        seeked=seeked,
    )
    write_record(task.record, json.dumps(asdict(result)).encode())
    return result
