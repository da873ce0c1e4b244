"""The whole method, frame after frame: the only stage that keeps state between frames.

:class:`Stylizer` holds the strokes (not frames) of the current shot. For each frame it

1. detects a scene cut (:func:`facepaint.temporal.scene_cut_score`); on a cut, on the first
   frame, or in ``repaint_every_frame`` mode it paints the frame afresh (faces -> regions ->
   orientation field -> :func:`place_strokes` over the whole frame);
2. otherwise computes the optical flow from the previous frame (:mod:`facepaint.flow`), moves
   every stroke with the flow and its springs (:mod:`facepaint.physics`; background strokes per
   particle, face strokes through their centre), deletes strokes whose content went away
   (:mod:`facepaint.temporal`), renders, and places new strokes, under the old ones, where pixels
   are left uncovered;
3. renders the painting (:mod:`facepaint.render`) and returns the ``(H, W, 3)`` uint8 image.

Per-stage wall times, stroke counts and churn (strokes deleted/added per frame, by reason) are
kept in :attr:`Stylizer.stats`. Memory does not grow with the video length: the state is the
painting of one frame, the previous grey working image and a constant-size signature; the per
frame statistics are kept only with ``PipelineConfig.keep_history`` (the benchmarks use it).
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass, field, replace

import numpy as np

from facepaint.errors import InputError
from facepaint.face import create_face_model
from facepaint.fields import FieldConfig, compute_orientation_field
from facepaint.flow import FlowConfig, FlowEstimator, FlowResult
from facepaint.physics import PhysicsConfig, advect_strokes
from facepaint.regions import build_region_map
from facepaint.render import RenderConfig, Style, render_painting
from facepaint.strokes import StrokeConfig, place_strokes
from facepaint.strokes.models import material_weights
from facepaint.temporal import (
    TemporalConfig,
    cap_strokes,
    deletion_reasons,
    merge_strokes,
    scene_cut_score,
    scene_signature,
    select_strokes,
    uncovered_mask,
)
from facepaint.types import Frame, Painting, RegionMap, StrokeSet


@dataclass(frozen=True)
class PipelineConfig:
    """Everything the stylizer needs, composed of the stage configs.

    Attributes
    ----------
    face_model : str
        Name for :func:`facepaint.face.create_face_model` (``"mediapipe"``), or ``"none"`` to
        treat every frame as having no face (all background strokes).
    flow, fields, strokes, render, physics, temporal :
        The stage configs. ``render.style`` selects the look.
    repaint_every_frame : bool
        Paint every frame independently (no temporal coherence): the baseline of the
        warping-error figure.
    use_springs : bool
        ``False``: particles are put on their flow targets without springs (ablation).
    keep_history : bool
        Keep a :class:`FrameStats` per frame in ``Stylizer.stats.history`` (grows with the
        video; off by default).
    """

    face_model: str = "mediapipe"
    flow: FlowConfig = field(default_factory=FlowConfig)
    fields: FieldConfig = field(default_factory=FieldConfig)
    strokes: StrokeConfig = field(default_factory=StrokeConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    physics: PhysicsConfig = field(default_factory=PhysicsConfig)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    repaint_every_frame: bool = False
    use_springs: bool = True
    keep_history: bool = False


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
    #: per-stage seconds of the last frames but the first (bounded, for medians)
    recent_seconds: deque = field(default_factory=lambda: deque(maxlen=1000))


def _empty_like(strokes: StrokeSet) -> StrokeSet:
    return select_strokes(strokes, np.zeros(len(strokes), bool))


def _shift_painting(painting: Painting, dx: float, dy: float) -> Painting:
    offset = np.array([dx, dy], np.float32)
    return Painting(
        background=replace(painting.background, positions=painting.background.positions + offset),
        face=replace(painting.face, positions=painting.face.positions + offset),
    )


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
        self.stats = PipelineStats()
        self._rng = np.random.default_rng(seed)
        self._flow = FlowEstimator(config.flow)
        self._face_model = None if config.face_model == "none" else create_face_model(config.face_model)
        self._painting: Painting | None = None
        self._prev_image: np.ndarray | None = None
        self._prev_working: np.ndarray | None = None
        self._prev_signature = None
        self._next_id = 0

    # -- public -----------------------------------------------------------------------------
    @property
    def painting(self) -> Painting | None:
        """The strokes of the last processed frame (``None`` before the first)."""
        return self._painting

    def reset(self) -> None:
        """Forget the current shot: the next frame is painted afresh (statistics are kept)."""
        self._painting = None
        self._prev_image = None
        self._prev_working = None
        self._prev_signature = None
        if self._face_model is not None:
            self._face_model.reset()

    def process(self, frame: Frame | np.ndarray) -> np.ndarray:
        """Stylize the next frame of the video.

        Parameters
        ----------
        frame : Frame or (H, W, 3) uint8 RGB array
            Frames must come in order; a frame of a different size than the previous one starts
            a new shot.

        Returns
        -------
        (H, W, 3) uint8 RGB
        """
        image = frame.image if isinstance(frame, Frame) else frame
        index = frame.index if isinstance(frame, Frame) else self.stats.frames
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise InputError(
                "Stylizer.process needs a Frame or an (H, W, 3) uint8 RGB array, got "
                f"{type(image).__name__} {getattr(image, 'shape', '')} {getattr(image, 'dtype', '')}"
            )
        if image.shape[0] < 8 or image.shape[1] < 8:
            raise InputError(f"frames must be at least 8x8 pixels, got {image.shape[:2]}")
        image = np.ascontiguousarray(image)
        seconds: dict[str, float] = {}
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
        if cut:
            self.reset()
            self.stats.scene_cuts += 1

        with clock("faces"):
            faces = self._face_model.process(image) if self._face_model is not None else []
        with clock("regions"):
            regions = build_region_map(faces, image.shape[:2])

        deleted: dict[str, int] = {}
        deleted_total = 0
        added = 0
        with clock("flow_working_image"):
            working = self._flow.to_working_gray(image)
        if fresh:
            with clock("field"):
                field_ = compute_orientation_field(image, regions, config=self.config.fields)
            with clock("place"):
                painting = place_strokes(
                    image, regions, field_, config=self.config.strokes, rng=self._rng, first_id=self._next_id
                )
            added = len(painting.background) + len(painting.face)
            with clock("render"):
                result = render_painting(painting, image, regions, config=self.config.render)
        else:
            with clock("flow"):
                flow = self._flow(self._prev_image, image, prev_working=self._prev_working, next_working=working)
            with clock("physics"):
                painting = self._advect(self._painting, flow)
            with clock("delete"):
                painting, deleted, deleted_total = self._delete(painting, image, regions, flow)
            with clock("render"):
                result = render_painting(painting, image, regions, config=self.config.render)
            with clock("uncovered"):
                need = uncovered_mask(result.coverage, regions, config=self.config.temporal)
            if need.any():
                new = self._place_where(image, regions, need, clock)
                added = len(new.background) + len(new.face)
                if added:
                    painting = Painting(
                        background=merge_strokes(new.background, painting.background),
                        face=merge_strokes(new.face, painting.face),
                    )
                    with clock("render"):
                        result = render_painting(painting, image, regions, config=self.config.render)
        painting, dropped = cap_strokes(painting, self.config.temporal.max_strokes)
        if dropped:
            deleted["cap"] = dropped
            deleted_total += dropped
        self._next_id = max(
            self._next_id,
            int(painting.background.ids.max(initial=-1)) + 1,
            int(painting.face.ids.max(initial=-1)) + 1,
        )

        self._painting = painting
        self._prev_image = image
        self._prev_working = working
        self._prev_signature = signature
        self._record(index, fresh, cut, painting, deleted, deleted_total, added, len(faces), seconds)
        return result.image

    # -- stages -----------------------------------------------------------------------------
    def _advect(self, painting: Painting, flow: FlowResult) -> Painting:
        cfg = self.config
        return Painting(
            background=advect_strokes(painting.background, flow, config=cfg.physics, driven_by_centre=False, use_springs=cfg.use_springs),
            face=advect_strokes(
                painting.face, flow, config=cfg.physics, driven_by_centre=True,
                centre_weights=material_weights(4), use_springs=cfg.use_springs,
            ),
        )

    def _delete(self, painting: Painting, image: np.ndarray, regions: RegionMap, flow: FlowResult):
        counts: dict[str, int] = defaultdict(int)
        total = 0
        kept = []
        for strokes in (painting.background, painting.face):
            reasons = deletion_reasons(strokes, image, regions, flow=flow, config=self.config.temporal)
            for name, value in reasons.counts().items():
                counts[name] += value
            gone = reasons.any
            total += int(gone.sum())
            kept.append(select_strokes(strokes, ~gone))
        return Painting(background=kept[0], face=kept[1]), dict(counts), total

    def _place_where(self, image: np.ndarray, regions: RegionMap, need: np.ndarray, clock: "_Clock") -> Painting:
        """New strokes over the ``need`` pixels. The orientation field is computed on the
        bounding box of those pixels (plus a margin for the strokes to grow into) when that box
        is much smaller than the frame: the field is the costliest part of placement."""
        h, w = need.shape
        ys, xs = np.nonzero(need.any(axis=1))[0], np.nonzero(need.any(axis=0))[0]
        margin = 24
        y0, y1 = max(0, ys[0] - margin), min(h, ys[-1] + 1 + margin)
        x0, x1 = max(0, xs[0] - margin), min(w, xs[-1] + 1 + margin)
        if (y1 - y0) * (x1 - x0) > 0.6 * h * w:
            y0, y1, x0, x1 = 0, h, 0, w
        crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        sub_regions = RegionMap(
            labels=np.ascontiguousarray(regions.labels[y0:y1, x0:x1]),
            feature_alpha=np.ascontiguousarray(regions.feature_alpha[y0:y1, x0:x1]),
            face_ids=None if regions.face_ids is None else np.ascontiguousarray(regions.face_ids[y0:y1, x0:x1]),
        )
        with clock("field"):
            field_ = compute_orientation_field(crop, sub_regions, config=self.config.fields)
        with clock("place"):
            new = place_strokes(
                crop, sub_regions, field_, config=self.config.strokes, rng=self._rng,
                where=np.ascontiguousarray(need[y0:y1, x0:x1]), first_id=self._next_id,
            )
        if x0 or y0:
            new = _shift_painting(new, float(x0), float(y0))
        self._next_id += len(new.background) + len(new.face)
        return new

    def _record(self, index, fresh, cut, painting, deleted, deleted_total, added, faces, seconds) -> None:
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
        )
        if st.frames > 1:
            st.recent_seconds.append(seconds)
        if self.config.keep_history:
            st.history.append(st.last)

    def stage_milliseconds(self) -> dict[str, float]:
        """Median milliseconds per frame of each stage over the last (up to 1000) frames, the
        video's first frame excluded (a stage that a frame skipped counts as 0 ms for it).
        ``"total"`` is the median of the per-frame sums."""
        recent = list(self.stats.recent_seconds)
        if not recent:
            return {}
        names = sorted({k for s in recent for k in s})
        out = {k: 1000.0 * float(np.median([s.get(k, 0.0) for s in recent])) for k in names}
        out["total"] = 1000.0 * float(np.median([sum(s.values()) for s in recent]))
        return out


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
