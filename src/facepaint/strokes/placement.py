"""Placing the strokes of one frame (the paper's first-frame painting, regions 3 and 1).

Region 3 (background): repeatedly take a random pixel not yet covered and grow a 6-particle
stroke from it along the edge tangent flow, both ways, until its length reaches the limit that
the saliency sets, the flow turns too sharply, the colour departs from the seed's or the region
ends; its thickness also comes from the saliency (small strokes where salient, large where not)
and is capped near strong edges so that strokes do not straddle them. The stroke's inner footprint
is marked covered, and this goes on until every pixel of region 3 is covered.

Region 1 (inner face): from a random uncovered pixel ``a``, walk along the tangent flow until it
turns by more than 30 degrees or 5 pixels are passed, giving ``b``: a 4-particle stroke from ``a``
to ``b`` of thickness 3 with the source colour, until region 1 is covered.

Region 2 (features) is not made of strokes: the renderer composites the source through the
feathered feature mask.

The random order is a permutation drawn from the caller's generator, so placement is deterministic
for a given seed. The per-stroke work is a numba kernel (:mod:`facepaint.strokes._place`); the
seed loop is inherently sequential (each stroke changes what is covered).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from facepaint._image import at_nearest_pixel
from facepaint.errors import InputError
from facepaint.strokes._place import grid_sizes_kernel, place_kernel, size_maps_kernel
from facepaint.strokes.models import empty_stroke_set, material_points, rest_lengths, springs_for
from facepaint.types import OrientationField, Painting, Region, RegionMap, StrokeSet


@dataclass(frozen=True)
class PlacementConfig:
    """Parameters of :func:`place_strokes`. Pixel sizes are for a frame whose shorter side is
    ``reference_side_px``; they scale with the frame (``size_scale``) within [min_scale, max_scale],
    then by ``stroke_scale``, the user's choice of how strongly the background is painted (2: strokes
    twice as thick and long; face strokes keep the paper's sizes whatever it is)."""

    thickness_min_px: float = 4.0  #: region-3 thickness where saliency is 1
    thickness_max_px: float = 18.0  #: region-3 thickness where saliency is 0
    saliency_gamma: float = 0.7  #: thickness = max - (max - min) * saliency ** gamma
    length_ratio: float = 3.5  #: longest centre line, in thicknesses
    min_length_ratio: float = 0.6  #: shortest centre line, in thicknesses (a dab)
    edge_threshold: float = 0.3  #: normalised gradient magnitude of a "strong edge"
    edge_thickness_slack_px: float = 2.0  #: thickness <= 2 * distance to a strong edge + slack
    color_threshold: float = 0.16  #: growth stops where the colour differs more (RGB, [0, 1])
    max_turn_step_deg: float = 40.0  #: growth stops where one step turns more than this
    step_px: float = 1.0  #: tracing step along the flow
    color_blur_sigma_px: float = 1.0  #: the source is blurred this much before colours are taken
    reference_side_px: int = 1080
    min_scale: float = 0.5
    max_scale: float = 2.0
    min_thickness_px: float = 2.0  #: no region-3 stroke is thinner than this after scaling
    cover_width: float = 0.7  #: fraction of the thickness marked covered around the centre line
    cover_cap: float = 0.5  #: fraction of the half-thickness cap marked covered at the ends
    face_thickness_px: float = 3.0  #: region-1 stroke thickness (paper: 3)
    face_walk_px: float = 5.0  #: region-1 walk length from a to b (paper: 5)
    face_max_turn_deg: float = 30.0  #: region-1 walk stops when the flow has turned more (paper: 30)
    face_color_threshold: float = 0.25  #: region-1 walk also stops at a colour change this large
    brush_variants: int = 4  #: brush index drawn uniformly in [0, brush_variants)
    stroke_scale: float = 1.0  #: multiplies every region-3 size (thickness, length, slack)

    def __post_init__(self) -> None:
        if not (np.isfinite(self.stroke_scale) and 0.05 <= self.stroke_scale <= 20.0):
            raise InputError(f"stroke_scale must be a number in [0.05, 20] (1: the default size), got {self.stroke_scale}")


def size_scale(shape: tuple[int, int], config: PlacementConfig) -> float:
    """Factor applied to the region-3 pixel sizes for a frame of ``shape = (H, W)``: the frame's
    size relative to ``reference_side_px`` (within [min_scale, max_scale]) times ``stroke_scale``."""
    frame = float(np.clip(min(shape) / config.reference_side_px, config.min_scale, config.max_scale))
    return frame * float(config.stroke_scale)


