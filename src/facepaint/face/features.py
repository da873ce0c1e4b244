"""Feature polygons and label masks from landmarks; backend-independent helpers.

:func:`feature_mask` rasterises the six feature polygons of one face into a small
:class:`~facepaint.types.FeatureClass` label crop, the form :class:`~facepaint.types.Face` carries.
"""

from __future__ import annotations

import cv2
import numpy as np

from facepaint.errors import InputError
from facepaint.face.topology import FACE_OVAL, FEATURE_RINGS, MESH_POINTS
from facepaint.types import FeatureClass

#: Fractional bits used by cv2.fillPoly, so polygons keep sub-pixel precision (1/16 px).
_SHIFT = 4

#: Drawing order: a later class wins where two overlap (the nose hull reaches under the eyes'
#: inner corners and the brows' inner ends; eyes and brows are drawn over it).
DRAW_ORDER = (
    FeatureClass.NOSE,
    FeatureClass.BROW_L,
    FeatureClass.BROW_R,
    FeatureClass.MOUTH,
    FeatureClass.EYE_L,
    FeatureClass.EYE_R,
)


def contour_from_mesh(mesh: np.ndarray) -> np.ndarray:
    """(36, 2) float32 FACE_OVAL ring from a ``(468, 2)`` mesh (order: see :class:`Face`)."""
    _check_mesh(mesh)
    return mesh[FACE_OVAL].astype(np.float32)


def polygons_from_mesh(mesh: np.ndarray) -> dict[FeatureClass, np.ndarray]:
    """The six feature polygons of one mesh, ``(K, 2)`` float32 frame pixels each.

    Brows, eyes and mouth are fixed rings of mesh points; the nose is the convex hull of the
    bridge, tip and nostril points (its shape changes with the head's turn).
    """
    _check_mesh(mesh)
    polygons = {}
    for cls, ring in FEATURE_RINGS.items():
        pts = mesh[ring].astype(np.float32)
        if cls is FeatureClass.NOSE:
            pts = cv2.convexHull(pts).reshape(-1, 2)
        polygons[cls] = pts
    return polygons


def feature_mask(
    polygons: dict[FeatureClass, np.ndarray], shape: tuple[int, int]
) -> tuple[np.ndarray, tuple[int, int]]:
    """Rasterise feature polygons into a label crop clipped to the frame.

    Parameters
    ----------
    polygons : FeatureClass -> (K, 2) float32 frame pixels
    shape : (H, W) of the frame

    Returns
    -------
    mask : (h, w) uint8 FeatureClass labels, 0 = no feature; (0, 0) when nothing is in the frame
    offset : (x, y) of the crop's top-left pixel in the frame
    """
    height, width = shape
    if not polygons:
        return np.zeros((0, 0), np.uint8), (0, 0)
    every = np.concatenate([p for p in polygons.values()])
    x0 = int(np.clip(np.floor(every[:, 0].min()), 0, width))
    y0 = int(np.clip(np.floor(every[:, 1].min()), 0, height))
    x1 = int(np.clip(np.ceil(every[:, 0].max()) + 1, 0, width))
    y1 = int(np.clip(np.ceil(every[:, 1].max()) + 1, 0, height))
    if x1 <= x0 or y1 <= y0:
        return np.zeros((0, 0), np.uint8), (0, 0)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    origin = np.array([x0, y0], np.float32)
    for cls in DRAW_ORDER:
        poly = polygons.get(cls)
        if poly is None or len(poly) < 3:
            continue
        fixed = np.round((poly - origin) * (1 << _SHIFT)).astype(np.int32)
        cv2.fillPoly(mask, [fixed], int(cls), lineType=cv2.LINE_8, shift=_SHIFT)
    return mask, (x0, y0)


def _check_mesh(mesh: np.ndarray) -> None:
    if not isinstance(mesh, np.ndarray) or mesh.ndim != 2 or mesh.shape[0] != MESH_POINTS or mesh.shape[1] != 2:
        got = getattr(mesh, "shape", type(mesh).__name__)
        raise InputError(f"expected a ({MESH_POINTS}, 2) mesh of (x, y) pixels, got {got}")

