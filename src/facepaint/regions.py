"""The paper's three regions of a frame, from the faces found in it.

Region 1 is the inner face (inside the 36-point contour, outside the features), region 2 the six
facial features (composited from the source pixels through :attr:`RegionMap.feature_alpha`),
region 3 everything else. Where faces overlap, the wider face is drawn last and wins: the wider
face is usually the nearer one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from facepaint.errors import InputError
from facepaint.types import Face, Region, RegionMap

_SHIFT = 4  # fractional bits for cv2.fillPoly: contours keep 1/16 px precision


@dataclass(frozen=True)
class RegionConfig:
    """How the region map is drawn.

    feature_grow_frac : features are dilated by this share of the face width before being
        labelled region 2 (0: the polygons as they are), in [0, 0.2]
    feather_frac : Gaussian sigma of the feature alpha's feather, share of the face width, in
        [0, 0.2] (so a 30 px face and a 300 px face are feathered alike)
    min_feather_px : smallest feather sigma in pixels (0: a hard edge on tiny faces)
    """

    feature_grow_frac: float = 0.01
    feather_frac: float = 0.02
    min_feather_px: float = 0.7

    def __post_init__(self) -> None:
        for name, low, high in (("feature_grow_frac", 0.0, 0.2), ("feather_frac", 0.0, 0.2), ("min_feather_px", 0.0, 20.0)):
            value = getattr(self, name)
            if not low <= value <= high:
                raise InputError(f"RegionConfig.{name} must be in [{low}, {high}], got {value!r}")


def build_region_map(
    faces: Sequence[Face], shape: tuple[int, int], *, config: RegionConfig = RegionConfig()
) -> RegionMap:
    """Label every pixel of a frame with its region.

    Parameters
    ----------
    faces : the faces of the frame (any :class:`~facepaint.face.FaceModel`'s output); may be empty
    shape : (H, W) of the frame
    config : drawing options

    Returns
    -------
    RegionMap
        ``labels`` (H, W) uint8 in {1, 2, 3}; ``feature_alpha`` (H, W) float32 in [0, 1], 1 inside
        the features, 0.5 on their edge, 0 a few sigmas away; ``face_ids`` (H, W) int32 track id
        of the face whose contour covers the pixel, -1 elsewhere. With no face: all 3, 0, -1.
    """
    height, width = _check_shape(shape)
    labels = np.full((height, width), int(Region.BACKGROUND), np.uint8)
    face_ids = np.full((height, width), -1, np.int32)
    alpha = np.zeros((height, width), np.float32)
    for face in sorted(faces, key=lambda f: f.width_px):
        _check_face(face)
        ring = np.round(np.asarray(face.contour, np.float64) * (1 << _SHIFT)).astype(np.int32)
        cv2.fillPoly(labels, [ring], int(Region.INNER_FACE), lineType=cv2.LINE_8, shift=_SHIFT)
        cv2.fillPoly(face_ids, [ring], int(face.track_id), lineType=cv2.LINE_8, shift=_SHIFT)
        _paint_features(face, labels, alpha, config)
    return RegionMap(labels=labels, feature_alpha=alpha, face_ids=face_ids)


def _paint_features(face: Face, labels: np.ndarray, alpha: np.ndarray, config: RegionConfig) -> None:
    """Label region 2 from the face's feature crop and feather it into ``alpha`` (in place)."""
    mask = face.feature_mask
    if mask.size == 0:
        return
    height, width = labels.shape
    grow = int(round(config.feature_grow_frac * face.width_px))
    sigma = max(config.min_feather_px, config.feather_frac * face.width_px) if (config.feather_frac or config.min_feather_px) else 0.0
    pad = grow + (int(np.ceil(3 * sigma)) if sigma > 0 else 0)
    x0, y0 = face.mask_offset
    binary = np.pad((mask > 0).astype(np.uint8), pad)
    if grow > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
        binary = cv2.dilate(binary, kernel)
    # the padded crop, clipped to the frame
    gx0, gy0 = x0 - pad, y0 - pad
    fx0, fy0 = max(gx0, 0), max(gy0, 0)
    fx1, fy1 = min(gx0 + binary.shape[1], width), min(gy0 + binary.shape[0], height)
    if fx1 <= fx0 or fy1 <= fy0:
        return
    window = (slice(fy0, fy1), slice(fx0, fx1))
    local = (slice(fy0 - gy0, fy1 - gy0), slice(fx0 - gx0, fx1 - gx0))
    labels[window][binary[local] > 0] = int(Region.FEATURES)
    soft = binary.astype(np.float32)
    if sigma > 0:
        soft = cv2.GaussianBlur(soft, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_CONSTANT)
    np.maximum(alpha[window], soft[local], out=alpha[window])


def _check_shape(shape) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise InputError(f"expected shape as (height, width), got {shape!r}") from None
    if height <= 0 or width <= 0:
        raise InputError(f"expected a positive (height, width), got {shape!r}")
    return height, width


def _check_face(face: Face) -> None:
    contour = np.asarray(face.contour)
    if contour.ndim != 2 or contour.shape[1] != 2 or contour.shape[0] < 3:
        raise InputError(f"a face contour must be (K >= 3, 2) (x, y) pixels, got shape {contour.shape}")
    if face.feature_mask.ndim != 2 or face.feature_mask.dtype != np.uint8:
        raise InputError(
            f"a face feature_mask must be a 2-D uint8 label crop, got {face.feature_mask.dtype} {face.feature_mask.shape}"
        )


#: Overlay colours (RGB) of the regions in :func:`draw_regions`.
REGION_COLORS = {Region.INNER_FACE: (40, 140, 255), Region.FEATURES: (255, 120, 0), Region.BACKGROUND: (0, 0, 0)}


def draw_regions(
    image: np.ndarray, region_map: RegionMap, faces: Sequence[Face] = (), *, opacity: float = 0.45
) -> np.ndarray:
    """The view that explains a painting: regions tinted over the frame, the 36 contour points.

    Region 1 is tinted blue, region 2 orange, region 3 is darkened. Contour point 0 (top of the
    forehead) is drawn larger in white and point 1 in yellow, so the ring's start and direction
    show; the others are green. The track id is written above each face.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB (or (H, W) grayscale), the frame
    region_map : its :class:`RegionMap`
    faces : its faces (for the contour points and ids)
    opacity : tint strength in [0, 1]

    Returns
    -------
    (H, W, 3) uint8 RGB, a new image
    """
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[:2] != region_map.labels.shape:
        raise InputError(f"image {image.shape[:2]} and region map {region_map.labels.shape} differ in size")
    out = image.astype(np.float32)
    labels = region_map.labels
    tint = np.zeros_like(out)
    weight = np.zeros(labels.shape, np.float32)
    for region in (Region.INNER_FACE, Region.FEATURES):
        where = labels == region
        tint[where] = REGION_COLORS[region]
        weight[where] = opacity
    weight[labels == Region.BACKGROUND] = opacity * 0.5  # darken
    out = out * (1.0 - weight[..., None]) + tint * weight[..., None]
    out = np.clip(out, 0, 255).astype(np.uint8)
    for face in faces:
        size = face.width_px
        radius = max(1, int(round(size / 60)))
        ring = np.round(face.contour * (1 << _SHIFT)).astype(np.int32)
        cv2.polylines(out, [ring], True, (0, 255, 0), 1, cv2.LINE_AA, shift=_SHIFT)
        for k, (x, y) in enumerate(np.round(face.contour).astype(int)):
            color = (255, 255, 255) if k == 0 else (255, 255, 0) if k == 1 else (0, 255, 0)
            cv2.circle(out, (int(x), int(y)), radius + (1 if k == 0 else 0), color, -1, cv2.LINE_AA)
        x0, y0 = int(face.box[0]), int(face.box[1])
        scale = max(0.35, min(1.0, size / 150))
        cv2.putText(out, str(face.track_id), (x0, max(10, y0 - 3)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out
