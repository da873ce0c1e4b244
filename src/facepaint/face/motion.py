"""Where points on a tracked face go from one frame to the next: the face mesh's own motion.

Face strokes are a few pixels long and a small face is a few dozen pixels wide. The optical flow,
computed on a shrunk frame (a 45 px face of a 720p frame is ~23 px wide there) and smoothed
across the face's outline, carries them onto the hair and the background, and a hand passing
over the mouth drags them away with it; the painted face then degrades for good. The tracked
face mesh (mediapipe's 468 landmarks, smoothed by the tracker) is what the regions themselves
are made of: a point of the face moves as the piece of mesh it lies on. :func:`mesh_motion`
maps points through the piecewise-affine map between the two meshes (barycentric coordinates
in the Delaunay triangles of the previous mesh, applied to the same vertices in the current
one); points outside the previous mesh's hull move with the least-squares affine map of the
whole mesh.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.spatial import Delaunay

from facepaint.errors import InputError
from facepaint.types import Face


def mesh_motion(
    points: np.ndarray,
    owner: np.ndarray,
    previous: Sequence[Face],
    current: Sequence[Face],
) -> np.ndarray:
    """Displacement of points of tracked faces between two frames.

    Parameters
    ----------
    points : (N, 2) float32
        ``(x, y)`` pixels in the previous frame.
    owner : (N,) int
        Track id of the face each point belongs to (-1: none).
    previous, current : sequences of Face
        The faces of the previous and of the current frame. A face moves its points when it is
        in both (same ``track_id``) with a ``mesh`` of the same size in both.

    Returns
    -------
    (N, 2) float32
        ``(dx, dy)`` of each point; NaN rows for points of no such face (the caller falls back to
        the optical flow).
    """
    points = np.asarray(points, np.float32)
    owner = np.asarray(owner)
    if points.ndim != 2 or points.shape[1] != 2 or owner.shape != (len(points),):
        raise InputError(f"mesh_motion needs (N, 2) points and (N,) owners, got {points.shape} and {owner.shape}")
    out = np.full(points.shape, np.nan, np.float32)
    now = {f.track_id: f for f in current if f.mesh is not None}
    for face in previous:  # one iteration per face (a few), each vectorised over its points
        after = now.get(face.track_id)
        if face.mesh is None or after is None or after.mesh.shape != face.mesh.shape:
            continue
        mine = np.flatnonzero(owner == face.track_id)
        if mine.size:
            out[mine] = piecewise_affine(face.mesh, after.mesh, points[mine]) - points[mine]
    return out


def piecewise_affine(before: np.ndarray, after: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map ``points`` through the piecewise-affine map that takes the vertices ``before`` to ``after``.

    Parameters
    ----------
    before, after : (M, 2) float
        The same M landmarks in two frames (M >= 3, not all on a line).
    points : (N, 2) float

    Returns
    -------
    (N, 2) float32
        Inside the convex hull of ``before``: barycentric in its Delaunay triangle, carried to
        ``after``; outside: the least-squares affine map of all landmarks.
    """
    before = np.asarray(before, np.float64)
    after = np.asarray(after, np.float64)
    points = np.asarray(points, np.float64)
    if before.shape != after.shape or before.ndim != 2 or before.shape[1] != 2 or len(before) < 3:
        raise InputError(f"piecewise_affine needs two (M, 2) landmark sets, M >= 3, got {before.shape} and {after.shape}")
    # The whole mesh's affine map, for points outside the hull (and a degenerate mesh).
    design = np.c_[before, np.ones(len(before))]
    affine, *_ = np.linalg.lstsq(design, after, rcond=None)
    out = np.c_[points, np.ones(len(points))] @ affine
    try:
        triangulation = Delaunay(before)
    except Exception:  # scipy's QhullError: all landmarks on a line (a broken mesh)
        return out.astype(np.float32)
    simplex = triangulation.find_simplex(points)
    inside = simplex >= 0
    if inside.any():
        s = simplex[inside]
        transform = triangulation.transform[s]  # (n, 3, 2): inverse of T, then the offset r
        b = np.einsum("nij,nj->ni", transform[:, :2], points[inside] - transform[:, 2])
        bary = np.c_[b, 1.0 - b.sum(axis=1)]  # (n, 3)
        vertices = triangulation.simplices[s]  # (n, 3)
        out[inside] = np.einsum("nk,nkj->nj", bary, after[vertices])
    return out.astype(np.float32)
