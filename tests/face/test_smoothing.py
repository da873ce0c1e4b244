"""The One Euro filter: still input stays put, noise shrinks, fast moves are followed."""

from __future__ import annotations

import numpy as np

from facepaint.face.smoothing import OneEuroConfig, OneEuroFilter


def test_constant_signal_is_unchanged():
    f = OneEuroFilter()
    points = np.array([[10.0, 20.0], [30.5, 40.25]], np.float32)
    for _ in range(5):
        out = f(points, dt_s=1 / 30, scale=100.0)
    np.testing.assert_allclose(out, points, atol=1e-5)


def test_jitter_is_reduced_on_a_still_face():
    rng = np.random.default_rng(1)
    f = OneEuroFilter()
    base = np.full((36, 2), 50.0)
    raw, smooth = [], []
    for _ in range(120):
        sample = (base + rng.normal(0, 0.5, base.shape)).astype(np.float32)
        raw.append(sample)
        smooth.append(f(sample, dt_s=1 / 30, scale=100.0))
    raw_jitter = np.std(np.diff(np.array(raw[30:]), axis=0))
    smooth_jitter = np.std(np.diff(np.array(smooth[30:]), axis=0))
    assert smooth_jitter < 0.35 * raw_jitter


def test_fast_move_is_followed_with_little_lag():
    f = OneEuroFilter(OneEuroConfig())
    lag = []
    for i in range(60):  # a face of 100 px moving 10 px a frame (3 face sizes a second)
        x = np.array([[10.0 * i, 0.0]], np.float32)
        out = f(x, dt_s=1 / 30, scale=100.0)
        lag.append(float(x[0, 0] - out[0, 0]))
    assert max(lag[20:]) < 10.0  # under one frame of motion behind
    f.reset()
    np.testing.assert_allclose(f(np.zeros((1, 2), np.float32), dt_s=1 / 30, scale=1.0), 0.0)


def test_a_jump_after_standing_still_is_followed_at_once():
    # A 77 px face stands still for 6 frames (a clip repeating frames), then jumps 18 px, as
    # lp_s13's head does: the filter follows the jump in the frame it happens (before: a third
    # of it behind on lp_s13, 2.6 px here), and the jitter of the still frames stays smoothed.
    rng = np.random.default_rng(2)
    f = OneEuroFilter()
    base = np.full((36, 2), 100.0)
    for _ in range(30):
        f((base + rng.normal(0, 0.3, base.shape)).astype(np.float32), dt_s=1 / 25, scale=77.0)
    jumped = (base + [18.0, 0.0]).astype(np.float32)
    np.testing.assert_allclose(f(jumped, dt_s=1 / 25, scale=77.0), jumped, atol=1e-4)
    without = OneEuroFilter(OneEuroConfig(jump_faces=0.0))
    for _ in range(30):
        without(base.astype(np.float32), dt_s=1 / 25, scale=77.0)
    assert float(jumped[0, 0] - without(jumped, dt_s=1 / 25, scale=77.0)[0, 0]) > 2.0  # the old filter lags