def background_color_threshold(config: PlacementConfig) -> float:
    """The colour change that stops a region-3 stroke's growth: ``color_threshold``, widened by
    the square root of a ``stroke_scale`` above 1. A stronger painting is not only made of larger
    brushes: like a painter's larger brush, they carry one colour across the small changes a finer
    one would follow (with the threshold alone, most strokes of a textured background stop at
    their first colour change whatever their allowed length, and scale 2 painted only a little
    more coarsely than scale 1)."""
    return float(config.color_threshold * np.sqrt(max(1.0, config.stroke_scale)))


def strong_edge_threshold(config: PlacementConfig) -> float:
    """The gradient magnitude of a "strong edge", near which a region-3 stroke's thickness is
    capped (:func:`edge_distance`): ``edge_threshold`` times a ``stroke_scale`` above 1. A brush
    k times larger is stopped only by edges k times stronger; with the threshold alone, strokes
    along the many moderate edges of a street or a studio stayed as thin at scale 2 as at 1 and
    the painting was barely coarser (SSIM outside faces on two frames of each of the four
    small-face stress clips: 0.867 at scale 1, 0.781 at 2 with the threshold alone, 0.742 with
    it raised)."""
    return float(config.edge_threshold * max(1.0, config.stroke_scale))


def stroke_size_maps(
    regions: RegionMap, field: OrientationField, config: PlacementConfig,
    frame_shape: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel thickness and longest centre line of a region-3 stroke seeded there.

    ``frame_shape`` (H, W) sets the size scale (default: the shape of ``regions``); give the full
    frame's shape when ``regions`` is a crop of it.

    Returns
    -------
    thickness, max_length : (H, W) float32 pixels
    """
    if field.maps_on_grid:
        raise InputError("stroke_size_maps needs a field with per-pixel maps (maps_on_grid False)")
    scale, t_min, t_max = _size_limits(regions, config, frame_shape)
    saliency = np.ascontiguousarray(field.saliency, np.float32)
    thickness = np.empty(saliency.shape, np.float32)
    length = np.empty(saliency.shape, np.float32)
    size_maps_kernel(
        saliency, edge_distance(field.magnitude, config), t_min, t_max, config.saliency_gamma,
        config.edge_thickness_slack_px * scale, config.length_ratio, thickness, length,
    )
    return thickness, length


def _size_limits(regions: RegionMap, config: PlacementConfig, frame_shape):
    """``(scale, t_min, t_max)``: the frame's size scale and the thickness range in pixels."""
    scale = size_scale(frame_shape if frame_shape is not None else regions.labels.shape, config)
    t_min = max(config.min_thickness_px, config.thickness_min_px * scale)
    t_max = max(t_min, config.thickness_max_px * scale)
    return scale, t_min, t_max


def edge_distance(magnitude: np.ndarray, config: PlacementConfig = PlacementConfig()) -> np.ndarray:
    """Distance (pixels of ``magnitude``) from each pixel to the nearest strong edge
    (``magnitude >= strong_edge_threshold(config)``), which caps a stroke's thickness (a stroke must not
    straddle a strong edge: thickness <= 2 * distance + slack); (1, 1) zeros when there is no
    strong edge (no cap; ``OrientationField.edge_distance``)."""
    dist = _edge_distance(magnitude, config)
    return np.zeros((1, 1), np.float32) if dist is None else dist


def _edge_distance(magnitude: np.ndarray, config: PlacementConfig) -> np.ndarray | None:
    """:func:`edge_distance`, None when there is no strong edge."""
    not_edge = (np.asarray(magnitude) < strong_edge_threshold(config)).astype(np.uint8)
    if not_edge.all():
        return None
    return cv2.distanceTransform(not_edge, cv2.DIST_L2, 3)


def _grid_seed_sizes(
    regions: RegionMap, field: OrientationField, config: PlacementConfig, frame_shape, seeds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_seed_sizes` of a field whose maps lie on its grid (``OrientationField.maps_on_grid``):
    the saliency and the distance to the nearest strong edge of the grid (:func:`edge_distance`,
    scaled to frame pixels) are read bilinearly at the seeds' grid points."""
    scale, t_min, t_max = _size_limits(regions, config, frame_shape)
    ox, oy, sx, sy = field.tangent_grid
    dist = field.edge_distance if field.edge_distance is not None else edge_distance(field.magnitude, config)
    thick = np.empty(len(seeds), np.float32)
    length = np.empty(len(seeds), np.float32)
    grid_sizes_kernel(
        seeds, regions.labels.shape[1], int(ox), int(oy), float(sx), float(sy),
        np.ascontiguousarray(field.saliency, np.float32), np.ascontiguousarray(dist, np.float32), 2.0 / (sx + sy),
        t_min, t_max, config.saliency_gamma, config.edge_thickness_slack_px * scale, config.length_ratio, thick, length,
    )
    return thick, length


def _seed_sizes(
    regions: RegionMap, field: OrientationField, config: PlacementConfig, frame_shape, seeds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`stroke_size_maps` at the ``seeds`` (flat pixel indices) only, the only pixels the
    placement kernel reads them at: ``(thickness, length)`` (n,) float32, in seed order.
    Bit-identical there (the same kernel on the seeds' values), and far cheaper when few pixels
    are to be filled; no cost beyond the maps' when every pixel is. A field with
    ``maps_on_grid`` is read on its grid (:func:`_grid_seed_sizes`)."""
    if field.maps_on_grid:
        return _grid_seed_sizes(regions, field, config, frame_shape, seeds)
    scale, t_min, t_max = _size_limits(regions, config, frame_shape)
    dist = _edge_distance(field.magnitude, config)
    dist = np.zeros((1, 1), np.float32) if dist is None else np.ascontiguousarray(dist.reshape(1, -1)[:, seeds])
    sal = np.ascontiguousarray(np.asarray(field.saliency, np.float32).reshape(1, -1)[:, seeds])
    thick = np.empty(sal.shape, np.float32)
    length = np.empty(sal.shape, np.float32)
    size_maps_kernel(
        sal, dist, t_min, t_max, config.saliency_gamma, config.edge_thickness_slack_px * scale, config.length_ratio,
        thick, length,
    )
    return thick[0], length[0]


def blur_for_colours(image: np.ndarray, config: PlacementConfig = PlacementConfig()) -> np.ndarray:
    """The (H, W, 3) uint8 copy of ``image`` that strokes take their colours from and whose
    colour edges stop their growth: blurred by ``config.color_blur_sigma_px`` (0: the image)."""
    if config.color_blur_sigma_px <= 0:
        return image
    return cv2.GaussianBlur(image, (0, 0), config.color_blur_sigma_px)


def _where_window(where, shape, config: PlacementConfig, frame_shape) -> tuple[int, int, int, int] | None:
    """Rows ``y0:y1`` and columns ``x0:x1`` that strokes seeded in ``where`` can touch or read;
    None when ``where`` is empty."""
    rows = np.flatnonzero(where.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(where.any(axis=0))
    height, width = shape
    scale = size_scale(frame_shape if frame_shape is not None else shape, config)
    t_max = max(config.min_thickness_px, config.thickness_max_px * scale, config.face_thickness_px)
    reach = t_max * (0.5 * max(config.length_ratio, config.min_length_ratio) + 1.0) + config.face_walk_px
    margin = int(np.ceil(reach)) + 4
    return (
        max(0, rows[0] - margin), min(height, rows[-1] + 1 + margin),
        max(0, cols[0] - margin), min(width, cols[-1] + 1 + margin),
    )


def _shifted(painting: Painting, dx: int, dy: int) -> Painting:
    offset = np.array([dx, dy], np.float32)
    return Painting(
        background=replace(painting.background, positions=painting.background.positions + offset),
        face=replace(painting.face, positions=painting.face.positions + offset),
    )


def _window_field(field: OrientationField, y0: int, y1: int, x0: int, x1: int) -> OrientationField:
    """The window ``[y0:y1, x0:x1]`` of a field (a coarse tangent stays whole, its grid shifted)."""
    if field.tangent_grid is None:
        return OrientationField(
            tangent=field.tangent[y0:y1, x0:x1], magnitude=field.magnitude[y0:y1, x0:x1],
            saliency=field.saliency[y0:y1, x0:x1],
        )
    ox, oy, sx, sy = field.tangent_grid
    if field.maps_on_grid:
        return replace(field, tangent_grid=(int(ox) + x0, int(oy) + y0, sx, sy))
    return OrientationField(
        tangent=field.tangent, magnitude=field.magnitude[y0:y1, x0:x1], saliency=field.saliency[y0:y1, x0:x1],
        tangent_grid=(int(ox) + x0, int(oy) + y0, sx, sy),
    )


def _kernel_grid(field: OrientationField):
    """``tangent_grid`` as the kernel reads it (ints and float32), or None."""
    if field.tangent_grid is None:
        return None
    ox, oy, sx, sy = field.tangent_grid
    return (int(ox), int(oy), np.float32(sx), np.float32(sy))


def _check_inputs(image, regions, field, where) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        got = f"shape {getattr(image, 'shape', None)} dtype {getattr(image, 'dtype', type(image).__name__)}"
        raise InputError(f"image must be (H, W, 3) uint8 RGB, got {got}")
    shape = image.shape[:2]
    if regions.labels.shape != shape:
        raise InputError(f"regions.labels is {regions.labels.shape}, the image {shape}: build both from one frame")
    coarse = field.tangent_grid is not None
    maps_shape = field.tangent.shape[:2] if coarse and field.maps_on_grid else shape
    if (
        (not coarse and (field.tangent.shape != shape + (2,) or field.maps_on_grid))
        or (coarse and (field.tangent.ndim != 3 or field.tangent.shape[2] != 2 or len(field.tangent_grid) != 4))
        or field.saliency.shape != maps_shape
        or field.magnitude.shape != maps_shape
        or (field.edge_distance is not None and field.edge_distance.shape not in (maps_shape, (1, 1)))
    ):
        raise InputError(
            f"the orientation field is {field.magnitude.shape} (tangent {field.tangent.shape}, grid "
            f"{field.tangent_grid}), the image {shape}: compute it on the same frame"
        )
    if where is not None and (where.shape != shape or where.dtype != np.bool_):
        raise InputError(f"where must be an (H, W) bool mask of shape {shape}, got {where.shape} {where.dtype}")


def _run(seeds, covered, tangent, grid, labels, region, image, seed_thickness, seed_length, columns, both_ways,
         config: PlacementConfig, cos_turn_step, cos_turn_total, color_threshold):
    """Call the kernel until every seed is tried, growing the output capacity as needed."""
    parts, thick = [], []
    start = 0
    # A stroke covers tens of pixels, so a sixteenth of the seeds is a generous first guess;
    # the kernel stops when full and is called again with twice the room.
    capacity = max(1, min(len(seeds), max(1024, len(seeds) // 16)))
    while start < len(seeds):
        p, t, _, count, start = place_kernel(
            seeds, start, capacity, covered, tangent, grid, labels, np.uint8(region), image, seed_thickness,
            seed_length, columns, both_ways, config.step_px, cos_turn_step, cos_turn_total,
            color_threshold, config.min_length_ratio, config.cover_width, config.cover_cap,
        )
        parts.append(p[:count])
        thick.append(t[:count])
        capacity *= 2
    if not parts:
        return np.zeros((0, 2 * columns, 2), np.float32), np.zeros(0, np.float32)
    return np.concatenate(parts), np.concatenate(thick)


def _sample(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Nearest-pixel colours (N, 3) float32 in [0, 1] of ``image`` (H, W, 3) uint8 at ``points`` (N, 2)."""
    return at_nearest_pixel(image, points).astype(np.float32) * np.float32(1.0 / 255.0)


def _stroke_set(particles, thickness, region, colors, rng, config, first_id) -> StrokeSet:
    n, p, _ = particles.shape
    springs = springs_for(p)
    return StrokeSet(
        positions=particles.astype(np.float32),
        velocities=np.zeros_like(particles, dtype=np.float32),
        rest_lengths=rest_lengths(particles, springs),
        springs=springs,
        colors=colors,
        thickness=thickness.astype(np.float32),
        brush=rng.integers(0, max(1, config.brush_variants), n).astype(np.uint8),
        region=np.full(n, region, np.uint8),
        age=np.zeros(n, np.int32),
        ids=np.arange(first_id, first_id + n, dtype=np.int64),
    )


def place_strokes(
    image: np.ndarray,
    regions: RegionMap,
    field: OrientationField,
    *,
    config: PlacementConfig = PlacementConfig(),
    rng: np.random.Generator,
    where: np.ndarray | None = None,
    first_id: int = 0,
    frame_shape: tuple[int, int] | None = None,
    blurred: np.ndarray | None = None,
) -> Painting:
    """Place the strokes of one frame.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB
        The source frame; stroke colours are taken from it.
    regions : RegionMap
        Region labels of the frame (strokes are seeded in regions 3 and 1 only).
    field : OrientationField
        Tangent flow, magnitude and saliency of the same frame.
    config : PlacementConfig
    rng : numpy.random.Generator
        Source of the seed order and brush indices: the same generator state gives the same strokes.
    where : (H, W) bool, optional
        Restricts seeding to these pixels (e.g. the uncovered pixels of an animated frame); pixels
        outside count as already covered. The cost grows with the number of ``where`` pixels.
    first_id : int
        Id of the first stroke; ids run ``first_id, first_id + 1, ...`` over background then face.
    frame_shape : (H, W), optional
        Shape of the whole frame when ``image`` is a crop of it, so that stroke sizes (which scale
        with the frame) match those of the full frame. Default: the image's shape.
    blurred : (H, W, 3) uint8, optional
        ``image`` blurred by ``config.color_blur_sigma_px`` (the colours strokes take and follow),
        when the caller has it: for a crop, the crop of the whole frame's blur (which, unlike a
        blur of the crop, sees past the crop's edges). Default: made here from ``image``.

    Returns
    -------
    Painting
        ``background``: 6-particle strokes of region 3 sorted coarse to fine (thickest first);
        ``face``: 4-particle strokes of region 1. Empty sets where there is nothing to paint.
    """
    _check_inputs(image, regions, field, where)
    height, width = image.shape[:2]
    if blurred is not None and (blurred.shape != image.shape or blurred.dtype != np.uint8):
        raise InputError(f"blurred must be the image blurred, {image.shape} uint8, got {blurred.shape} {blurred.dtype}")
    if where is not None:
        window = _where_window(where, regions.labels.shape, config, frame_shape)
        if window is None:
            return Painting(background=empty_stroke_set(6), face=empty_stroke_set(4))
        y0, y1, x0, x1 = window
        if (y1 - y0) * (x1 - x0) < 0.5 * height * width:
            # Few pixels to fill: work on the window they need (strokes cannot reach farther).
            sub = place_strokes(
                np.ascontiguousarray(image[y0:y1, x0:x1]),
                RegionMap(
                    labels=regions.labels[y0:y1, x0:x1],
                    feature_alpha=regions.feature_alpha[y0:y1, x0:x1],
                    face_ids=None if regions.face_ids is None else regions.face_ids[y0:y1, x0:x1],
                ),
                _window_field(field, y0, y1, x0, x1),
                config=config, rng=rng, where=np.ascontiguousarray(where[y0:y1, x0:x1]), first_id=first_id,
                frame_shape=frame_shape if frame_shape is not None else (height, width),
                blurred=None if blurred is None else np.ascontiguousarray(blurred[y0:y1, x0:x1]),
            )
            return _shifted(sub, x0, y0)
    labels = np.ascontiguousarray(regions.labels, np.uint8)
    tangent = np.ascontiguousarray(field.tangent, np.float32)
    grid = _kernel_grid(field)
    if blurred is None:
        blurred = blur_for_colours(image, config)
    source = np.ascontiguousarray(blurred)  # uint8: the kernel reads it in [0, 1] units

    def seeds_and_cover(region: int) -> tuple[np.ndarray, np.ndarray]:
        allowed = labels == region
        if where is not None:
            allowed &= where
        seeds = np.flatnonzero(allowed).astype(np.int64)
        rng.shuffle(seeds)  # the paper's "random unprocessed pixel", one visit each
        return seeds, (~allowed).astype(np.uint8)

    # Region 3.
    seeds, covered = seeds_and_cover(Region.BACKGROUND)
    if len(seeds):
        seed_thick, seed_len = _seed_sizes(regions, field, config, frame_shape, seeds)  # read only at the seeds
        cos_step = float(np.cos(np.radians(config.max_turn_step_deg)))
        particles, thickness = _run(
            seeds, covered, tangent, grid, labels, int(Region.BACKGROUND), source, seed_thick, seed_len, 3, True,
            config, cos_step, -2.0, background_color_threshold(config),
        )
        # Coarse to fine: the thickest strokes are painted first (stable, so ties keep seed order).
        order = np.argsort(-thickness, kind="stable")
        particles, thickness = particles[order], thickness[order]
        colors = _sample(source, material_points(particles))
        background = _stroke_set(particles, thickness, Region.BACKGROUND, colors, rng, config, first_id)
    else:
        background = empty_stroke_set(6)

    # Region 1.
    seeds, covered = seeds_and_cover(Region.INNER_FACE)
    if len(seeds):
        t_face = np.full(len(seeds), config.face_thickness_px, np.float32)
        l_face = np.full(len(seeds), config.face_walk_px, np.float32)
        cos_total = float(np.cos(np.radians(config.face_max_turn_deg)))
        particles, thickness = _run(
            seeds, covered, tangent, grid, labels, int(Region.INNER_FACE), source, t_face, l_face, 2, False,
            config, cos_total, cos_total, config.face_color_threshold,
        )
        colors = _sample(source, material_points(particles))
        face = _stroke_set(particles, thickness, Region.INNER_FACE, colors, rng, config, first_id + len(background))
    else:
        face = empty_stroke_set(4)
    return Painting(background=background, face=face)
