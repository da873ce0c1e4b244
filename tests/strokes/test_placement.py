"""Stroke placement: coverage, determinism, the two models, edges, ``where``."""

from __future__ import annotations

import numpy as np
import pytest

from facepaint.errors import InputError
from facepaint.fields import EtfConfig, compute_orientation_field, edge_tangent_flow, upsample_field
from facepaint.render import RenderConfig, render_painting
from facepaint.strokes import PlacementConfig, edge_distance, material_points, place_strokes
from facepaint.temporal import uncovered_mask
from facepaint.types import OrientationField, Region, RegionMap


def regions_of(labels: np.ndarray) -> RegionMap:
    return RegionMap(labels=labels.astype(np.uint8), feature_alpha=np.zeros(labels.shape, np.float32))


def synthetic_image(h: int = 120, w: int = 160) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    image = np.zeros((h, w, 3), np.uint8)
    image[..., 0] = (xx * 255 // w).astype(np.uint8)
    image[..., 1] = (yy * 255 // h).astype(np.uint8)
    image[..., 2] = 90
    image[(xx - 100) ** 2 + (yy - 60) ** 2 < 25**2] = (230, 220, 40)
    return image


def face_labels(h: int = 120, w: int = 160) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    labels = np.full((h, w), Region.BACKGROUND, np.uint8)
    labels[((xx - 50) / 18.0) ** 2 + ((yy - 60) / 24.0) ** 2 < 1] = Region.INNER_FACE
    labels[((xx - 50) / 8.0) ** 2 + ((yy - 55) / 3.0) ** 2 < 1] = Region.FEATURES
    return labels


@pytest.fixture(scope="module")
def placed():
    image = synthetic_image()
    regions = regions_of(face_labels())
    field = compute_orientation_field(image, regions)
    painting = place_strokes(image, regions, field, rng=np.random.default_rng(1), first_id=100)
    return image, regions, field, painting


def assert_covered(coverage: np.ndarray, regions, painted: np.ndarray) -> None:
    """No hole the animation would fill (``uncovered_mask``: under half covered, specks aside),
    and at most 0.05 % of the painted pixels under half covered: the odd pixel between two
    strokes' tips, whose filtered footprints fade out inside their ladders' caps (placement marks
    half of each cap covered)."""
    assert not uncovered_mask(coverage, regions).any()
    thin = (coverage < 0.5) & painted
    assert thin.sum() <= 5e-4 * painted.sum(), f"{thin.sum()} of {painted.sum()} pixels under half covered"


def test_strokes_cover_the_image_completely(placed) -> None:
    image, regions, _, painting = placed
    result = render_painting(painting, image, regions, config=RenderConfig())
    assert_covered(result.coverage, regions, regions.labels != Region.FEATURES)


def test_models_ids_and_attributes(placed) -> None:
    image, regions, _, painting = placed
    bg, face = painting.background, painting.face
    assert bg.positions.shape[1:] == (6, 2) and bg.springs.shape == (9, 2) and bg.rest_lengths.shape == (len(bg), 9)
    assert face.positions.shape[1:] == (4, 2) and face.springs.shape == (5, 2)
    assert len(bg) > 10 and len(face) > 10
    np.testing.assert_array_equal(bg.ids, np.arange(100, 100 + len(bg)))
    np.testing.assert_array_equal(face.ids, np.arange(100 + len(bg), 100 + len(bg) + len(face)))
    assert np.all(bg.region == Region.BACKGROUND) and np.all(face.region == Region.INNER_FACE)
    # Coarse to fine: background thickness never increases along the drawing order.
    assert np.all(np.diff(bg.thickness) <= 0)
    # Region 1: thickness 3 and a walk of at most 5 px (+ half a thickness cap at both ends).
    assert np.all(face.thickness == 3.0)
    spine_len = np.linalg.norm(face.positions[:, 1] - face.positions[:, 0], axis=1)
    assert spine_len.max() <= 5.0 + 3.0 + 1e-3
    # Colours come from the source at the material point (blurred by 1 px, so allow a margin).
    centre = np.rint(material_points(face.positions)).astype(int)
    src = image[centre[:, 1], centre[:, 0]] / 255.0
    assert np.median(np.abs(face.colors - src)) < 0.05
    for s in (bg, face):
        assert s.colors.dtype == np.float32 and s.colors.min() >= 0 and s.colors.max() <= 1
        assert np.all(s.velocities == 0) and np.all(s.age == 0)


def test_deterministic_for_a_seed(placed) -> None:
    image, regions, field, painting = placed
    again = place_strokes(image, regions, field, rng=np.random.default_rng(1), first_id=100)
    np.testing.assert_array_equal(again.background.positions, painting.background.positions)
    np.testing.assert_array_equal(again.face.colors, painting.face.colors)
    other = place_strokes(image, regions, field, rng=np.random.default_rng(2))
    assert other.background.positions.shape != painting.background.positions.shape or not np.array_equal(
        other.background.positions, painting.background.positions
    )


def test_strokes_do_not_cross_a_strong_edge() -> None:
    # Left half dark, right half light: no stroke's centre line may cross x = 80.
    image = np.zeros((100, 160, 3), np.uint8)
    image[:, :80] = (30, 40, 50)
    image[:, 80:] = (220, 210, 200)
    regions = regions_of(np.full((100, 160), Region.BACKGROUND))
    field = compute_orientation_field(image, regions)
    painting = place_strokes(image, regions, field, rng=np.random.default_rng(0))
    p = painting.background.positions
    centre = 0.5 * (p[:, :3] + p[:, 3:])  # centre line, tail cap to head cap
    side = material_points(p)[:, 0] < 79.5
    crossing_left = side & (centre[..., 0].max(1) > 79.5 + 0.5 * painting.background.thickness)
    crossing_right = ~side & (centre[..., 0].min(1) < 79.5 - 0.5 * painting.background.thickness)
    assert not crossing_left.any() and not crossing_right.any()
    # And colours stay on their side.
    dark = painting.background.colors.mean(1) < 0.5
    assert np.mean(dark == side) > 0.97


def test_where_restricts_the_seeds(placed) -> None:
    image, regions, field, _ = placed
    where = np.zeros(regions.labels.shape, bool)
    where[10:20, 120:140] = True
    painting = place_strokes(image, regions, field, rng=np.random.default_rng(0), where=where)
    assert len(painting.face) == 0 and 0 < len(painting.background) < 60
    centre = material_points(painting.background.positions)
    assert np.all((centre[:, 0] > 100) & (centre[:, 0] < 160) & (centre[:, 1] < 40))
    # A small `where` is placed on a window of the frame: positions come back in frame pixels,
    # so the colours match the image under the material points.
    c = np.rint(centre).astype(int)
    assert np.median(np.abs(painting.background.colors - image[c[:, 1], c[:, 0]] / 255.0)) < 0.05
    empty = place_strokes(image, regions, field, rng=np.random.default_rng(0), where=np.zeros_like(where))
    assert len(empty.background) == 0 and len(empty.face) == 0


def test_a_coarse_tangent_is_read_as_its_upsampling(placed) -> None:
    """A coarse tangent flow with its grid places the strokes of its upsampled copy: on the
    whole frame, through the window of a small ``where``, and on a box cut from a larger frame."""
    image, regions, field, _ = placed
    h, w = regions.labels.shape
    coarse, _ = edge_tangent_flow(image, config=EtfConfig(max_side_px=60), full_size=False)
    assert coarse.shape[:2] == (45, 60)
    grid = (0, 0, coarse.shape[1] / w, coarse.shape[0] / h)
    where = np.zeros((h, w), bool)
    where[5:40, 110:150] = True
    y0, y1, x0, x1 = 20, 110, 30, 150  # a box of the frame
    box_regions = regions_of(regions.labels[y0:y1, x0:x1])
    cases = [
        (image, regions, field.magnitude, field.saliency, None, upsample_field(coarse, None, (h, w))[0], grid),
        (image, regions, field.magnitude, field.saliency, where, upsample_field(coarse, None, (h, w))[0], grid),
        (np.ascontiguousarray(image[y0:y1, x0:x1]), box_regions, field.magnitude[y0:y1, x0:x1], field.saliency[y0:y1, x0:x1],
         None, upsample_field(coarse, None, (h, w), (y0, y1, x0, x1))[0], (x0, y0, grid[2], grid[3])),
    ]
    for img, reg, magnitude, saliency, wh, fine, g in cases:
        want = place_strokes(img, reg, OrientationField(fine, magnitude, saliency), rng=np.random.default_rng(2), where=wh)
        got = place_strokes(img, reg, OrientationField(coarse, magnitude, saliency, tangent_grid=g),
                            rng=np.random.default_rng(2), where=wh)
        assert len(want.background) > 5
        for a, b in ((want.background, got.background), (want.face, got.face)):
            assert len(a) == len(b)
            np.testing.assert_allclose(b.positions, a.positions, atol=1e-3)
    with pytest.raises(InputError, match="orientation field"):
        place_strokes(image, regions, OrientationField(coarse, field.magnitude, field.saliency), rng=np.random.default_rng(0))


def test_maps_on_the_grid_give_the_sizes_of_their_upsampling() -> None:
    """Saliency and edges on a coarse grid (``maps_on_grid``) give, at every seed, the stroke
    sizes of their per-pixel upsampling: the saliency exactly (a ramp is read bilinearly), the
    edge cap within a grid pixel of distance; for a box cut from the frame too."""
    import cv2

    from facepaint.strokes.placement import _seed_sizes

    h, w = 180, 240
    gh, gw = 60, 80  # a third of the frame
    saliency = np.tile(np.linspace(0.0, 1.0, gw, dtype=np.float32), (gh, 1))
    magnitude = np.zeros((gh, gw), np.float32)
    magnitude[:, 40] = 1.0  # a strong vertical edge at frame x ~ 121
    tangent = np.tile(np.array([0.0, 1.0], np.float32), (gh, gw, 1))
    config = PlacementConfig(reference_side_px=h)  # scale 1: thickness 4..18 px
    for y0, y1, x0, x1 in ((0, h, 0, w), (30, 150, 60, 200)):
        regions = regions_of(np.full((y1 - y0, x1 - x0), Region.BACKGROUND))
        seeds = np.arange((y1 - y0) * (x1 - x0), dtype=np.int64)
        grid = OrientationField(tangent, magnitude, saliency, tangent_grid=(x0, y0, gw / w, gh / h), maps_on_grid=True)
        thick, length = _seed_sizes(regions, grid, config, (h, w), seeds)
        up = lambda m: cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR)[y0:y1, x0:x1]  # noqa: E731
        no_edges = OrientationField(tangent[y0:y1, x0:x1], np.zeros((y1 - y0, x1 - x0), np.float32), up(saliency))
        want_free, _ = _seed_sizes(regions, no_edges, config, (h, w), seeds)
        edges = OrientationField(tangent[y0:y1, x0:x1], up(magnitude), up(saliency))
        want, _ = _seed_sizes(regions, edges, config, (h, w), seeds)
        far = np.abs(seeds % (x1 - x0) + x0 - 121.0) > 12  # beyond any cap (t_max / 2 + slack)
        np.testing.assert_allclose(thick[far], want_free[far], atol=0.05)
        assert np.abs(thick - want).max() <= 2 * 3.0 + 0.1  # the cap: 2 x one grid pixel (3 px)
        assert thick[~far].min() < 6.0 and np.all(thick >= config.thickness_min_px - 1e-5)
        np.testing.assert_allclose(length, config.length_ratio * thick, rtol=1e-6)
    with pytest.raises(InputError, match="orientation field"):
        place_strokes(synthetic_image(h, w), regions_of(np.full((h, w), Region.BACKGROUND)),
                      OrientationField(tangent, magnitude[:30], saliency, tangent_grid=(0, 0, 1 / 3, 1 / 3), maps_on_grid=True),
                      rng=np.random.default_rng(0))


def test_empty_regions_give_empty_sets() -> None:
    image = synthetic_image(40, 50)
    regions = regions_of(np.full((40, 50), Region.FEATURES))
    field = compute_orientation_field(image, regions)
    painting = place_strokes(image, regions, field, rng=np.random.default_rng(0))
    assert len(painting.background) == 0 and painting.background.positions.shape == (0, 6, 2)
    assert len(painting.face) == 0 and painting.face.positions.shape == (0, 4, 2)


def test_bad_input(placed) -> None:
    image, regions, field, _ = placed
    rng = np.random.default_rng(0)
    with pytest.raises(InputError):
        place_strokes(image[:50], regions, field, rng=rng)
    with pytest.raises(InputError):
        place_strokes(image, regions, field, rng=rng, where=np.ones(image.shape[:2], np.uint8))
    with pytest.raises(InputError):
        place_strokes(image.astype(np.float32), regions, field, rng=rng)


def test_sizes_follow_saliency() -> None:
    from facepaint.strokes import stroke_size_maps
    from facepaint.types import OrientationField

    h, w = 60, 80
    sal = np.zeros((h, w), np.float32)
    sal[:, 40:] = 1.0
    field = OrientationField(
        tangent=np.tile(np.array([1.0, 0.0], np.float32), (h, w, 1)),
        magnitude=np.zeros((h, w), np.float32),
        saliency=sal,
    )
    config = PlacementConfig(reference_side_px=h)  # scale 1
    thick, length = stroke_size_maps(regions_of(np.full((h, w), 3)), field, config)
    assert thick[0, 0] == pytest.approx(config.thickness_max_px)
    assert thick[0, -1] == pytest.approx(config.thickness_min_px)
    np.testing.assert_allclose(length, config.length_ratio * thick)


def test_blur_for_colours_and_a_given_blur() -> None:
    from facepaint.strokes import blur_for_colours

    image = synthetic_image(40, 50)
    blurred = blur_for_colours(image)
    assert blurred.shape == image.shape and blurred.dtype == np.uint8 and not np.array_equal(blurred, image)
    assert blur_for_colours(image, PlacementConfig(color_blur_sigma_px=0.0)) is image
    regions = regions_of(np.full((40, 50), Region.BACKGROUND))
    field = compute_orientation_field(image, regions)
    own = place_strokes(image, regions, field, rng=np.random.default_rng(4))
    given = place_strokes(image, regions, field, rng=np.random.default_rng(4), blurred=blurred)
    np.testing.assert_array_equal(own.background.positions, given.background.positions)
    np.testing.assert_array_equal(own.background.colors, given.background.colors)
    with pytest.raises(InputError, match="blurred"):
        place_strokes(image, regions, field, rng=np.random.default_rng(4), blurred=blurred[:20])


def test_stroke_scale_sizes_background_strokes_only() -> None:
    # A 720-pixel frame: sizes scale by 720/1080 = 0.67, then by stroke_scale. The face strokes
    # keep the paper's thickness 3 at every scale; the background ones grow with the scale (a
    # little more than it: strong_edge_threshold caps fewer of them at 2) and still cover region 3.
    image = np.ascontiguousarray(np.repeat(np.repeat(synthetic_image(), 6, axis=0), 6, axis=1))
    regions = regions_of(np.repeat(np.repeat(face_labels(), 6, axis=0), 6, axis=1))
    field = compute_orientation_field(image, regions)
    sets = {s: place_strokes(image, regions, field, config=PlacementConfig(stroke_scale=s), rng=np.random.default_rng(0))
            for s in (1.0, 2.0)}
    thick = {s: float(np.median(p.background.thickness)) for s, p in sets.items()}
    assert 1.8 < thick[2.0] / thick[1.0] < 2.8, thick
    assert len(sets[2.0].background) < 0.5 * len(sets[1.0].background)
    for p in sets.values():
        np.testing.assert_allclose(p.face.thickness, 3.0)
        coverage = render_painting(p, image, regions, config=RenderConfig()).coverage
        assert_covered(coverage, regions, regions.labels == Region.BACKGROUND)
    with pytest.raises(InputError, match="stroke_scale"):
        PlacementConfig(stroke_scale=0.0)


def test_a_larger_brush_is_capped_only_by_stronger_edges() -> None:
    # An edge of magnitude 0.45 caps the thickness of strokes near it at scale 1 (threshold 0.3)
    # but not at 2 (0.6); one of 0.9 does at both, and scales below 1 keep the threshold.
    magnitude = np.zeros((20, 40), np.float32)
    magnitude[:, 10] = 0.45
    strong = magnitude.copy()
    strong[:, 30] = 0.9
    at = {s: PlacementConfig(stroke_scale=s) for s in (0.5, 1.0, 2.0)}
    assert edge_distance(magnitude, at[1.0])[5, 13] == pytest.approx(3.0, abs=0.2)  # OpenCV's 3x3 L2 estimate
    np.testing.assert_array_equal(edge_distance(magnitude, at[0.5]), edge_distance(magnitude, at[1.0]))
    assert not edge_distance(magnitude, at[2.0]).any(), "no strong edge at scale 2: no cap"
    assert edge_distance(strong, at[2.0])[5, 13] == pytest.approx(17.0, abs=1.0)
    assert edge_distance(strong, at[1.0])[5, 13] == pytest.approx(3.0, abs=0.2)


def test_face_strokes_stop_after_a_30_degree_turn() -> None:
    """Region 1 everywhere, one colour, a circular tangent flow about the centre: a walk of arc s
    at radius r turns by s / r. Far out (r >= 15, 5 px turn at most 19 degrees) a face stroke
    walks its full 5 px (away from the frame edge, where walks stop); near the centre the flow turns 30 degrees within 0.52 r, so the walk
    stops there, within one 1-px step: chord <= 2 r sin(15 deg) + 1. Without the turn limit the
    same strokes walk 5 px. (A stroke's particle length is its chord plus its thickness, the caps.)"""
    n, c = 96, 47.5
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    radius = np.hypot(xx - c, yy - c) + 1e-6
    tangent = np.stack([-(yy - c) / radius, (xx - c) / radius], axis=-1).astype(np.float32)
    field = OrientationField(tangent=tangent, magnitude=np.zeros((n, n), np.float32), saliency=np.ones((n, n), np.float32))
    regions = regions_of(np.full((n, n), Region.INNER_FACE, np.uint8))
    image = np.full((n, n, 3), 128, np.uint8)
    chords = {}
    for turn in (30.0, 180.0):
        config = PlacementConfig() if turn == 30.0 else PlacementConfig(face_max_turn_deg=turn)  # 30: the default
        face = place_strokes(image, regions, field, config=config, rng=np.random.default_rng(0)).face
        assert len(face) > 500 and face.positions.shape[1] == 4 and np.all(face.thickness == 3.0)
        tail = face.positions[:, [0, 2]].mean(axis=1)  # midpoints of the end rungs
        head = face.positions[:, [1, 3]].mean(axis=1)
        chord = np.linalg.norm(head - tail, axis=1) - face.thickness
        r = np.linalg.norm(0.5 * (tail + head) - c, axis=1)
        chords[turn] = chord, r
    chord, r = chords[30.0]
    far, near = (r >= 15) & (r <= 38), (r >= 4) & (r < 9)  # far: 7 px or more from the frame edge
    assert far.sum() > 100 and near.sum() > 20
    np.testing.assert_allclose(chord[far], 5.0, atol=0.1)
    # r is the chord's midpoint's radius (r cos 15 deg of the arc's); + 0.25 px: the walk reads the
    # tangent at the nearest pixel, not at its exact position.
    bound = 2 * (r[near] / np.cos(np.radians(15))) * np.sin(np.radians(15)) + 1.0 + 0.25
    assert np.all(chord[near] <= bound), np.max(chord[near] - bound)
    unlimited, r_free = chords[180.0]
    assert np.all(unlimited[(r_free >= 5) & (r_free < 9)] > 4.5), "without the limit the same walks go 5 px"
