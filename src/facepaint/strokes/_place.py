"""Numba kernels of stroke placement (private; see :mod:`facepaint.strokes.placement`)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from facepaint.fields.etf import orientation_at

#: uint8 colours in [0, 1] units: ``float32(v) * _INV255``, as ``v.astype(float32) * float32(1 / 255)``.
_INV255 = np.float32(1.0 / 255.0)


@njit(cache=True)
def _fill_triangle(mask, ax, ay, bx, by, cx, cy):  # pragma: no cover - numba
    """Set ``mask`` to 1 at the pixel centres inside triangle abc (either orientation)."""
    height, width = mask.shape
    area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
    if abs(area) < 1e-12:
        return
    x0 = max(0, int(np.floor(min(ax, min(bx, cx)))))
    x1 = min(width - 1, int(np.ceil(max(ax, max(bx, cx)))))
    y0 = max(0, int(np.floor(min(ay, min(by, cy)))))
    y1 = min(height - 1, int(np.ceil(max(ay, max(by, cy)))))
    sign = 1.0 if area > 0 else -1.0
    for y in range(y0, y1 + 1):
        for x in range(x0, x1 + 1):
            w0 = sign * ((bx - ax) * (y - ay) - (by - ay) * (x - ax))
            w1 = sign * ((cx - bx) * (y - by) - (cy - by) * (x - bx))
            w2 = sign * ((ax - cx) * (y - cy) - (ay - cy) * (x - cx))
            if w0 >= 0 and w1 >= 0 and w2 >= 0:
                mask[y, x] = 1


@njit(cache=True)
def _ladder(spine, columns, half_width, cap, t0x, t0y, out):  # pragma: no cover - numba
    """Ladder particles (top row then bottom row) around ``spine[:columns]`` (C, 2), the ends
    pushed out by ``cap`` pixels along the end directions (see :mod:`facepaint.strokes.models`)."""
    # Direction at each column: central differences inside, one-sided at the ends.
    dirs = np.empty((columns, 2))
    for k in range(columns):
        a = k - 1 if k > 0 else 0
        b = k + 1 if k < columns - 1 else columns - 1
        dx = spine[b, 0] - spine[a, 0]
        dy = spine[b, 1] - spine[a, 1]
        n = np.sqrt(dx * dx + dy * dy)
        if n < 1e-9:
            dx, dy, n = t0x, t0y, 1.0
        dirs[k, 0] = dx / n
        dirs[k, 1] = dy / n
    for k in range(columns):
        px = spine[k, 0]
        py = spine[k, 1]
        if k == 0:
            px -= cap * dirs[k, 0]
            py -= cap * dirs[k, 1]
        elif k == columns - 1:
            px += cap * dirs[k, 0]
            py += cap * dirs[k, 1]
        nx = dirs[k, 1]
        ny = -dirs[k, 0]
        out[k, 0] = px + nx * half_width
        out[k, 1] = py + ny * half_width
        out[columns + k, 0] = px - nx * half_width
        out[columns + k, 1] = py - ny * half_width


@njit(inline="always")
def _tangent(tangent, grid, ix, iy):  # pragma: no cover - numba
    """The tangent at pixel ``(ix, iy)``: per pixel, or read from a coarse field when ``grid`` is
    ``(ox, oy, sx, sy)`` (see :class:`facepaint.types.OrientationField`; None: per pixel, and
    numba compiles the kernel without the branch)."""
    if grid is None:
        return tangent[iy, ix, 0], tangent[iy, ix, 1]
    return orientation_at(tangent, ix, iy, grid[0], grid[1], grid[2], grid[3])


@njit(cache=True)
def _trace(x0, y0, dx0, dy0, tangent, grid, labels, region, image, c0, max_len, step, cos_turn_step,
           cos_turn_total, color_threshold, buf):  # pragma: no cover - numba
    """Walk from ``(x0, y0)`` along the tangent flow, starting in direction ``(dx0, dy0)``.

    Stops before leaving the image or ``region``, before a point whose colour differs from ``c0``
    by more than ``color_threshold`` (RGB distance, [0, 1] units), when one step turns by more than
    ``acos(cos_turn_step)``, when the direction has turned by more than ``acos(cos_turn_total)``
    from the start, or once ``max_len`` pixels are walked. Writes the visited points (not the
    start) to ``buf`` and returns how many.
    """
    height, width = labels.shape
    n_max = buf.shape[0]
    px, py = x0, y0
    dx, dy = dx0, dy0
    walked = 0.0
    count = 0
    while count < n_max and walked + step <= max_len + 1e-9:
        tx, ty = _tangent(tangent, grid, int(px + 0.5), int(py + 0.5))
        dot = tx * dx + ty * dy
        if dot < 0:
            tx, ty, dot = -tx, -ty, -dot
        if dot < cos_turn_step or tx * dx0 + ty * dy0 < cos_turn_total:
            break
        qx = px + step * tx
        qy = py + step * ty
        jx = int(qx + 0.5)
        jy = int(qy + 0.5)
        if jx < 0 or jy < 0 or jx >= width or jy >= height:
            break
        if labels[jy, jx] != region:
            break
        e0 = np.float32(image[jy, jx, 0]) * _INV255 - c0[0]
        e1 = np.float32(image[jy, jx, 1]) * _INV255 - c0[1]
        e2 = np.float32(image[jy, jx, 2]) * _INV255 - c0[2]
        if e0 * e0 + e1 * e1 + e2 * e2 > color_threshold * color_threshold:
            break
        px, py = qx, qy
        dx, dy = tx, ty
        walked += step
        buf[count, 0] = px
        buf[count, 1] = py
        count += 1
    return count


@njit(cache=True)
def place_kernel(seeds, start, capacity, covered, tangent, grid, labels, region, image, seed_thickness,
                 seed_length, columns, both_ways, step, cos_turn_step, cos_turn_total,
                 color_threshold, min_len_ratio, cover_width, cover_cap):  # pragma: no cover
    """Grow strokes from ``seeds[start:]`` (flat pixel indices, in the order to try), seed ``i``
    with thickness ``seed_thickness[i]`` and longest centre line ``seed_length[i]``; colours are
    read from ``image`` (H, W, 3) uint8 in [0, 1] units.

    A seed already ``covered`` is skipped; otherwise a stroke grows from it along the tangent flow
    (both ways when ``both_ways``, else forwards only), its centre line is resampled to
    ``columns`` points by arc length and turned into a ladder (the rung at each end pushed out by
    half a thickness). Its inner footprint (width ``cover_width * thickness``, ends pushed out by
    ``cover_cap * thickness / 2``) and the seed pixel are then marked covered.

    Returns ``(particles (capacity, 2 C, 2) float32, thickness (capacity,) float32,
    seed_index (capacity,) int64, count, next_start)``; ``next_start < len(seeds)`` means the
    capacity ran out and the caller should call again from there.
    """
    height, width = labels.shape
    n_seeds = seeds.shape[0]
    particles = np.zeros((capacity, 2 * columns, 2), np.float32)
    thickness = np.zeros(capacity, np.float32)
    seed_index = np.zeros(capacity, np.int64)
    max_steps = int(np.ceil(seed_length.max() / step)) + 2
    fwd = np.empty((max_steps, 2))
    bwd = np.empty((max_steps, 2))
    poly = np.empty((2 * max_steps + 1, 2))
    arc = np.empty(2 * max_steps + 1)
    spine = np.empty((columns, 2))
    ladder = np.empty((2 * columns, 2))
    inner = np.empty((2 * columns, 2))
    c0 = np.empty(3, np.float32)
    count = 0
    i = start
    while i < n_seeds:
        if count >= capacity:
            return particles, thickness, seed_index, count, i
        flat = seeds[i]
        i += 1
        sy = flat // width
        sx = flat - sy * width
        if covered[sy, sx]:
            continue
        t = seed_thickness[i - 1]
        max_len = seed_length[i - 1]
        t0x, t0y = _tangent(tangent, grid, sx, sy)
        for c in range(3):
            c0[c] = np.float32(image[sy, sx, c]) * _INV255
        x0 = float(sx)
        y0 = float(sy)
        if both_ways:
            nf = _trace(x0, y0, t0x, t0y, tangent, grid, labels, region, image, c0, 0.5 * max_len, step,
                        cos_turn_step, cos_turn_total, color_threshold, fwd)
            nb = _trace(x0, y0, -t0x, -t0y, tangent, grid, labels, region, image, c0, 0.5 * max_len, step,
                        cos_turn_step, cos_turn_total, color_threshold, bwd)
        else:
            nf = _trace(x0, y0, t0x, t0y, tangent, grid, labels, region, image, c0, max_len, step,
                        cos_turn_step, cos_turn_total, color_threshold, fwd)
            nb = 0
        # Centre line tail -> head: the backward points reversed, the seed, the forward points.
        n = 0
        for k in range(nb - 1, -1, -1):
            poly[n, 0] = bwd[k, 0]
            poly[n, 1] = bwd[k, 1]
            n += 1
        poly[n, 0] = x0
        poly[n, 1] = y0
        n += 1
        for k in range(nf):
            poly[n, 0] = fwd[k, 0]
            poly[n, 1] = fwd[k, 1]
            n += 1
        arc[0] = 0.0
        for k in range(1, n):
            ddx = poly[k, 0] - poly[k - 1, 0]
            ddy = poly[k, 1] - poly[k - 1, 1]
            arc[k] = arc[k - 1] + np.sqrt(ddx * ddx + ddy * ddy)
        total = arc[n - 1]
        min_len = min_len_ratio * t
        if total < min_len:
            # Too short to show a direction (a busy spot): a straight dab along the flow,
            # centred on the middle of what was traced.
            mx = 0.5 * (poly[0, 0] + poly[n - 1, 0])
            my = 0.5 * (poly[0, 1] + poly[n - 1, 1])
            for k in range(columns):
                f = k / (columns - 1) - 0.5
                spine[k, 0] = mx + f * min_len * t0x
                spine[k, 1] = my + f * min_len * t0y
        else:
            seg = 0
            for k in range(columns):
                target = total * k / (columns - 1)
                while seg < n - 2 and arc[seg + 1] < target:
                    seg += 1
                span = arc[seg + 1] - arc[seg] if n > 1 else 0.0
                f = (target - arc[seg]) / span if span > 1e-12 else 0.0
                f = min(1.0, max(0.0, f))
                nxt = seg + 1 if n > 1 else seg
                spine[k, 0] = poly[seg, 0] + f * (poly[nxt, 0] - poly[seg, 0])
                spine[k, 1] = poly[seg, 1] + f * (poly[nxt, 1] - poly[seg, 1])
        _ladder(spine, columns, 0.5 * t, 0.5 * t, t0x, t0y, ladder)
        for k in range(2 * columns):
            particles[count, k, 0] = ladder[k, 0]
            particles[count, k, 1] = ladder[k, 1]
        thickness[count] = t
        seed_index[count] = i - 1
        count += 1
        # Mark the inner footprint covered (the mesh's triangles, narrowed).
        _ladder(spine, columns, 0.5 * cover_width * t, 0.5 * cover_cap * t, t0x, t0y, inner)
        for k in range(columns - 1):
            a = k
            b = k + 1
            c = columns + k + 1
            d = columns + k
            _fill_triangle(covered, inner[a, 0], inner[a, 1], inner[b, 0], inner[b, 1], inner[c, 0], inner[c, 1])
            _fill_triangle(covered, inner[a, 0], inner[a, 1], inner[c, 0], inner[c, 1], inner[d, 0], inner[d, 1])
        covered[sy, sx] = 1
    return particles, thickness, seed_index, count, i


@njit(cache=True, parallel=True)
def size_maps_kernel(saliency, dist, t_min, t_max, gamma, slack, length_ratio, thickness, length):  # pragma: no cover
    """``thickness = max(t_min, min(t_max - (t_max - t_min) * saliency ** gamma, 2 * dist + slack))``
    and ``length = length_ratio * thickness``, per pixel (one pass instead of ten numpy ones);
    ``dist`` of shape (1, 1) means no edge cap."""
    height, width = saliency.shape
    capped = dist.shape[0] == height and dist.shape[1] == width
    for i in prange(height):
        for j in range(width):
            s = min(1.0, max(0.0, saliency[i, j]))
            t = t_max - (t_max - t_min) * s**gamma
            if capped:
                t = max(t_min, min(t, 2.0 * dist[i, j] + slack))
            thickness[i, j] = t
            length[i, j] = length_ratio * t


@njit(inline="always")
def _bilinear_clamped(image, x, y):  # pragma: no cover - numba
    """``image`` (h, w) read bilinearly at ``(x, y)``, the border replicated."""
    h, w = image.shape
    x = min(max(x, 0.0), w - 1.0)
    y = min(max(y, 0.0), h - 1.0)
    x0 = min(int(x), max(0, w - 2))
    y0 = min(int(y), max(0, h - 2))
    x1 = min(x0 + 1, w - 1)
    y1 = min(y0 + 1, h - 1)
    fx = x - x0
    fy = y - y0
    top = image[y0, x0] + fx * (image[y0, x1] - image[y0, x0])
    bottom = image[y1, x0] + fx * (image[y1, x1] - image[y1, x0])
    return top + fy * (bottom - top)


@njit(cache=True, parallel=True)
def grid_sizes_kernel(seeds, width, ox, oy, sx, sy, saliency, dist, dist_scale, t_min, t_max, gamma, slack,
                      length_ratio, thickness, length):  # pragma: no cover - numba
    """:func:`size_maps_kernel` at the ``seeds`` (flat indices of a window ``width`` pixels wide
    at ``(ox, oy)`` of the frame) with the saliency and the distance to strong edges read
    bilinearly on a coarse grid (``sx, sy``: grid over frame size): the saliency from
    ``saliency``, the distance from ``dist`` (grid pixels; shape (1, 1): no cap) times
    ``dist_scale``."""
    capped = dist.shape[0] > 1 or dist.shape[1] > 1
    g = np.float32(gamma)
    for k in prange(seeds.shape[0]):
        row = int(np.float64(seeds[k]) / width)  # exact (flat indices < 2**31), a division that pipelines
        x = seeds[k] - row * width + ox
        y = row + oy
        gx = (x + 0.5) * sx - 0.5
        gy = (y + 0.5) * sy - 0.5
        s = np.float32(min(1.0, max(0.0, _bilinear_clamped(saliency, gx, gy))))
        t = t_max - (t_max - t_min) * np.float64(s**g)
        if capped:
            d = _bilinear_clamped(dist, gx, gy) * dist_scale
            t = max(t_min, min(t, 2.0 * d + slack))
        thickness[k] = t
        length[k] = length_ratio * t
