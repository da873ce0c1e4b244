"""The stroke rasterizer, brush textures and the region-2 composite."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from facepaint.errors import InputError
from facepaint.render import (
    MESH_WIDEN,
    TEXTURE_SHAPE,
    RenderConfig,
    Style,
    add_strokes_under,
    brush_textures,
    canvas_to_uint8,
    composite_canvas,
    composite_features,
    mip_level,
    render_layers,
    render_painting,
    render_strokes,
    texture_levels,
)
from facepaint.temporal import merge_strokes, select_strokes
from facepaint.strokes import empty_stroke_set, ladder_from_spine, rest_lengths, springs_for
from facepaint.types import Painting, Region, RegionMap, StrokeSet
from strokesets import make_strokes, random_painting, straight_stroke


def flat_texture() -> np.ndarray:
    tex = np.ones((1,) + TEXTURE_SHAPE + (3,), np.float32)
    return tex


def moments_angle_deg(weight: np.ndarray) -> float:
    yy, xx = np.mgrid[0 : weight.shape[0], 0 : weight.shape[1]]
    m = weight.sum()
    cx, cy = (weight * xx).sum() / m, (weight * yy).sum() / m
    mxx = (weight * (xx - cx) ** 2).sum()
    myy = (weight * (yy - cy) ** 2).sum()
    mxy = (weight * (xx - cx) * (yy - cy)).sum()
    return float(np.degrees(0.5 * np.arctan2(2 * mxy, mxx - myy)))


@pytest.mark.parametrize("angle", [0.0, 30.0, 90.0, 147.0])
def test_single_stroke_footprint_and_orientation(angle: float) -> None:
    canvas = np.zeros((100, 120, 3), np.float32)
    cov = np.zeros((100, 120), np.float32)
    strokes = make_strokes(straight_stroke((60, 50), angle, 60, 12))
    render_strokes(strokes, canvas, cov, textures=brush_textures(Style.OIL))
    # Footprint: about length x thickness (the rounded ends take a little off: ~0.8 of it).
    area = (cov > 0.5).sum()
    assert 0.75 * 60 * 12 < area < 1.05 * 60 * 12
    # Orientation: the principal axis of the footprint.
    err = (moments_angle_deg(cov) - angle + 90) % 180 - 90
    assert abs(err) < 1.5
    # Nothing outside the stroke's box (+1 px).
    pts = strokes.positions[0]
    x0, y0 = np.floor(pts.min(0)).astype(int) - 1
    x1, y1 = np.ceil(pts.max(0)).astype(int) + 1
    outside = cov.copy()
    outside[max(0, y0) : y1 + 1, max(0, x0) : x1 + 1] = 0
    assert outside.max() == 0


def _spans(vertices: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W) bool: the pixel centres a convex polygon owns under the rasterizer's rule
    ``ceil(y_top) <= y < ceil(y_bottom)``, ``ceil(x_left) <= x < ceil(x_right)``."""
    inside = np.zeros((height, width), bool)
    edges = list(zip(vertices, np.roll(vertices, -1, axis=0)))
    for y in range(height):
        crossings = []
        for (x0, y0), (x1, y1) in edges:
            if min(y0, y1) <= y < max(y0, y1):
                crossings.append(x0 + (y - y0) * (x1 - x0) / (y1 - y0))
        if len(crossings) == 2:
            inside[y, int(np.ceil(min(crossings))) : int(np.ceil(max(crossings)))] = True
    return inside


@pytest.mark.parametrize("shear", [0, 10])
def test_no_seams_inside_a_grid_aligned_stroke(shear: int) -> None:
    # With a flat texture and opacity 0.5 a pixel drawn once is exactly 0.5; one drawn by two
    # triangles of the stroke (a seam) is 0.75, one drawn by none (a gap) is 0. The particles sit
    # on integer coordinates (after the mesh widening: rows 22/32 -> 21/33 about the midline),
    # so every interior edge (the rungs; the diagonals, of slope 3 when sheared) runs through pixel
    # centres: the case where the ownership rule matters. The painted pixels are exactly those
    # of the stroke's outline. (Unfiltered edges: the mesh is MESH_WIDEN times the thickness and
    # a flat texture covers it to its border.)
    canvas = np.zeros((50, 90, 3), np.float32)
    cov = np.zeros((50, 90), np.float32)
    top = [[10, 22], [30, 22], [50, 22]]
    bottom = [[10 + shear, 32], [30 + shear, 32], [50 + shear, 32]]
    p = np.array([top + bottom], np.float32)
    render_strokes(make_strokes(p, color=(1.0, 1.0, 1.0)), canvas, cov, textures=flat_texture(), opacity=0.5,
                   filtered_edges=False)
    w = (MESH_WIDEN - 1) * shear / 2  # the widening moves the rows apart along the rungs
    outline = np.array([[10 - w, 21], [50 - w, 21], [50 + shear + w, 33], [10 + shear + w, 33]])
    expected = np.where(_spans(outline, 50, 90), 0.5, 0.0)
    assert expected.sum() == 0.5 * 40 * 12
    wrong = canvas[..., 0] != expected
    assert not wrong.any(), f"{wrong.sum()} pixels differ: values {np.unique(canvas[..., 0][wrong]).tolist()}"


