"""What the web app's buttons do, without Gradio: paint a photo, preview and paint a video.

Every function here calls facepaint's public API (:func:`facepaint.stylize_video`,
:func:`facepaint.paint.paint_image`, :func:`facepaint.regions_video.write_regions`, the readers
and writers of :mod:`facepaint.io`): the app has no painting path of its own, so what it shows is
what ``facepaint stylize`` and ``facepaint paint`` write. Gradio stays in :mod:`facepaint.web.app`,
which makes these functions testable without a browser.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facepaint.errors import InputError

#: Styles offered in the app (the values of ``facepaint.render.Style``, as ``--style`` takes them).
STYLES = ("oil", "watercolor", "pencil")

#: Length of the painted preview segment, seconds.
PREVIEW_SECONDS = 2.0


class JobCancelled(Exception):
    """Raised from the progress callback when the user presses Cancel; stops the run, and the
    writer drops its partial output (:class:`facepaint.VideoWriter` aborts on any exception)."""


@dataclass(frozen=True)
class PhotoResult:
    """A painted photo: the source and the painting as ``(H, W, 3) uint8`` RGB, and the PNG file."""

    source: np.ndarray
    painted: np.ndarray
    path: Path
    seconds: float


@dataclass(frozen=True)
class PreviewFrame:
    """First stage of a preview: the first frame of the range, as read and as painted."""

    source: np.ndarray  #: (H, W, 3) uint8 RGB
    painted: np.ndarray  #: (H, W, 3) uint8 RGB, the first frame of the full run as well
    seconds: float  #: wall time from the call to the painted frame


@dataclass(frozen=True)
class PreviewSegment:
    """Second stage of a preview: a short stretch of the video, source and painted, as H.264 mp4."""

    source: Path
    painted: Path
    frames: int
    seconds: float


@dataclass(frozen=True)
class RegionsView:
    """Optional last stage of a preview: the regions and contours of the faces found."""

    path: Path
    faces_per_frame: float


class Workspace:
    """A folder of the app's temporary files, one subfolder per job, removed as a whole.

    Each browser session keeps only its latest job of each kind: starting a new one removes the
    previous one's files (the page no longer shows them), and :meth:`remove` drops everything
    when the app stops.

    Parameters
    ----------
    root : path-like
        The folder (created if missing); it belongs to the app and is deleted by :meth:`remove`.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._latest: dict[tuple[str, str], Path] = {}
        self._lock = threading.Lock()

    def job_dir(self, session: str, kind: str) -> Path:
        """A fresh folder for a job of ``kind`` of ``session``; the session's previous one goes."""
        folder = self.root / "jobs" / f"{kind}-{uuid.uuid4().hex[:12]}"
        folder.mkdir(parents=True)
        with self._lock:
            previous = self._latest.get((session, kind))
            self._latest[(session, kind)] = folder
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
        return folder

    def remove(self) -> None:
        """Delete the workspace and everything in it."""
        shutil.rmtree(self.root, ignore_errors=True)


def check_upload(path: str | os.PathLike | None, *, max_bytes: int | None, what: str) -> Path:
    """The uploaded file's path, or an :class:`InputError` saying what is wrong with it."""
    if path is None:
        raise InputError(f"no {what} uploaded: drop a file on the upload box first")
    path = Path(path)
    if not path.is_file():
        raise InputError(f"the uploaded {what} '{path.name}' is gone; upload it again")
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise InputError(
            f"'{path.name}' is {size / 2**20:.0f} MB, more than this app's limit of {max_bytes / 2**20:.0f} MB; "
            "cut it shorter or start the app with a larger --max-upload-mb"
        )
    return path


def _check_style(style: str) -> str:
    if style not in STYLES:
        raise InputError(f"style must be one of {', '.join(STYLES)}, got '{style}'")
    return style


