"""The whole method, frame after frame: the only stage that keeps state between frames.

:class:`Stylizer` holds the strokes (not frames) of the current shot. For each frame it

1. detects a scene cut (:func:`facepaint.temporal.scene_cut_score`); on a cut, on the first
   frame, or in ``repaint_every_frame`` mode it paints the frame afresh (faces -> regions ->
   orientation field -> :func:`place_strokes` over the whole frame);
2. otherwise computes the optical flow from the previous frame (:mod:`facepaint.flow`), moves
   every stroke with the flow and its springs (:mod:`facepaint.physics`; background strokes per
   particle, their motion sharpened at full resolution where the flow ran on a shrunk frame
   (:func:`facepaint.flow.refine_motion`), face strokes through their centre), deletes strokes whose content went away
   (:mod:`facepaint.temporal`; they fade out) and moves the colours of the others part of the way
   to the frame's, renders, and places new strokes, under the old ones, where pixels
   are left uncovered: they are slipped under the rendered strokes
   (:func:`facepaint.render.add_strokes_under`, exact up to rounding, as the blends are affine),
   which costs a fraction of a second render;
3. returns the rendered ``(H, W, 3)`` uint8 image.

On frames after the first of a shot two worker threads prepare what the frame's own image
decides, while this thread computes the optical flow, moves, deletes and renders the strokes:
one the faces and the region map (stage ``faces``: the wait for them, before the deletion needs
the regions), the other the fields that new strokes are placed along (:class:`HoleFields`: the
saliency and the edge tangent flow of the whole frame at reduced scale; stage ``field``: the
wait for them plus cutting them into the hole boxes). OpenCV and the nogil numba kernels share
the two cores that the render alone keeps busy only part of the time. The fields worker runs at
the lowest CPU priority, as it has until after the render: beside a busy thread of the same
priority the parallel render of a 1080p frame took 173 ms instead of 100, beside one at
niceness 19 103 ms (see :func:`_worker_init`). The faces worker, awaited within tens of
milliseconds, keeps the normal priority and runs its numba kernels on one thread. When the
caller passes the next frame along (``process(frame, upcoming=next_frame)``, as
:func:`facepaint.stylize_video` does), the faces worker starts on the next frame's faces as soon
as this frame's are in, and works through this frame's deletion, render and placement instead
of being awaited at the start of the next one; a third worker computes the optical flow to the
next frame beside the placement of this frame's new strokes (which runs on one core), the forward
pass first: the next frame's physics starts on it while the worker adds the backward pass and the
occlusion masks, which only its deletion needs (stages ``flow`` and ``flow_backward``: the waits
for them). Both are exact: the face model sees the frames in the same order, and the flow depends
on the two images alone.

Per-stage wall times, stroke counts and churn (strokes deleted/added per frame, by reason) are
kept in :attr:`Stylizer.stats`. Memory does not grow with the video length: the state is the
painting of one frame, the previous grey working image and a constant-size signature; the per
frame statistics are kept only with ``PipelineConfig.keep_history`` (the benchmarks use it).

Speed (``benchmarks/animation_speed.py``, figures in ``benchmarks/results/animation_speed*.md``):
the render is the largest cost; new strokes are slipped under the rendered frame instead of
re-rendering; strokes that fill holes get the frame's stroke sizes (``frame_shape``), not the
sizes of their small work box, which at 1080p had made them four times as many, finer than the
rest of the painting and quickly churned again; the orientation field, saliency and face mask of
the holes come from whole-frame copies cut into the boxes.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict, deque
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numba
import numpy as np

from facepaint._image import at_nearest_pixel, shrink
from facepaint.errors import InputError
from facepaint.face import create_face_model, mesh_motion, mesh_triangles
from facepaint.fields import (
    FieldConfig,
    compute_orientation_field,
    edge_tangent_flow,
    face_mask,
    saliency_map,
)
from facepaint.flow import FlowConfig, FlowEstimator, FlowResult, refine_motion, sample_flow, sample_mask, textured_points
from facepaint.physics import PhysicsConfig, advect_strokes
from facepaint.regions import build_region_map
from facepaint.render import (
    IncrementalRender,
    LayeredRender,
    RenderConfig,
    add_strokes_under,
    composite_canvas,
    render_layers,
)
from facepaint.strokes import PlacementConfig, blur_for_colours, concat_stroke_sets, edge_distance, place_strokes, size_scale
from facepaint.strokes.models import material_points, material_weights, particle_means
from facepaint.temporal import (
    TemporalConfig,
    buried_at_birth,
    cap_strokes,
    centre_colours,
    deletion_reasons,
    face_track_changed,
    fade_strokes,
    hidden_cell_px,
    merge_strokes,
    refresh_colours,
    scene_cut_score,
    scene_signature,
    select_strokes,
    take_end_distances,
    uncovered_mask,
)
from facepaint.types import Frame, OrientationField, Painting, RegionMap, StrokeSet


@dataclass(frozen=True)
class PipelineConfig:
    """Everything the stylizer needs, composed of the stage configs.

    Attributes
    ----------
    face_model : str
        Name for :func:`facepaint.face.create_face_model` (``"mediapipe"``), or ``"none"`` to
        treat every frame as having no face (all background strokes).
    face_options : mapping
        Keyword options of the face model's factory (``{"weights": "ckpt.pt"}`` for ``maskrcnn``).
    flow, fields, strokes, render, physics, temporal :
        The stage configs. ``render.style`` selects the look.
    repaint_every_frame : bool
        Paint every frame independently (no temporal coherence): the baseline of the
        warping-error figure.
    use_springs : bool
        ``False``: particles are put on their flow targets without springs (ablation).
    bilinear_textures : bool
        Sample brush textures bilinearly whatever ``render.bilinear`` says (``False``: use
        ``render.bilinear`` as given). Strokes move by fractions of a pixel per frame; with the
        nearest texel their texture snaps from texel to texel and the painting shimmers where the
        video barely moves. Measured (benchmarks/quality.py, 80 frames, warping error / the
        input's own, with the soft-edged oil brush and mipmapped textures): salesman 0.93 -> 0.65,
        carphone 1.21 -> 0.90, akiyo 1.29 -> 0.93, lp_d12 1.11 -> 1.03; frames at 720p take
        about 30 % longer (lp_s32, paired in one process). On by default since the robustness
        benchmark (issue 17): on a 720p pan (60 frames) the warping ratio was 4.3 with the nearest texel and
        2.6 bilinear, on foreman 1.37 and 1.13; ``facepaint stylize --sharp-textures`` turns it
        off for speed.
    keep_history : bool
        Keep a :class:`FrameStats` per frame in ``Stylizer.stats.history`` (grows with the
        video; off by default).
    update_block_px, update_margin_px, update_saliency_side_px, update_field_short_side_px : int
        How strokes are added to a running painting (see :meth:`Stylizer._place_where`):
        block size of :func:`hole_boxes`, margin around a box (pixels at 1080p, scaled with the
        frame like the stroke sizes), long side of the frame copy the saliency is taken from,
        and the short side of the frame copy whose tangent flow is cut into the boxes
        (:class:`HoleFields`).
    update_saliency_every : int
        The saliency of the image (before faces are made salient) that hole boxes are cut from
        is refreshed every this many frames and reused in between (1: every frame). It only
        sets the sizes of new strokes, is computed on a 320-pixel copy and blurred, and moves
        by a fraction of one of its pixels per frame, while it cost about 20 ms of CPU a frame;
        the faces, which are made salient on top of it, are those of the current frame.
    update_prepare_share : float
        When the hole boxes of the previous frame covered more than this share of the frame,
        the worker prepares the whole frame's tangent flow (at ``update_field_short_side_px``)
        for the boxes to be cut from; below it each box's own tangent flow is filtered, at the
        same scale, when the boxes are known (less work while the holes are few: on the 720p
        interview clip the whole-frame flow on the worker cost more CPU than it saved). A
        negative share: always prepared; 1 or more: never.
    """

    face_model: str = "mediapipe"
    face_options: Mapping[str, Any] = field(default_factory=dict)
    flow: FlowConfig = field(default_factory=FlowConfig)
    fields: FieldConfig = field(default_factory=FieldConfig)
    strokes: PlacementConfig = field(default_factory=PlacementConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    physics: PhysicsConfig = field(default_factory=PhysicsConfig)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    repaint_every_frame: bool = False
    use_springs: bool = True
    bilinear_textures: bool = True
    keep_history: bool = False
    update_block_px: int = 64
    update_margin_px: int = 32
    update_saliency_side_px: int = 320
    update_field_short_side_px: int = 360
    update_saliency_every: int = 3
    update_prepare_share: float = 0.15


@dataclass(frozen=True)
class FrameStats:
    """What happened to the painting in one frame."""

    index: int
    repainted: bool  #: painted afresh (first frame, scene cut, or repaint mode)
    scene_cut: bool
    background_strokes: int  #: after the frame
    face_strokes: int
    deleted: dict[str, int]  #: strokes deleted by reason (a stroke may count under several)
    deleted_total: int
    added: int
    faces: int
    seconds: dict[str, float]  #: wall time per stage
    cpu_seconds: float  #: CPU time of the frame, all threads of the process
    #: share of the background layer's cells redrawn (1.0: all, as without incremental rendering)
    redrawn_share: float = 1.0


@dataclass
class PipelineStats:
    """Running totals of a :class:`Stylizer` (mutable: it is the stylizer's bookkeeping)."""

    frames: int = 0
    repaints: int = 0
    scene_cuts: int = 0
    added: int = 0
    deleted: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    last: FrameStats | None = None
    history: list[FrameStats] = field(default_factory=list)
    #: per-stage wall seconds of the last frames but the first (bounded, for medians)
    recent_seconds: deque = field(default_factory=lambda: deque(maxlen=1000))
    #: CPU seconds of the same frames (all threads of the process: on a shared machine the
    #: measure that other processes' load inflates least)
    recent_cpu_seconds: deque = field(default_factory=lambda: deque(maxlen=1000))


@dataclass(frozen=True)
class HoleFields:
    """Fields of a whole frame that the fields of its hole boxes are cut from
    (:meth:`Stylizer._place_where`).

    Attributes
    ----------
    saliency : (h, w) float32
        Saliency of a small copy of the frame (long side ``update_saliency_side_px``), faces
        salient: a blurred, global measure, so that stroke sizes in a box agree with the frame.
    blurred : (H, W, 3) uint8
        The frame as strokes take their colours from it (:func:`facepaint.strokes.blur_for_colours`),
        cut into the boxes (one blur of the frame instead of one per box).
    tangent : (h', w', 2) float32, magnitude : (h', w') float32
        Edge tangent flow of the frame at ``update_field_short_side_px / min(H, W)`` of its
        resolution (at most full resolution), which each box reads on its grid, with the
        magnitude and the saliency (``OrientationField.maps_on_grid``); None when it was not
        prepared (``PipelineConfig.update_prepare_share``).
    grid_saliency, edge_distance : (h', w') float32
        With a reduced-scale tangent flow: the saliency resized onto its grid, and the grid
        distance to the nearest strong edge of the magnitude
        (:func:`facepaint.strokes.edge_distance`); None otherwise.
    """

    saliency: np.ndarray
    blurred: np.ndarray  #: (H, W, 3) uint8: :func:`facepaint.strokes.blur_for_colours` of the frame
    tangent: np.ndarray | None = None  #: None: not prepared, filtered per box
    magnitude: np.ndarray | None = None
    grid_saliency: np.ndarray | None = None
    edge_distance: np.ndarray | None = None


def _born_faded(strokes: StrokeSet, config: TemporalConfig) -> StrokeSet:
    """New strokes of a running painting start at ``1 / fade_in_frames`` of their opacity."""
    return replace(strokes, opacity=np.full(len(strokes), 1.0 / config.fade_in_frames, np.float32))


def _triangulations(faces: list) -> dict:
    """Track id -> :func:`facepaint.face.mesh_triangles` of each face with a mesh."""
    return {f.track_id: mesh_triangles(f.mesh) for f in faces if f.mesh is not None}


def _with_end_distances(painting: Painting, image: np.ndarray) -> Painting:
    """Strokes just placed on ``image``, with how far the frame about their ends was from their
    colour there, which the deletion's end test allows (:func:`facepaint.temporal.take_end_distances`)."""
    return Painting(background=take_end_distances(painting.background, image), face=take_end_distances(painting.face, image))


def _shift_painting(painting: Painting, dx: float, dy: float) -> Painting:
    offset = np.array([dx, dy], np.float32)
    return Painting(
        background=replace(painting.background, positions=painting.background.positions + offset),
        face=replace(painting.face, positions=painting.face.positions + offset),
    )


def hole_boxes(need: np.ndarray, *, block_px: int = 64, margin_px: int = 24):
    """Group the pixels that need strokes into a few disjoint work boxes.

    The frame is cut into ``block_px`` blocks; blocks with a needed pixel are joined into
    8-connected components, and each component yields the needed pixels of its own blocks only
    (so that no pixel is seeded twice) and their bounding box grown by ``margin_px`` (room for
    strokes to grow). The box is that of the pixels, not of their blocks: a sliver of a hole in
    a block costs the fields and placement of the sliver's surroundings, not of the block's.

    Parameters
    ----------
    need : (H, W) bool

    Returns
    -------
    list of ((y0, y1, x0, x1), where)
        ``where`` is the (y1 - y0, x1 - x0) bool mask of the pixels to seed in the box.
    """
    h, w = need.shape
    bh, bw = -(-h // block_px), -(-w // block_px)
    padded = np.zeros((bh * block_px, bw * block_px), bool)
    padded[:h, :w] = need
    blocks = padded.reshape(bh, block_px, bw, block_px).any(axis=(1, 3))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(blocks.view(np.uint8), connectivity=8)
    out = []
    for k in range(1, count):  # one iteration per hole component (a few), not per pixel
        bx, by, bwid, bhei = stats[k, :4]
        # The component's own needed pixels, within its blocks' window.
        own_blocks = labels[by : by + bhei, bx : bx + bwid] == k
        own = np.repeat(np.repeat(own_blocks, block_px, axis=0), block_px, axis=1)
        wy0, wx0 = by * block_px, bx * block_px
        wy1, wx1 = min(h, wy0 + bhei * block_px), min(w, wx0 + bwid * block_px)
        pixels = need[wy0:wy1, wx0:wx1] & own[: wy1 - wy0, : wx1 - wx0]
        rows = np.flatnonzero(pixels.any(axis=1))
        cols = np.flatnonzero(pixels.any(axis=0))
        y0 = max(0, wy0 + int(rows[0]) - margin_px)
        y1 = min(h, wy0 + int(rows[-1]) + 1 + margin_px)
        x0 = max(0, wx0 + int(cols[0]) - margin_px)
        x1 = min(w, wx0 + int(cols[-1]) + 1 + margin_px)
        where = np.zeros((y1 - y0, x1 - x0), bool)
        # Paste the window's pixels into the box (the box may extend beyond the window by the margin).
        sy0, sy1 = max(y0, wy0), min(y1, wy1)
        sx0, sx1 = max(x0, wx0), min(x1, wx1)
        where[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = pixels[sy0 - wy0 : sy1 - wy0, sx0 - wx0 : sx1 - wx0]
        out.append(((y0, y1, x0, x1), where))
    return out


def _crop_resized(small: np.ndarray, full_shape: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    """The ``box = (y0, y1, x0, x1)`` window of ``small`` upsampled to full-frame pixels."""
    h, w = full_shape
    y0, y1, x0, x1 = box
    sy, sx = small.shape[0] / h, small.shape[1] / w
    xs = ((np.arange(x0, x1, dtype=np.float32) + 0.5) * sx - 0.5)[None, :].repeat(y1 - y0, 0)
    ys = ((np.arange(y0, y1, dtype=np.float32) + 0.5) * sy - 0.5)[:, None].repeat(x1 - x0, 1)
    return cv2.remap(small, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@dataclass
class _Ahead:
    """Work started for the upcoming frame that a :meth:`Stylizer.process` call announced."""

    image: np.ndarray  #: the upcoming frame, (H, W, 3) uint8
    faces: Future  #: its faces and region map (the faces worker)
    #: (its working grey image, the forward-only FlowResult to it), set by the flow worker's job
    #: as soon as the forward pass is done
    forward: Future | None = None
    flow: Future | None = None  #: (its working grey image, the complete FlowResult to it) (the flow worker)

    def wait(self) -> None:
        """Block until both jobs are done (their results, or errors, are dropped)."""
        wait_for([job for job in (self.faces, self.flow) if job is not None])


def _frame_image(frame: Frame | np.ndarray, name: str) -> np.ndarray:
    """The C-contiguous (H, W, 3) uint8 image of ``frame`` (a Frame or an array), checked."""
    image = frame.image if isinstance(frame, Frame) else frame
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InputError(
            f"Stylizer.process needs {name} as a Frame or an (H, W, 3) uint8 RGB array, got "
            f"{type(image).__name__} {getattr(image, 'shape', '')} {getattr(image, 'dtype', '')}"
        )
    if image.shape[0] < 8 or image.shape[1] < 8:
        raise InputError(f"frames must be at least 8x8 pixels, got {image.shape[:2]} ({name})")
    return np.ascontiguousarray(image)


def shot_seed(seed: int, frame_index: int) -> int | tuple[int, int]:
    """The seed of the random generator of the shot that starts at ``frame_index``: the video's
    ``seed`` for the first shot (a video without cuts paints as it always did), ``(seed,
    frame_index)`` (a NumPy seed sequence) for the others. Derived from the shot's start rather
    than drawn from one generator over the video, so that shots can be painted apart, in any
    order, with the output of one sequential run (:mod:`facepaint.scale`)."""
    return seed if frame_index == 0 else (int(seed), int(frame_index))


class Stylizer:
    """Stateful video stylizer: feed frames in order, get stylized frames back.

    Parameters
    ----------
    config : PipelineConfig
    seed : int
        Seed of the stroke placement's random generator (same seed, same video: same output).

    Examples
    --------
    >>> stylizer = Stylizer(PipelineConfig())  # doctest: +SKIP
    >>> for frame in open_video("in.mp4"):  # doctest: +SKIP
    ...     out = stylizer.process(frame)
    """

    def __init__(self, config: PipelineConfig = PipelineConfig(), *, seed: int = 0) -> None:
        if not isinstance(config, PipelineConfig):
            raise InputError(f"Stylizer needs a PipelineConfig, got {type(config).__name__}")
        self.config = config
        self.seed = seed
        # Optionally bilinear texture sampling for video (see PipelineConfig.bilinear_textures).
        self._render_config = replace(config.render, bilinear=True) if config.bilinear_textures else config.render
        self.stats = PipelineStats()
        self._rng = np.random.default_rng(seed)
        self._flow = FlowEstimator(config.flow)
        self._face_model = None if config.face_model == "none" else create_face_model(config.face_model, **config.face_options)
        r = self._render_config
        # The background layer of the last frame, redrawn where its strokes changed.
        self._incremental = (
            IncrementalRender(move_px=r.redraw_move_px, color=r.redraw_color, opacity=r.redraw_opacity, cell_px=r.redraw_cell_px)
            if r.incremental
            else None
        )
        self._painting: Painting | None = None
        self._regions: RegionMap | None = None
        self._faces: list = []  # the faces of the last frame (their meshes carry the face strokes)
        self._face_triangles: dict = {}  # track id -> the triangulation of its mesh (mesh_triangles)
        self._prev_image: np.ndarray | None = None
        self._prev_working: np.ndarray | None = None
        self._prev_gray: np.ndarray | None = None  # full size, for refine_motion
        self._prev_signature = None
        self._next_id = 0
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self._ahead: _Ahead | None = None  # work started for the upcoming frame the last call announced
        self._hole_share = 0.0  # share of the frame the hole boxes covered in the last frame
        # cells of the hidden test (background, face), kept from frame to frame (hidden_cell_px)
        self._hidden_cells: list[float | None] = [None, None]
        # (frames left to reuse it, image saliency of a small copy): the fields worker's only state
        self._image_saliency: tuple[int, np.ndarray] | None = None

    # -- public -----------------------------------------------------------------------------
    @property
    def painting(self) -> Painting | None:
        """The strokes of the last processed frame (``None`` before the first)."""
        return self._painting

    @property
    def regions(self) -> RegionMap | None:
        """The region map of the last processed frame (``None`` before the first)."""
        return self._regions

    def reset(self) -> None:
        """Forget the current shot: the next frame is painted afresh (statistics are kept)."""
        self._painting = None
        self._faces = []
        self._face_triangles = {}
        self._prev_image = None
        self._prev_working = None
        self._prev_gray = None
        self._prev_signature = None
        self._hole_share = 0.0
        self._image_saliency = None
        self._hidden_cells = [None, None]
        if self._incremental is not None:
            self._incremental.reset()
        if self._ahead is not None:
            self._ahead.wait()  # the face model and the flow solver are idle before they are reused
            self._ahead = None
        if self._face_model is not None:
            self._face_model.reset()

    def start_shot(self, frame_index: int) -> None:
        """Paint the next frame afresh as the first of a shot that starts at ``frame_index`` of
        the video, as a scene cut there would (:meth:`reset`, and the random generator of
        :func:`shot_seed`): painting a video shot by shot, each from its first frame (given as a
        :class:`~facepaint.types.Frame` with its index in the video), gives the frames of one run
        over the whole video."""
        self.reset()
        self._rng = np.random.default_rng(shot_seed(self.seed, int(frame_index)))

    def process(self, frame: Frame | np.ndarray, *, upcoming: Frame | np.ndarray | None = None) -> np.ndarray:
        """Stylize the next frame of the video.

        Parameters
        ----------
        frame : Frame or (H, W, 3) uint8 RGB array
            Frames must come in order; a frame of a different size than the previous one starts
            a new shot.
        upcoming : Frame or (H, W, 3) uint8 RGB array, optional
            The frame that the next call will get, when the caller already has it: its faces
            are then found on the faces worker while this frame's strokes are deleted,
            rendered and placed, and the flow to it while the new strokes are placed, instead
            of at the start of the next call (the output is the same; the next call must then
            get this very frame, or it raises ``InputError``). Worker threads read the array
            from now on: do not write into it until the call that processes it has returned.

        Returns
        -------
        (H, W, 3) uint8 RGB
        """
        image = _frame_image(frame, "frame")
        index = frame.index if isinstance(frame, Frame) else self.stats.frames
        next_image = None if upcoming is None else _frame_image(upcoming, "upcoming")
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            announced = ahead.image
            if announced is not image and not np.array_equal(announced, image):
                ahead.wait()  # the face model's state has seen the announced frame: start the shot over
                self.reset()
                raise InputError(
                    "Stylizer.process got a different frame than the previous call announced as upcoming; "
                    "pass each frame as upcoming only if the next call processes it (the shot restarts)"
                )
        seconds: dict[str, float] = {}
        # CPU time is read once per frame: reading it costs far more than perf_counter when the
        # process has many threads, too much to do around every stage.
        cpu_start = time.process_time()
        clock = _Clock(seconds)

        with clock("scene_cut"):
            signature = scene_signature(image)
            cut = False
            if self._prev_signature is not None and self._prev_image is not None:
                if self._prev_image.shape != image.shape:
                    cut = True
                else:
                    cut = scene_cut_score(self._prev_signature, signature) > self.config.temporal.scene_cut_threshold
        fresh = self._painting is None or cut or self.config.repaint_every_frame
        if fresh and ahead is not None:
            # Work done ahead for a frame that is painted afresh: the face model must first be
            # idle (and, on a cut, is reset below); the fresh path finds the faces again.
            ahead.wait()
            ahead = None
        if cut:
            self.reset()
            self.stats.scene_cuts += 1
            # Each shot draws from its own generator (shot_seed): a shot painted alone, from
            # start_shot(its first frame), is then the same as within the whole video.
            self._rng = np.random.default_rng(shot_seed(self.seed, index))

        # The workers prepare the faces and regions, and the fields of new strokes, while this
        # thread moves and renders the strokes (see the module docstring); "faces" and "field"
        # time the waits for them.
        regions_job = fields_job = None
        if not fresh:
            regions_job = ahead.faces if ahead is not None else self._worker("faces").submit(self._faces_and_regions, image)
            with_tangent = self._hole_share > self.config.update_prepare_share
            fields_job = self._worker("fields").submit(
                lambda: self._hole_fields(image, regions_job.result()[1], with_tangent)
            )
        deleted: dict[str, int] = {}
        deleted_total = 0
        added = 0
        flow_job = ahead.flow if ahead is not None else None
        forward_job = ahead.forward if ahead is not None else None
        if flow_job is None:
            with clock("flow_working_image"):
                working = self._flow.to_working_gray(image)
        with clock("flow_working_image"):
            # full size, for refine_motion: only where the flow runs on a shrunk frame
            refine = self.config.flow.refine_window_px and self._flow.working_scale(image.shape[:2]) > 1.0
            gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if refine else None
        if fresh:
            with clock("faces"):
                faces = self._face_model.process(image) if self._face_model is not None else []
            self._look_ahead(next_image)
            with clock("regions"):
                regions = build_region_map(faces, image.shape[:2])
                triangles = _triangulations(faces)
            with clock("field"):
                field_ = compute_orientation_field(image, regions, config=self.config.fields)
            self._flow_ahead(image, working)
            with clock("place"):
                painting = _with_end_distances(place_strokes(
                    image, regions, field_, config=self.config.strokes, rng=self._rng, first_id=self._next_id
                ), image)
            added = len(painting.background) + len(painting.face)
            with clock("render"):
                layers = self._render(painting, image, regions)
        else:
            with clock("flow"):
                # The physics needs the forward flow alone: it moves the strokes while the flow
                # worker computes the backward flow and the occlusion masks for the deletion.
                if flow_job is not None:
                    working, flow = forward_job.result()
                else:
                    flow = self._flow(self._prev_image, image, prev_working=self._prev_working, next_working=working)
            with clock("physics"):
                background = self._advect_background(self._painting.background, flow, gray)
            with clock("faces"):
                faces, regions, triangles = regions_job.result()
            with clock("physics"):
                painting = Painting(background=background, face=self._advect_face(self._painting.face, flow, faces))
            self._look_ahead(next_image)
            if flow_job is not None:
                with clock("flow_backward"):
                    working, flow = flow_job.result()
            with clock("delete"):
                painting, deleted, deleted_total = self._delete(painting, image, regions, faces, flow)
                # A hard bound, far above what the deletions leave in practice (see TemporalConfig):
                # applied before rendering so that the output is always the render of the state.
                painting, dropped = cap_strokes(painting, self.config.temporal.max_strokes)
                if dropped:
                    deleted["cap"] = dropped
                    deleted_total += dropped
            with clock("render"):
                layers = self._render(painting, image, regions)
            with clock("uncovered"):
                need = uncovered_mask(layers.coverage, regions, config=self.config.temporal)
            with clock("field"):
                hole_fields = fields_job.result()
            self._flow_ahead(image, working)
            self._hole_share = 0.0
            if need.any():
                parts = self._place_where(image, regions, need, hole_fields, clock)
                born = [concat_stroke_sets(*[p.background for p in parts]), concat_stroke_sets(*[p.face for p in parts])] if parts else []
                if born and self.config.temporal.skip_buried_births:
                    born = [b.take(np.flatnonzero(~buried_at_birth(b, o, self.config.temporal, hidden_cell=cell)))
                            for b, o, cell in zip(born, (painting.background, painting.face), self._hidden_cells)]
                added = sum(len(b) for b in born)
                if added:
                    # Born into a running painting: faded in over the next frames (fade_strokes).
                    new = _with_end_distances(Painting(
                        background=_born_faded(born[0], self.config.temporal),
                        face=_born_faded(born[1], self.config.temporal),
                    ), image)
                    painting = Painting(
                        background=merge_strokes(new.background, painting.background),
                        face=merge_strokes(new.face, painting.face),
                    )
                    with clock("render_new"):
                        # New strokes go under the old ones: slipped under the rendered frame
                        # (exact up to rounding, see add_strokes_under), not a second render.
                        add_strokes_under(layers, new, config=self._render_config)
        with clock("composite"):
            out = composite_canvas(layers.canvas, image, np.asarray(regions.feature_alpha, np.float32))
        self._next_id = max(
            self._next_id,
            int(painting.background.ids.max(initial=-1)) + 1,
            int(painting.face.ids.max(initial=-1)) + 1,
        )

        self._painting = painting
        self._regions = regions
        self._faces = list(faces)
        self._face_triangles = triangles
        self._prev_image = image
        self._prev_working = working
        self._prev_gray = gray
        self._prev_signature = signature
        self._record(
            index, fresh, cut, painting, deleted, deleted_total, added, len(faces), seconds, time.process_time() - cpu_start
        )
        return out

    def wait_idle(self) -> None:
        """Block until the work started ahead for the upcoming frame (see :meth:`process`) is
        done: for timing a frame with all of its work, as the benchmarks do."""
        if self._ahead is not None:
            self._ahead.wait()

    def _look_ahead(self, next_image: np.ndarray | None) -> None:
        """Start the faces of ``next_image`` on the faces worker (idle from now until the next
        call), unless every frame is painted afresh (the fresh path finds its own faces)."""
        if next_image is not None and not self.config.repaint_every_frame:
            self._ahead = _Ahead(next_image, self._worker("faces").submit(self._faces_and_regions, next_image))

    def _flow_ahead(self, image: np.ndarray, working: np.ndarray) -> None:
        """Start the flow from ``image`` to the upcoming frame on the flow worker: it runs while
        this thread places the new strokes, which keeps one core busy at most (started right after
        the render instead, it slowed the hole test and the wait for the fields more than it
        gained: frames 2.8 % slower at 1080p, paired in one process). Exact: the flow depends on
        the two images alone (it is discarded if the upcoming frame starts a shot)."""
        ahead = self._ahead
        if ahead is None or ahead.image.shape != image.shape:
            return
        upcoming = ahead.image

        forward_done: Future = Future()

        def flow_to_upcoming():
            try:
                upcoming_working = self._flow.to_working_gray(upcoming)
                forward = self._flow.forward(image, upcoming, prev_working=working, next_working=upcoming_working)
            except BaseException as error:
                forward_done.set_exception(error)
                raise
            forward_done.set_result((upcoming_working, forward))
            return upcoming_working, self._flow.complete(forward, working, upcoming_working)

        ahead.forward = forward_done
        ahead.flow = self._worker("flow").submit(flow_to_upcoming)

    def _worker(self, name: str) -> ThreadPoolExecutor:
        """The worker thread of ``"faces"`` (normal priority: its result is awaited soon) or of
        ``"fields"`` (lowest priority: it has the whole render to finish in, see :func:`_worker_init`).
        One thread each, so that their jobs (and the face model's calls) run in frame order."""
        if name not in self._executors:
            self._executors[name] = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"facepaint-{name}", initializer=_worker_init, initargs=(name == "fields",)
            )
        return self._executors[name]

    def _faces_and_regions(self, image: np.ndarray) -> tuple[list, RegionMap, dict]:
        """The faces of ``image``, its region map, and the triangulations of the faces' meshes
        that the next frame's :func:`facepaint.face.mesh_motion` maps face strokes through
        (made here, on the faces worker, rather than on this thread then)."""
        faces = self._face_model.process(image) if self._face_model is not None else []
        return faces, build_region_map(faces, image.shape[:2]), _triangulations(faces)

    def _hole_fields(self, image: np.ndarray, regions: RegionMap, with_tangent: bool) -> HoleFields:
        """The :class:`HoleFields` of ``image`` (faces of ``regions`` salient), the tangent flow
        only ``with_tangent``."""
        cfg = self.config
        h, w = image.shape[:2]
        scale = min(1.0, cfg.update_saliency_side_px / max(h, w))
        size = (max(8, round(w * scale)), max(8, round(h * scale)))
        if self._image_saliency is None or self._image_saliency[0] <= 0 or self._image_saliency[1].shape != size[::-1]:
            small = shrink(image, size)
            self._image_saliency = (max(1, cfg.update_saliency_every), saliency_map(small, None, config=cfg.fields.saliency))
        left, saliency = self._image_saliency
        self._image_saliency = (left - 1, saliency)
        if cfg.fields.saliency.face_saliency > 0:
            # Faces count as salient: the face mask of the whole frame (at the small scale, so
            # that a box sees the faces beyond its edge and the face size of the frame).
            fm = face_mask(regions, cfg.fields.saliency.face_margin_fraction, scale=saliency.shape[1] / w)
            if fm.shape != saliency.shape:
                fm = cv2.resize(fm, saliency.shape[::-1], interpolation=cv2.INTER_LINEAR)
            saliency = np.maximum(saliency, cfg.fields.saliency.face_saliency * fm).astype(np.float32)
        blurred = blur_for_colours(image, cfg.strokes)
        if not with_tangent:
            return HoleFields(saliency=saliency, blurred=blurred)
        tangent, magnitude = self._whole_tangent(image)
        return self._on_grid(HoleFields(saliency=saliency, blurred=blurred, tangent=tangent, magnitude=magnitude), image.shape[:2])

    def _on_grid(self, fields: HoleFields, shape: tuple[int, int]) -> HoleFields:
        """``fields`` with the saliency on the grid of its tangent flow and the grid's edge
        distance, when that flow is of reduced scale (the boxes then read all maps on the grid)."""
        if fields.tangent is None or fields.tangent.shape[:2] == shape:
            return fields
        grid_shape = fields.tangent.shape[1::-1]
        return replace(
            fields,
            grid_saliency=cv2.resize(fields.saliency, grid_shape, interpolation=cv2.INTER_LINEAR),
            edge_distance=edge_distance(fields.magnitude, self.config.strokes),
        )

    def _whole_tangent(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Edge tangent flow of the whole frame at ``update_field_short_side_px`` (at most full size)."""
        cfg = self.config
        h, w = image.shape[:2]
        field_scale = min(1.0, cfg.update_field_short_side_px / min(h, w))
        if field_scale < 1.0:
            size = (max(16, round(w * field_scale)), max(16, round(h * field_scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        return edge_tangent_flow(image, config=cfg.fields.etf)

    # -- stages -----------------------------------------------------------------------------
    def _advect_background(self, strokes: StrokeSet, flow: FlowResult, gray: np.ndarray | None) -> StrokeSet:
        """Background strokes: every particle pulled by the flow under it, held by the springs.
        Where the flow was measured on a shrunk frame, each stroke is shifted by what matching
        its centre again at full resolution adds to it (:func:`facepaint.flow.refine_motion`;
        only where the shrunk frame is textured, :func:`facepaint.flow.textured_points`): a
        sub-pixel correction, or a new match where the flow missed content finer than the
        shrunk frame (a scrolling ticker); content the flow found static gets only the latter.
        On a 720p pan of sharp content the strokes' motion error drops from a median 0.07 px a
        frame to 0.01 and the warping ratio from 5.3 to 3.1; on the hand-held lp_s18 it is
        unchanged (1.83, first 60 frames); on the ticker of the lower-third stress clip, 14.5
        to 5.4 (first 50 frames)."""
        cfg = self.config
        correction = None
        if gray is not None and self._prev_gray is not None and len(strokes):
            centres = particle_means(strokes.positions)
            motion = sample_flow(flow, centres)
            still = None if flow.static_prev is None else sample_mask(flow.static_prev, centres, flow.scale)
            candidates = None
            if flow.texture_prev is not None:
                candidates = textured_points(flow.texture_prev, centres, flow.scale, cfg.flow.refine_prefilter_eigen)
            refined = refine_motion(
                self._prev_gray, gray, centres, motion,
                window_px=cfg.flow.refine_window_px, max_change_px=cfg.flow.refine_max_change_px,
                min_eigen=cfg.flow.refine_min_eigen, levels=cfg.flow.refine_levels,
                rematch_gain=cfg.flow.rematch_gain, still=still, candidates=candidates,
            )
            correction = refined - motion
        return advect_strokes(
            strokes, flow, config=cfg.physics, driven_by_centre=False, correction=correction, use_springs=cfg.use_springs
        )

    def _advect_face(self, strokes: StrokeSet, flow: FlowResult, faces: list) -> StrokeSet:
        """Face strokes: driven through their centre (the paper), which moves with the tracked
        face mesh it lies on (:func:`facepaint.face.mesh_motion`) where the face is tracked from
        the last frame into this one, with the optical flow otherwise. The flow on a small face
        is measured on a shrunk frame and smeared across the face's outline; the mesh is what
        the face regions are made of, so the strokes stay on the features they painted."""
        cfg = self.config
        weights = material_weights(4)
        motion = None
        ids = None if self._regions is None else self._regions.face_ids
        if len(strokes) and ids is not None and self._faces and faces:
            centres = material_points(np.ascontiguousarray(strokes.positions, np.float32))
            motion = mesh_motion(centres, at_nearest_pixel(ids, centres), self._faces, faces, triangles=self._face_triangles)
        return advect_strokes(
            strokes, flow, config=cfg.physics, driven_by_centre=True, centre_weights=weights, centre_motion=motion,
            use_springs=cfg.use_springs,
        )

    def _delete(self, painting: Painting, image: np.ndarray, regions: RegionMap, faces: list, flow: FlowResult):
        counts: dict[str, int] = defaultdict(int)
        total = 0
        kept = []
        previous_ids = None if self._regions is None else self._regions.face_ids
        tracked_before = [f.track_id for f in self._faces]
        tracked_now = [f.track_id for f in faces]
        for layer, strokes in enumerate((painting.background, painting.face)):
            means = centre_colours(strokes, image)  # read once: the colour test and the refresh
            # the hidden test's grid, kept from frame to frame (see hidden_cell_px)
            self._hidden_cells[layer] = hidden_cell_px(strokes.thickness, self.config.temporal, self._hidden_cells[layer])
            reasons = deletion_reasons(strokes, image, regions, flow=flow, config=self.config.temporal, centre_means=means,
                                       hidden_cell=self._hidden_cells[layer])
            # Colours follow the frame, smoothed in time (Litwinowicz 1997; TemporalConfig.colour_rate),
            # after the test (which reads the colours as they were).
            strokes = refresh_colours(strokes, image, rate=self.config.temporal.colour_rate, centre_means=means)
            fresh = ~strokes.fading_out  # a deletion counts once, when the stroke starts fading out
            for name, value in reasons.counts(among=fresh).items():
                counts[name] += value
            total += int((reasons.any & fresh).sum())
            # Strokes on the wrong side of a face outline, over an occluder or out of the frame go
            # at once: faded, they trail as ghosts over a moving face or a hand. Those whose
            # region changed because a face's track began or ended under them still lie on what
            # they painted: they fade out while the strokes replacing them fade in under them
            # (face_track_changed), as do strokes that were already fading.
            handed_over = strokes.fading_out | face_track_changed(
                strokes, previous_ids, regions.face_ids, tracked_before=tracked_before, tracked_now=tracked_now)
            at_once = reasons.outside | reasons.occluded | (reasons.region & ~handed_over)
            kept.append(fade_strokes(strokes, reasons.any, at_once, self.config.temporal))
        return Painting(background=kept[0], face=kept[1]), dict(counts), total

    def _place_where(
        self, image: np.ndarray, regions: RegionMap, need: np.ndarray, fields: HoleFields, clock: "_Clock"
    ) -> list[Painting]:
        """New strokes over the ``need`` pixels, placed as on a first frame, one
        :class:`Painting` per work box that received strokes.

        The holes are grouped into boxes (:func:`hole_boxes`); each box, grown by a margin for
        the strokes to grow into, reads the whole frame's ``fields`` (made on the worker while
        the strokes moved): the edge tangent flow at reduced scale with its magnitude and the
        small saliency map (faces salient) resized onto its grid, all kept coarse (placement
        reads the tangent where strokes grow, the saliency and the distance to strong edges at
        its seeds: ``OrientationField.maps_on_grid``). When the worker did not prepare the
        tangent flow (few holes in the frame before), each box's own is filtered at that scale
        and the saliency upsampled into the box, unless the boxes cover more than 30 % of the
        frame: then one tangent flow of the whole frame is made here. Stroke sizes are those of
        the whole frame (``frame_shape``).
        """
        cfg = self.config
        h, w = need.shape
        margin = int(round(cfg.update_margin_px * size_scale((h, w), cfg.strokes)))
        boxes = hole_boxes(need, block_px=cfg.update_block_px, margin_px=margin)
        area = sum((b[1] - b[0]) * (b[3] - b[2]) for b, _ in boxes)
        self._hole_share = area / float(h * w)
        field_scale = min(1.0, cfg.update_field_short_side_px / min(h, w))
        if fields.tangent is None and field_scale < 1.0 and area > 0.3 * h * w:
            # Holes all over the frame (a crowd walking, a fast pan) with nothing prepared: one
            # tangent flow of the whole frame at the reduced scale costs less than one per box.
            with clock("field"):
                tangent, magnitude = self._whole_tangent(image)
                fields = self._on_grid(replace(fields, tangent=tangent, magnitude=magnitude), (h, w))
        parts: list[Painting] = []
        for (y0, y1, x0, x1), where in boxes:  # one iteration per hole component (a few)
            crop = np.ascontiguousarray(image[y0:y1, x0:x1])
            sub_regions = RegionMap(
                labels=np.ascontiguousarray(regions.labels[y0:y1, x0:x1]),
                feature_alpha=np.ascontiguousarray(regions.feature_alpha[y0:y1, x0:x1]),
                face_ids=None if regions.face_ids is None else np.ascontiguousarray(regions.face_ids[y0:y1, x0:x1]),
            )
            with clock("field"):
                if fields.grid_saliency is not None:
                    # The frame's coarse fields: the box reads all three maps on the tangent's
                    # grid, at its seeds and along its strokes; nothing is upsampled.
                    field_ = OrientationField(
                        tangent=fields.tangent, magnitude=fields.magnitude, saliency=fields.grid_saliency,
                        tangent_grid=(x0, y0, fields.tangent.shape[1] / w, fields.tangent.shape[0] / h), maps_on_grid=True,
                        edge_distance=fields.edge_distance,
                    )
                else:
                    grid = None
                    if fields.tangent is None:
                        # The box's own tangent flow, kept coarse: placement reads it at the
                        # pixels it visits (OrientationField.tangent_grid).
                        side = max(16, min(cfg.fields.etf.max_side_px, int(max(crop.shape[:2]) * field_scale)))
                        tangent, magnitude = edge_tangent_flow(crop, config=replace(cfg.fields.etf, max_side_px=side), full_size=False)
                        if tangent.shape[:2] != crop.shape[:2]:
                            grid = (0, 0, tangent.shape[1] / crop.shape[1], tangent.shape[0] / crop.shape[0])
                    else:  # a frame small enough for full-resolution fields
                        tangent = np.ascontiguousarray(fields.tangent[y0:y1, x0:x1])
                        magnitude = np.ascontiguousarray(fields.magnitude[y0:y1, x0:x1])
                    # Placement reads the saliency at region-3 seeds only: the face pixels, which
                    # saliency_map floors at face_saliency, are never read.
                    sal = _crop_resized(fields.saliency, (h, w), (y0, y1, x0, x1))
                    field_ = OrientationField(tangent=tangent, magnitude=magnitude, saliency=sal, tangent_grid=grid)
            with clock("place"):
                # frame_shape: stroke sizes scale with the frame, not with the box (without it a
                # 200-pixel box of a 1080p frame got strokes of half the size, four times as many,
                # finer than the rest of the painting and soon churned again).
                new = place_strokes(
                    crop, sub_regions, field_, config=cfg.strokes, rng=self._rng, where=where, first_id=self._next_id,
                    frame_shape=(h, w), blurred=np.ascontiguousarray(fields.blurred[y0:y1, x0:x1]),
                )
            self._next_id += len(new.background) + len(new.face)
            if len(new.background) + len(new.face):
                parts.append(_shift_painting(new, float(x0), float(y0)) if (x0 or y0) else new)
        return parts

    def _render(self, painting: Painting, image: np.ndarray, regions: RegionMap) -> LayeredRender:
        """Underpainting (fine on the faces), then background and face strokes, as
        :func:`facepaint.render.render_painting` does before compositing region 2, kept in layers
        so that new strokes can be slipped under the rendered ones
        (:func:`facepaint.render.add_strokes_under`); the background layer redrawn only where
        its strokes changed (:class:`facepaint.render.IncrementalRender`) unless configured off."""
        return render_layers(painting, image, config=self._render_config, regions=regions, incremental=self._incremental)

    def _record(self, index, fresh, cut, painting, deleted, deleted_total, added, faces, seconds, cpu_seconds) -> None:
        st = self.stats
        st.frames += 1
        st.repaints += int(fresh)
        st.added += added
        st.deleted += deleted_total
        for k, v in seconds.items():
            st.seconds[k] += v
        st.last = FrameStats(
            index=index,
            repainted=fresh,
            scene_cut=cut,
            background_strokes=len(painting.background),
            face_strokes=len(painting.face),
            deleted=deleted,
            deleted_total=deleted_total,
            added=added,
            faces=faces,
            seconds=seconds,
            cpu_seconds=cpu_seconds,
            redrawn_share=1.0 if self._incremental is None else self._incremental.redrawn_share,
        )
        if st.frames > 1:
            st.recent_seconds.append(seconds)
            st.recent_cpu_seconds.append(cpu_seconds)
        if self.config.keep_history:
            st.history.append(st.last)

    def stage_milliseconds(self) -> dict[str, float]:
        """Median wall milliseconds per frame of each stage over the last (up to 1000) frames,
        the video's first frame excluded (a stage that a frame skipped counts as 0 ms for it).
        ``"total"`` is the median of the per-frame sums, ``"cpu_total"`` the median CPU time
        of a frame (all threads of the process)."""
        recent = list(self.stats.recent_seconds)
        if not recent:
            return {}
        names = sorted({k for s in recent for k in s})
        out = {k: 1000.0 * float(np.median([s.get(k, 0.0) for s in recent])) for k in names}
        out["total"] = 1000.0 * float(np.median([sum(s.values()) for s in recent]))
        out["cpu_total"] = 1000.0 * float(np.median(list(self.stats.recent_cpu_seconds)))
        return out


def _worker_init(low_priority: bool) -> None:
    """A worker thread's settings. The faces worker runs its numba kernels on one thread
    (``numba.set_num_threads`` is per thread), beside this thread's two. With ``low_priority``
    (the fields worker) the lowest CPU priority instead (Linux niceness is per thread and the
    threads it starts inherit it), so that it runs in the time this thread leaves the cores idle
    instead of slowing its parallel kernels down, and on both cores when this thread waits for
    it. Measured with the render of a 1080p frame beside a busy thread: 100 ms alone, 173 ms
    beside it at the same priority, 103 ms beside it at niceness 19."""
    if not low_priority:
        numba.set_num_threads(1)
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):  # not Linux, or not allowed: the normal priority
        numba.set_num_threads(1)


class _Clock:
    """Accumulates wall time per stage name into a dict (``with clock("flow"): ...``)."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds
        self._name = ""
        self._t0 = 0.0

    def __call__(self, name: str) -> "_Clock":
        self._name = name
        return self

    def __enter__(self) -> None:
        self._t0 = time.perf_counter()

    def __exit__(self, *exc) -> None:
        self.seconds[self._name] = self.seconds.get(self._name, 0.0) + time.perf_counter() - self._t0
