"""Warping error on synthetic clips with known answers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facepaint.errors import InputError
from facepaint.metrics import WarpConfig, correspondence, estimate_flow, warping_error, warping_errors


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth random RGB texture in [60, 190] (no clipping when noise is added)."""
    rng = np.random.default_rng(seed)
    noise = rng.random((height, width, 3)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return (60 + 130 * smooth).astype(np.uint8)


def translating(frames: int = 6, step=(2, 1), size=(64, 80)) -> list[np.ndarray]:
    """Crops of a larger texture moving by ``step = (dx, dy)`` pixels a frame."""
    height, width = size
    big = texture(height + frames * step[1] + 1, width + frames * step[0] + 1)
    return [
        big[frames * step[1] - t * step[1] :][:height, frames * step[0] - t * step[0] :][:, :width].copy()
        for t in range(frames)
    ]


def test_identical_output_has_the_inputs_error():
    frames = translating()
    result = warping_error(frames, frames)
    assert result.pairs == len(frames) - 1
    assert result.output == result.input
    assert result.ratio == pytest.approx(1.0)
    assert result.per_pair_output.shape == (len(frames) - 1,)


def test_flow_recovers_a_translation_and_warping_cancels_it():
    frames = translating(step=(2, 1))
    flow = estimate_flow(cv2.cvtColor(frames[1], cv2.COLOR_RGB2GRAY), cv2.cvtColor(frames[0], cv2.COLOR_RGB2GRAY))
    inner = flow[16:-16, 16:-16]
    # content moves by (+2, +1) a frame, so frame t's pixel was at (-2, -1) in frame t-1
    assert np.median(inner[..., 0]) == pytest.approx(-2.0, abs=0.15)
    assert np.median(inner[..., 1]) == pytest.approx(-1.0, abs=0.15)
    own = warping_error(frames, frames).input
    unwarped = np.mean([np.mean(((a / 255.0) - (b / 255.0)) ** 2) for a, b in zip(frames[1:], frames[:-1])])
    assert own < 0.1 * unwarped


def test_pixels_coming_from_outside_the_frame_are_masked():
    frames = translating(step=(2, 1))
    corr = correspondence(frames[0], frames[1])
    assert corr.valid.dtype == bool and corr.valid.shape == frames[0].shape[:2]
    assert not corr.valid[:, 0].any()  # they were at x = -2 in the previous frame
    assert corr.valid[20:-20, 20:-20].mean() > 0.95


def test_occlusion_mask_drops_the_disoccluded_strip():
    # A textured square moves 8 px right over a static texture: the 8 px strip it uncovers has
    # no match in the previous frame, everything else does (TV-L1 resolves this exactly).
    background = texture(96, 128, seed=2)
    square = texture(32, 32, seed=5) // 2 + 100

    def frame(x: int) -> np.ndarray:
        image = background.copy()
        image[32:64, x : x + 32] = square
        return image

    corr = correspondence(frame(40), frame(48), WarpConfig(flow="tvl1"))
    columns = np.arange(128, dtype=np.float32)
    assert np.median(corr.map_x[38:58, 54:74] - columns[54:74]) == pytest.approx(-8.0, abs=0.3)
    assert corr.valid[38:58, 54:74].mean() > 0.95  # the square itself
    assert corr.valid[34:62, 41:47].mean() < 0.1  # uncovered background
    assert corr.valid[5:25, 5:120].mean() > 0.95  # static background


def test_per_frame_noise_adds_twice_its_variance():
    # Static input: flow 0, so O_t - O_{t-1} is the difference of two independent noises.
    still = texture(64, 80)
    frames = [still] * 6
    sigma = 6.0
    rng = np.random.default_rng(1)
    noisy = [np.clip(np.round(still + rng.normal(0, sigma, still.shape)), 0, 255).astype(np.uint8) for _ in frames]
    result = warping_error(frames, noisy)
    assert result.input == pytest.approx(0.0, abs=1e-6)
    expected = 2 * (sigma / 255.0) ** 2
    assert result.output - result.input == pytest.approx(expected, rel=0.08)


def test_stronger_flicker_gives_larger_error():
    frames = translating()
    mild = [np.clip(f.astype(int) + (3 if i % 2 else -3), 0, 255).astype(np.uint8) for i, f in enumerate(frames)]
    strong = [np.clip(f.astype(int) + (12 if i % 2 else -12), 0, 255).astype(np.uint8) for i, f in enumerate(frames)]
    results = warping_errors(frames, {"mild": mild, "strong": strong})
    assert results["mild"].input < results["mild"].output < results["strong"].output
    # a uniform +-d flicker adds (2d)^2 to every valid pixel
    assert results["strong"].output - results["strong"].input == pytest.approx((24 / 255) ** 2, rel=0.05)


def test_downscaled_flow_agrees_with_full_size_flow():
    frames = translating(size=(96, 128))
    full = warping_error(frames, frames, WarpConfig(flow_max_side_px=0)).input
    half = warping_error(frames, frames, WarpConfig(flow_max_side_px=64)).input
    assert half < 4 * full + 1e-4


def test_single_frame_has_no_pairs():
    frames = translating(frames=1)
    result = warping_error(frames, frames)
    assert result.pairs == 0 and np.isnan(result.output) and np.isnan(result.ratio)


def test_bad_inputs_are_refused_with_a_clear_error():
    frames = translating(frames=3)
    with pytest.raises(InputError, match="uint8"):
        warping_error(frames, [f.astype(np.float32) for f in frames])
    with pytest.raises(InputError, match="resize the output"):
        warping_error(frames, [f[:-1] for f in frames])
    with pytest.raises(InputError, match="ended after 2 frames"):
        warping_error(frames, frames[:2])
    with pytest.raises(InputError, match="reserved"):
        warping_errors(frames, {"input": frames})
    with pytest.raises(InputError, match="flow_max_side_px"):
        WarpConfig(flow_max_side_px=-1)
    with pytest.raises(ValueError):
        WarpConfig(flow="dis")