def _check_range(start_s: float | None, end_s: float | None) -> tuple[float | None, float | None]:
    """``(start_s, end_s)`` for :func:`facepaint.open_video`; an end of 0 or none means the end of
    the video (the page's empty number fields send 0)."""
    start_s = None if start_s in (None, "") else float(start_s)
    end_s = None if end_s in (None, "") or float(end_s) == 0 else float(end_s)
    if start_s is not None and start_s < 0:
        raise InputError(f"start must be 0 s or later, got {start_s:g} s")
    if end_s is not None and end_s <= (start_s or 0.0):
        raise InputError(f"end ({end_s:g} s) must come after start ({start_s or 0:g} s); leave it at 0 for the whole video")
    return (start_s or None), end_s


def pipeline_config(style: str):
    """The :class:`~facepaint.pipeline.PipelineConfig` of ``facepaint stylize --style STYLE``."""
    from facepaint.pipeline import PipelineConfig
    from facepaint.render import RenderConfig, Style

    return PipelineConfig(render=RenderConfig(style=Style(_check_style(style))))


def paint_photo(
    path: str | os.PathLike, folder: Path, *, style: str = "oil", stroke_scale: float = 1.0, seed: int = 0
) -> PhotoResult:
    """Paint a photo as ``facepaint paint --style STYLE --stroke-scale S --seed N`` does.

    Parameters
    ----------
    path : path-like
        The uploaded image (anything :func:`facepaint.read_image` reads).
    folder : Path
        Where the painted PNG is written.
    style, stroke_scale, seed
        As the command line's ``--style``, ``--stroke-scale``, ``--seed``.

    Returns
    -------
    PhotoResult
    """
    from facepaint import read_image, write_image
    from facepaint.paint import PaintConfig, paint_image
    from facepaint.render import Style

    started = time.perf_counter()
    image = read_image(path)
    painted = paint_image(image, config=PaintConfig(style=Style(_check_style(style)), stroke_scale=float(stroke_scale)), seed=int(seed))
    out = folder / f"{Path(path).stem}_painted.png"
    write_image(out, painted)
    return PhotoResult(image, painted, out, time.perf_counter() - started)


def _first_frame(path: Path, start_s: float | None) -> np.ndarray:
    from facepaint import open_video

    reader = open_video(path, start_s=start_s, max_frames=1)
    for frame in reader:
        return frame.image
    raise InputError(f"'{path.name}' gave no frames from {start_s or 0:g} s on; check the start time")


def _copy_segment(path: Path, out: Path, start_s: float | None, end_s: float | None) -> int:
    """Re-encode the source's stretch as H.264 mp4 with its audio, so that any input (mkv, a raw
    .h264 stream, 10-bit HEVC) plays in the browser beside the painting."""
    from facepaint import VideoWriter, open_video

    reader = open_video(path, start_s=start_s, end_s=end_s)
    with VideoWriter(out, fps=reader.fps, audio_from=path if reader.info.has_audio else None, audio_start_s=start_s or 0.0) as writer:
        for frame in reader:
            writer.write(frame.image)
    return writer.frames_written


