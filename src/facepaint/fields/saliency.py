"""Saliency map: where the eye goes, hence where strokes are small.

The map mixes OpenCV's spectral residual saliency (Hou and Zhang 2007: global, blob-like) and its
fine-grained saliency (Montabone and Soto 2010: centre-surround on intensity, at reduced size),
both normalised to [0, 1] and blurred, and raises faces (regions 1 and 2, dilated a little so hair
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
    work_side_px: int = 480  #: longer side of the image the fine-grained saliency is computed on
    blur_fraction: float = 0.02  #: Gaussian blur sigma as a fraction of the longer image side
    face_saliency: float = 1.0  #: minimum saliency on faces (regions 1 and 2)
    face_margin_fraction: float = 0.15  #: faces are dilated by this fraction of their size


def _normalise(x: np.ndarray) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-9:
        return np.zeros_like(x, dtype=np.float32)
    return ((x - lo) / (hi - lo)).astype(np.float32)


def _spectral_residual(bgr: np.ndarray) -> np.ndarray:
    detector = cv2.saliency.StaticSaliencySpectralResidual_create()
    ok, sal = detector.computeSaliency(bgr)
    if not ok:  # pragma: no cover - OpenCV reports failure only on empty input
        return np.zeros(bgr.shape[:2], np.float32)
    return _normalise(sal.astype(np.float32))


def _fine_grained(bgr: np.ndarray, work_side_px: int) -> np.ndarray:
    height, width = bgr.shape[:2]
    scale = min(1.0, work_side_px / max(height, width))
    small = cv2.resize(bgr, (max(8, round(width * scale)), max(8, round(height * scale))), interpolation=cv2.INTER_AREA)
    detector = cv2.saliency.StaticSaliencyFineGrained_create()
    ok, sal = detector.computeSaliency(small)
    if not ok:  # pragma: no cover
        return np.zeros((height, width), np.float32)
    sal = cv2.resize(sal.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    return _normalise(sal)


def face_mask(regions: RegionMap, margin_fraction: float = 0.15) -> np.ndarray:
    """(H, W) float32 in [0, 1]: 1 on faces (regions 1 and 2) dilated by ``margin_fraction`` of
    the face size, feathered; zeros when there is no face."""
    face = (regions.labels != Region.BACKGROUND).astype(np.uint8)
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

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB
    regions : RegionMap, optional
        When given, faces (regions 1 and 2) get at least ``config.face_saliency``.

    Returns
    -------
    (H, W) float32 in [0, 1]
    """
    bgr = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)
    height, width = image.shape[:2]
    sal = config.spectral_weight * _spectral_residual(bgr)
    if config.spectral_weight < 1.0:
        sal += (1.0 - config.spectral_weight) * _fine_grained(bgr, config.work_side_px)
    sigma = max(1.0, config.blur_fraction * max(height, width))
    sal = _normalise(cv2.GaussianBlur(sal, (0, 0), sigma))
    if regions is not None and config.face_saliency > 0:
        sal = np.maximum(sal, config.face_saliency * face_mask(regions, config.face_margin_fraction))
    return sal.astype(np.float32, copy=False)
