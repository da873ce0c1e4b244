"""Many videos, long videos: plan each into shots, paint the shots on a pool, join, resume.

:func:`stylize_videos` is the one entry point (``facepaint batch`` and ``facepaint stylize
--workers N`` call it). For each video it takes the work folder's lock, finds the shots (or
reads the plan of an interrupted run and checks it still applies), gives the unfinished shots
to the pool, and when the last shot of a video is in, joins them by stream copy with the
source's audio (:func:`facepaint.io.join_videos`) and removes the work folder. A video that
fails is reported with its error and the others go on. An interruption (Ctrl-C, SIGTERM as a
``KeyboardInterrupt``) stops the workers and leaves each unfinished video's work folder (plan
and finished shots), from which the same command resumes.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from facepaint.errors import FacepaintError, InputError
from facepaint.io import join_videos, open_video, output_kind, check_output_path
from facepaint.scale.executors import make_pool
from facepaint.scale.plan import RunSettings, VideoPlan, WorkFolder, check_resumable, fingerprint
from facepaint.scale.shots import find_shots
from facepaint.scale.tasks import ShotResult, ShotTask, paint_shot


@dataclass(frozen=True)
class VideoResult:
    """How one video of a run ended.

    Attributes
    ----------
    source, output : str
    frames, shots : int
        Frames and shots (tasks) of the plan (0 when it failed before the plan).
    resumed_shots : int
        Shots found finished in the work folder and not painted again.
    painted_frames : int
        Frames painted by this run (the others came from the work folder).
    seconds : float
        Wall time from the start of the run to this video's output (or error).
    paint_seconds : float
        Wall time of the shot tasks this run painted for it, summed (on whichever workers).
    audio : str
        "copied", "re-encoded to AAC", "dropped", "none in input" or "" (failed).
    error : str or None
        The one-line error of a video that failed (its work folder is kept).
    """

    source: str
    output: str
    frames: int = 0
    shots: int = 0
    resumed_shots: int = 0
    painted_frames: int = 0
    seconds: float = 0.0
    paint_seconds: float = 0.0
    audio: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class BatchReport:
    """What :func:`stylize_videos` did."""

    videos: tuple[VideoResult, ...]
    seconds: float
    pool: str  #: the pool, in words
    shots: tuple[ShotResult, ...] = ()  #: every shot painted by this run
    #: peak resident memory (MiB) of each worker (host:pid) that painted a shot
    peak_rss_mib: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.videos)


class RunProgress(Protocol):
    """What a run reports as it goes (the command line draws it)."""

    def planned(self, source: str, frames: int, shots: int, frames_done: int) -> None: ...
    def shot_done(self, source: str, frames: int) -> None: ...
    def finished(self, result: VideoResult) -> None: ...


@dataclass
class _Video:
    source: str
    output: str
    work: WorkFolder | None = None
    plan: VideoPlan | None = None
    pending: set = field(default_factory=set)
    frames_of: dict = field(default_factory=dict)  # shot index -> frames
    resumed: int = 0
    painted: int = 0
    paint_seconds: float = 0.0
    error: str | None = None
    audio: bool = False


def _plan(video: _Video, settings: RunSettings, *, min_task_frames: int | None, restart: bool, require_resume: bool) -> VideoPlan:
    """The video's plan: the work folder's, checked against the input and settings, or a new
    one from a first pass over the frames."""
    if output_kind(video.output) != "video":
        raise InputError(f"'{video.output}': painting in shots writes a video; give an .mp4, .mov or .mkv output")
    check_output_path(video.output, (video.source,))
    reader = open_video(video.source, fps=settings.fps, start_s=settings.start_s, end_s=settings.end_s, max_frames=settings.max_frames)
    video.audio = settings.audio and reader.info.has_audio
    work = WorkFolder(video.output)
    had_folder = work.path.is_dir()
    if require_resume and not had_folder:
        raise InputError(f"--resume: there is no interrupted run of '{video.output}' to resume (no '{work.path}')")
    video.work = work.open()
    if restart:
        for old in work.path.iterdir():
            if old.name != "lock":
                old.unlink()
    described = settings.described()
    print_now = fingerprint(video.source)
    plan = work.load_plan()
    if plan is not None and plan.source == os.fspath(Path(video.source).absolute()):
        check_resumable(plan, print_now, described, work)
        return plan
    threshold = settings.config.temporal.scene_cut_threshold
    task_frames = min_task_frames if min_task_frames is not None else max(1, int(round(2 * reader.fps)))
    scan = find_shots(
        video.source, threshold=threshold, fps=settings.fps, start_s=settings.start_s, end_s=settings.end_s,
        max_frames=settings.max_frames, min_task_frames=task_frames,
    )
    plan = VideoPlan(
        source=os.fspath(Path(video.source).absolute()), output=os.fspath(work.output), fingerprint=print_now,
        settings=described, fps=scan.fps, frames=scan.frames, cuts=scan.cuts, shots=scan.shots,
    )
    work.save_plan(plan)
    return plan


def stylize_videos(
    jobs: Sequence[tuple[str | os.PathLike, str | os.PathLike]],
    settings: RunSettings,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    dask: bool = False,
    pool=None,
    min_task_frames: int | None = None,
    restart: bool = False,
    require_resume: bool = False,
    progress: RunProgress | None = None,
    task=paint_shot,
) -> BatchReport:
    """Paint videos shot by shot on a pool of workers, resumably.

    Parameters
    ----------
    jobs : sequence of (source, output)
        Inputs and their ``.mp4``/``.mov``/``.mkv`` outputs.
    settings : RunSettings
        The painting and encoding settings, the same for every video.
    workers : int, optional
        Worker processes (default: the local cores).
    scheduler : str, optional
        Address of a running Dask scheduler to paint on (needs the extra ``scale``).
    dask : bool
        Paint on a Dask ``LocalCluster`` of ``workers`` processes started for the run.
    pool : optional
        A pool made by the caller (:class:`~facepaint.scale.executors.LocalPool`,
        :class:`~facepaint.scale.executors.DaskPool`), left open; default: one made and closed here.
    min_task_frames : int, optional
        Shots shorter than this are painted in one task with the next (default: two seconds of
        frames); 1: one task per shot.
    restart : bool
        Discard the work folder of an interrupted run instead of resuming it.
    require_resume : bool
        Fail a video that has no work folder to resume from (``--resume``).
    progress : RunProgress, optional
    task : callable
        The function a worker runs on a :class:`~facepaint.scale.tasks.ShotTask` (tests wrap it).

    Returns
    -------
    BatchReport
        Per video its result or error; ``report.ok`` is True when every video was written.
    """
    started = time.perf_counter()
    own_pool = pool is None
    if own_pool:
        pool = make_pool(workers=workers, scheduler=scheduler, dask=dask)
    pool_text = pool.describe()
    videos = [_Video(os.fspath(s), os.fspath(o)) for s, o in jobs]
    results: dict[int, VideoResult] = {}
    shot_results: list[ShotResult] = []
    owner: dict[cf.Future, tuple[int, int]] = {}
    try:
        for k, video in enumerate(videos):
            try:
                video.plan = plan = _plan(video, settings, min_task_frames=min_task_frames, restart=restart, require_resume=require_resume)
            except FacepaintError as error:
                video.error = str(error)
                if video.work is not None:
                    video.work.close()
                results[k] = _result(video, started)
                if progress is not None:
                    progress.finished(results[k])
                continue
            done = video.work.finished(plan)
            video.resumed = len(done)
            video.frames_of = {s.index: s.frames for s in plan.shots}
            if progress is not None:
                progress.planned(video.source, plan.frames, len(plan.shots), sum(video.frames_of[i] for i in done))
            for shot in plan.shots:
                if shot.index in done:
                    continue
                job = ShotTask(
                    source=plan.source, shot=shot, settings=settings, fps=plan.fps,
                    video=os.fspath(video.work.shot_video(shot)), record=os.fspath(video.work.shot_record(shot)),
                )
                future = pool.submit(task, job)
                owner[future] = (k, shot.index)
                video.pending.add(future)
            if not video.pending:
                results[k] = _finish(video, settings, started, progress)
        for future in cf.as_completed(list(owner)):
            k, index = owner[future]
            video = videos[k]
            video.pending.discard(future)
            if k in results:  # the video already failed
                continue
            error = future.exception() if not future.cancelled() else cf.CancelledError()
            if error is not None:
                if not isinstance(error, (FacepaintError, cf.CancelledError)) and not _is_worker_error(error):
                    raise error  # a bug: keep its traceback
                # The video's other shots are left to finish: recorded, a resumed run skips them.
                video.error = f"shot {index}: {error}"
                video.work.close()
                results[k] = _result(video, started)
                if progress is not None:
                    progress.finished(results[k])
                continue
            result = future.result()
            shot_results.append(result)
            video.painted += result.frames
            video.paint_seconds += result.seconds
            if progress is not None:
                progress.shot_done(video.source, result.frames)
            if not video.pending:
                results[k] = _finish(video, settings, started, progress)
    except BaseException:
        pool.shutdown(cancel=True)
        own_pool = False
        for video in videos:
            if video.work is not None:
                # A worker that did not stop within its grace period was killed mid-shot.
                video.work.discard_partial()
                video.work.close()
        raise
    finally:
        if own_pool:
            pool.shutdown()
    peaks: dict[str, float] = {}
    for r in shot_results:
        peaks[r.worker] = max(peaks.get(r.worker, 0.0), r.peak_rss_mib)
    return BatchReport(
        videos=tuple(results[k] for k in range(len(videos))),
        seconds=time.perf_counter() - started,
        pool=pool_text,
        shots=tuple(shot_results),
        peak_rss_mib=peaks,
    )


def _is_worker_error(error: BaseException) -> bool:
    """Errors a video can fail with that are not facepaint's own: a full disk, a Dask worker
    that died too often."""
    return isinstance(error, OSError) or type(error).__name__ in ("KilledWorker", "CommClosedError")


def _result(video: _Video, started: float, audio: str = "") -> VideoResult:
    plan = video.plan
    return VideoResult(
        source=video.source, output=video.output, frames=plan.frames if plan else 0, shots=len(plan.shots) if plan else 0,
        resumed_shots=video.resumed, painted_frames=video.painted, seconds=time.perf_counter() - started,
        paint_seconds=video.paint_seconds, audio=audio, error=video.error,
    )


def _finish(video: _Video, settings: RunSettings, started: float, progress) -> VideoResult:
    """Join a video's finished shots into its output and remove its work folder."""
    plan, work = video.plan, video.work
    try:
        joined = join_videos(
            [work.shot_video(s) for s in plan.shots], [s.frames for s in plan.shots], plan.output, fps=plan.fps,
            audio_from=plan.source if video.audio else None, audio_start_s=settings.start_s or 0.0,
        )
    except FacepaintError as error:
        video.error = str(error)
        work.close()
        result = _result(video, started)
    else:
        work.remove()
        if video.audio:
            audio = "copied" if joined.audio_remuxed else "re-encoded to AAC"
        else:
            audio = "dropped" if settings.audio is False and _has_audio(plan.source) else "none in input"
        result = _result(video, started, audio)
    if progress is not None:
        progress.finished(result)
    return result


def _has_audio(source: str) -> bool:
    try:
        return open_video(source).info.has_audio
    except FacepaintError:
        return False
