"""``stylize_video``: read a video, paint every frame with the pipeline, write it with its audio."""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace

from facepaint.io import VideoWriter, check_output_path, open_video, output_kind
from facepaint.io.background import WriteBehind, read_ahead
from facepaint.io.writer import DEFAULT_CRF, DEFAULT_PRESET

#: ``progress(done, total)``: called after each frame; ``total`` is None when unknown.
ProgressCallback = Callable[[int, "int | None"], None]


@dataclass(frozen=True)
class StylizeReport:
    """What :func:`stylize_video` did."""

    output: str
    frames: int
    fps: float  #: output frame rate
    fps_assumed: bool  #: True when the input carried no rate and ``fps`` was assumed
    seconds: float  #: wall time of the whole job
    frames_per_second: float  #: throughput, first frame excluded
    audio: str  #: "copied", "re-encoded to AAC", "dropped" or "none in input"
    lost_frames: int  #: frames of a damaged input that did not decode
    stage_ms: dict[str, float]  #: median milliseconds per frame of each pipeline stage
    #: output frames painted afresh: the first, and each scene cut (or change of frame size)
    repainted_frames: tuple[int, ...] = ()
    #: with ``measure_floor``: wall seconds of the cost floor of the same job, the same frames
    #: decoded to RGB arrays and encoded, unpainted, with the same x264 settings (no audio)
    floor_seconds: float | None = None

    @property
    def floor_ratio(self) -> float | None:
        """``seconds / floor_seconds``: how many times the bare decode and encode of the same
        frames the whole job took (None unless measured)."""
        if self.floor_seconds is None or self.floor_seconds <= 0:
            return None
        return self.seconds / self.floor_seconds


def _expected_frames(info, start_s, end_s, max_frames) -> int | None:
    if info.duration_s is None and info.frame_count is None:
        return None
    total = info.frame_count if info.frame_count is not None else int(round(info.duration_s * info.fps))
    first = math.ceil((start_s or 0) * info.fps - 1e-6)
    last = total if end_s is None else min(total, math.ceil(end_s * info.fps - 1e-6))
    count = max(0, last - first)
    return count if max_frames is None else min(count, max_frames)