def test_no_seams_or_gaps_inside_a_noisy_stroke() -> None:
    # The same in general position (noisy particles): each pixel whose centre lies inside the
    # widened outline is drawn exactly once, every other pixel not at all.
    import cv2

    from facepaint.render.render import _widened

    canvas = np.zeros((80, 80, 3), np.float32)
    cov = np.zeros((80, 80), np.float32)
    rng = np.random.default_rng(0)
    p = straight_stroke((40, 40), 23.0, 50, 14) + rng.normal(0, 1.5, (1, 6, 2))
    render_strokes(make_strokes(p, color=(1.0, 1.0, 1.0)), canvas, cov, textures=flat_texture(), opacity=0.5,
                   filtered_edges=False)
    mesh = _widened(p.astype(np.float32), np.full(1, MESH_WIDEN))[0]
    outline = np.concatenate([mesh[:3], mesh[3:][::-1]]).reshape(-1, 1, 2)
    inside = np.array([[cv2.pointPolygonTest(outline, (x, y), False) > 0 for x in range(80)] for y in range(80)])
    expected = np.where(inside, 0.5, 0.0)
    wrong = canvas[..., 0] != expected
    assert inside.sum() > 600 and not wrong.any(), f"{wrong.sum()} pixels differ"


def test_deformed_stroke_follows_its_particles() -> None:
    canvas = np.zeros((100, 100, 3), np.float32)
    cov = np.zeros((100, 100), np.float32)
    p = straight_stroke((50, 50), 0.0, 60, 10)
    p[0, [2, 5], 1] += 30  # bend the head down by 30 px
    render_strokes(make_strokes(p), canvas, cov, textures=flat_texture())
    assert cov[70:80, 74:80].max() > 0.9  # the bent head is painted
    assert cov[45:55, 74:80].max() == 0  # where the straight head would have been is not


def test_strokes_drawn_in_order() -> None:
    canvas = np.zeros((40, 40, 3), np.float32)
    a = straight_stroke((20, 20), 0.0, 30, 10)
    b = straight_stroke((20, 20), 90.0, 30, 10)
    s = make_strokes(np.concatenate([a, b]))
    s = StrokeSet(**{**s.__dict__, "colors": np.array([[1, 0, 0], [0, 0, 1]], np.float32)})
    render_strokes(s, canvas, textures=flat_texture(), opacity=1.0)
    np.testing.assert_allclose(canvas[20, 20], [0, 0, 1])


def test_nan_and_degenerate_strokes_draw_nothing() -> None:
    canvas = np.zeros((30, 30, 3), np.float32)
    p = np.full((2, 6, 2), np.nan, np.float32)
    p[1] = 10.0  # all particles at one point
    render_strokes(make_strokes(p), canvas, textures=flat_texture())
    assert canvas.max() == 0