def preview_video(
    path: str | os.PathLike,
    folder: Path,
    *,
    style: str = "oil",
    stroke_scale: float = 1.0,
    seed: int = 0,
    start_s: float | None = None,
    end_s: float | None = None,
    regions: bool = False,
    seconds: float = PREVIEW_SECONDS,
) -> Iterator[PreviewFrame | PreviewSegment | RegionsView]:
    """Preview a video's painting in stages, each as soon as it is ready.

    Yields first a :class:`PreviewFrame` (the range's first frame painted by
    :func:`facepaint.stylize_video` itself, so it is the full run's first frame), then a
    :class:`PreviewSegment` (``seconds`` painted beside the source), then, if ``regions``, a
    :class:`RegionsView` of the same stretch.

    Parameters
    ----------
    path : path-like
        The uploaded video (anything :func:`facepaint.open_video` reads).
    folder : Path
        Where the preview files are written.
    style, stroke_scale, seed, start_s, end_s
        As the full run's.
    regions : bool
        Also draw the regions and contours of the faces found in the stretch.
    seconds : float
        Length of the painted stretch.
    """
    from facepaint import read_image, stylize_video
    from facepaint.regions_video import write_regions

    path = Path(path)
    start_s, end_s = _check_range(start_s, end_s)
    config = pipeline_config(style)
    started = time.perf_counter()
    source = _first_frame(path, start_s)
    first = folder / "first"
    stylize_video(path, first, config=config, seed=int(seed), start_s=start_s, max_frames=1, stroke_scale=float(stroke_scale), audio=False)
    painted = read_image(next(first.iterdir()))
    yield PreviewFrame(source, painted, time.perf_counter() - started)

    stop = (start_s or 0.0) + seconds
    stop = stop if end_s is None else min(stop, end_s)
    source_clip, painted_clip = folder / "preview_source.mp4", folder / "preview_painted.mp4"
    report = stylize_video(path, painted_clip, config=config, seed=int(seed), start_s=start_s, end_s=stop, stroke_scale=float(stroke_scale))
    _copy_segment(path, source_clip, start_s, stop)
    yield PreviewSegment(source_clip, painted_clip, report.frames, time.perf_counter() - started)

    if regions:
        regions_clip = folder / "preview_regions.mp4"
        counts = write_regions(path, regions_clip, start_s=start_s, end_s=stop)
        yield RegionsView(regions_clip, sum(counts) / max(1, len(counts)))


class RunProgress:
    """The ``progress(done, total)`` callback of :func:`facepaint.stylize_video` (the one the
    command line's bar takes), turned into a fraction and a line for the page, and the place
    where a cancel request stops the run.

    Parameters
    ----------
    report : callable, optional
        ``report(done, total, text)`` after each frame (Gradio's progress bar in the app).
    cancel : threading.Event, optional
        When set, the next frame raises :class:`JobCancelled`.
    """

    def __init__(self, report=None, cancel: threading.Event | None = None) -> None:
        self.report = report
        self.cancel = cancel if cancel is not None else threading.Event()
        self.started = time.perf_counter()
        self.done = 0
        self.total: int | None = None

    def text(self) -> str:
        """``"37/120 frames, 6.1 frames/s, 14 s left"``."""
        elapsed = max(time.perf_counter() - self.started, 1e-6)
        rate = self.done / elapsed
        of = f"/{self.total}" if self.total else ""
        line = f"{self.done}{of} frames, {rate:.1f} frames/s"
        if self.total and rate > 0:
            line += f", {max(0.0, (self.total - self.done) / rate):.0f} s left"
        return line

    def __call__(self, done: int, total: int | None) -> None:
        self.done, self.total = done, total
        if self.cancel.is_set():
            raise JobCancelled("cancelled; no output was written")
        if self.report is not None:
            self.report(done, total, self.text())


def paint_video(
    path: str | os.PathLike,
    folder: Path,
    *,
    style: str = "oil",
    stroke_scale: float = 1.0,
    seed: int = 0,
    start_s: float | None = None,
    end_s: float | None = None,
    progress: RunProgress | None = None,
):
    """Paint the video's range as ``facepaint stylize`` does (H.264 mp4 with the source's audio).

    Returns
    -------
    facepaint.StylizeReport
        ``report.output`` is the mp4 under ``folder``.

    Raises
    ------
    JobCancelled
        If ``progress.cancel`` was set; nothing is left under ``folder`` for the run.
    """
    from facepaint import stylize_video

    path = Path(path)
    start_s, end_s = _check_range(start_s, end_s)
    out = folder / f"{path.stem}_painted.mp4"
    return stylize_video(
        path,
        out,
        config=pipeline_config(style),
        seed=int(seed),
        start_s=start_s,
        end_s=end_s,
        stroke_scale=float(stroke_scale),
        progress=progress,
    )


def make_workspace() -> Workspace:
    """A new :class:`Workspace` in the system's temporary folder (``$TMPDIR``)."""
    return Workspace(tempfile.mkdtemp(prefix="facepaint-web-"))
