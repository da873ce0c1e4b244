"""Tests of facepaint.flow: known translations, occlusion, sampling, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from facepaint.errors import InputError
from facepaint.flow import (
    FlowConfig,
    FlowEstimator,
    estimate_flow,
    sample_field,
    sample_flow,
    sample_mask,
    upsample_flow,
    warp_backward,
)


def _texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth random texture (uint8 RGB) that DIS can track."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.random((h // 4 + 2, w // 4 + 2, 3)).astype(np.float32)
    big = cv2.resize(noise, (w + 8, h + 8), interpolation=cv2.INTER_CUBIC)
    return np.clip(big * 255, 0, 255).astype(np.uint8)


def _shift(img: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Content moves by (+dx, +dy)."""
    return np.roll(np.roll(img, dy, axis=0), dx, axis=1)


@pytest.mark.parametrize("mode", ["fast", "accurate"])
def test_translation_is_recovered(mode):
    base = _texture(128, 160)
    a, b = base[:120, :150], _shift(base, 3, -2)[:120, :150]
    res = estimate_flow(a, b, config=FlowConfig(mode=mode))
    assert res.forward.shape == (120, 150, 2) and res.forward.dtype == np.float32
    inner = res.forward[16:-16, 16:-16]
    assert np.median(inner[..., 0]) == pytest.approx(3.0, abs=0.2)
    assert np.median(inner[..., 1]) == pytest.approx(-2.0, abs=0.2)
    assert np.median(res.backward[16:-16, 16:-16, 0]) == pytest.approx(-3.0, abs=0.2)
    # Consistent flow away from the borders: (almost) nothing occluded there.
    assert res.occluded_prev[16:-16, 16:-16].mean() < 0.05


def test_downscaled_flow_is_in_full_pixels():
    """Flow estimated at half size is read at full-size points in full-size pixels. A zoom (flow
    ``0.04 (p - c)``, varying over the frame) shows where points are looked up, a translation
    that the values are scaled; the errors are those of the full-size estimate (about 0.06 px
    median, 0.15 px at the points)."""
    import cv2

    base = _texture(400, 520, seed=1)
    a, b = base[:360, :480], _shift(base, 6, 4)[:360, :480]
    est = FlowEstimator(FlowConfig(max_side_px=240))
    res = est(a, b)
    assert res.scale == pytest.approx(2.0)
    assert res.forward.shape == (180, 240, 2)
    pts = np.array([[[200.0, 150.0], [300.0, 200.0]]], np.float32)
    got = sample_flow(res, pts)
    assert got.shape == (1, 2, 2)
    np.testing.assert_allclose(got, [[[6, 4], [6, 4]]], atol=0.15)
    full = upsample_flow(res.forward, res.scale, res.full_shape)
    assert full.shape == (360, 480, 2)
    assert np.median(np.abs(full[40:-40, 40:-40] - [6, 4])) < 0.05

    zoom, centre = 1.04, np.array([240.0, 180.0])
    warp = np.float32([[zoom, 0, (1 - zoom) * centre[0]], [0, zoom, (1 - zoom) * centre[1]]])
    zoomed = cv2.warpAffine(a, warp, (480, 360), flags=cv2.INTER_CUBIC)
    res = est(a, zoomed)
    pts = np.array([[100, 80], [380, 80], [240, 180], [120, 290], [400, 300]], np.float32)
    np.testing.assert_allclose(sample_flow(res, pts), (zoom - 1) * (pts - centre), atol=0.3)
    yy, xx = np.mgrid[0:360, 0:480]
    truth = (zoom - 1) * (np.stack([xx, yy], axis=-1) - centre)
    full = upsample_flow(res.forward, res.scale, res.full_shape)
    assert np.median(np.abs(full - truth)[40:-40, 40:-40]) < 0.1


def test_occlusion_flags_disappearing_square():
    bg = _texture(120, 160, seed=2)
    a = bg.copy()
    b = bg.copy()
    # A textured square present in frame a vanishes in frame b.
    sq = _texture(40, 40, seed=3)
    a[40:80, 60:100] = 255 - sq[:40, :40]
    res = estimate_flow(a, b, config=FlowConfig(mode="accurate"))
    occ = res.occluded_prev | res.occluded_next
    inside = occ[45:75, 65:95].mean()
    outside = occ[5:30, 5:50].mean()
    assert inside > outside + 0.2, (inside, outside)


