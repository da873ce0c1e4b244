"""The mesh index sets agree with mediapipe's own connection lists."""

from __future__ import annotations

import numpy as np
import pytest

from facepaint.face.topology import FACE_OVAL, FEATURE_RINGS, IBUG68_FROM_MESH, MESH_POINTS
from facepaint.types import CONTOUR_POINTS, FeatureClass

connections = pytest.importorskip("mediapipe.python.solutions.face_mesh_connections")


def _is_ring_of(ring: np.ndarray, edges: frozenset) -> bool:
    undirected = {frozenset(e) for e in edges}
    return all(frozenset((int(a), int(b))) in undirected for a, b in zip(ring, np.roll(ring, -1)))


def test_face_oval_is_mediapipe_ring_of_36():
    assert len(FACE_OVAL) == CONTOUR_POINTS == len(set(FACE_OVAL.tolist()))
    assert FACE_OVAL[0] == 10  # top of the forehead
    assert _is_ring_of(FACE_OVAL, connections.FACEMESH_FACE_OVAL)


@pytest.mark.parametrize(
    ("cls", "edges"),
    [
        (FeatureClass.EYE_L, "FACEMESH_LEFT_EYE"),
        (FeatureClass.EYE_R, "FACEMESH_RIGHT_EYE"),
    ],
)
def test_eye_rings_follow_mediapipe(cls, edges):
    assert _is_ring_of(FEATURE_RINGS[cls], getattr(connections, edges))


def test_mouth_ring_is_the_outer_lip():
    ring = FEATURE_RINGS[FeatureClass.MOUTH]
    assert _is_ring_of(ring, connections.FACEMESH_LIPS)
    assert {61, 291, 0, 17} <= set(ring.tolist())  # corners, top and bottom of the outer lip


@pytest.mark.parametrize(("cls", "name"), [(FeatureClass.BROW_L, "FACEMESH_LEFT_EYEBROW"), (FeatureClass.BROW_R, "FACEMESH_RIGHT_EYEBROW")])
def test_brows_use_mediapipe_brow_points_on_the_same_side(cls, name):
    brow_points = {p for e in getattr(connections, name) for p in e}
    assert set(FEATURE_RINGS[cls].tolist()) == brow_points


def test_ibug_mapping_indexes_the_mesh():
    assert IBUG68_FROM_MESH.shape == (68,)
    assert IBUG68_FROM_MESH.min() >= 0 and IBUG68_FROM_MESH.max() < MESH_POINTS