def stylize_video(
    source: str | os.PathLike,
    output: str | os.PathLike,
    *,
    config=None,
    seed: int = 0,
    fps: float | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
    max_frames: int | None = None,
    crf: int = DEFAULT_CRF,
    preset: str = DEFAULT_PRESET,
    audio: bool = True,
    stroke_scale: float | None = None,
    progress: ProgressCallback | None = None,
    measure_floor: bool = False,
) -> StylizeReport:
    """Paint a portrait video with brush strokes.

    Parameters
    ----------
    source : str or path-like
        Video file, raw ``.h264``/``.hevc`` stream, folder of frames or glob of frames.
    output : str or path-like
        ``.mp4``/``.mov``/``.mkv`` (H.264, with the input's audio) or a directory for PNG frames.
        Written under a temporary name and renamed when complete.
    config : facepaint.pipeline.PipelineConfig, optional
        Stage settings (style, flow, face model...). Default: ``PipelineConfig()``.
    seed : int
        Seed of every random choice; the same seed gives the same video.
    fps, start_s, end_s, max_frames
        See :func:`facepaint.io.open_video`.
    crf, preset
        x264 quality (0-51, lower is better) and speed preset.
    audio : bool
        Copy the input's audio into the output (False: drop it).
    stroke_scale : float, optional
        How strongly the background is painted: its strokes are this many times thicker and
        longer (2: coarser, 0.5: finer); face strokes keep their size. None: the config's
        (``config.strokes.stroke_scale``, default 1).
    progress : callable, optional
        ``progress(done, total)`` after each frame.
    measure_floor : bool
        After the job, time its cost floor (:attr:`StylizeReport.floor_seconds`): the same
        frames decoded and encoded unpainted with the same x264 settings, into a temporary file
        (a video output only; the job's speed as a ratio to what the machine needs just to read
        and write the video).

    Returns
    -------
    StylizeReport
    """
    reader = open_video(source, fps=fps, start_s=start_s, end_s=end_s, max_frames=max_frames)
    to_video = output_kind(output) == "video"
    check_output_path(output, (source,))
    info = reader.info
    keep_audio = audio and info.has_audio and to_video
    from facepaint.pipeline import PipelineConfig, Stylizer  # the painter loads after the checks

    config = config if config is not None else PipelineConfig()
    if stroke_scale is not None:
        config = replace(config, strokes=replace(config.strokes, stroke_scale=float(stroke_scale)))
    stylizer = Stylizer(config, seed=seed)
    total = _expected_frames(info, start_s, end_s, max_frames)
    started = time.perf_counter()
    first_done = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with VideoWriter(
            output,
            fps=reader.fps,
            crf=crf,
            preset=preset,
            audio_from=source if keep_audio else None,
            audio_start_s=start_s or 0.0,
        ) as writer:
            # Decoding runs ahead and encoding behind the painter, each on its own thread
            # (FFmpeg and x264 release the GIL; see facepaint.io.background). Each frame is
            # painted once the next one is decoded, so that the painter can find the next
            # frame's faces while it paints this one (Stylizer.process's ``upcoming``).
            painted = 0
            repainted: list[int] = []
            with WriteBehind(writer.write) as behind:

                def paint(frame, upcoming):
                    nonlocal painted, first_done
                    behind.put(stylizer.process(frame, upcoming=upcoming))
                    if stylizer.stats.last.repainted:
                        repainted.append(painted)
                    painted += 1
                    if first_done is None:
                        first_done = time.perf_counter()
                    if progress is not None:
                        progress(painted, total)

                held = None
                for frame in read_ahead(reader):
                    if held is not None:
                        paint(held, frame)
                    held = frame
                if held is not None:
                    paint(held, None)
        audio_state = "dropped" if info.has_audio and not keep_audio else "none in input"
        if keep_audio:
            audio_state = "copied" if writer.audio_remuxed else "re-encoded to AAC"
    for warning in caught:  # hand decode warnings on to the caller, once
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    elapsed = time.perf_counter() - started
    rest = writer.frames_written - 1
    rest_s = time.perf_counter() - first_done if first_done is not None else 0.0
    floor = None
    if measure_floor and to_video:
        floor = _floor_seconds(source, fps=fps, start_s=start_s, end_s=end_s, max_frames=max_frames, crf=crf, preset=preset)
    return StylizeReport(
        output=os.fspath(output),
        frames=writer.frames_written,
        fps=reader.fps,
        fps_assumed=info.fps_assumed,
        seconds=elapsed,
        frames_per_second=rest / rest_s if rest > 0 and rest_s > 0 else float("nan"),
        audio=audio_state,
        lost_frames=reader.stats.lost_frames,
        stage_ms=stylizer.stage_milliseconds(),
        repainted_frames=tuple(repainted),
        floor_seconds=floor,
    )


def _floor_seconds(source, *, fps, start_s, end_s, max_frames, crf: int, preset: str) -> float:
    """Wall seconds to decode the frames :func:`stylize_video` reads to RGB arrays and encode
    them, unpainted, with the same x264 settings and the same threads (a reader ahead of the
    writer), into a temporary file that is then removed: the job's cost floor."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="facepaint-floor-") as tmp:
        started = time.perf_counter()
        reader = open_video(source, fps=fps, start_s=start_s, end_s=end_s, max_frames=max_frames)
        with VideoWriter(Path(tmp) / "floor.mp4", fps=reader.fps, crf=crf, preset=preset) as writer, WriteBehind(writer.write) as behind:
            for frame in read_ahead(reader):
                behind.put(frame.image)
        return time.perf_counter() - started
