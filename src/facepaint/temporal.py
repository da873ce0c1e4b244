"""Keeping a painting alive from frame to frame: stroke deletion, where to add strokes, scene cuts.

After the strokes have been carried into frame ``t`` by the flow and their springs
(:mod:`facepaint.physics`), a stroke is deleted when

* its colour differs too much from the frame under it (the content it painted has gone),
* one of its springs is stretched or squashed past a limit (the flow tore it),
* it has left the frame (all its particles are outside: a stroke partly out of the frame still
  shows its inner part, and removing it there would pop a hole at the border of a pan),
* it lies in an occluded area (forward-backward inconsistent flow: the content it painted is
  hidden in frame ``t``, or the place it landed on shows content that frame ``t-1`` had not)
  and its colour has begun to drift,
* its region changed: a background stroke now lies on a face, a face stroke outside the face,
* it is buried: enough strokes drawn above it are centred in the same small cell
  (:func:`buried_strokes`), which bounds the stroke count where holes are refilled often.

A hard cap (:func:`cap_strokes`) bounds the count whatever happens.

New strokes are then placed, as on the first frame, wherever the remaining strokes leave pixels
uncovered (:func:`uncovered_mask`); they are put *under* the surviving strokes
(:func:`merge_strokes`) so that filling a hole never paints over a stroke that was already seen.
A scene cut (:func:`scene_cut_score`) throws the painting away and paints the new shot afresh.

Everything here works on whole stroke arrays at once (no per-stroke Python loop).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import cv2
import numba
import numpy as np

from facepaint._image import at_nearest_pixel, shrink
from facepaint.errors import InputError
from facepaint.flow import FlowResult
from facepaint.strokes.models import material_points, particle_means
from facepaint.types import Painting, Region, RegionMap, StrokeSet


@dataclass(frozen=True)
class TemporalConfig:
    """Thresholds of the temporal stage.

    Attributes
    ----------
    max_color_distance : float
        Delete a stroke when the Euclidean RGB distance (colours in [0, 1]) between its colour
        and the frame around its material point (3x3 mean) exceeds this.
    max_end_color_distance : float
        Delete a stroke when the frame around either end of its centre line (3x3 mean) differs
        from its colour by more than this: a stroke dragged half across an edge (a motion
        boundary, a static caption over a moving camera) keeps its centre on its content while
        its other end smears over the neighbour's. Placement grew the stroke only while the
        colour stayed within ``PlacementConfig.color_threshold`` of its seed, so at birth the
        ends are mostly within that (0.16) of its colour.
    end_margin : float
        A stroke whose end already differed from its colour by more than
        ``max_end_color_distance`` when it was placed (``StrokeSet.born_end_distance``: an end
        beside a sharp edge reads some of the other side in its 3x3 mean, the letters of a
        caption, a logo) is deleted when its end differs by this much more than then. Tested
        against the bare threshold, such strokes were deleted on their first frame and placed
        again in the same hole, frame after frame (12 % of the strokes of a frame with a news
        caption and a logo, 3 % of crowd_1080p's).
    colour_rate : float
        Colours follow the frame, smoothed in time (Litwinowicz 1997): after the deletions each
        surviving stroke's colour moves this share of the way to the frame's 3x3 mean at its
        material point (:func:`refresh_colours`). Slow changes of light (a fade, an exposure
        change, a title fading out of a flat sky) are followed instead of leaving strokes of
        the old colour behind; abrupt ones still exceed the thresholds above and delete. 0: the
        birth colour is kept (the paper).
    max_strain : float
        Delete a stroke when a spring's ``|l - L| / max(L, 1 px)`` exceeds this (0.6: stretched
        to 1.6x or squashed to 0.4x).
    max_occluded_fraction : float
        Delete a stroke when more than this fraction of its particles is flagged occluded
        and its colour distance exceeds ``occluded_color_distance``.
    occluded_color_distance : float
        See ``max_occluded_fraction`` (0: occlusion alone deletes).
    hidden_cell_thickness, hidden_keep : float, int
        A stroke is *hidden* (deleted) when at least ``hidden_keep`` strokes drawn above it
        have their centre in the same grid cell, the cell being ``hidden_cell_thickness`` times
        the median thickness of the set (rounded, and kept from frame to frame while the median
        stays within a quarter of it: :func:`hidden_cell_px`): it is buried under them. This
        bounds the stroke count where holes are refilled again and again. (On first-frame
        paintings of lp_s32 and foreman, 1.0 and 4 flag at most 0.3 % of the strokes.)
    skip_buried_births : bool
        New strokes that this test would bury in the painting they join are not placed
        (:func:`buried_at_birth`): each would fill a few uncovered pixels for a frame and be
        deleted, and the next would take its place (lower-third stress clip, first 90 frames:
        hidden deletions 156 -> 131 a frame, warping ratio 3.10 -> 2.95; lp_s18 and the small
        face over a pan unchanged).
    max_wrong_region_fraction : float
        Delete a background stroke when more than this fraction of its particles lies on a face
        (regions 1 and 2), and a face stroke when more than this fraction lies outside the face.
    min_uncovered_coverage : float
        A pixel of regions 1 or 3 whose rendered coverage is below this counts as uncovered.
    min_hole_px : float
        Uncovered specks smaller than this area (pixels at 1080p, scaled with the frame's area;
        after a 3x3 opening, which always removes specks thinner than 3 pixels) are ignored:
        they are gaps between strokes, not content, the blurred underpainting shows there, and
        filling them would cost new strokes and a re-render every frame.
    max_strokes : int
        Hard bound on the strokes a painting carries into a frame (both sets together; that
        frame's additions come on top); beyond it the bottom-most (earliest drawn, most
        covered) strokes are dropped. A safety net: the deletions, ``hidden`` above all, keep
        real videos far below it (foreman: 4-9k strokes over 300 frames, crowd_1080p: about
        33k over 60 frames).
    scene_cut_threshold : float
        A frame whose :func:`scene_cut_score` exceeds this starts a new shot.
    fade_in_frames, fade_out_frames : int
        A stroke born in a running painting reaches full opacity over this many frames, and a
        deleted one fades out over as many before it is removed (:func:`fade_strokes`; 1: at
        once, as in the paper). A stroke that appears or vanishes in one frame changes its
        pixels by the whole difference between its paint and what lies under it; spread over
        ``k`` frames the squared change a frame, which the warping error sums, is ``k`` times
        smaller. A deleted stroke stops counting as cover at once, so the stroke that replaces
        it is placed under it in the same frame: the two cross-fade. What fades out is what
        drifted in colour, was torn or buried; a stroke that leaves the frame, lands on the
        wrong side of a face outline or over an occluder is removed at once (the pipeline's
        choice): faded, face strokes trailed as ghosts behind a face turning quickly. Six frames
        (a fifth of a second) instead of three: the lower-third stress clip's warping ratio 3.82
        -> 3.09 and lp_s18's 1.78 -> 1.75 over their first 90 frames
        (``benchmarks/warp_anatomy.py``), the error of the strokes born and deleted there (a third
        of the clip's excess) spread over twice the frames.
    """

    max_color_distance: float = 0.3
    max_end_color_distance: float = 0.45
    end_margin: float = 0.15
    colour_rate: float = 0.25
    max_strain: float = 0.6
    max_occluded_fraction: float = 0.5
    occluded_color_distance: float = 0.1
    hidden_cell_thickness: float = 1.0
    hidden_keep: int = 4
    max_wrong_region_fraction: float = 0.5
    min_uncovered_coverage: float = 0.5
    min_hole_px: float = 64.0
    max_strokes: int = 200_000
    scene_cut_threshold: float = 0.45
    fade_in_frames: int = 6
    fade_out_frames: int = 6
    skip_buried_births: bool = True

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise InputError(f"TemporalConfig.{f.name} must be >= 0, got {getattr(self, f.name)}")
        if self.fade_in_frames < 1 or self.fade_out_frames < 1:
            raise InputError(
                f"TemporalConfig.fade_in_frames and fade_out_frames must be >= 1 (1: no fade), got "
                f"{self.fade_in_frames} and {self.fade_out_frames}"
            )


@dataclass(frozen=True)
class DeletionReasons:
    """Why strokes are deleted; each field is an ``(N,)`` bool array (a stroke may have several)."""

    color: np.ndarray
    strain: np.ndarray
    outside: np.ndarray
    occluded: np.ndarray
    region: np.ndarray
    hidden: np.ndarray

    @property
    def any(self) -> np.ndarray:
        """``(N,)`` bool: strokes deleted for at least one reason."""
        return self.color | self.strain | self.outside | self.occluded | self.region | self.hidden

    def counts(self, among: np.ndarray | None = None) -> dict[str, int]:
        """Number of strokes flagged by each reason (of those where ``among`` holds)."""
        if among is None:
            return {f.name: int(getattr(self, f.name).sum()) for f in fields(self)}
        return {f.name: int((getattr(self, f.name) & among).sum()) for f in fields(self)}


def _check_strokes(strokes: StrokeSet) -> None:
    if strokes.positions.ndim != 3 or strokes.positions.shape[2] != 2:
        raise InputError(f"StrokeSet.positions must be (N, P, 2), got {strokes.positions.shape}")


def deletion_reasons(
    strokes: StrokeSet,
    image: np.ndarray,
    regions: RegionMap,
    *,
    flow: FlowResult | None = None,
    previous_positions: np.ndarray | None = None,
    config: TemporalConfig = TemporalConfig(),
    centre_means: np.ndarray | None = None,
    hidden_cell: float | None = None,
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
    centre_means : (N, 3) float32, optional
        :func:`centre_colours` of the strokes on ``image``, when the caller has them (the
        pipeline reads them once for this test and :func:`refresh_colours`).
    hidden_cell : float, optional
        Cell of the ``hidden`` test in pixels; a video passes the one it keeps from frame to
        frame (:func:`hidden_cell_px` with ``previous``). Default: this set's.

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
        return DeletionReasons(empty, empty, empty, empty, empty, empty)
    pos = np.ascontiguousarray(strokes.positions, np.float32)
    if flow is not None:
        if flow.occluded_prev is None or flow.occluded_next is None:
            raise InputError("deletion_reasons needs a complete flow with its occlusion masks (FlowEstimator.__call__ "
                             "or FlowEstimator.complete), got a forward-only one")
        prev = pos - strokes.velocities if previous_positions is None else previous_positions
        occ_prev, occ_next, scale = flow.occluded_prev, flow.occluded_next, flow.scale
    else:
        prev = pos
        occ_prev = occ_next = np.zeros((1, 1), bool)
        scale = 1.0
    distance = np.empty(n, np.float32)
    strain_max = np.empty(n, np.float32)
    # The particles' mean, made by the kernel (numpy's mean over axis 1 of (N, P, 2) took 3.4 ms
    # at 16k strokes).
    centres = np.empty((n, 2), np.float32)
    in_frame = np.empty(n, np.bool_)
    occ_frac = np.empty(n, np.float32)
    wrong_frac = np.empty(n, np.float32)
    if centre_means is None:
        means = centre_colours(strokes, image)
    elif np.shape(centre_means) != (n, 3):
        raise InputError(f"deletion_reasons: centre_means must be ({n}, 3), got {np.shape(centre_means)}")
    else:
        means = np.ascontiguousarray(centre_means, np.float32)
    _measure(
        pos, np.ascontiguousarray(prev, np.float32), np.ascontiguousarray(strokes.colors, np.float32), means,
        np.ascontiguousarray(strokes.rest_lengths, np.float32), np.ascontiguousarray(strokes.springs, np.int32),
        np.ascontiguousarray(strokes.region == Region.INNER_FACE),
        np.ascontiguousarray(regions.labels, np.uint8),
        np.ascontiguousarray(occ_prev), np.ascontiguousarray(occ_next), np.float32(1.0 / scale), flow is not None,
        distance, strain_max, centres, in_frame, occ_frac, wrong_frac,
    )
    color = distance > config.max_color_distance
    if pos.shape[1] in (4, 6):
        allowed = np.fmax(np.float32(config.max_end_color_distance), strokes.born_end_distance + np.float32(config.end_margin))
        color |= end_distances(pos, strokes.colors, image) > allowed
    strain = strain_max > config.max_strain
    # A stroke leaves when no particle is left in the frame. With the centre as the test (before),
    # a stroke half out of the frame was removed at once while its inner half was still seen: on
    # a pan, a pop along the whole leaving border every frame.
    outside = ~in_frame
    # The forward-backward test of a fast flow also fires on flat, textureless areas; a stroke
    # whose colour still matches the frame there is harmless, and deleting it would only make the
    # painting churn. Occlusion deletes when the colour has started to drift too.
    occluded = (occ_frac > config.max_occluded_fraction) & (distance > config.occluded_color_distance)
    region = wrong_frac > config.max_wrong_region_fraction
    cell = hidden_cell_px(strokes.thickness, config) if hidden_cell is None else hidden_cell
    hidden = _hidden(centres, strokes.fading_out, cell, config)
    return DeletionReasons(color=color, strain=strain, outside=outside, occluded=occluded, region=region, hidden=hidden)


def face_track_changed(
    strokes: StrokeSet, previous_ids: np.ndarray | None, current_ids: np.ndarray | None, *,
    tracked_before: np.ndarray | None = None, tracked_now: np.ndarray | None = None,
) -> np.ndarray:
    """``(N,)`` bool: strokes whose region changed because a face's track began or ended under
    them, not because they moved across a face's outline: a face stroke on a face tracked in
    the previous frame (read at its centre there, ``positions - velocities``) that no face of
    this frame continues, or a background stroke on a face of this frame that was not tracked
    in the previous one. ``previous_ids`` and ``current_ids`` are the frames'
    ``RegionMap.face_ids`` (track id under a pixel, -1 none; None: no face map, nothing flagged);
    ``tracked_before`` and ``tracked_now`` the track ids of their faces, when the caller has them
    (default: read from the maps).

    Such strokes are still on the content they painted, so the pipeline fades them out
    (``TemporalConfig.fade_out_frames``) while what replaces them fades in under them, instead
    of removing them at once: a face the model loses (turned away, a false detection ending)
    or finds was a whole face of strokes changing in one frame (the lower-third stress clip's
    largest frame error, 3,564 face strokes at once where a false detection's track ended)."""
    n = len(strokes)
    if n == 0 or previous_ids is None or current_ids is None:
        return np.zeros(n, bool)
    if previous_ids.shape != current_ids.shape:
        raise InputError(f"face id maps differ in size: {previous_ids.shape} and {current_ids.shape}")
    tracked_before = np.unique(previous_ids if tracked_before is None else tracked_before)
    tracked_now = np.unique(current_ids if tracked_now is None else tracked_now)
    if np.array_equal(tracked_before, tracked_now):
        return np.zeros(n, bool)  # no track began or ended (most frames: 3 ms saved at 1080p)
    now = particle_means(strokes.positions)
    before = now - particle_means(strokes.velocities)
    is_face = np.asarray(strokes.region == Region.INNER_FACE)
    was = at_nearest_pixel(previous_ids, before)
    ended = is_face & (was >= 0) & ~np.isin(was, tracked_now)
    on = at_nearest_pixel(current_ids, now)
    began = ~is_face & (on >= 0) & ~np.isin(on, tracked_before)
    return ended | began


def end_distances(positions: np.ndarray, colors: np.ndarray, image: np.ndarray) -> np.ndarray:
    """(N,) float32: the larger RGB distance of each stroke's colour (N, 3) to the frame's 3x3
    mean (:func:`colour_means`) at the two ends of its centre line, the midpoints of its first
    and of its last particle pair (particles ``0 .. P/2-1`` are one side of the ladder,
    ``P/2 .. P-1`` the other) of ``positions (N, P, 2)``."""
    image, unit = _summable(image, "end_distances")
    pos = np.ascontiguousarray(positions, np.float32)
    out = np.empty(pos.shape[0], np.float32)
    if len(out):
        # One pass: the ends, their means and the distances (numpy's ends and norms around
        # colour_means cost as much as the means).
        _end_distances(image, pos, np.ascontiguousarray(colors, np.float32), unit, out)
    return out


@numba.njit(cache=True, parallel=True, fastmath=True, nogil=True)
def _end_distances(image, pos, colors, unit, out):  # pragma: no cover - numba
    """``out[i]``: the larger distance of ``colors[i]`` to the 3x3 means (:func:`_box_mean3`,
    times ``unit``) at the two ends of stroke ``i`` (see :func:`end_distances`)."""
    h, w, _ = image.shape
    flat = image.reshape(-1)
    half = pos.shape[1] // 2
    last = pos.shape[1] - 1
    for i in numba.prange(pos.shape[0]):
        best = np.float32(0.0)
        for e in range(2):
            a = 0 if e == 0 else half - 1
            b = half if e == 0 else last
            x = np.float32(0.5) * (pos[i, a, 0] + pos[i, b, 0])
            y = np.float32(0.5) * (pos[i, a, 1] + pos[i, b, 1])
            m0, m1, m2 = _box_mean3(flat, h, w, x, y)
            d0 = m0 * unit - colors[i, 0]
            d1 = m1 * unit - colors[i, 1]
            d2 = m2 * unit - colors[i, 2]
            d = np.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
            if e == 0 or d > best or d != d:
                best = d
        out[i] = best


def take_end_distances(strokes: StrokeSet, image: np.ndarray) -> StrokeSet:
    """``strokes``, just placed on ``image``, with their ``born_end_distance`` measured there
    (see ``TemporalConfig.end_margin``)."""
    if len(strokes) == 0 or strokes.particles_per_stroke not in (4, 6):
        return strokes
    positions = np.ascontiguousarray(strokes.positions, np.float32)
    return replace(strokes, born_end_distance=end_distances(positions, strokes.colors, image))


def refresh_colours(strokes: StrokeSet, image: np.ndarray, *, rate: float, centre_means: np.ndarray | None = None) -> StrokeSet:
    """Strokes whose colours moved ``rate`` of the way to the frame's 3x3 mean at their material
    points (see ``TemporalConfig.colour_rate``).

    Parameters
    ----------
    strokes : StrokeSet
    image : (H, W, 3) uint8 RGB, the current frame
    rate : float in [0, 1]
    centre_means : (N, 3) float32, optional
        :func:`centre_colours` of the strokes on ``image``, when the caller has them.

    Returns
    -------
    StrokeSet
    """
    if not 0.0 <= rate <= 1.0:
        raise InputError(f"colour rate must be in [0, 1], got {rate}")
    if rate == 0.0 or len(strokes) == 0:
        return strokes
    _check_strokes(strokes)
    if centre_means is None:
        centre_means = centre_colours(strokes, image)
    elif np.shape(centre_means) != (len(strokes), 3):
        raise InputError(f"refresh_colours: centre_means must be ({len(strokes)}, 3), got {np.shape(centre_means)}")
    colors = np.asarray(strokes.colors, np.float32)
    return replace(strokes, colors=(colors + np.float32(rate) * (centre_means - colors)).astype(np.float32))


def centre_colours(strokes: StrokeSet, image: np.ndarray) -> np.ndarray:
    """``(N, 3)`` float32: the frame's 3x3 mean colour (:func:`colour_means`) at each stroke's
    material point (:func:`facepaint.strokes.models.material_points`; the particles' mean for
    other models), what the colour test and the colour refresh read."""
    pos = np.ascontiguousarray(strokes.positions, np.float32)
    points = material_points(pos) if pos.shape[1] in (4, 6) else pos.mean(axis=1)
    return colour_means(image, points)


def colour_means(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The mean colour of the 3x3 pixels around each point, in [0, 1] units: the 3x3 box sums
    (border replicated) read bilinearly at the points (clamped to the frame), which, as the box
    filter and bilinear interpolation commute, is the mean of nine bilinear reads one pixel
    apart wherever the point lies in the frame.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB (sums exact), or float in [0, 1]
    points : (N, 2) float32 ``(x, y)`` pixels

    Returns
    -------
    (N, 3) float32
    """
    image, unit = _summable(image, "colour_means")
    pts = np.ascontiguousarray(points, np.float32).reshape(-1, 2)
    out = np.empty((pts.shape[0], 3), np.float32)
    if len(pts):
        _box_means(image, pts, out)
    out *= unit
    return out


def _summable(image: np.ndarray, caller: str) -> tuple[np.ndarray, np.float32]:
    """``image`` checked to be (H, W, 3) and made C-contiguous, uint8 (summed exactly) or else
    float32, with the factor that turns its 3x3 sums into means in [0, 1] units."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"{caller} needs an (H, W, 3) image, got {image.shape}")
    if image.dtype != np.uint8:
        image = np.asarray(image, np.float32)
    return np.ascontiguousarray(image), np.float32(1.0 / (9.0 * 255.0) if image.dtype == np.uint8 else 1.0 / 9.0)


@numba.njit(inline="always")
def _column(flat, ra, rb, rc, col, k):  # pragma: no cover - numba
    """Sum of channel ``k`` of the flattened (H, W, 3) image at column ``col`` of the rows that
    start at flat pixel ``ra``, ``rb`` and ``rc``."""
    u3 = np.uint64(3)
    return flat[(ra + col) * u3 + k] + flat[(rb + col) * u3 + k] + flat[(rc + col) * u3 + k]


@numba.njit(cache=True, parallel=True, fastmath=True, nogil=True)
def _box_means(image, points, out):  # pragma: no cover - numba
    """``out[i]``: the 3x3 box sums of ``image`` (border replicated) at the four pixels around
    ``points[i]``, bilinearly weighted, from the 4x4 pixels those boxes cover (one read each:
    a box filter of the whole frame, read at a few thousand points, cost more). Integer images
    sum exactly (numba adds them as int64); the interpolation is that of
    :func:`facepaint.flow.sample_field`."""
    h, w, _ = image.shape
    flat = image.reshape(-1)
    for i in numba.prange(points.shape[0]):
        out[i, 0], out[i, 1], out[i, 2] = _box_mean3(flat, h, w, points[i, 0], points[i, 1])


@numba.njit(inline="always", fastmath=True)
def _box_mean3(flat, h, w, x, y):  # pragma: no cover - numba
    """The three channels of :func:`_box_means` at ``(x, y)`` of the flattened (h, w, 3) image,
    in float32 (the fractions of an integer pixel are float32: ``x - x0`` with an integer ``x0``
    had made the interpolation float64)."""
    x = min(max(x, np.float32(0.0)), np.float32(w - 1.0))
    y = min(max(y, np.float32(0.0)), np.float32(h - 1.0))
    x0 = min(np.int32(x), np.int32(w - 2)) if w > 1 else np.int32(0)
    y0 = min(np.int32(y), np.int32(h - 2)) if h > 1 else np.int32(0)
    fx = x - np.float32(x0)
    fy = y - np.float32(y0)
    # Rows y0 - 1 .. y0 + 2 and columns x0 - 1 .. x0 + 2, clamped; unsigned flat indices
    # (numba's negative-index checks would be most of the loop).
    r0 = np.uint64(max(y0 - 1, 0) * w)
    r1 = np.uint64(y0 * w)
    r2 = np.uint64(min(y0 + 1, h - 1) * w)
    r3 = np.uint64(min(y0 + 2, h - 1) * w)
    c0 = np.uint64(max(x0 - 1, 0))
    c1 = np.uint64(x0)
    c2 = np.uint64(min(x0 + 1, w - 1))
    c3 = np.uint64(min(x0 + 2, w - 1))
    m0 = _interpolated(flat, r0, r1, r2, r3, c0, c1, c2, c3, fx, fy, np.uint64(0))
    m1 = _interpolated(flat, r0, r1, r2, r3, c0, c1, c2, c3, fx, fy, np.uint64(1))
    m2 = _interpolated(flat, r0, r1, r2, r3, c0, c1, c2, c3, fx, fy, np.uint64(2))
    return m0, m1, m2


@numba.njit(inline="always", fastmath=True)
def _interpolated(flat, r0, r1, r2, r3, c0, c1, c2, c3, fx, fy, k):  # pragma: no cover - numba
    """Channel ``k``: the 3x3 sums about the four pixels at rows r1, r2 and columns c1, c2,
    weighted bilinearly by ``fx, fy``."""
    up0 = _column(flat, r0, r1, r2, c0, k)
    up1 = _column(flat, r0, r1, r2, c1, k)
    up2 = _column(flat, r0, r1, r2, c2, k)
    up3 = _column(flat, r0, r1, r2, c3, k)
    low0 = _column(flat, r1, r2, r3, c0, k)
    low1 = _column(flat, r1, r2, r3, c1, k)
    low2 = _column(flat, r1, r2, r3, c2, k)
    low3 = _column(flat, r1, r2, r3, c3, k)
    a = np.float32(up0 + up1 + up2)
    b = np.float32(up1 + up2 + up3)
    top = a + fx * (b - a)
    a = np.float32(low0 + low1 + low2)
    b = np.float32(low1 + low2 + low3)
    bot = a + fx * (b - a)
    return top + fy * (bot - top)


def buried_strokes(centres: np.ndarray, *, cell_px: float, keep: int, bury: np.ndarray | None = None) -> np.ndarray:
    """Strokes with at least ``keep`` later-drawn strokes centred in the same grid cell.

    Parameters
    ----------
    centres : (N, 2) float32
        Stroke centres in drawing order (row 0 drawn first).
    cell_px : float
        Grid cell size in pixels.
    keep : int
        How many strokes a cell keeps (the top-most ones); 0 keeps all.
    bury : (N,) bool, optional
        The strokes that count as burying those under them (default all). Strokes fading out
        do not: a stroke placed under them, to show when they are gone, is not buried by them.

    Returns
    -------
    (N,) bool
    """
    n = centres.shape[0]
    if n == 0 or keep <= 0:
        return np.zeros(n, bool)
    bury = np.ones(n, bool) if bury is None else np.asarray(bury, bool)
    if bury.shape != (n,):
        raise InputError(f"buried_strokes: bury must be ({n},) bool, got {bury.shape}")
    cx = np.floor(centres[:, 0] / cell_px).astype(np.int64)
    cy = np.floor(centres[:, 1] / cell_px).astype(np.int64)
    cx -= cx.min()
    cy -= cy.min()
    cell = cy * (int(cx.max()) + 1) + cx
    cells = int(cell.max()) + 1
    if cells <= 64 * n + 1_000_000:
        # The usual case, the centres within a frame: one pass from the top of the stack down,
        # counting per cell (a lexsort of 31k strokes cost 3 ms).
        out = np.empty(n, bool)
        _count_from_top(cell, bury, np.zeros(cells, np.int32), keep, out)
        return out
    # Sort by cell, then from the top of the stack down (stable on the reversed order); a
    # stroke's rank is the number of burying strokes before it in its cell.
    order = np.lexsort((-np.arange(n), cell))
    sorted_cells = cell[order]
    first = np.r_[0, np.flatnonzero(np.diff(sorted_cells)) + 1]
    starts = np.repeat(first, np.diff(np.r_[first, n]))
    counted = np.r_[0, np.cumsum(bury[order])]  # burying strokes before each sorted position
    rank = counted[:-1] - counted[starts]
    out = np.zeros(n, bool)
    out[order] = rank >= keep
    return out


@numba.njit(cache=True)
def _count_from_top(cell, bury, counts, keep, out):  # pragma: no cover - numba
    """``out[i]``: at least ``keep`` burying strokes (``bury``) after ``i`` share its ``cell``."""
    for i in range(cell.shape[0] - 1, -1, -1):
        c = cell[i]
        out[i] = counts[c] >= keep
        if bury[i]:
            counts[c] += 1


@numba.njit(cache=True, parallel=True, fastmath=True)
def _measure(pos, prev, colors, means, rest, springs, is_face, labels, occ_prev, occ_next,
             inv_scale, has_flow, distance, strain_max, centres, in_frame, occ_frac, wrong_frac):  # pragma: no cover - numba
    """Per-stroke measures of :func:`deletion_reasons` in one pass (see there for their meaning).

    Colour: Euclidean distance between ``means``, the mean of the image over the 3x3 pixels
    around each stroke's material point, and the stroke's colour, which placement took there
    from a slightly blurred frame. (The mean over the particles would not do: they lie on the
    stroke's outline, and on a textured area they disagree with the stroke's colour from birth.) Strain: max over springs of ``|l - L| / max(L, 1)``. Occlusion: share of the
    in-frame particles whose prev position is flagged in ``occ_prev`` or whose current one is in
    ``occ_next`` (nearest working pixel). Wrong region: share of particles on a face (labels 1, 2)
    for a background stroke, share of the in-frame particles that are off the face for a face
    stroke (a face stroke half out of the frame whose in-frame half is off the face is all wrong).
    In frame: some particle is in the frame.
    """
    n, p, _ = pos.shape
    h, w = labels.shape
    oh, ow = occ_prev.shape
    n_springs = springs.shape[0]
    for k in numba.prange(n):
        cx = 0.0
        cy = 0.0
        inside = 0
        occ = 0
        wrong = 0
        for i in range(p):
            x = pos[k, i, 0]
            y = pos[k, i, 1]
            cx += x
            cy += y
            is_in = x >= -0.5 and x <= w - 0.5 and y >= -0.5 and y <= h - 0.5
            lab = 0
            if is_in:
                inside += 1
                lab = labels[min(max(int(y + 0.5), 0), h - 1), min(max(int(x + 0.5), 0), w - 1)]
                if has_flow:
                    ox = int(np.floor((prev[k, i, 0] + 0.5) * inv_scale))
                    oy = int(np.floor((prev[k, i, 1] + 0.5) * inv_scale))
                    flagged = True
                    if ox >= 0 and ox < ow and oy >= 0 and oy < oh:
                        flagged = occ_prev[oy, ox]
                    if not flagged:
                        ox = int(np.floor((x + 0.5) * inv_scale))
                        oy = int(np.floor((y + 0.5) * inv_scale))
                        flagged = True
                        if ox >= 0 and ox < ow and oy >= 0 and oy < oh:
                            flagged = occ_next[oy, ox]
                    if flagged:
                        occ += 1
            on_face = lab == 1 or lab == 2
            if is_face[k]:
                if is_in and not on_face:
                    wrong += 1
            elif on_face:
                wrong += 1
        dr = means[k, 0] - colors[k, 0]
        dg = means[k, 1] - colors[k, 1]
        db = means[k, 2] - colors[k, 2]
        distance[k] = np.sqrt(dr * dr + dg * dg + db * db)
        cx /= p
        cy /= p
        centres[k, 0] = cx
        centres[k, 1] = cy
        in_frame[k] = inside > 0
        occ_frac[k] = occ / max(inside, 1)
        # a face stroke half out of the frame with its in-frame half off the face is all wrong
        wrong_frac[k] = wrong / max(inside, 1) if is_face[k] else wrong / p
        worst = 0.0
        for j in range(n_springs):
            a = springs[j, 0]
            c = springs[j, 1]
            dx = pos[k, c, 0] - pos[k, a, 0]
            dy = pos[k, c, 1] - pos[k, a, 1]
            length = np.sqrt(dx * dx + dy * dy)
            strain_j = abs(length - rest[k, j]) / max(rest[k, j], 1.0)
            worst = max(worst, strain_j)
        strain_max[k] = worst


def select_strokes(strokes: StrokeSet, keep: np.ndarray) -> StrokeSet:
    """The strokes where ``keep`` (``(N,)`` bool or an index array) holds, in drawing order.
    Fields that are not per stroke (``springs``) are carried over."""
    keep = np.asarray(keep)
    if keep.dtype == np.bool_ and keep.shape != (len(strokes),):
        raise InputError(f"select_strokes: a mask must be ({len(strokes)},) bool, got {keep.shape}")
    return strokes.take(np.flatnonzero(keep) if keep.dtype == np.bool_ else keep)


def fade_strokes(strokes: StrokeSet, deleted: np.ndarray, removed: np.ndarray, config: TemporalConfig = TemporalConfig()) -> StrokeSet:
    """One frame of fading (see ``TemporalConfig.fade_in_frames``).

    Strokes flagged ``deleted`` start fading out (those already fading go on), lose
    ``1 / fade_out_frames`` of opacity and are dropped at zero; the others gain
    ``1 / fade_in_frames`` up to full opacity; strokes flagged ``removed`` are dropped at once.

    Parameters
    ----------
    strokes : StrokeSet
    deleted, removed : (N,) bool

    Returns
    -------
    StrokeSet
        The strokes kept, in drawing order.
    """
    going = np.asarray(strokes.fading_out, bool) | np.asarray(deleted, bool)
    opacity = np.where(
        going,
        strokes.opacity - np.float32(1.0 / config.fade_out_frames),
        np.minimum(strokes.opacity + np.float32(1.0 / config.fade_in_frames), np.float32(1.0)),
    ).astype(np.float32)
    keep = (opacity > 1e-4) & ~np.asarray(removed, bool)
    return select_strokes(replace(strokes, opacity=opacity, fading_out=going), keep)


def hidden_cell_px(thickness: np.ndarray, config: TemporalConfig = TemporalConfig(), previous: float | None = None) -> float:
    """The cell of the ``hidden`` test: ``hidden_cell_thickness`` times the median thickness of
    the strokes, rounded to whole pixels, or ``previous`` (the cell of the last frame) while that
    median stays within a quarter of it.

    The grid must stand still while the strokes do: its lines lie at multiples of the cell, so a
    cell that followed every frame's median (10.84-10.86 px over the sky of the title stress clip
    as strokes came and went) moved the grid's far lines by pixels a frame, a different set of
    strokes counted as buried each frame, and about 130 of the 190 strokes placed in each frame
    (kept by :func:`buried_at_birth` against that frame's grid) were deleted as hidden in the next.
    """
    wanted = config.hidden_cell_thickness * float(np.median(thickness)) if len(thickness) else 1.0
    if previous is not None and abs(wanted / previous - 1.0) <= 0.25:
        return float(previous)
    return max(1.0, float(np.round(wanted)))


def _hidden(centres: np.ndarray, fading_out: np.ndarray, cell_px: float, config: TemporalConfig) -> np.ndarray:
    """The ``hidden`` test of :func:`deletion_reasons` on strokes in drawing order: buried under
    ``hidden_keep`` strokes that are not fading out, in cells of ``cell_px``
    (:func:`hidden_cell_px`)."""
    return buried_strokes(centres, cell_px=cell_px, keep=config.hidden_keep, bury=~np.asarray(fading_out, bool))


def buried_at_birth(
    new: StrokeSet, old: StrokeSet, config: TemporalConfig = TemporalConfig(), *, hidden_cell: float | None = None
) -> np.ndarray:
    """``(len(new),) bool``: the new strokes, to be placed under ``old``, that the deletion test
    would find buried (``hidden``) in the painting they join (:func:`deletion_reasons`, same cell
    and count): placed, each would fill its few uncovered pixels for a frame, then be deleted,
    reopening them for the next one to fill (on the lower-third stress clip a third of the
    strokes that began to fade out were at most six frames old). Left out, the few pixels show
    the underpainting of the current frame, which does not churn. ``hidden_cell``: the cell the
    next deletion test will use (default: :func:`hidden_cell_px` of both sets)."""
    if len(new) == 0 or config.hidden_keep <= 0:
        return np.zeros(len(new), bool)
    if len(old) and new.positions.shape[1:] != old.positions.shape[1:]:
        raise InputError(f"buried_at_birth: new strokes of {new.positions.shape[1]} particles, old of {old.positions.shape[1]}")
    # Drawing order of the painting they join: the new strokes first (under the old ones).
    if hidden_cell is None:
        hidden_cell = hidden_cell_px(np.concatenate([new.thickness, old.thickness]), config)
    hidden = _hidden(
        np.concatenate([particle_means(new.positions), particle_means(old.positions)]),
        np.concatenate([np.asarray(new.fading_out, bool), np.asarray(old.fading_out, bool)]),
        hidden_cell,
        config,
    )
    return hidden[: len(new)]


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
        smaller than ``min_hole_px`` (scaled).
    """
    if coverage.shape != regions.labels.shape:
        raise InputError(f"coverage {coverage.shape} and region map {regions.labels.shape} differ in size")
    # One parallel pass for the test; the morphology on the uint8 mask in OpenCV; the specks
    # are cleared in a second pass (a full-frame fancy index of the labels cost more than all
    # the rest at 1080p).
    need = np.empty(coverage.shape, np.uint8)
    h, w = coverage.shape
    row_counts = np.empty(h, np.int64)
    col_lo = np.empty(h, np.int64)
    col_hi = np.empty(h, np.int64)
    _below(np.ascontiguousarray(coverage, np.float32), np.ascontiguousarray(regions.labels, np.uint8),
           np.float32(config.min_uncovered_coverage), np.uint8(Region.FEATURES), need, row_counts, col_lo, col_hi)
    min_hole = config.min_hole_px * float(np.clip(min(coverage.shape) / 1080.0, 0.0, 2.0)) ** 2
    rows = np.flatnonzero(row_counts)
    if config.min_hole_px > 0 and len(rows):
        # The opening and the components within the box of the candidate pixels (grown by one
        # pixel, so that the result is that of the whole frame): holes are usually a few spots.
        y0, y1 = max(0, rows[0] - 1), min(h, rows[-1] + 2)
        x0, x1 = max(0, int(col_lo[rows].min()) - 1), min(w, int(col_hi[rows].max()) + 2)
        box = cv2.morphologyEx(need[y0:y1, x0:x1], cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        if min_hole > 9:
            _, lab, stats, _ = cv2.connectedComponentsWithStats(box, connectivity=8)
            small = stats[:, cv2.CC_STAT_AREA] < min_hole
            small[0] = False
            if small.any():
                _clear_labels(box, lab, small)
        need[y0:y1, x0:x1] = box
    return need.view(bool)


@numba.njit(cache=True, parallel=True)
def _below(coverage, labels, threshold, excluded, out, counts, first, last):  # pragma: no cover - numba
    """``out = (coverage < threshold) & (labels != excluded)`` as 0/1 uint8; per row its count
    of set pixels and the columns of its first and last (in the same pass: numpy's
    ``any`` over each axis of the mask cost more than the test)."""
    h, w = coverage.shape
    for y in numba.prange(h):
        row = 0
        lo = w
        hi = -1
        for x in range(w):
            v = np.uint8(1) if coverage[y, x] < threshold and labels[y, x] != excluded else np.uint8(0)
            out[y, x] = v
            if v:
                row += 1
                lo = min(lo, x)
                hi = x
        counts[y] = row
        first[y] = lo
        last[y] = hi


@numba.njit(cache=True, parallel=True)
def _clear_labels(mask, labels, clear):  # pragma: no cover - numba
    """``mask[clear[labels]] = 0`` in place."""
    h, w = mask.shape
    for y in numba.prange(h):
        for x in range(w):
            if clear[labels[y, x]]:
                mask[y, x] = 0


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
    of the frame with its brightness normalised (see :func:`scene_signature`), a ``(h, w)``
    float32 grey thumbnail in [0, 1], and whether the frame is too dark for its palette to mean
    anything (``dark``)."""

    histogram: np.ndarray
    thumbnail: np.ndarray
    dark: bool = False


#: A frame whose 98th percentile of HSV value (0-255) is under this is "dark" (SceneSignature.dark).
DARK_VALUE = 24.0


def scene_signature(image: np.ndarray, *, thumb_width: int = 64) -> SceneSignature:
    """Summarise an ``(H, W, 3)`` uint8 RGB frame for :func:`scene_cut_score`.

    The histogram's value axis is the HSV value over the frame's own median of it (a median:
    a small bright object appearing does not shift the rest): a fade (a gain on the whole
    frame) leaves the histogram as it was. Counted as it is, the value moved across the
    histogram's bins as the frame darkened, and a fade to black and back read as ten scene
    cuts, each a painting made afresh (the fade stress clip: 14,700 strokes replaced at once
    at frames 68, 73, 74, 78, ...; the output's warping error 6-11x the input's on each). A
    frame too dark for that (``DARK_VALUE``) is marked ``dark``."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"scene_signature needs an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
    h, w = image.shape[:2]
    tw = max(8, min(thumb_width, w))
    th = max(8, int(round(h * tw / w)))
    small = shrink(image, (tw, th))
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    value = hsv[..., 2]
    dark = float(np.percentile(value, 98)) < DARK_VALUE
    reference = float(np.median(value))
    if not dark and reference >= 4.0:  # (a frame mostly black keeps its values: a title on black)
        hsv[..., 2] = np.clip(value.astype(np.float32) * (128.0 / reference), 0, 255).astype(np.uint8)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256]).ravel()
    hist = (hist / max(hist.sum(), 1.0)).astype(np.float32)
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    return SceneSignature(histogram=hist, thumbnail=gray, dark=dark)


def scene_cut_score(a: SceneSignature, b: SceneSignature) -> float:
    """How likely two consecutive frames belong to different shots, in [0, 1].

    The Bhattacharyya distance of their HSV histograms (changes of palette) combined with the
    mean absolute difference of their contrast-normalised grey thumbnails (changes of layout at
    similar palette); the larger of the two, each scaled so that 1 means "certainly a cut".
    Camera motion within a shot moves the thumbnail a little and the histogram hardly at all;
    a fade changes neither (both are normalised for brightness). Where either frame is dark
    (``SceneSignature.dark``) the thumbnails alone decide: a fade into black and out of it is
    no cut, a cut to a black frame is (the thumbnail's layout is gone).
    """
    hist_d = 0.0
    if not (a.dark or b.dark):
        bc = float(np.sqrt(a.histogram * b.histogram).sum())
        hist_d = float(np.sqrt(max(0.0, 1.0 - min(bc, 1.0))))
    if a.thumbnail.shape != b.thumbnail.shape:
        return 1.0

    def norm(t: np.ndarray) -> np.ndarray:
        return (t - t.mean()) / (t.std() + 0.05)

    layout_d = float(np.abs(norm(a.thumbnail) - norm(b.thumbnail)).mean()) / 1.6
    return float(min(1.0, max(hist_d / 0.6, layout_d)))
