"""Keeping a painting alive from frame to frame: stroke deletion, where to add strokes, scene cuts.

After the strokes have been carried into frame ``t`` by the flow and their springs
(:mod:`facepaint.physics`), a stroke is deleted when

* its colour differs too much from the frame under it (the content it painted has gone),
* one of its springs is stretched or squashed past a limit (the flow tore it),
* it has left the frame,
* it lies in an occluded area (forward-backward inconsistent flow: the content it painted is
  hidden in frame ``t``, or the place it landed on shows content that frame ``t-1`` had not),
* its region changed: a background stroke now lies on a face, a face stroke outside the face.

New strokes are then placed, as on the first frame, wherever the remaining strokes leave pixels
uncovered (:func:`uncovered_mask`); they are put *under* the surviving strokes
(:func:`merge_strokes`) so that filling a hole never paints over a stroke that was already seen.
A scene cut (:func:`scene_cut_score`) throws the painting away and paints the new shot afresh.

Everything here works on whole stroke arrays at once (no per-stroke Python loop).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import cv2
import numpy as np

from facepaint.errors import InputError
from facepaint.flow import FlowResult, sample_field, sample_mask
from facepaint.physics import spring_lengths
from facepaint.types import Painting, Region, RegionMap, StrokeSet


@dataclass(frozen=True)
class TemporalConfig:
    """Thresholds of the temporal stage.

    Attributes
    ----------
    max_color_distance : float
        Delete a stroke when the Euclidean RGB distance (colours in [0, 1]) between its colour
        and the mean of the frame sampled at its particles exceeds this.
    max_strain : float
        Delete a stroke when a spring's ``|l - L| / max(L, 1 px)`` exceeds this (0.6: stretched
        to 1.6x or squashed to 0.4x).
    max_outside_fraction : float
        Delete a stroke when more than this fraction of its particles lies outside the frame.
    max_occluded_fraction : float
        Delete a stroke when more than this fraction of its particles is flagged occluded.
    max_wrong_region_fraction : float
        Delete a background stroke when more than this fraction of its particles lies on a face
        (regions 1 and 2), and a face stroke when more than this fraction lies outside the face.
    min_uncovered_coverage : float
        A pixel of regions 1 or 3 whose rendered coverage is below this counts as uncovered.
    min_hole_px : int
        Uncovered specks smaller than this (in pixels, after a 3x3 opening) are ignored: they
        are gaps between strokes, not content, and filling them costs strokes every frame.
    max_strokes : int
        Hard bound on the strokes of a painting (both sets together); beyond it the
        bottom-most (earliest drawn, most covered) strokes are dropped.
    scene_cut_threshold : float
        A frame whose :func:`scene_cut_score` exceeds this starts a new shot.
    """

    max_color_distance: float = 0.3
    max_strain: float = 0.6
    max_outside_fraction: float = 0.5
    max_occluded_fraction: float = 0.5
    max_wrong_region_fraction: float = 0.5
    min_uncovered_coverage: float = 0.5
    min_hole_px: int = 4
    max_strokes: int = 200_000
    scene_cut_threshold: float = 0.45

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise InputError(f"TemporalConfig.{f.name} must be >= 0, got {getattr(self, f.name)}")


@dataclass(frozen=True)
class DeletionReasons:
    """Why strokes are deleted; each field is an ``(N,)`` bool array (a stroke may have several)."""

    color: np.ndarray
    strain: np.ndarray
    outside: np.ndarray
    occluded: np.ndarray
    region: np.ndarray

    @property
    def any(self) -> np.ndarray:
        """``(N,)`` bool: strokes deleted for at least one reason."""
        return self.color | self.strain | self.outside | self.occluded | self.region

    def counts(self) -> dict[str, int]:
        """Number of strokes flagged by each reason."""
        return {f.name: int(getattr(self, f.name).sum()) for f in fields(self)}


def _check_strokes(strokes: StrokeSet) -> None:
    if strokes.positions.ndim != 3 or strokes.positions.shape[2] != 2:
        raise InputError(f"StrokeSet.positions must be (N, P, 2), got {strokes.positions.shape}")


def _labels_at(labels: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Nearest-pixel labels at ``points (..., 2)``; 0 outside the frame."""
    h, w = labels.shape
    x = np.rint(points[..., 0]).astype(np.int64)
    y = np.rint(points[..., 1]).astype(np.int64)
    inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    out = np.zeros(points.shape[:-1], labels.dtype)
    out[inside] = labels[y[inside], x[inside]]
    return out


