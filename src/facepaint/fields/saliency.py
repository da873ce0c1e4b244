"""Saliency map: where the eye goes, hence where strokes are small.

The map mixes OpenCV's spectral residual saliency (Hou and Zhang 2007: global, blob-like) and its
fine-grained saliency (Montabone and Soto 2010: centre-surround on intensity), both computed at
reduced size, normalised to [0, 1] and blurred, and raises faces (regions 1 and 2, dilated a little so hair
and jaw line get small strokes too) to at least ``face_saliency``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facepaint.types import Region, RegionMap


@dataclass(frozen=True)
class SaliencyConfig:
    """Parameters of :func:`saliency_map`."""

    spectral_weight: float = 0.5  #: weight of spectral residual saliency (the rest: fine-grained)
    work_side_px: int = 480  #: longer side of the image the saliency is computed on
    blur_fraction: float = 0.02  #: Gaussian blur sigma as a fraction of the longer image side
    face_saliency: float = 1.0  #: minimum saliency on faces (regions 1 and 2)
    face_margin_fraction: float = 0.15  #: faces are dilated by this fraction of their size


def _normalise(x: np.ndarray) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-9:
        return np.zeros_like(x, dtype=np.float32)
    return ((x - lo) / (hi - lo)).astype(np.float32)


def _spectral_residual(bgr_small: np.ndarray) -> np.ndarray:
    detector = cv2.saliency.StaticSaliencySpectralResidual_create()
    ok, sal = detector.computeSaliency(bgr_small)
    if not ok:  # pragma: no cover - OpenCV reports failure only on empty input
        return np.zeros(bgr_small.shape[:2], np.float32)
    return _normalise(sal.astype(np.float32))


def _fine_grained(bgr_small: np.ndarray) -> np.ndarray:
    detector = cv2.saliency.StaticSaliencyFineGrained_create()
    ok, sal = detector.computeSaliency(bgr_small)
    if not ok:  # pragma: no cover
        return np.zeros(bgr_small.shape[:2], np.float32)
    return _normalise(sal.astype(np.float32))


def face_mask(regions: RegionMap, margin_fraction: float = 0.15, *, scale: float = 1.0) -> np.ndarray:
    """Soft mask of the faces: 1 on faces (regions 1 and 2) dilated by ``margin_fraction`` of the
    face size, feathered. Computed at ``scale`` times the frame size and returned at that size,
    (h, w) float32 in [0, 1]; zeros when there is no face."""
    labels = regions.labels
    if scale != 1.0:
        h, w = labels.shape
        labels = cv2.resize(labels, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_NEAREST)
    face = (labels != Region.BACKGROUND).astype(np.uint8)
    if not face.any():
        return np.zeros(face.shape, np.float32)
    n, _, stats, _ = cv2.connectedComponentsWithStats(face, connectivity=8)
    size = float(np.median(np.sqrt(stats[1:, cv2.CC_STAT_AREA]))) if n > 1 else 0.0
    radius = max(1, int(round(margin_fraction * size)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    grown = cv2.dilate(face, kernel).astype(np.float32)
    return np.minimum(cv2.GaussianBlur(grown, (0, 0), max(1.0, radius / 2)) * 1.5, 1.0)


def saliency_map(
    image: np.ndarray, regions: RegionMap | None = None, *, config: SaliencyConfig = SaliencyConfig()
) -> np.ndarray:
    """Saliency of an RGB image, with faces salient.

    Everything is computed on a copy whose longer side is ``config.work_side_px`` (saliency is a
    smooth, large-scale map) and upsampled; pixels of regions 1 and 2 themselves get exactly
    ``face_saliency``.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB
    regions : RegionMap, optional
        When given, faces (regions 1 and 2) get at least ``config.face_saliency``.

    Returns
    -------
    (H, W) float32 in [0, 1]
    """
    height, width = image.shape[:2]
    scale = min(1.0, config.work_side_px / max(height, width))
    small_size = (max(8, round(width * scale)), max(8, round(height * scale)))
    small = cv2.resize(np.ascontiguousarray(image), small_size, interpolation=cv2.INTER_AREA)
    bgr = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
    sal = config.spectral_weight * _spectral_residual(bgr)
    if config.spectral_weight < 1.0:
        sal += (1.0 - config.spectral_weight) * _fine_grained(bgr)
    sigma = max(0.5, config.blur_fraction * max(small_size))
    sal = _normalise(cv2.GaussianBlur(sal, (0, 0), sigma))
    if regions is not None and config.face_saliency > 0:
        soft = face_mask(regions, config.face_margin_fraction, scale=small_size[0] / width)
        if soft.shape != sal.shape:
            soft = cv2.resize(soft, small_size, interpolation=cv2.INTER_LINEAR)
        sal = np.maximum(sal, config.face_saliency * soft)
    sal = cv2.resize(sal, (width, height), interpolation=cv2.INTER_LINEAR)
    if regions is not None and config.face_saliency > 0:
        faces = regions.labels != Region.BACKGROUND
        sal[faces] = np.maximum(sal[faces], config.face_saliency)
    return np.clip(sal, 0.0, 1.0).astype(np.float32, copy=False)
