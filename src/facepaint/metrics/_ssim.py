"""Stylization strength: how far the output moved from the input, outside the faces.

Without it the other two metrics are won by the identity "stylizer" (warping error equal to the
input's own, every face recognizable). SSIM (Wang et al. 2004) on luma with the standard Gaussian
window (sigma 1.5) and constants ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2``, ``L = 1``, averaged over
the pixels outside the faces: faces are meant to stay close to the source, the rest is where a
painting shows.
"""

from __future__ import annotations

import cv2
import numpy as np

from facepaint.errors import InputError
from facepaint.metrics._frames import as_rgb_image, check_same_size

_C1 = 0.01**2
_C2 = 0.03**2
_SIGMA = 1.5


def _luma(image: np.ndarray) -> np.ndarray:
    # float64: the variances are differences of close numbers, and float32 leaves ~1e-7 of
    # noise in them, which is 1e-4 of C2 on flat areas
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64) * (1.0 / 255.0)


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Local SSIM of two RGB images, computed on luma.

    Parameters
    ----------
    a, b : (H, W, 3) uint8 RGB
        Images of the same size.

    Returns
    -------
    (H, W) float32
        SSIM per pixel in [-1, 1]; 1 where the images agree.
    """
    a = as_rgb_image(a, name="a")
    b = as_rgb_image(b, name="b")
    check_same_size(a, b, what="SSIM")
    x, y = _luma(a), _luma(b)

    def blur(img: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(img, (11, 11), _SIGMA, borderType=cv2.BORDER_REFLECT)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x * mu_x
    var_y = blur(y * y) - mu_y * mu_y
    cov = blur(x * y) - mu_x * mu_y
    num = (2.0 * mu_x * mu_y + _C1) * (2.0 * cov + _C2)
    den = (mu_x * mu_x + mu_y * mu_y + _C1) * (var_x + var_y + _C2)
    return (num / den).astype(np.float32)


def ssim_outside(a: np.ndarray, b: np.ndarray, exclude: np.ndarray | None = None) -> float:
    """Mean SSIM of two images over the pixels not in ``exclude``.

    Parameters
    ----------
    a, b : (H, W, 3) uint8 RGB
        Source and stylized image.
    exclude : (H, W) bool, optional
        Pixels to leave out (the faces). ``None`` keeps all.

    Returns
    -------
    float
        Mean SSIM in [-1, 1]; NaN when every pixel is excluded.
    """
    ssim = ssim_map(a, b)
    if exclude is None:
        return float(np.mean(ssim, dtype=np.float64))
    exclude = np.asarray(exclude)
    if exclude.shape != ssim.shape:
        raise InputError(f"exclude must be an (H, W) = {ssim.shape} bool mask, got shape {exclude.shape}")
    keep = ~exclude.astype(bool)
    if not keep.any():
        return float("nan")
    return float(np.mean(ssim[keep], dtype=np.float64))


def stylization_strength(src: np.ndarray, out: np.ndarray, exclude: np.ndarray | None = None) -> float:
    """``1 - SSIM(src, out)`` outside ``exclude``: 0 for an unchanged image, larger when painted.

    Parameters
    ----------
    src, out : (H, W, 3) uint8 RGB
    exclude : (H, W) bool, optional
        Usually the faces (see :func:`facepaint.metrics.face_mask`).

    Returns
    -------
    float
        In [0, 2]; typical painterly filters give 0.3-0.8.
    """
    return 1.0 - ssim_outside(src, out, exclude)