def test_brush_textures_of_every_style() -> None:
    for style in Style:
        tex = brush_textures(style)
        assert tex.shape == (4,) + TEXTURE_SHAPE + (3,) and tex.dtype == np.float32
        assert tex[..., :2].min() >= 0 and tex[..., :2].max() <= 1 and tex[..., 2].min() > 0
        # Full in the middle, nothing at the ends.
        mid = tex[:, TEXTURE_SHAPE[0] // 2, TEXTURE_SHAPE[1] // 2, 0]
        assert np.all(mid > 0.95) and tex[:, :, 0, 0].max() < 0.05
    assert not np.array_equal(brush_textures(Style.OIL), brush_textures(Style.PENCIL))
    np.testing.assert_array_equal(brush_textures("oil"), brush_textures(Style.OIL))


def test_texture_levels_are_2x2_means() -> None:
    tex = np.random.default_rng(0).random((2, 32, 96, 3)).astype(np.float32)
    levels = texture_levels(tex)
    assert [lv.shape for lv in levels] == [(2, 32 >> k, 96 >> k, 3) for k in range(4)]
    np.testing.assert_array_equal(levels[0], tex)
    for finer, coarser in zip(levels, levels[1:]):
        want = finer.reshape(2, finer.shape[1] // 2, 2, finer.shape[2] // 2, 2, 3).mean(axis=(2, 4))
        np.testing.assert_allclose(coarser, want, atol=1e-6)
    assert len(texture_levels(np.zeros((1, 6, 8, 3), np.float32))) == 2  # stops at a side of 2


def test_mip_level_keeps_at_most_one_texel_row_per_pixel() -> None:
    thickness = np.array([0.5, 2.0, 3.0, 4.0, 6.0, 8.0, 13.0, 14.0, 40.0], np.float32)
    level = mip_level(thickness)
    rows = TEXTURE_SHAPE[0] / 2.0 ** level
    pixels = MESH_WIDEN * thickness
    assert np.all((rows / pixels <= 1.0 + 1e-6) | (level == 3))
    assert np.all((level == 0) | (2.0 * rows / pixels > 1.0))  # the finest such level
    np.testing.assert_array_equal(level, [3, 3, 3, 3, 3, 2, 2, 1, 0])


def _thin_strokes(shift_x: float = 0.0):
    """40 random strokes 3 px thick (they read the coarsest, 4-row mip level) on a 96 px canvas."""
    rng = np.random.default_rng(3)
    pos = np.concatenate([straight_stroke(c, a, 14.0, 3.0) for c, a in zip(rng.uniform(16, 80, (40, 2)), rng.uniform(0, 180, 40))])
    strokes = make_strokes(pos + np.array([shift_x, 0.0]))
    return replace(strokes, thickness=np.full(40, 3.0, np.float32), colors=rng.random((40, 3)).astype(np.float32))


def test_filtered_edges_move_with_subpixel_shifts() -> None:
    """Strokes shifted by a quarter pixel render (nearly) as their render shifted by a quarter
    pixel: the footprint ramps to zero inside the mesh instead of stopping on the coarse level's
    border texel (0.56 on the 4-row level), which switched pixels along the edges on and off."""
    import cv2

    tex = brush_textures(Style.OIL)
    assert mip_level(np.float32(3.0)) == 3
    errors = {}
    for filtered in (False, True):
        canvases = []
        for dx in (0.0, 0.25):
            canvas = np.full((96, 96, 3), 0.5, np.float32)
            render_strokes(_thin_strokes(dx), canvas, textures=tex, bilinear=True, filtered_edges=filtered)
            canvases.append(canvas)
        gx, gy = np.meshgrid(np.arange(96, dtype=np.float32) - 0.25, np.arange(96, dtype=np.float32))
        warped = cv2.remap(canvases[0], gx, gy, cv2.INTER_LINEAR)
        errors[filtered] = float(np.mean((canvases[1] - warped)[8:-8, 8:-8] ** 2))
    assert errors[True] < 0.5 * errors[False], errors


@pytest.mark.parametrize(("thickness", "corner_spread"), [(3.0, 1.15), (6.0, 1.03)])
def test_filtered_edges_keep_a_stroke_s_width_at_any_subpixel_position(thickness: float, corner_spread: float) -> None:
    """The paint a thin stroke lays across its width (the coverage summed down a pixel column)
    does not depend on where the stroke sits within a pixel, and is that of the full-size
    texture; corner-to-corner sampling of the coarse levels made it vary by up to ~20 % (3 px)
    and ~4 % (6 px) and ~10 % too wide."""
    tex = brush_textures(Style.OIL)

    def width(y: float, **kw) -> float:
        strokes = replace(make_strokes(straight_stroke((48, y), 0.0, 60, thickness)), thickness=np.full(1, thickness, np.float32))
        cov = np.zeros((96, 96), np.float32)
        render_strokes(strokes, np.zeros((96, 96, 3), np.float32), cov, textures=tex, bilinear=True, **kw)
        return float(cov[:, 48].sum())

    offsets = np.linspace(48.0, 49.0, 8, endpoint=False)
    filtered = np.array([width(y) for y in offsets])
    corner = np.array([width(y, filtered_edges=False) for y in offsets])
    full = np.mean([width(y, mip=False) for y in offsets])  # the 32-row texture itself
    assert filtered.max() / filtered.min() < 1.06
    assert corner.max() / corner.min() > corner_spread
    assert abs(filtered.mean() / full - 1.0) < 0.04
    assert corner.mean() / full > 1.06


@pytest.mark.parametrize("thickness", [3.0, 5.0, 9.0, 20.0])
def test_a_stroke_reads_the_mip_level_of_its_thickness(thickness: float) -> None:
    tex = brush_textures(Style.OIL)
    pos = np.concatenate([straight_stroke((40 + 30 * k, 48), 25.0 * k, 50, thickness) for k in range(3)])
    strokes = replace(make_strokes(pos), thickness=np.full(3, thickness, np.float32), brush=np.arange(3, dtype=np.uint8))
    level = int(mip_level(strokes.thickness)[0])
    mipped = np.full((96, 128, 3), 0.5, np.float32)
    render_strokes(strokes, mipped, textures=tex)
    direct = np.full((96, 128, 3), 0.5, np.float32)
    render_strokes(strokes, direct, textures=texture_levels(tex)[level], mip=False)
    np.testing.assert_array_equal(mipped, direct)
    full = np.full((96, 128, 3), 0.5, np.float32)
    render_strokes(strokes, full, textures=tex, mip=False)
    assert (level == 0) == np.array_equal(full, mipped)


def test_region2_is_the_source_blended_through_the_feature_alpha() -> None:
    """Where alpha is 1 the output is the source itself, where it is 0 the painting, and in the
    feathered rim (alpha 0.25, 0.5, 0.75) exactly ``rint(p + a (s - p))`` of the two."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (50, 60, 3), dtype=np.uint8)
    labels = np.full((50, 60), Region.BACKGROUND, np.uint8)
    labels[20:30, 20:40] = Region.FEATURES
    alpha = np.zeros((50, 60), np.float32)
    alpha[14:36, 14:46] = 0.25
    alpha[16:34, 16:44] = 0.5
    alpha[18:32, 18:42] = 0.75
    alpha[20:30, 20:40] = 1.0
    strokes = make_strokes(straight_stroke((30, 25), 0.0, 80, 60))
    painting = Painting(background=strokes, face=empty_stroke_set(4))
    result = render_painting(painting, image, RegionMap(labels=labels, feature_alpha=alpha), config=RenderConfig())
    plain = render_painting(painting, image, RegionMap(labels=labels, feature_alpha=np.zeros_like(alpha)), config=RenderConfig())
    assert result.image.shape == image.shape and result.image.dtype == np.uint8
    np.testing.assert_array_equal(result.image[alpha == 1.0], image[alpha == 1.0])
    np.testing.assert_array_equal(result.image[alpha == 0.0], plain.image[alpha == 0.0])
    p, s = plain.image.astype(np.float32), image.astype(np.float32)
    want = np.rint(p + alpha[..., None] * (s - p)).astype(np.uint8)
    for a in (0.25, 0.5, 0.75):
        rim = alpha == a
        assert np.abs(s - p)[rim].mean() > 40, "painting and source differ there: the blend shows"
        np.testing.assert_array_equal(result.image[rim], want[rim], err_msg=f"alpha {a}")
    np.testing.assert_array_equal(result.coverage, plain.coverage)  # the stroke footprint, before region 2
    assert result.coverage.dtype == np.float32 and 0 <= result.coverage.min() and result.coverage.max() <= 1


def test_composite_canvas_is_quantise_then_composite() -> None:
    """The fused pass gives the bytes of canvas_to_uint8 followed by composite_features."""
    rng = np.random.default_rng(5)
    canvas = rng.uniform(-0.1, 1.1, (40, 70, 3)).astype(np.float32)
    image = rng.integers(0, 256, (40, 70, 3), dtype=np.uint8)
    alpha = rng.uniform(-0.2, 1.2, (40, 70)).astype(np.float32)
    alpha[:10] = 0.0
    alpha[10:15] = 1.0
    alpha[15:20, ::3] = 0.5
    want = composite_features(canvas_to_uint8(canvas), image, alpha)
    np.testing.assert_array_equal(composite_canvas(canvas, image, alpha), want)
    zero = np.zeros((40, 70), np.float32)
    np.testing.assert_array_equal(composite_canvas(canvas, image, zero), canvas_to_uint8(canvas))
    with pytest.raises(InputError):
        composite_canvas(canvas, image[:20], alpha)


def test_empty_painting_gives_the_underpainting() -> None:
    image = np.full((20, 30, 3), 100, np.uint8)
    regions = RegionMap(labels=np.full((20, 30), 3, np.uint8), feature_alpha=np.zeros((20, 30), np.float32))
    painting = Painting(background=empty_stroke_set(6), face=empty_stroke_set(4))
    result = render_painting(painting, image, regions)
    assert np.abs(result.image.astype(int) - 100).max() <= 1 and result.coverage.max() == 0
    paper = render_painting(painting, image, regions, config=RenderConfig(underpainting="paper"))
    np.testing.assert_array_equal(paper.image[0, 0], np.rint(np.array(RenderConfig().paper_color) * 255))


def test_an_object_moving_changes_the_underpainting_only_near_it() -> None:
    # A dark square moves 5 px over a flat 720p frame; what shows between strokes changes
    # within a few pixels of its edges only (a 64-pixel copy blurred by 2 % of the side, the
    # old default, changed it up to 60 px away).
    frames = []
    for x in (600, 605):
        image = np.full((720, 1280, 3), 180, np.uint8)
        image[300:400, x:x + 100] = 20
        frames.append(image)
    regions = RegionMap(labels=np.full((720, 1280), 3, np.uint8), feature_alpha=np.zeros((720, 1280), np.float32))
    painting = Painting(background=empty_stroke_set(6), face=empty_stroke_set(4))
    far = np.ones((720, 1280), bool)
    far[300 - 24:400 + 24, 600 - 24:705 + 24] = False
    for config, changed_far in ((RenderConfig(), False), (RenderConfig(underpainting_blur=0.02, underpainting_side_px=64), True)):
        a, b = (render_painting(painting, f, regions, config=config).image.astype(int) for f in frames)
        assert (np.abs(a - b).max(axis=2)[far] > 1).any() == changed_far
    with pytest.raises(InputError, match="underpainting_side_px"):
        render_painting(painting, frames[0], regions, config=RenderConfig(underpainting_side_px=4))


def test_bad_input() -> None:
    s = make_strokes(straight_stroke((10, 10), 0.0, 10, 4))
    with pytest.raises(InputError):
        render_strokes(s, np.zeros((20, 20, 3), np.float64))
    with pytest.raises(InputError):
        render_strokes(s, np.zeros((20, 20, 3), np.float32), np.zeros((10, 10), np.float32))
    with pytest.raises(InputError, match="C-contiguous"):  # it is drawn into through a flat view
        render_strokes(s, np.zeros((20, 20, 3), np.float32), np.zeros((20, 20), np.float32, order="F"))
    bad = StrokeSet(**{**s.__dict__, "positions": np.zeros((1, 5, 2), np.float32)})
    with pytest.raises(InputError):
        render_strokes(bad, np.zeros((20, 20, 3), np.float32))
    with pytest.raises(InputError):
        render_painting(
            Painting(s, empty_stroke_set(4)),
            np.zeros((20, 20, 3), np.uint8),
            RegionMap(labels=np.full((10, 10), 3, np.uint8), feature_alpha=np.zeros((10, 10), np.float32)),
        )
    with pytest.raises(InputError):
        RenderConfig(underpainting="nope") and render_painting(
            Painting(s, empty_stroke_set(4)),
            np.zeros((20, 20, 3), np.uint8),
            RegionMap(labels=np.full((20, 20), 3, np.uint8), feature_alpha=np.zeros((20, 20), np.float32)),
            config=RenderConfig(underpainting="nope"),
        )


@pytest.mark.parametrize("with_new_face", [True, False])
def test_strokes_slipped_under_match_a_full_render(with_new_face) -> None:
    """add_strokes_under gives the render of the merged painting (new strokes drawn first in
    each set) up to float rounding, canvas and coverage alike."""
    rng = np.random.default_rng(3)
    shape = (90, 120)
    image = (rng.random(shape + (3,)) * 255).astype(np.uint8)
    old = random_painting(rng, 300, 80, shape)
    new = random_painting(rng, 40, 15 if with_new_face else 0, shape)
    # New strokes only in part of the frame, as in a real update.
    keep = new.background.positions[:, :, 0].mean(axis=1) < 70
    new = Painting(background=select_strokes(new.background, keep), face=new.face)
    config = RenderConfig(style=Style.OIL)
    layers = render_layers(old, image, config=config)
    add_strokes_under(layers, new, config=config)
    merged = Painting(
        background=merge_strokes(new.background, old.background), face=merge_strokes(new.face, old.face)
    )
    ref = render_layers(merged, image, config=config)
    np.testing.assert_allclose(layers.canvas, ref.canvas, atol=2e-5)
    np.testing.assert_allclose(layers.coverage, ref.coverage, atol=2e-5)
    assert np.abs(layers.canvas - render_layers(old, image, config=config).canvas).max() > 0.05, "the new strokes show"


def test_strokes_slipped_under_far_apart_touch_only_their_cells() -> None:
    """Holes far apart: only the 32-pixel cells the new strokes' boxes touch change, and the
    result is still the full render of the merged painting."""
    rng = np.random.default_rng(5)
    shape = (120, 200)
    image = (rng.random(shape + (3,)) * 255).astype(np.uint8)
    old = random_painting(rng, 500, 60, shape)
    left = straight_stroke((20, 30), 30, 14, 6)
    left2 = straight_stroke((30, 40), 100, 12, 5)
    right = straight_stroke((170, 90), 60, 16, 7)
    nan = np.full_like(left, np.nan)  # a stroke that draws nothing marks no cell
    new_bg = make_strokes(np.concatenate([left, right, nan, left2]))
    new = Painting(background=new_bg, face=make_strokes(straight_stroke((112, 60), 10, 6, 3, columns=2)))
    config = RenderConfig()
    layers = render_layers(old, image, config=config)
    before = layers.canvas.copy()
    add_strokes_under(layers, new, config=config)
    merged = Painting(background=merge_strokes(new.background, old.background), face=merge_strokes(new.face, old.face))
    ref = render_layers(merged, image, config=config)
    np.testing.assert_allclose(layers.canvas, ref.canvas, atol=2e-5)
    np.testing.assert_allclose(layers.coverage, ref.coverage, atol=2e-5)
    changed = np.abs(layers.canvas - before).max(axis=2) > 0
    cells = np.zeros((4, 7), bool)  # 32-pixel cells of the 120 x 200 frame
    ys, xs = np.nonzero(changed)
    cells[ys // 32, xs // 32] = True
    assert 3 <= cells.sum() <= 10, "a few cells around the three places changed, the rest is untouched"
    assert not changed[80:, 40:100].any(), "no new stroke there"


def test_mesh_widening_and_its_box_match_numpy() -> None:
    """The numba widening is bit-identical to the float64 numpy formula it replaced, and the
    stroke box is that of its finite particles widened by the widest mesh any stroke gets
    (MESH_REACH; NaN strokes ignored)."""
    from facepaint.render.brushes import MESH_REACH, MESH_WIDEN
    from facepaint.render.render import _box_of, _widened

    rng = np.random.default_rng(5)
    for p in (4, 6):
        pos = (rng.random((500, p, 2)) * 300).astype(np.float32)
        pos[7, 1, 0] = np.nan
        rows = pos.astype(np.float64).reshape(500, 2, p // 2, 2)
        mid = 0.5 * (rows[:, :1] + rows[:, 1:])
        widen = rng.uniform(1.0, 2.0, 500)
        expected = (np.round((mid + widen[:, None, None, None] * (rows - mid)) * 1024.0) / 1024.0).reshape(500, p, 2).astype(np.float32)
        np.testing.assert_array_equal(_widened(pos, widen), expected)
        reach = (np.round((mid + MESH_REACH * (rows - mid)) * 1024.0) / 1024.0).reshape(500, p, 2).astype(np.float32)
        strokes = StrokeSet(
            positions=pos, velocities=np.zeros_like(pos), rest_lengths=np.zeros((500, len(springs_for(p))), np.float32),
            springs=springs_for(p), colors=np.zeros((500, 3), np.float32), thickness=np.ones(500, np.float32),
            brush=np.zeros(500, np.uint8), region=np.zeros(500, np.uint8), age=np.zeros(500, np.int32),
            ids=np.arange(500, dtype=np.int64),
        )
        pts = reach.reshape(-1, 2)
        pts = pts[np.isfinite(pts).all(axis=1)]
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        box = (max(0, int(np.floor(lo[1])) - 2), min(400, int(np.ceil(hi[1])) + 2),
               max(0, int(np.floor(lo[0])) - 2), min(400, int(np.ceil(hi[0])) + 2))
        assert _box_of(strokes, (400, 400)) == box
    nan = replace(strokes, positions=np.full_like(pos, np.nan))
    assert _box_of(nan, (400, 400)) is None