def deletion_reasons(
    strokes: StrokeSet,
    image: np.ndarray,
    regions: RegionMap,
    *,
    flow: FlowResult | None = None,
    previous_positions: np.ndarray | None = None,
    config: TemporalConfig = TemporalConfig(),
) -> DeletionReasons:
    """Flag the strokes of one set that must be deleted in the current frame.

    Parameters
    ----------
    strokes : StrokeSet
        Strokes already moved into the current frame. Their ``region`` field says which kind
        each stroke is (:class:`Region` 3: background, 1: face).
    image : (H, W, 3) uint8 RGB or float32 in [0, 1]
        The current frame (a blurred copy gives steadier colour tests).
    regions : RegionMap
        Regions of the current frame.
    flow : FlowResult, optional
        Flow from the previous frame to this one; without it nothing is flagged occluded.
    previous_positions : (N, P, 2) float32, optional
        The strokes' particles in the previous frame (where ``flow.occluded_prev`` is read);
        defaults to ``positions - velocities``.
    config : TemporalConfig

    Returns
    -------
    DeletionReasons
    """
    _check_strokes(strokes)
    h, w = image.shape[:2]
    if regions.labels.shape != (h, w):
        raise InputError(f"region map {regions.labels.shape} and image {(h, w)} differ in size")
    n = len(strokes)
    if n == 0:
        empty = np.zeros(0, bool)
        return DeletionReasons(empty, empty, empty, empty, empty)
    pos = np.asarray(strokes.positions, np.float32)

    # Colour: the frame under the particles against the stroke's colour.
    img = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
    under = sample_field(img, pos).mean(axis=1)
    color = np.sqrt(((under - strokes.colors) ** 2).sum(-1)) > config.max_color_distance

    # Strain of every spring relative to its rest length.
    if strokes.springs.size:
        lengths = spring_lengths(pos, strokes.springs)
        strain_v = np.abs(lengths - strokes.rest_lengths) / np.maximum(strokes.rest_lengths, 1.0)
        strain = strain_v.max(axis=1) > config.max_strain
    else:
        strain = np.zeros(n, bool)

    inside = (pos[..., 0] >= -0.5) & (pos[..., 0] <= w - 0.5) & (pos[..., 1] >= -0.5) & (pos[..., 1] <= h - 0.5)
    outside = (1.0 - inside.mean(axis=1)) > config.max_outside_fraction

    if flow is not None:
        prev = pos - strokes.velocities if previous_positions is None else previous_positions
        occ = sample_mask(flow.occluded_prev, prev, flow.scale) | sample_mask(flow.occluded_next, pos, flow.scale)
        # Particles outside the frame are judged by `outside`, not here.
        occ_frac = (occ & inside).sum(axis=1) / np.maximum(inside.sum(axis=1), 1)
        occluded = occ_frac > config.max_occluded_fraction
    else:
        occluded = np.zeros(n, bool)

    labels = _labels_at(regions.labels, pos)
    on_face = (labels == Region.INNER_FACE) | (labels == Region.FEATURES)
    is_face_stroke = strokes.region == Region.INNER_FACE
    wrong = np.where(is_face_stroke[:, None], ~on_face & inside, on_face)
    region = wrong.mean(axis=1) > config.max_wrong_region_fraction
    return DeletionReasons(color=color, strain=strain, outside=outside, occluded=occluded, region=region)


def select_strokes(strokes: StrokeSet, keep: np.ndarray) -> StrokeSet:
    """The strokes where ``keep`` (``(N,)`` bool or an index array) holds, in drawing order.
    Fields that are not per stroke (``springs``) are carried over."""
    out = {}
    for f in fields(strokes):
        value = getattr(strokes, f.name)
        out[f.name] = value if f.name == "springs" else value[keep]
    return StrokeSet(**out)


def merge_strokes(bottom: StrokeSet, top: StrokeSet) -> StrokeSet:
    """One set with ``bottom``'s strokes drawn first, then ``top``'s. Both must share a model."""
    if bottom.positions.shape[1:] != top.positions.shape[1:] or not np.array_equal(bottom.springs, top.springs):
        raise InputError(
            f"cannot merge stroke sets of different models: {bottom.positions.shape[1:]} particles "
            f"/ {bottom.springs.shape[0]} springs vs {top.positions.shape[1:]} / {top.springs.shape[0]}"
        )
    out = {}
    for f in fields(bottom):
        a, b = getattr(bottom, f.name), getattr(top, f.name)
        out[f.name] = a if f.name == "springs" else np.concatenate([a, b.astype(a.dtype, copy=False)], axis=0)
    return StrokeSet(**out)


