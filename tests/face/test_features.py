"""Feature polygons and label crops on synthetic geometry with exact answers."""

from __future__ import annotations

import numpy as np
import pytest

from facepaint.errors import InputError
from facepaint.face.features import contour_from_mesh, feature_mask, polygons_from_mesh
from facepaint.types import FeatureClass


def _square(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)


def test_feature_mask_labels_squares_exactly():
    polygons = {FeatureClass.EYE_L: _square(10, 10, 19, 14), FeatureClass.MOUTH: _square(4, 30, 24, 35)}
    mask, (ox, oy) = feature_mask(polygons, (64, 64))
    assert (ox, oy) == (4, 10)
    assert mask.dtype == np.uint8
    full = np.zeros((64, 64), np.uint8)
    full[oy : oy + mask.shape[0], ox : ox + mask.shape[1]] = mask
    assert (full == FeatureClass.EYE_L).sum() == 10 * 5
    assert (full[10:15, 10:20] == FeatureClass.EYE_L).all()
    assert (full[30:36, 4:25] == FeatureClass.MOUTH).all()
    assert set(np.unique(full)) == {0, FeatureClass.EYE_L, FeatureClass.MOUTH}


def test_feature_mask_clips_to_frame_and_handles_outside():
    mask, offset = feature_mask({FeatureClass.NOSE: _square(-10, -10, 5, 5)}, (20, 20))
    assert offset == (0, 0) and mask.shape == (6, 6)
    assert (mask[:6, :6] == FeatureClass.NOSE).all()
    empty, offset = feature_mask({FeatureClass.NOSE: _square(30, 30, 40, 40)}, (20, 20))
    assert empty.shape == (0, 0)
    nothing, _ = feature_mask({}, (20, 20))
    assert nothing.size == 0


def test_later_classes_win_over_the_nose():
    polygons = {FeatureClass.NOSE: _square(0, 0, 20, 20), FeatureClass.EYE_R: _square(5, 5, 8, 8)}
    mask, _ = feature_mask(polygons, (32, 32))
    assert (mask[5:9, 5:9] == FeatureClass.EYE_R).all()
    assert mask[15, 15] == FeatureClass.NOSE


def test_mesh_helpers_shapes_and_bad_input():
    rng = np.random.default_rng(0)
    mesh = rng.uniform(0, 100, (468, 2)).astype(np.float32)
    contour = contour_from_mesh(mesh)
    assert contour.shape == (36, 2) and contour.dtype == np.float32
    polygons = polygons_from_mesh(mesh)
    assert set(polygons) == set(FeatureClass)
    assert all(p.ndim == 2 and p.shape[1] == 2 and len(p) >= 3 for p in polygons.values())
    with pytest.raises(InputError, match="468, 2"):
        contour_from_mesh(mesh[:100])
