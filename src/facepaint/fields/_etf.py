"""Numba kernels of the edge tangent flow (private; see :mod:`facepaint.fields.etf`)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(inline="always")
def _magnitude_weight(d, eta):  # pragma: no cover - numba
    """``w_m = (1 + tanh(eta * d)) / 2`` (Kang et al. 2007, eq. 3), with the Pade approximant
    ``tanh(x) ~ x (27 + x^2) / (27 + 9 x^2)`` clipped to [-1, 1] (error < 2.5 % for |x| < 3), because
    ``tanh`` per neighbour and pixel would cost more than the rest of the filter together and
    blocks vectorisation."""
    x = eta * d
    x2 = x * x
    t = x * (np.float32(27.0) + x2) / (np.float32(27.0) + np.float32(9.0) * x2)
    t = min(np.float32(1.0), max(np.float32(-1.0), t))
    return np.float32(0.5) * (np.float32(1.0) + t)


@njit(parallel=True, cache=True, fastmath=True, nogil=True)
def etf_pass(tx, ty, mag, radius, eta, horizontal, out_x, out_y):  # pragma: no cover - numba
    """One separable 1-D pass of the ETF filter (Kang et al. 2007, eq. 1) along rows or columns.

    ``t_new(x) = normalise( sum_y phi(x, y) t(y) w_s w_m(x, y) w_d(x, y) )`` with the box spatial
    weight ``w_s`` of radius ``radius`` and ``phi * w_d = t(x) . t(y)`` (the sign and the absolute
    value of one dot product). The loops run with the pixel index innermost so that they
    vectorise. Every input vector must be a unit vector (no zeros).
    """
    height, width = tx.shape
    eta = np.float32(eta)
    for i in prange(height):
        sx = np.zeros(width, np.float32)
        sy = np.zeros(width, np.float32)
        for k in range(-radius, radius + 1):
            if horizontal:
                j0 = max(0, -k)
                j1 = min(width, width - k)
                for j in range(j0, j1):
                    ux = tx[i, j + k]
                    uy = ty[i, j + k]
                    w = _magnitude_weight(mag[i, j + k] - mag[i, j], eta) * (tx[i, j] * ux + ty[i, j] * uy)
                    sx[j] += w * ux
                    sy[j] += w * uy
            else:
                ii = i + k
                if ii < 0 or ii >= height:
                    continue
                for j in range(width):
                    ux = tx[ii, j]
                    uy = ty[ii, j]
                    w = _magnitude_weight(mag[ii, j] - mag[i, j], eta) * (tx[i, j] * ux + ty[i, j] * uy)
                    sx[j] += w * ux
                    sy[j] += w * uy
        for j in range(width):
            norm = np.sqrt(sx[j] * sx[j] + sy[j] * sy[j])
            if norm > 1e-12:
                out_x[i, j] = sx[j] / norm
                out_y[i, j] = sy[j] / norm
            else:
                out_x[i, j] = tx[i, j]
                out_y[i, j] = ty[i, j]


@njit(inline="always")
def _halve(c, s, none_x):  # pragma: no cover - numba
    """``(x, y)``, the unit vector at half the angle of ``(c, s)`` with the angle in (-pi/2, pi/2]:
    ``cos a = sqrt((1 + cos 2a) / 2)``, ``sin a = sign(sin 2a) sqrt((1 - cos 2a) / 2)``; where
    ``(c, s)`` is ~zero there is no orientation and ``(none_x, 0)`` is returned."""
    # Branch-free (selects, not jumps) float32 arithmetic, so that the loops calling it vectorise.
    c = np.float32(c)
    s = np.float32(s)
    r = np.sqrt(c * c + s * s)
    cos2 = c / max(r, np.float32(1e-12))
    x = np.sqrt(max(np.float32(0.0), np.float32(0.5) * (np.float32(1.0) + cos2)))
    y = np.sqrt(max(np.float32(0.0), np.float32(0.5) * (np.float32(1.0) - cos2)))
    y = -y if s < np.float32(0.0) else y
    oriented = r > np.float32(1e-6)
    return (x if oriented else np.float32(none_x)), (y if oriented else np.float32(0.0))


@njit(parallel=True, cache=True, fastmath=True, nogil=True)
def half_angle(c2, s2, out):  # pragma: no cover - numba
    """Unit vectors ``out[i, j]`` at half the angle of ``(c2, s2)[i, j]``; zero where that is ~0.

    ``cos a = sqrt((1 + cos 2a) / 2)`` and ``sin a = sign(sin 2a) sqrt((1 - cos 2a) / 2)``, so
    ``a`` lies in (-pi/2, pi/2]: the sign of an orientation is arbitrary.
    """
    height, width = c2.shape
    for i in prange(height):
        for j in range(width):
            out[i, j, 0], out[i, j, 1] = _halve(c2[i, j], s2[i, j], 0.0)


@njit(parallel=True, cache=True, nogil=True)
def fill_flat(tx, ty, strong, coarse_a, step_a, coarse_b, step_b, fallback_x, fallback_y):  # pragma: no cover - numba
    """Where ``strong`` is False, replace ``(tx, ty)`` (in place) by the tangent of the coarse
    grid ``coarse_a`` (pixel ``(i, j)`` covers full pixels ``i * step_a ...``), where that is zero
    by ``coarse_b``'s, and where both are zero by ``(fallback_x, fallback_y)``."""
    height, width = tx.shape
    ha, wa = coarse_a.shape[0], coarse_a.shape[1]
    hb, wb = coarse_b.shape[0], coarse_b.shape[1]
    for i in prange(height):
        ia = min(i // step_a, ha - 1)
        ib = min(i // step_b, hb - 1)
        for j in range(width):
            if strong[i, j]:
                continue
            ja = min(j // step_a, wa - 1)
            x = coarse_a[ia, ja, 0]
            y = coarse_a[ia, ja, 1]
            if x == 0.0 and y == 0.0:
                jb = min(j // step_b, wb - 1)
                x = coarse_b[ib, jb, 0]
                y = coarse_b[ib, jb, 1]
                if x == 0.0 and y == 0.0:
                    x = fallback_x
                    y = fallback_y
            tx[i, j] = x
            ty[i, j] = y


@njit(parallel=True, cache=True, fastmath=True, nogil=True)
def upsample_orientation(tangent, magnitude, full_h, full_w, y0_out, x0_out, out_tangent, out_magnitude):  # pragma: no cover - numba
    """Bilinear upsampling of a small orientation field in the doubled angle, in one pass.

    ``tangent (h, w, 2)`` unit vectors and ``magnitude (h, w)`` are resampled onto a
    ``(full_h, full_w)`` grid, of which the window starting at row ``y0_out`` and column
    ``x0_out`` is written to ``out_tangent (bh, bw, 2)`` and ``out_magnitude (bh, bw)``
    (``magnitude`` and ``out_magnitude`` may both be None: numba then compiles the loop
    without it); pixel centres are aligned as
    ``cv2.resize(..., INTER_LINEAR)`` does (``x_small = (x + 0.5) * w / W - 0.5``, edges
    replicated). The doubled angle ``(tx^2 - ty^2, 2 tx ty)`` is interpolated (``t`` and ``-t``
    are one orientation) and halved back; where it cancels there is no orientation and
    ``(1, 0)`` is written, the angle 0 of ``arctan2(0, 0)``.
    """
    h, w = tangent.shape[0], tangent.shape[1]
    height, width = out_tangent.shape[0], out_tangent.shape[1]
    sy = np.float32(h / full_h)
    sx = np.float32(w / full_w)
    half = np.float32(0.5)
    zero = np.float32(0.0)
    # Column taps and weights are the same on every row: computed once, so that the pixel loop
    # is branch-free arithmetic on gathered values.
    cx0 = np.empty(width, np.int64)
    cx1 = np.empty(width, np.int64)
    cax = np.empty(width, np.float32)
    for j in range(width):
        fx = min(max((np.float32(j + x0_out) + half) * sx - half, zero), np.float32(w - 1))
        x0 = min(int(fx), w - 1)
        cx0[j] = x0
        cx1[j] = min(x0 + 1, w - 1)
        cax[j] = fx - np.float32(x0)
    for i in prange(height):
        fy = min(max((np.float32(i + y0_out) + half) * sy - half, zero), np.float32(h - 1))
        y0 = min(int(fy), h - 1)
        y1 = min(y0 + 1, h - 1)
        ay = fy - np.float32(y0)
        by = 1 - ay
        for j in range(width):
            x0 = cx0[j]
            x1 = cx1[j]
            ax = cax[j]
            bx = 1 - ax
            if out_magnitude is not None:
                out_magnitude[i, j] = (by * (bx * magnitude[y0, x0] + ax * magnitude[y0, x1])
                                       + ay * (bx * magnitude[y1, x0] + ax * magnitude[y1, x1]))
            out_tangent[i, j, 0], out_tangent[i, j, 1] = _blend_orientation(tangent, y0, y1, x0, x1, ax, ay)


@njit(inline="always")
def _blend_orientation(tangent, y0, y1, x0, x1, ax, ay):  # pragma: no cover - numba
    """The orientation between the four taps ``tangent[y0|y1, x0|x1]`` at the weights ``ax``,
    ``ay`` of the second column and row: bilinear in the doubled angle, halved back; ``(1, 0)``
    where the taps cancel."""
    bx = 1 - ax
    by = 1 - ay
    t00x, t00y = tangent[y0, x0, 0], tangent[y0, x0, 1]
    t01x, t01y = tangent[y0, x1, 0], tangent[y0, x1, 1]
    t10x, t10y = tangent[y1, x0, 0], tangent[y1, x0, 1]
    t11x, t11y = tangent[y1, x1, 0], tangent[y1, x1, 1]
    c = (by * (bx * (t00x * t00x - t00y * t00y) + ax * (t01x * t01x - t01y * t01y))
         + ay * (bx * (t10x * t10x - t10y * t10y) + ax * (t11x * t11x - t11y * t11y)))
    s = 2 * (by * (bx * t00x * t00y + ax * t01x * t01y) + ay * (bx * t10x * t10y + ax * t11x * t11y))
    return _halve(c, s, 1.0)


@njit(inline="always")
def orientation_at(tangent, ix, iy, ox, oy, sx, sy):  # pragma: no cover - numba
    """The value :func:`upsample_orientation` writes at pixel ``(ix, iy)`` of a window whose
    origin is pixel ``(ox, oy)`` of the full frame, ``(sx, sy)`` being float32 ``w / W`` and
    ``h / H`` (small over full size): for kernels that read a coarse tangent flow at a few pixels
    instead of upsampling it over a whole window."""
    h, w = tangent.shape[0], tangent.shape[1]
    half = np.float32(0.5)
    zero = np.float32(0.0)
    fx = min(max((np.float32(ix + ox) + half) * sx - half, zero), np.float32(w - 1))
    fy = min(max((np.float32(iy + oy) + half) * sy - half, zero), np.float32(h - 1))
    x0 = min(int(fx), w - 1)
    y0 = min(int(fy), h - 1)
    return _blend_orientation(tangent, y0, min(y0 + 1, h - 1), x0, min(x0 + 1, w - 1), fx - np.float32(x0), fy - np.float32(y0))