def test_sample_field_bilinear_and_mask():
    field = np.arange(12, dtype=np.float32).reshape(3, 4)
    got = sample_field(field, np.array([[0.5, 0.0], [1.0, 1.5], [10.0, 0.0]]))
    np.testing.assert_allclose(got, [0.5, 7.0, 3.0], atol=1e-5)
    assert sample_field(field, np.zeros((0, 2))).shape == (0,)
    mask = np.zeros((3, 4), bool)
    mask[1, 2] = True
    np.testing.assert_array_equal(sample_mask(mask, np.array([[2.2, 0.9], [0, 0], [-3, 0]])), [True, False, True])


def test_warp_backward_undoes_translation():
    base = _texture(64, 64, seed=4)[:64, :64]
    moved = _shift(base, 2, 1)
    flow = np.zeros((64, 64, 2), np.float32)
    flow[..., 0], flow[..., 1] = -2, -1  # output pixel x is found at x - (2, 1) in base
    np.testing.assert_array_equal(warp_backward(base, flow)[8:-8, 8:-8], moved[8:-8, 8:-8])


def test_bad_input():
    a = np.zeros((20, 20, 3), np.uint8)
    with pytest.raises(InputError, match="same size"):
        estimate_flow(a, np.zeros((21, 20, 3), np.uint8))
    with pytest.raises(InputError, match="uint8"):
        estimate_flow(a.astype(np.float32), a)
    with pytest.raises(InputError, match="shape"):
        estimate_flow(np.zeros((20, 20, 4), np.uint8), a)
    with pytest.raises(InputError, match="fast"):
        FlowConfig(mode="slow")


def test_forward_pass_first_then_complete():
    base = _texture(128, 160, seed=5)
    a, b = base[:120, :150], _shift(base, 2, -1)[:120, :150]
    est = FlowEstimator(FlowConfig(max_side_px=100))
    wa, wb = est.to_working_gray(a), est.to_working_gray(b)
    forward = est.forward(a, b, prev_working=wa, next_working=wb)
    assert forward.backward is None and forward.occluded_prev is None and forward.occluded_next is None
    full = est.complete(forward, wa, wb)
    whole = est(a, b)
    np.testing.assert_array_equal(full.forward, whole.forward)
    np.testing.assert_array_equal(full.backward, whole.backward)
    np.testing.assert_array_equal(full.occluded_prev, whole.occluded_prev)
    np.testing.assert_array_equal(full.occluded_next, whole.occluded_next)
    assert np.median(full.backward[..., 0]) == pytest.approx(-2.0, abs=0.3)
    with pytest.raises(InputError, match="working images"):
        est.complete(forward, wa[:-1], wb[:-1])


