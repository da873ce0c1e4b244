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

from collections.abc import Mapping, Sequence

import numba
import numpy as np
from scipy.spatial import Delaunay

from facepaint._image import at_nearest_pixel
from facepaint.errors import InputError
from facepaint.types import Face


def mesh_triangles(mesh: np.ndarray) -> np.ndarray | None:
    """The Delaunay triangles ``(T, 3) int32`` of a face mesh ``(M, 2)``, as
    :func:`piecewise_affine` uses them; None when the landmarks are all on a line (a broken mesh)."""
    try:
        return Delaunay(np.asarray(mesh, np.float64)).simplices.astype(np.int32)
    except Exception:  # scipy's QhullError
        return None


def mesh_motion(
    points: np.ndarray,
    owner: np.ndarray,
    previous: Sequence[Face],
    current: Sequence[Face],
    *,
    triangles: Mapping[int, np.ndarray | None] | None = None,
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
    triangles : mapping of track id to :func:`mesh_triangles`, optional
        The triangulations of the ``previous`` faces' meshes when the caller made them already
        (the pipeline makes them on its faces worker, a frame ahead); missing ones are made here.

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
            known = None if triangles is None else triangles.get(face.track_id)
            out[mine] = piecewise_affine(face.mesh, after.mesh, points[mine], triangles=known) - points[mine]
    return out


def piecewise_affine(
    before: np.ndarray, after: np.ndarray, points: np.ndarray, *, triangles: np.ndarray | None = None
) -> np.ndarray:
    """Map ``points`` through the piecewise-affine map that takes the vertices ``before`` to ``after``.

    Parameters
    ----------
    before, after : (M, 2) float
        The same M landmarks in two frames (M >= 3, not all on a line).
    points : (N, 2) float
    triangles : (T, 3) int, optional
        :func:`mesh_triangles` of ``before``, when the caller has it.

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
    if len(points) == 0:
        return out.astype(np.float32)
    if triangles is None:
        triangles = mesh_triangles(before)
    if triangles is None:  # all landmarks on a line (a broken mesh)
        return out.astype(np.float32)
    triangles = np.ascontiguousarray(triangles, np.int32)
    # Point location by a label image of the triangles over the points' box (one numba pass):
    # scipy's find_simplex walks the triangulation and falls back to testing every triangle
    # when the walk fails, as it did on the sliver triangles of a closed mouth or eye (80 ms a
    # frame for the 5k strokes of a 250 px face). A point takes the triangle of its nearest
    # pixel centre; near an edge that may be the neighbour, whose affine map agrees with its
    # own on the edge (the map is continuous), so the error is negligible.
    x0, y0 = np.floor(points.min(axis=0)).astype(np.int64) - 1
    x1, y1 = np.ceil(points.max(axis=0)).astype(np.int64) + 2
    labels = np.full((int(y1 - y0), int(x1 - x0)), -1, np.int32)
    _label_triangles(before - np.array([x0, y0], np.float64), triangles, labels)
    found = at_nearest_pixel(labels, points - np.array([x0, y0], points.dtype))
    inside = found >= 0
    if inside.any():
        vertices = triangles[found[inside]]  # (n, 3)
        a, b, c = before[vertices[:, 0]], before[vertices[:, 1]], before[vertices[:, 2]]
        e0, e1, e2 = b - a, c - a, points[inside] - a
        d00 = np.einsum("ij,ij->i", e0, e0)
        d01 = np.einsum("ij,ij->i", e0, e1)
        d11 = np.einsum("ij,ij->i", e1, e1)
        d20 = np.einsum("ij,ij->i", e2, e0)
        d21 = np.einsum("ij,ij->i", e2, e1)
        det = d00 * d11 - d01 * d01
        ok = np.abs(det) > 1e-12
        safe = np.where(ok, det, 1.0)
        wb = (d11 * d20 - d01 * d21) / safe
        wc = (d00 * d21 - d01 * d20) / safe
        wa = 1.0 - wb - wc
        mapped = wa[:, None] * after[vertices[:, 0]] + wb[:, None] * after[vertices[:, 1]] + wc[:, None] * after[vertices[:, 2]]
        rows = np.flatnonzero(inside)
        out[rows[ok]] = mapped[ok]
    return out.astype(np.float32)


@numba.njit(cache=True, nogil=True)
def _label_triangles(vertices, triangles, labels):  # pragma: no cover - numba
    """``labels[y, x]`` = index of a triangle whose closed interior holds the pixel centre (x, y)."""
    h, w = labels.shape
    for t in range(triangles.shape[0]):
        ax, ay = vertices[triangles[t, 0], 0], vertices[triangles[t, 0], 1]
        bx, by = vertices[triangles[t, 1], 0], vertices[triangles[t, 1], 1]
        cx, cy = vertices[triangles[t, 2], 0], vertices[triangles[t, 2], 1]
        det = (bx - ax) * (cy - ay) - (cx - ax) * (by - ay)
        if abs(det) < 1e-12:
            continue
        xa = max(0, int(np.floor(min(ax, bx, cx))))
        xb = min(w - 1, int(np.ceil(max(ax, bx, cx))))
        ya = max(0, int(np.floor(min(ay, by, cy))))
        yb = min(h - 1, int(np.ceil(max(ay, by, cy))))
        tol = -1e-9 * det * det  # a pixel centre on an edge belongs to both triangles
        for y in range(ya, yb + 1):
            for x in range(xa, xb + 1):
                u = ((bx - x) * (cy - y) - (cx - x) * (by - y)) * det
                v = ((cx - x) * (ay - y) - (ax - x) * (cy - y)) * det
                q = ((ax - x) * (by - y) - (bx - x) * (ay - y)) * det
                if u >= tol and v >= tol and q >= tol:
                    labels[y, x] = t
