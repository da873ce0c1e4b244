"""Tests of facepaint.physics: spring relaxation, flow following, stability, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from facepaint.errors import InputError
from facepaint.flow import FlowResult
from facepaint.physics import (
    PhysicsConfig,
    SpringState,
    advect_strokes,
    build_model,
    rest_lengths_of,
    spring_lengths,
    step,
    STABILITY_MARGIN_H_OMEGA,
    substeps_for,
)
from facepaint.types import Region, StrokeSet

from facepaint.strokes.models import SPRINGS_4, SPRINGS_6, ladder_from_spine

SPRINGS6 = SPRINGS_6


def _strokes(positions: np.ndarray, springs: np.ndarray = SPRINGS6, region: int = Region.BACKGROUND) -> StrokeSet:
    n = positions.shape[0]
    return StrokeSet(
        positions=positions.astype(np.float32),
        velocities=np.zeros_like(positions, np.float32),
        rest_lengths=rest_lengths_of(positions, springs),
        springs=springs,
        colors=np.full((n, 3), 0.5, np.float32),
        thickness=np.full(n, 4.0, np.float32),
        brush=np.zeros(n, np.uint8),
        region=np.full(n, region, np.uint8),
        age=np.zeros(n, np.int32),
        ids=np.arange(n, dtype=np.int64),
    )


def _random_strokes(n: int, seed: int = 0, width: float = 200.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    start = rng.uniform(20, width - 40, (n, 1, 2))
    direction = rng.normal(size=(n, 1, 2))
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    t = np.arange(3)[None, :, None] * 6.0
    bend = rng.normal(scale=0.7, size=(n, 3, 2))
    return ladder_from_spine(start + t * direction + bend, np.full(n, 4.0))


def _flow_from(field: np.ndarray) -> FlowResult:
    h, w = field.shape[:2]
    zeros = np.zeros((h, w), bool)
    return FlowResult(field.astype(np.float32), -field.astype(np.float32), zeros, zeros, 1.0, (h, w))


def test_stretched_springs_relax_to_rest_lengths():
    pos = _random_strokes(50)
    rest = rest_lengths_of(pos, SPRINGS6)
    stretched = pos.copy()
    centre = pos.mean(axis=1, keepdims=True)
    stretched = centre + (pos - centre) * np.array([1.4, 0.8], np.float32)  # anisotropic deformation
    model = build_model(SPRINGS6, rest, 6, PhysicsConfig(k_spring=20.0, damping=6.0))
    state = SpringState(stretched, np.zeros_like(stretched))
    before = np.abs(spring_lengths(stretched, SPRINGS6) - rest).max()
    for _ in range(40):
        state = step(model, state, None)
    after = np.abs(spring_lengths(state.positions, SPRINGS6) - rest).max()
    assert before > 1.0
    assert after < 0.05, after
    # Internal forces only: the centre of mass does not drift.
    np.testing.assert_allclose(state.positions.mean(axis=1), stretched.mean(axis=1), atol=1e-3)


def test_energy_of_a_single_damped_spring_decays():
    pos = np.array([[[0.0, 0.0], [10.0, 0.0]]], np.float32)
    springs = np.array([[0, 1]], np.int32)
    model = build_model(springs, np.array([[5.0]], np.float32), 2, PhysicsConfig(k_spring=10.0, damping=0.5))
    state = SpringState(pos, np.zeros_like(pos))
    energies = []
    for _ in range(30):
        state = step(model, state, None)
        l = spring_lengths(state.positions, springs)[0, 0]
        energies.append(0.5 * 10 * (l - 5) ** 2 + 0.5 * (state.velocities**2).sum())
    assert energies[-1] < 0.01 * energies[0]
    assert np.all(np.isfinite(state.positions))


def test_translation_carries_strokes_with_the_flow():
    """Uniform flow: strokes at rest translate exactly with the flow (float rounding) when each
    particle starts at its target or springs are off; integrated from the old positions with
    springs on, the springs (at rest length) pull them within 0.25 px of it."""
    pos = _random_strokes(200, seed=1)
    field = np.zeros((220, 220, 2), np.float32)
    field[..., 0], field[..., 1] = 4.25, -2.5
    strokes = _strokes(pos)
    for springs_on in (True, False):
        for start_at_targets in (True, False):
            cfg = PhysicsConfig(start_at_targets=start_at_targets, damping=2 * np.sqrt(16.0))
            moved = advect_strokes(strokes, _flow_from(field), config=cfg, use_springs=springs_on)
            disp = moved.positions - pos
            tol = 0.25 if springs_on and not start_at_targets else 1e-3
            assert np.abs(disp - np.array([4.25, -2.5])).max() < tol, (springs_on, start_at_targets)
            np.testing.assert_allclose(moved.velocities, disp, atol=1e-5)
            assert np.all(moved.age == 1)


def test_rotation_field_preserves_shape_springs_vs_no_springs():
    """A shearing flow bends free particles; springs keep the stroke closer to its rest shape."""
    pos = _random_strokes(100, seed=2)
    h = w = 220
    ys = np.arange(h, dtype=np.float32)[:, None].repeat(w, 1)
    field = np.zeros((h, w, 2), np.float32)
    field[..., 0] = 0.25 * (ys - 110)  # strong shear
    strokes = _strokes(pos)
    free = advect_strokes(strokes, _flow_from(field), use_springs=False)
    sprung = advect_strokes(strokes, _flow_from(field), use_springs=True)
    strain_free = np.abs(spring_lengths(free.positions, SPRINGS6) - strokes.rest_lengths).mean()
    strain_sprung = np.abs(spring_lengths(sprung.positions, SPRINGS6) - strokes.rest_lengths).mean()
    assert strain_sprung < 0.8 * strain_free
    # ... while still following the flow on average.
    np.testing.assert_allclose(sprung.positions.mean(1), free.positions.mean(1), atol=0.3)


def test_face_strokes_move_with_their_centre_flow():
    pos = np.array([[[50, 50], [54, 50], [50, 53], [54, 53]]], np.float32)
    springs = SPRINGS_4
    strokes = _strokes(pos, springs, Region.INNER_FACE)
    field = np.zeros((100, 100, 2), np.float32)
    xs = np.arange(100, dtype=np.float32)[None, :].repeat(100, 0)
    field[..., 0] = 0.5 * (xs - 50)  # flow depends on x: per-particle would stretch it
    moved = advect_strokes(strokes, _flow_from(field), driven_by_centre=True)
    disp = moved.positions - pos
    np.testing.assert_allclose(disp, np.broadcast_to(disp[:, :1], disp.shape), atol=1e-3)
    assert disp[0, 0, 0] == pytest.approx(0.5 * (pos[0, :, 0].mean() - 50), abs=0.05)


def test_substeps_follow_the_stability_bound():
    # h sqrt(k_max) <= 1.5 with k_max the Gershgorin bound k_flow + 2 deg k_spring (deg 4).
    n_sub = substeps_for(SPRINGS6, 6, 40.0, 20.0, 1.0)
    assert np.sqrt(40 + 2 * 4 * 20) / n_sub <= STABILITY_MARGIN_H_OMEGA < 2.0
    assert np.sqrt(40 + 2 * 4 * 20) / (n_sub - 1) > STABILITY_MARGIN_H_OMEGA  # and no more substeps than that
    assert substeps_for(np.zeros((0, 2), np.int32), 4, 0.0, 0.0, 1.0, minimum=3) == 3
    # Very stiff springs stay finite thanks to the automatic substeps.
    pos = _random_strokes(10, seed=3)
    rest = rest_lengths_of(pos, SPRINGS6)
    model = build_model(SPRINGS6, rest, 6, PhysicsConfig(k_spring=5000.0, k_flow=0.0))
    state = step(model, SpringState(pos * 1.2, np.zeros_like(pos)), None)
    assert np.all(np.isfinite(state.positions))


def test_empty_and_bad_input():
    empty = _strokes(np.zeros((0, 6, 2), np.float32))
    field = np.zeros((10, 10, 2), np.float32)
    out = advect_strokes(empty, _flow_from(field))
    assert out.positions.shape == (0, 6, 2)
    with pytest.raises(InputError, match="rest_lengths"):
        build_model(SPRINGS6, np.zeros((3, 4), np.float32), 6)
    with pytest.raises(InputError, match="indices"):
        build_model(np.array([[0, 7]]), np.zeros((1, 1)), 6)
    model = build_model(SPRINGS6, np.zeros((2, 9), np.float32), 6)
    pos = np.zeros((2, 6, 2), np.float32)
    with pytest.raises(InputError, match="targets"):
        step(model, SpringState(pos, pos), np.zeros((2, 5, 2), np.float32))
    with pytest.raises(InputError, match="strokes"):
        step(model, SpringState(pos[:1], pos[:1]), None)
    with pytest.raises(InputError, match="k_flow"):
        PhysicsConfig(k_flow=-1)
