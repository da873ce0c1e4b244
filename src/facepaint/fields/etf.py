"""Edge tangent flow (Kang, Lee and Chui 2007, "Coherent line drawing", section 3.1).

The initial tangent is the image gradient rotated by 90 degrees; it is then smoothed a few times by
a filter whose weights favour neighbours with a larger gradient magnitude (``w_m``), a similar
direction (``w_d``) and a short distance (``w_s``), and whose sign ``phi`` aligns opposite vectors.
The 2-D filter is applied as a horizontal then a vertical 1-D pass per iteration (the separable
approximation of Kang, Lee and Chui 2009, "Flow-based image abstraction"), which costs ``2 (2r+1)``
instead of ``(2r+1)^2`` neighbours per pixel with the same result on edges.

Flat areas, where the normalised gradient is below ``flat_threshold`` and so has no reliable
direction, start with the tangent of a coarse structure tensor (Gaussian of ``fallback_sigma_px``:
the dominant orientation of the surroundings), where that is isotropic the tangent of a structure
tensor at a sixth of the image size, and where even that is isotropic, the direction
``fallback_angle``. They keep their low magnitude, so the ``w_m`` weight lets real edges
within reach of the filter (about ``2 * radius * iterations`` pixels) bend them into line.

Images larger than ``max_side_px`` are filtered at reduced size and the orientation is upsampled in
the doubled angle: strokes are several pixels wide, so the flow needs no finer detail, and this keeps
the 720p cost within the 100 ms budget.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facepaint.errors import InputError
from facepaint.fields._etf import etf_pass, fill_flat, half_angle, upsample_orientation
from facepaint.fields._etf import orientation_at  # noqa: F401  (for kernels that read a coarse tangent flow)


@dataclass(frozen=True)
class EtfConfig:
    """Parameters of :func:`edge_tangent_flow`."""

    radius: int = 5  #: half-width of the box spatial weight ``w_s``, pixels of the working image
    iterations: int = 3  #: filter iterations (Kang et al.: 2 to 3)
    eta: float = 1.0  #: steepness of the magnitude weight ``w_m = (1 + tanh(eta * dg)) / 2``
    blur_sigma_px: float = 1.0  #: Gaussian pre-blur of the luminance before the Sobel gradient
    flat_threshold: float = 0.06  #: normalised magnitude below which a pixel starts without tangent
    magnitude_percentile: float = 99.0  #: the magnitude is divided by this percentile, clipped to 1
    fallback_sigma_px: float = 12.0  #: structure-tensor scale used where the flow has no support
    fallback_angle: float = 0.7853981633974483  #: direction (radians) of a completely flat image
    max_side_px: int = 800  #: images larger than this are filtered at reduced size, then upsampled


def _luminance(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        gray = image.astype(np.float32)
    else:
        gray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY).astype(np.float32)
    return gray * np.float32(1.0 / 255.0) if image.dtype == np.uint8 else gray


def _check_image(image: np.ndarray, name: str = "image") -> None:
    if not isinstance(image, np.ndarray):
        raise InputError(f"{name} must be a numpy array of shape (H, W, 3) uint8, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(
            f"{name} must be (H, W, 3) uint8 RGB, got shape {image.shape} dtype {image.dtype}; "
            "convert with np.asarray(img, np.uint8) and drop any alpha channel"
        )
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise InputError(f"{name} must be at least 2x2 pixels, got {image.shape[1]}x{image.shape[0]}")


def gradient(image: np.ndarray, *, blur_sigma_px: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Sobel gradient of the luminance.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB or (H, W) float32 in [0, 1]

    Returns
    -------
    gx, gy : (H, W) float32
        Derivatives along x (columns) and y (rows), luminance units per pixel.
    """
    gray = _luminance(image)
    if blur_sigma_px > 0:
        gray = cv2.GaussianBlur(gray, (0, 0), blur_sigma_px)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)
    return gx, gy


def normalised_magnitude(gx: np.ndarray, gy: np.ndarray, percentile: float = 99.0) -> np.ndarray:
    """Gradient magnitude divided by its ``percentile`` (on a subsample), clipped to [0, 1]; float32."""
    # Not cv2.magnitude: its SIMD path rounds differently with the memory alignment, which made
    # paintings differ between runs with the same seed.
    mag = np.sqrt(gx * gx + gy * gy)
    sample = mag[::3, ::3]
    top = float(np.percentile(sample, percentile)) if sample.size else 0.0
    if top <= 1e-6:
        top = float(mag.max())
    if top <= 1e-6:
        return np.zeros_like(mag)
    return np.minimum(mag * np.float32(1.0 / top), 1.0).astype(np.float32)