def test_static_content_beside_a_moving_one_gets_zero_flow() -> None:
    # The left part pans 2 px a frame, the right part (a static picture) does not move. DIS on
    # a shrunk frame (as on large frames) spreads the pan across the boundary; prefer_static
    # puts the static side back at zero.
    base = _texture(120, 400, seed=3)
    still = _texture(120, 160, seed=4)
    a = np.concatenate([base[:, :240], still], axis=1)
    b = np.concatenate([base[:, 2:242], still], axis=1)
    on = FlowEstimator(FlowConfig(max_side_px=200))(a, b)
    off = FlowEstimator(FlowConfig(max_side_px=200, static_margin=-1.0))(a, b)
    s = int(round(on.scale))
    near_edge = (slice(10 // s, 110 // s), slice(248 // s, 272 // s))  # static, 8-32 px from the moving side
    assert np.abs(off.forward[near_edge]).max() > 0.05  # the smoothness prior spreads the pan
    assert np.abs(on.forward[near_edge]).max() == 0.0 and on.static_prev[near_edge].all()
    assert np.abs(on.backward[near_edge]).max() == 0.0
    moving = (slice(10 // s, 110 // s), slice(20 // s, 220 // s))
    np.testing.assert_allclose(np.median(on.forward[moving][..., 0]), -2.0, atol=0.1)
    assert not on.static_prev[moving].any()


def test_slow_motion_of_texture_is_not_snapped_to_zero() -> None:
    import cv2

    tex = _texture(160, 200, seed=5)
    h, w = tex.shape[:2]
    moved = cv2.warpAffine(tex, np.float32([[1, 0, 0.25], [0, 1, 0]]), (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    on = FlowEstimator(FlowConfig())(tex, moved)
    off = FlowEstimator(FlowConfig(static_margin=-1.0))(tex, moved)
    inner = (slice(20, 140), slice(20, 180))
    assert on.static_prev[inner].mean() < 0.05  # a quarter pixel a frame over texture is motion
    assert np.median(on.forward[inner][..., 0]) == pytest.approx(np.median(off.forward[inner][..., 0]), abs=0.01)


def test_refine_motion_recovers_a_subpixel_shift_and_keeps_the_flow_where_it_cannot_match() -> None:
    import cv2

    from facepaint.flow import refine_motion, texture_map, textured_points

    base = np.ascontiguousarray(cv2.cvtColor(_texture(200, 240, seed=3), cv2.COLOR_RGB2GRAY)[:200, :240])
    true = np.float32([0.37, -0.21])
    moved = cv2.warpAffine(base, np.float32([[1, 0, true[0]], [0, 1, true[1]]]), (240, 200), flags=cv2.INTER_CUBIC)
    rng = np.random.default_rng(0)
    points = rng.uniform(40, 160, (200, 2)).astype(np.float32)
    rough = np.tile(true + np.float32([0.25, 0.15]), (200, 1))  # the flow of a shrunk frame: off by ~0.3 px
    refined = refine_motion(base, moved, points, rough)
    # off by 0.29 px before; a smooth 8-bit texture leaves a few hundredths
    assert np.median(np.abs(refined - true)) < 0.06
    # A flat frame gives no match: the flow's motion is kept as it was.
    flat = np.full_like(base, 128)
    assert np.array_equal(refine_motion(flat, flat, points, rough), rough)
    # The flow 2.5 px off (content too fine for the shrunk frame): a far match, clearly better
    # than the flow's, is taken; with rematching off, nothing farther than max_change_px is.
    far = np.tile(true + np.float32([2.5, 0.0]), (200, 1))
    assert np.median(np.abs(refine_motion(base, moved, points, far) - true)) < 0.06
    assert np.abs(refine_motion(base, moved, points, far, max_change_px=0.75, rematch_gain=0.0) - far).max() <= 0.75
    # Points the flow found static keep their motion unless a far match is clearly better.
    zero = np.zeros_like(rough)
    still = np.ones(200, bool)
    assert np.array_equal(refine_motion(base, base, points, zero, still=still), zero)
    assert np.median(np.abs(refine_motion(base, moved, points, far, still=still) - true)) < 0.06
    # Points left out of the candidates keep the flow's motion; textured_points picks the
    # textured half of a frame whose other half is flat.
    half = base.copy()
    half[:, :120] = 128
    left_right = np.float32([[60, 100], [180, 100]])
    assert textured_points(texture_map(half), left_right, 1.0, 1e-4).tolist() == [False, True]
    shrunk = texture_map(cv2.resize(half, (120, 100), interpolation=cv2.INTER_AREA))
    assert textured_points(shrunk, left_right, 2.0, 1e-4).tolist() == [False, True]
    assert not textured_points(texture_map(half), np.float32([[-50, 100], [500, 100]]), 1.0, 0.0).any()  # outside the frame
    with pytest.raises(InputError, match="uint8"):
        texture_map(half.astype(np.float32))
    # The flow brings the prev frame's texture map where it runs on a shrunk frame (and only there).
    big = cv2.resize(cv2.cvtColor(base, cv2.COLOR_GRAY2RGB), (960, 800))
    shrunk_flow = FlowEstimator(FlowConfig()).forward(big, big)
    assert shrunk_flow.scale > 1 and shrunk_flow.texture_prev.shape == shrunk_flow.forward.shape[:2]
    assert FlowEstimator(FlowConfig()).forward(base, moved).texture_prev is None
    picked = refine_motion(base, moved, points, rough, candidates=np.arange(200) < 100)
    assert np.array_equal(picked[100:], rough[100:]) and np.median(np.abs(picked[:100] - true)) < 0.06
    assert refine_motion(base, moved, np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)).shape == (0, 2)
    with pytest.raises(InputError, match="both be"):
        refine_motion(base, moved, points, rough[:5])
    with pytest.raises(InputError, match="differ in size"):
        refine_motion(base, moved[:100], points, rough)
