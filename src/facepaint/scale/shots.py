"""Finding the shots of a video: the first, fast pass of a run painted shot by shot.

At a scene cut the painter (:class:`facepaint.pipeline.Stylizer`) starts a fresh painting with a
generator seeded from the shot's first frame (:func:`facepaint.pipeline.shot_seed`), so nothing
crosses a cut: the shots of a video can be painted apart, in parallel, with the output of one
sequential run. This pass decodes the frames the painter would get and applies the very test
the painter applies between consecutive frames (:func:`facepaint.temporal.scene_signature`,
:func:`facepaint.temporal.scene_cut_score` against ``TemporalConfig.scene_cut_threshold``, or
a change of frame size), which costs a thumbnail per frame.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from facepaint.errors import InputError
from facepaint.io import open_video
from facepaint.temporal import scene_cut_score, scene_signature


@dataclass(frozen=True)
class Shot:
    """A run of frames painted as one task: it starts at a cut (or at the first frame).

    Attributes
    ----------
    index : int
        Position among the video's shots (0, 1, ...).
    start, stop : int
        Frames ``start <= i < stop`` of the video (indexes of the reader's frames).
    digest : str
        :func:`frame_digest` of frame ``start``: checks that a range decoded after a seek
        starts on the right frame.
    cuts : int
        Scene cuts inside the range (after ``start``): a task may hold several short shots,
        which the painter then separates itself.
    """

    index: int
    start: int
    stop: int
    digest: str
    cuts: int = 0

    @property
    def frames(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class ShotScan:
    """What the first pass found: the frame count, the cuts and the shots (tasks)."""

    frames: int
    fps: float
    cuts: tuple[int, ...]  #: frames that start a new shot (not 0)
    shots: tuple[Shot, ...]


def frame_digest(image: np.ndarray) -> str:
    """A short hash of an ``(H, W, 3)`` uint8 frame's pixels and shape."""
    h = hashlib.blake2b(digest_size=12)
    h.update(repr(image.shape).encode())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.hexdigest()


def is_scene_cut(previous, current, threshold: float) -> bool:
    """The painter's test between consecutive frames: ``(signature, shape)`` pairs of each."""
    if previous[1] != current[1]:
        return True
    return scene_cut_score(previous[0], current[0]) > threshold


def find_shots(
    source: str | os.PathLike,
    *,
    threshold: float,
    fps: float | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
    max_frames: int | None = None,
    min_task_frames: int = 1,
    progress: Callable[[int], None] | None = None,
) -> ShotScan:
    """Decode ``source`` once and cut it into shots where the painter would start afresh.

    Parameters
    ----------
    source : path
        Anything :func:`facepaint.io.open_video` reads.
    threshold : float
        ``TemporalConfig.scene_cut_threshold`` of the painting's configuration.
    fps, start_s, end_s, max_frames
        The reader's options, as the painting uses them.
    min_task_frames : int
        A shot shorter than this is painted in the same task as the shots after it, up to this
        many frames (a task's painter handles the cuts inside it): many one-second shots would
        otherwise each pay a painter's start-up. 1: one task per shot.
    progress : callable, optional
        ``progress(frames_done)`` every 25 frames.

    Returns
    -------
    ShotScan
    """
    if min_task_frames < 1:
        raise InputError(f"min_task_frames must be at least 1, got {min_task_frames}")
    reader = open_video(source, fps=fps, start_s=start_s, end_s=end_s, max_frames=max_frames)
    starts: list[tuple[int, str]] = []
    cuts: list[int] = []
    previous = None
    count = 0
    for frame in reader:
        current = (scene_signature(frame.image), frame.image.shape)
        if previous is None or is_scene_cut(previous, current, threshold):
            if previous is not None:
                cuts.append(frame.index)
            starts.append((frame.index, frame_digest(frame.image)))
        previous = current
        count = frame.index + 1
        if progress is not None and count % 25 == 0:
            progress(count)
    if count == 0:
        raise InputError(f"'{source}' gave no frames in the chosen range; check --start/--end/--max-frames")
    # Group short shots into tasks of at least min_task_frames.
    bounds = [s for s, _ in starts] + [count]
    digests = dict(starts)
    shots: list[Shot] = []
    first = bounds[0]
    for k in range(1, len(bounds)):
        stop = bounds[k]
        if stop - first >= min_task_frames or stop == count:
            inner = sum(1 for c in cuts if first < c < stop)
            shots.append(Shot(index=len(shots), start=first, stop=stop, digest=digests[first], cuts=inner))
            first = stop
    return ShotScan(frames=count, fps=reader.fps, cuts=tuple(cuts), shots=tuple(shots))