def resize_orientation(tangent: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a sign-free orientation field to ``size = (width, height)``.

    Tangents ``t`` and ``-t`` mean the same orientation, so they are interpolated in the doubled
    angle ``(cos 2a, sin 2a)`` (where they agree) and halved back; zero vectors stay zero.
    """
    tx, ty = tangent[..., 0], tangent[..., 1]
    c2 = (tx * tx - ty * ty).astype(np.float32)
    s2 = (2.0 * tx * ty).astype(np.float32)
    c2 = cv2.resize(c2, size, interpolation=cv2.INTER_LINEAR)
    s2 = cv2.resize(s2, size, interpolation=cv2.INTER_LINEAR)
    return _half_angle(c2, s2)


def half_angle_orientation(c2: np.ndarray, s2: np.ndarray) -> np.ndarray:
    """Unit vectors at half the angle of the doubled-angle field ``(c2, s2)`` (both (H, W)).

    Returns (H, W, 2) float32 ``(cos a, sin a)`` with ``a`` in (-pi/2, pi/2] (the sign of an
    orientation is arbitrary); zero where ``(c2, s2)`` is ~zero (no orientation). One numba pass
    with square roots instead of ``arctan2``, ``cos`` and ``sin``.
    """
    out = np.empty(c2.shape + (2,), np.float32)
    half_angle(np.ascontiguousarray(c2, np.float32), np.ascontiguousarray(s2, np.float32), out)
    return out


_half_angle = half_angle_orientation


def upsample_field(
    tangent: np.ndarray, magnitude: np.ndarray | None, shape: tuple[int, int], box: tuple[int, int, int, int] | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Bilinear upsampling of a small tangent flow and its magnitude to ``shape = (H, W)``, or
    to the window ``box = (y0, y1, x0, x1)`` of it.

    The orientation is interpolated in the doubled angle (as :func:`resize_orientation`) with
    ``cv2.resize``'s pixel-centre alignment; where neighbouring orientations cancel, ``(1, 0)``.
    One numba pass over the window only (full-frame passes are what a frame cannot afford).

    Parameters
    ----------
    tangent : (h, w, 2) float32 unit vectors
    magnitude : (h, w) float32, or None when only the tangent is wanted
    shape : (H, W)
    box : (y0, y1, x0, x1), optional

    Returns
    -------
    tangent : (y1 - y0, x1 - x0, 2) float32
    magnitude : (y1 - y0, x1 - x0) float32, or None when ``magnitude`` is None
    """
    if tangent.ndim != 3 or tangent.shape[2] != 2 or (magnitude is not None and magnitude.shape != tangent.shape[:2]):
        got = None if magnitude is None else magnitude.shape
        raise InputError(f"upsample_field needs (h, w, 2) tangents and (h, w) magnitudes, got {tangent.shape} and {got}")
    height, width = shape
    y0, y1, x0, x1 = (0, height, 0, width) if box is None else box
    if not (0 <= y0 <= y1 <= height and 0 <= x0 <= x1 <= width):
        raise InputError(f"box {box} is not inside a frame of {shape}")
    out_t = np.empty((y1 - y0, x1 - x0, 2), np.float32)
    out_m = None if magnitude is None else np.empty((y1 - y0, x1 - x0), np.float32)
    upsample_orientation(np.ascontiguousarray(tangent, np.float32),
                         None if magnitude is None else np.ascontiguousarray(magnitude, np.float32),
                         height, width, y0, x0, out_t, out_m)
    return out_t, out_m


def structure_tensor_tangent(
    gx: np.ndarray, gy: np.ndarray, sigma_px: float, *, full_size: bool = True
) -> np.ndarray:
    """Dominant edge tangent of the structure tensor smoothed by a Gaussian of ``sigma_px``.

    Computed on a grid subsampled by ``step = max(1, sigma_px // 3)`` (the result is smooth at
    that scale). Returns (H, W, 2) float32 unit vectors (zero where the tensor is isotropic), or
    with ``full_size=False`` the (H // step, W // step, 2) coarse grid, pixel ``(i, j)`` of which
    covers full-size pixels ``(i * step ... , j * step ...)``.
    """
    return _tensor_tangent(gx * gx, gy * gy, gx * gy, sigma_px, full_size)


def _tensor_tangent(gxx: np.ndarray, gyy: np.ndarray, gxy: np.ndarray, sigma_px: float, full_size: bool) -> np.ndarray:
    """:func:`structure_tensor_tangent` from the gradient products ``gx * gx``, ``gy * gy``,
    ``gx * gy`` (made once for several scales)."""
    height, width = gxx.shape
    step = max(1, int(sigma_px // 3))
    small = (max(1, width // step), max(1, height // step))
    jxx = cv2.resize(gxx, small, interpolation=cv2.INTER_AREA)
    jyy = cv2.resize(gyy, small, interpolation=cv2.INTER_AREA)
    jxy = cv2.resize(gxy, small, interpolation=cv2.INTER_AREA)
    s = sigma_px / step
    jxx = cv2.GaussianBlur(jxx, (0, 0), s)
    jyy = cv2.GaussianBlur(jyy, (0, 0), s)
    jxy = cv2.GaussianBlur(jxy, (0, 0), s)
    # The gradient direction has doubled angle (jxx - jyy, 2 jxy); the tangent is perpendicular,
    # i.e. the doubled angle turned by 180 degrees.
    c2 = -(jxx - jyy)
    s2 = -(2.0 * jxy)
    if full_size:
        c2 = cv2.resize(c2, (width, height), interpolation=cv2.INTER_LINEAR)
        s2 = cv2.resize(s2, (width, height), interpolation=cv2.INTER_LINEAR)
    return _half_angle(c2, s2)


def edge_tangent_flow(
    image: np.ndarray, *, config: EtfConfig = EtfConfig(), full_size: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Edge tangent flow of an image.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB
    config : EtfConfig
    full_size : bool
        ``False``: return the tangent at the size it was filtered at (``config.max_side_px``)
        instead of upsampling it, for callers that read it at a few pixels
        (:func:`orientation_at`, which gives the upsampled values).

    Returns
    -------
    tangent : (H, W, 2) float32, or (H', W', 2) when not ``full_size``
        Unit vectors ``(tx, ty)`` along the edges (the sign is arbitrary: ``t`` and ``-t`` are the
        same orientation). Defined everywhere (see the module docstring for flat areas).
    magnitude : (H, W) float32 in [0, 1]
        Gradient magnitude of the full-size image divided by its ``magnitude_percentile``.
    """
    _check_image(image)
    if config.radius < 1 or config.iterations < 0:
        raise InputError(f"EtfConfig needs radius >= 1 and iterations >= 0, got {config}")
    height, width = image.shape[:2]
    gx, gy = gradient(image, blur_sigma_px=config.blur_sigma_px)
    magnitude = normalised_magnitude(gx, gy, config.magnitude_percentile)

    scale = min(1.0, config.max_side_px / max(height, width))
    if scale < 1.0:
        work_size = (max(2, round(width * scale)), max(2, round(height * scale)))
        wgx = cv2.resize(gx, work_size, interpolation=cv2.INTER_AREA)
        wgy = cv2.resize(gy, work_size, interpolation=cv2.INTER_AREA)
        wmag = cv2.resize(magnitude, work_size, interpolation=cv2.INTER_AREA)
    else:
        wgx, wgy, wmag = gx, gy, magnitude

    # Initial tangent: the gradient turned by 90 degrees, (-gy, gx), normalised. Where the
    # gradient is too weak to have a direction (flat areas, noise), the coarse structure tensor's
    # tangent stands in, with the low magnitude of those pixels so that the w_m weight lets
    # real edges win wherever they are within reach of the filter.
    work_h, work_w = wgx.shape
    gxx, gyy = wgx * wgx, wgy * wgy
    norm = np.sqrt(gxx + gyy)
    strong = wmag >= config.flat_threshold
    inv = (1.0 / np.maximum(norm, 1e-12)).astype(np.float32)
    tx = np.ascontiguousarray(-wgy * inv, np.float32)
    ty = np.ascontiguousarray(wgx * inv, np.float32)
    if not strong.all():
        # Two scales: the surroundings, then the whole picture's layout (one numba pass).
        sigmas = (config.fallback_sigma_px * scale, max(work_h, work_w) / 6.0)
        gxy = wgx * wgy
        coarse = [_tensor_tangent(gxx, gyy, gxy, sigma, False) for sigma in sigmas]
        steps = [max(1, int(sigma // 3)) for sigma in sigmas]
        fill_flat(tx, ty, np.ascontiguousarray(strong), coarse[0], steps[0], coarse[1], steps[1],
                  np.float32(np.cos(config.fallback_angle)), np.float32(np.sin(config.fallback_angle)))
    # Both 1-D passes run down the columns (the vectorised direction of the kernel); the
    # horizontal pass works on the transposed arrays.
    wmag_t = np.ascontiguousarray(wmag.T)
    bx = np.empty((work_w, work_h), np.float32)
    by = np.empty((work_w, work_h), np.float32)
    for _ in range(config.iterations):
        etf_pass(np.ascontiguousarray(tx.T), np.ascontiguousarray(ty.T), wmag_t, config.radius, config.eta, False, bx, by)
        etf_pass(np.ascontiguousarray(bx.T), np.ascontiguousarray(by.T), wmag, config.radius, config.eta, False, tx, ty)

    tangent = np.stack([tx, ty], axis=-1)
    if scale < 1.0 and full_size:
        # One pass in the doubled angle (see upsample_field); where neighbours cancel (the
        # orientation turns by 90 degrees within a pixel) it gives the angle 0.
        tangent, _ = upsample_field(tangent, None, (height, width))
    return tangent.astype(np.float32, copy=False), magnitude
