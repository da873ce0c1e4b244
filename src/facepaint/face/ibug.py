"""The iBUG 68-point layout from a face mesh, to score the mesh against 300-W style ground truth.

iBUG's jaw points (0-16) lie on the face's visible outline, which moves over the skin as the head
turns; mesh vertices stay on the skin. So the jaw points are taken at the height of their mesh
vertex (in the eye-levelled frame) and slid sideways to the outermost mesh point within a thin
band at that height: the silhouette. Points 17-67 are mesh vertices as they are.
"""

from __future__ import annotations

import numpy as np

from facepaint.errors import InputError
from facepaint.face.topology import EYE_CORNER_L, EYE_CORNER_R, IBUG68_FROM_MESH, MESH_POINTS

#: Half-height of the band searched for the silhouette, share of the face width (chosen on the
#: ibug68_dlib fitting faces: 0.02, 0.04 and 0.08 gave 5.09 %, 5.11 % and 5.60 % NME there).
SILHOUETTE_BAND = 0.02


def ibug68_from_mesh(mesh: np.ndarray, *, band: float = SILHOUETTE_BAND) -> np.ndarray:
    """(68, 2) float32 iBUG points from a ``(468, 2)`` mesh (frame pixels)."""
    if not isinstance(mesh, np.ndarray) or mesh.shape != (MESH_POINTS, 2):
        raise InputError(f"expected a ({MESH_POINTS}, 2) mesh, got {getattr(mesh, 'shape', type(mesh).__name__)}")
    pts = mesh.astype(np.float64)
    out = pts[IBUG68_FROM_MESH].copy()
    eyes = pts[EYE_CORNER_L] - pts[EYE_CORNER_R]
    angle = np.arctan2(eyes[1], eyes[0])
    rot = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    levelled = pts @ rot.T
    width = np.ptp(levelled[:, 0])
    for k in (*range(0, 8), *range(9, 17)):
        y = levelled[IBUG68_FROM_MESH[k], 1]
        near = levelled[np.abs(levelled[:, 1] - y) < band * width, 0]
        x = near.min() if k < 8 else near.max()  # subject's right jaw (0-7) is on the image left
        out[k] = np.array([x, y]) @ rot
    return out.astype(np.float32)
