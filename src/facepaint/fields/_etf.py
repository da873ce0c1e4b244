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
    t = x * (27.0 + x2) / (27.0 + 9.0 * x2)
    t = min(1.0, max(-1.0, t))
    return 0.5 * (1.0 + t)


@njit(parallel=True, cache=True)
def etf_pass(tx, ty, mag, radius, eta, horizontal, out_x, out_y):  # pragma: no cover - numba
    """One separable 1-D pass of the ETF filter (Kang et al. 2007, eq. 1) along rows or columns.

    ``t_new(x) = normalise( sum_y phi(x, y) t(y) w_s w_m(x, y) w_d(x, y) )`` with the box spatial
    weight ``w_s`` of radius ``radius`` and ``phi * w_d = t(x) . t(y)`` (the sign and the absolute
    value of one dot product). The loops run with the pixel index innermost so that they
    vectorise. Every input vector must be a unit vector (no zeros).
    """
    height, width = tx.shape
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


@njit(parallel=True, cache=True)
def half_angle(c2, s2, out):  # pragma: no cover - numba
    """Unit vectors ``out[i, j]`` at half the angle of ``(c2, s2)[i, j]``; zero where that is ~0.

    ``cos a = sqrt((1 + cos 2a) / 2)`` and ``sin a = sign(sin 2a) sqrt((1 - cos 2a) / 2)``, so
    ``a`` lies in (-pi/2, pi/2]: the sign of an orientation is arbitrary.
    """
    height, width = c2.shape
    for i in prange(height):
        for j in range(width):
            c = c2[i, j]
            s = s2[i, j]
            r = np.sqrt(c * c + s * s)
            if r <= 1e-6:
                out[i, j, 0] = 0.0
                out[i, j, 1] = 0.0
                continue
            cos2 = c / r
            x = np.sqrt(max(0.0, 0.5 * (1.0 + cos2)))
            y = np.sqrt(max(0.0, 0.5 * (1.0 - cos2)))
            out[i, j, 0] = x
            out[i, j, 1] = -y if s < 0.0 else y