def uncovered_mask(coverage: np.ndarray, regions: RegionMap, *, config: TemporalConfig = TemporalConfig()) -> np.ndarray:
    """Pixels that need new strokes.

    Parameters
    ----------
    coverage : (H, W) float32 in [0, 1]
        Opacity the current strokes lay down (from the renderer).
    regions : RegionMap

    Returns
    -------
    (H, W) bool
        Pixels of regions 1 and 3 with ``coverage < min_uncovered_coverage``, without specks
        smaller than ``min_hole_px``.
    """
    if coverage.shape != regions.labels.shape:
        raise InputError(f"coverage {coverage.shape} and region map {regions.labels.shape} differ in size")
    need = (coverage < config.min_uncovered_coverage) & (regions.labels != Region.FEATURES)
    if config.min_hole_px > 1 and need.any():
        opened = cv2.morphologyEx(need.view(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        if config.min_hole_px > 9:
            count, lab, stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
            small = stats[:, cv2.CC_STAT_AREA] < config.min_hole_px
            small[0] = False
            opened[small[lab]] = 0
        need = opened.astype(bool)
    return need


def cap_strokes(painting: Painting, max_strokes: int) -> tuple[Painting, int]:
    """Drop the bottom-most background strokes (then face strokes) beyond ``max_strokes``.

    Returns the capped painting and the number of strokes dropped.
    """
    total = len(painting.background) + len(painting.face)
    excess = total - max_strokes
    if excess <= 0:
        return painting, 0
    nb = len(painting.background)
    drop_bg = min(excess, nb)
    bg = select_strokes(painting.background, np.arange(drop_bg, nb))
    face = painting.face
    if excess > drop_bg:
        face = select_strokes(face, np.arange(excess - drop_bg, len(face)))
    return Painting(background=bg, face=face), excess


@dataclass(frozen=True)
class SceneSignature:
    """A small summary of a frame for cut detection: a normalised HSV histogram ``(bins,)`` float32
    and a ``(h, w)`` float32 grey thumbnail in [0, 1]."""

    histogram: np.ndarray
    thumbnail: np.ndarray


def scene_signature(image: np.ndarray, *, thumb_width: int = 64) -> SceneSignature:
    """Summarise an ``(H, W, 3)`` uint8 RGB frame for :func:`scene_cut_score`."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"scene_signature needs an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
    h, w = image.shape[:2]
    tw = max(8, min(thumb_width, w))
    th = max(8, int(round(h * tw / w)))
    small = cv2.resize(image, (tw, th), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256]).ravel()
    hist = (hist / max(hist.sum(), 1.0)).astype(np.float32)
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    return SceneSignature(histogram=hist, thumbnail=gray)


def scene_cut_score(a: SceneSignature, b: SceneSignature) -> float:
    """How likely two consecutive frames belong to different shots, in [0, 1].

    The Bhattacharyya distance of their HSV histograms (changes of palette) combined with the
    mean absolute difference of their contrast-normalised grey thumbnails (changes of layout at
    similar palette); the larger of the two, each scaled so that 1 means "certainly a cut".
    Camera motion within a shot moves the thumbnail a little and the histogram hardly at all.
    """
    bc = float(np.sqrt(a.histogram * b.histogram).sum())
    hist_d = float(np.sqrt(max(0.0, 1.0 - min(bc, 1.0))))
    if a.thumbnail.shape != b.thumbnail.shape:
        return 1.0

    def norm(t: np.ndarray) -> np.ndarray:
        return (t - t.mean()) / (t.std() + 0.05)

    layout_d = float(np.abs(norm(a.thumbnail) - norm(b.thumbnail)).mean()) / 1.6
    return float(min(1.0, max(hist_d / 0.6, layout_d)))


def restrict_to(strokes: StrokeSet, reasons: DeletionReasons) -> StrokeSet:
    """The strokes of ``strokes`` that no reason deletes."""
    return select_strokes(strokes, ~reasons.any)


def reset_dynamics(strokes: StrokeSet) -> StrokeSet:
    """The same strokes with zero velocities and age (used for freshly placed strokes)."""
    return replace(strokes, velocities=np.zeros_like(strokes.positions), age=np.zeros_like(strokes.age))
