"""Face strokes follow the face mesh: the piecewise-affine map between two meshes."""

from __future__ import annotations

import numpy as np
import pytest

from facepaint.errors import InputError
from facepaint.face import mesh_motion, mesh_triangles, piecewise_affine
from facepaint.types import Face


def _grid_mesh(n: int = 6, size: float = 40.0, origin=(20.0, 30.0)) -> np.ndarray:
    g = np.stack(np.meshgrid(np.linspace(0, size, n), np.linspace(0, size, n)), axis=-1).reshape(-1, 2)
    return (g + np.asarray(origin)).astype(np.float32)


def _face(track_id: int, mesh: np.ndarray) -> Face:
    return Face(
        box=np.r_[mesh.min(0), mesh.max(0)].astype(np.float32), score=1.0, track_id=track_id,
        contour=mesh[:36].copy(), feature_mask=np.zeros((1, 1), np.uint8), mask_offset=(0, 0), mesh=mesh,
    )


def test_an_affine_motion_is_reproduced_exactly_inside_and_outside_the_mesh() -> None:
    before = _grid_mesh()
    a = np.array([[1.1, -0.2], [0.15, 0.95]])
    t = np.array([3.5, -2.0])
    after = before @ a.T + t
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 100, (200, 2))  # inside and outside the mesh's hull
    np.testing.assert_allclose(piecewise_affine(before, after, points), points @ a.T + t, atol=1e-3)


def test_each_triangle_moves_its_points_by_its_own_vertices() -> None:
    # One vertex of the grid moves: points near it follow, points of far triangles do not.
    before = _grid_mesh(n=5, size=40, origin=(0, 0))
    after = before.copy()
    moved = 12  # the vertex at (20, 20)
    assert np.allclose(before[moved], [20, 20])
    after[moved] += [4.0, 0.0]
    out = piecewise_affine(before, after, np.array([[20.0, 20.0], [21.0, 20.0], [2.0, 2.0], [38.0, 38.0]]))
    np.testing.assert_allclose(out[0], [24.0, 20.0], atol=1e-4)
    assert 21.0 < out[1, 0] < 25.0
    np.testing.assert_allclose(out[2:], [[2.0, 2.0], [38.0, 38.0]], atol=1e-4)


def test_mesh_motion_moves_only_points_of_faces_tracked_in_both_frames() -> None:
    m1, m2 = _grid_mesh(origin=(10, 10)), _grid_mesh(origin=(100, 10))
    previous = [_face(1, m1), _face(2, m2)]
    current = [_face(1, m1 + [5.0, 1.0]), _face(3, m2)]  # face 2 is lost, 3 is new
    points = np.array([[20, 20], [110, 20], [20, 25]], np.float32)
    motion = mesh_motion(points, np.array([1, 2, -1]), previous, current)
    np.testing.assert_allclose(motion[0], [5.0, 1.0], atol=1e-4)
    assert np.isnan(motion[1]).all() and np.isnan(motion[2]).all()


def test_empty_and_bad_input() -> None:
    m = _grid_mesh()
    assert mesh_motion(np.zeros((0, 2), np.float32), np.zeros(0, int), [_face(1, m)], [_face(1, m)]).shape == (0, 2)
    with pytest.raises(InputError, match="owners"):
        mesh_motion(np.zeros((3, 2), np.float32), np.zeros(2, int), [], [])
    with pytest.raises(InputError, match="landmark"):
        piecewise_affine(m, m[:-1], np.zeros((1, 2)))
    # all landmarks on a line: the affine least-squares map still gives finite points
    line = np.c_[np.arange(10.0), np.arange(10.0)]
    assert np.isfinite(piecewise_affine(line, line + 1, np.array([[3.0, 3.0]]))).all()


def test_a_triangulation_made_ahead_gives_the_same_motion() -> None:
    rng = np.random.default_rng(3)
    before = rng.uniform(0, 100, (60, 2))
    after = before + rng.normal(0, 1.5, before.shape)
    points = rng.uniform(-10, 110, (500, 2))
    triangles = mesh_triangles(before)
    assert triangles.shape[1] == 3 and triangles.dtype == np.int32
    np.testing.assert_array_equal(piecewise_affine(before, after, points, triangles=triangles), piecewise_affine(before, after, points))
    assert mesh_triangles(np.c_[np.arange(10.0), np.arange(10.0)]) is None  # all on a line
