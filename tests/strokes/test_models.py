"""Particle layouts of the two stroke models."""

from __future__ import annotations

import numpy as np
import pytest

from facepaint.errors import InputError
from facepaint.strokes import (
    SPRINGS_4,
    SPRINGS_6,
    concat_stroke_sets,
    empty_stroke_set,
    ladder_from_spine,
    ladder_triangles,
    ladder_uv,
    material_points,
    rest_lengths,
    springs_for,
)


def test_spring_topologies() -> None:
    assert SPRINGS_6.shape == (9, 2) and SPRINGS_4.shape == (5, 2)
    # Every spring joins two distinct particles, no spring twice.
    for springs, p in ((SPRINGS_6, 6), (SPRINGS_4, 4)):
        assert np.all(springs[:, 0] != springs[:, 1]) and springs.max() == p - 1
        assert len({tuple(sorted(s)) for s in springs.tolist()}) == len(springs)
        # Every mesh edge is a spring.
        edges = {tuple(sorted(e)) for t in ladder_triangles(p).tolist() for e in ((t[0], t[1]), (t[1], t[2]), (t[0], t[2]))}
        assert edges <= {tuple(sorted(s)) for s in springs.tolist()}
    with pytest.raises(InputError):
        springs_for(5)


def test_ladder_layout_top_row_on_the_normal_side() -> None:
    # A stroke running right (+x): the top row (normal (dy, -dx) = (0, -1)) is above (smaller y).
    spine = np.array([[[10.0, 20.0], [20.0, 20.0], [30.0, 20.0]]])
    p = ladder_from_spine(spine, np.array([4.0]))
    np.testing.assert_allclose(p[0, :3], [[10, 18], [20, 18], [30, 18]])
    np.testing.assert_allclose(p[0, 3:], [[10, 22], [20, 22], [30, 22]])
    np.testing.assert_allclose(material_points(p), [[20.0, 20.0]])
    lengths = rest_lengths(p, SPRINGS_6)
    np.testing.assert_allclose(lengths[0], [10, 10, 10, 10, 4, 4, 4, np.hypot(10, 4), np.hypot(10, 4)], rtol=1e-6)
    uv = ladder_uv(6)
    np.testing.assert_allclose(uv, [[0, 0], [0.5, 0], [1, 0], [0, 1], [0.5, 1], [1, 1]])


def test_four_particle_material_point_is_the_centre() -> None:
    spine = np.array([[[0.0, 0.0], [6.0, 8.0]]])
    p = ladder_from_spine(spine, np.array([3.0]))
    assert p.shape == (1, 4, 2)
    np.testing.assert_allclose(material_points(p), [[3.0, 4.0]], atol=1e-6)


def test_empty_and_concat() -> None:
    e = empty_stroke_set(6)
    assert len(e) == 0 and e.positions.shape == (0, 6, 2) and e.rest_lengths.shape == (0, 9)
    both = concat_stroke_sets(e, e)
    assert len(both) == 0
    with pytest.raises(InputError):
        concat_stroke_sets(e, empty_stroke_set(4))
