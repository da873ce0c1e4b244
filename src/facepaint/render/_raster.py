"""Numba scanline rasterizer of textured stroke meshes (private; see :mod:`facepaint.render`).

Every stroke is a ladder mesh of ``T`` triangles (:func:`facepaint.strokes.models.ladder_triangles`)
whose vertices are its particles, with fixed texture coordinates. Rows of the canvas are cut into
bands; triangles are binned into the bands they touch (in stroke order) and the bands are drawn in
parallel, each drawing its triangles in order, so the result is the same as drawing every stroke
in order while no two threads ever write the same pixel.

Seams: a pixel centre belongs to a triangle when ``ceil(y_min) <= y < ceil(y_max)`` and
``ceil(x_left) <= x < ceil(x_right)``, where the row's span ends are computed in float64 as
``x_p + (y - y_p) * (x_q - x_p) / (y_q - y_p)`` from the edge's end points taken in y order
(p above q). Two triangles that share an edge therefore compute bit-identical crossings and each
pixel along the edge is drawn by exactly one of them: no gaps and no doubly blended pixels inside a
stroke.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from facepaint.render.brushes import bordered


@njit(cache=True, parallel=True)
def _setup(positions, tri, uv, height, row0, row1, setup):  # pragma: no cover - numba
    """Per triangle ``m = n * T + t``: its row range ``[row0, row1)`` clipped to the canvas, and in
    ``setup[m]`` (float64) ``ax ay bx by`` of the vertices sorted by y (A top, B middle), the
    inverse slopes ``dx/dy`` of edges AC, AB, BC, and the affine texture coordinates
    ``u0 dudx dudy v0 dvdx dvdy`` (``u(x, y) = u0 + dudx x + dudy y``).
    Degenerate (zero-area) and NaN triangles get an empty row range."""
    n_strokes = positions.shape[0]
    n_tri = tri.shape[0]
    for n in prange(n_strokes):
        for t in range(n_tri):
            m = n * n_tri + t
            ia = tri[t, 0]
            ib = tri[t, 1]
            ic = tri[t, 2]
            x0 = np.float64(positions[n, ia, 0])
            y0 = np.float64(positions[n, ia, 1])
            x1 = np.float64(positions[n, ib, 0])
            y1 = np.float64(positions[n, ib, 1])
            x2 = np.float64(positions[n, ic, 0])
            y2 = np.float64(positions[n, ic, 1])
            det = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
            if not (abs(det) >= 1e-9):  # also catches NaN
                row0[m] = 0
                row1[m] = 0
                continue
            u0 = np.float64(uv[ia, 0])
            v0 = np.float64(uv[ia, 1])
            u1 = np.float64(uv[ib, 0])
            v1 = np.float64(uv[ib, 1])
            u2 = np.float64(uv[ic, 0])
            v2 = np.float64(uv[ic, 1])
            dudx = ((u1 - u0) * (y2 - y0) - (u2 - u0) * (y1 - y0)) / det
            dudy = ((u2 - u0) * (x1 - x0) - (u1 - u0) * (x2 - x0)) / det
            dvdx = ((v1 - v0) * (y2 - y0) - (v2 - v0) * (y1 - y0)) / det
            dvdy = ((v2 - v0) * (x1 - x0) - (v1 - v0) * (x2 - x0)) / det
            ax, ay, bx, by, cx, cy = x0, y0, x1, y1, x2, y2
            if ay > by:
                ax, ay, bx, by = bx, by, ax, ay
            if by > cy:
                bx, by, cx, cy = cx, cy, bx, by
            if ay > by:
                ax, ay, bx, by = bx, by, ax, ay
            # Inverse slopes of the edges, each from its end points in y order (A above B above
            # C): a neighbour sharing an edge computes the very same numbers (see the module
            # docstring); horizontal edges are never crossed by a row and get 0.
            setup[m, 0] = ax
            setup[m, 1] = ay
            setup[m, 2] = bx
            setup[m, 3] = by
            setup[m, 4] = (cx - ax) / (cy - ay) if cy > ay else 0.0
            setup[m, 5] = (bx - ax) / (by - ay) if by > ay else 0.0
            setup[m, 6] = (cx - bx) / (cy - by) if cy > by else 0.0
            setup[m, 7] = u0 - dudx * x0 - dudy * y0
            setup[m, 8] = dudx
            setup[m, 9] = dudy
            setup[m, 10] = v0 - dvdx * x0 - dvdy * y0
            setup[m, 11] = dvdx
            setup[m, 12] = dvdy
            r0 = int(np.ceil(max(ay, -1.0)))
            r1 = int(np.ceil(min(cy, height + 1.0)))
            row0[m] = max(0, r0)
            row1[m] = min(height, r1)


@njit(inline="always")
def _quotient(a, b):  # pragma: no cover - numba
    """``a // b`` for integers ``0 <= a < 2**31``, ``1 <= b < 2**20``, by a float64 division: a
    quotient that is not an integer lies at least ``1 / b`` from one, far more than the rounding
    error, so the floor is exact. It pipelines where a 64-bit integer division stalls the loop
    for tens of cycles (the binning loops were mostly that)."""
    return int(np.float64(a) / np.float64(b))


@njit(cache=True)
def _bin(row0, row1, band_rows, n_bands):  # pragma: no cover - numba
    """CSR lists of the triangles touching each band, in triangle order."""
    m_total = row0.shape[0]
    first = np.empty(m_total, np.int32)
    last = np.empty(m_total, np.int32)
    counts = np.zeros(n_bands + 1, np.int64)
    for m in range(m_total):
        first[m] = _quotient(row0[m], band_rows)
        last[m] = _quotient(row1[m] - 1, band_rows) if row1[m] > row0[m] else first[m] - 1
        for b in range(first[m], last[m] + 1):
            counts[b + 1] += 1
    for b in range(n_bands):
        counts[b + 1] += counts[b]
    fill = counts[:-1].copy()
    items = np.empty(counts[n_bands], np.int32)
    for m in range(m_total):
        for b in range(first[m], last[m] + 1):
            items[fill[b]] = m
            fill[b] += 1
    return counts, items


# fastmath: the pixel loops are float32 arithmetic on values in [0, 1] (no NaN or inf reach them),
# where reassociation and fused multiply-adds change results by an ulp and save about a tenth of
# the time; the span ends, which decide which triangle owns a pixel, are float64 and computed by
# the same expression for both triangles of a shared edge (see the module docstring).
#
# The images come flattened and are indexed with unsigned integers: numba wraps negative signed
# indices around, and those checks and the stride arithmetic of 3-d indexing made up a third of
# the instructions of the pixel loop (one loop per span: sampling, blending, coverage and
# transmittance together).
@njit(cache=True, parallel=True, fastmath=True)
def _draw_bands(setup, colors, texture_at, level, detail, texels, tex_h, tex_w, filtered, n_tri, opacity, cover, row0, row1, counts,
                items, band_rows, width, canvas, coverage, trans, bilinear, clip, clip_cell):  # pragma: no cover - numba
    """Draw the binned triangles band by band (bands in parallel, triangles in order).

    ``texture_at[n]`` is the offset in ``texels`` (the mip levels of the brush textures, each with
    a texel of transparent border on every side, flattened one after the other) of stroke
    ``n``'s brush at its mip ``level[n]``, a ``((tex_h >> level) + 2, (tex_w >> level) + 2, 3)``
    texture. ``filtered``: the mesh's ``v`` from 0 to 1 spans the whole bordered texture, from
    the transparent row to the other (:func:`facepaint.render.brushes.filter_widen`), and ``u``
    the columns with their centres at ``(i + 0.5) / columns``, the ends half-way into the
    transparent border; False: the unbordered texture, corner texel to corner texel;
    ``canvas`` is the (H, W, 3) canvas flattened, ``coverage`` and ``trans`` the (H, W) ones
    (``width`` = W). ``coverage`` accumulates the footprint; ``trans`` is multiplied by
    ``1 - alpha`` of every pixel drawn: it ends as the product of the strokes' transmittances, the
    weight with which whatever lies *under* them shows through (the blend ``c += a (s - c)`` is
    affine in ``c``). Either may be None, and ``bilinear`` is True or None (nearest texel): numba
    compiles one specialisation per combination and prunes the branches on ``is None`` at compile
    time, which keeps run-time flag tests out of the pixel loops. ``clip`` (cells of ``clip_cell``
    pixels, uint8) or None: only the pixels of nonzero cells need be drawn; each span is trimmed
    of the clear cells at its ends (a span crossing a clear cell between two marked ones is drawn
    whole: the pixels outside the marked cells are left undefined)."""
    height = canvas.shape[0] // (3 * width)
    one = np.float32(1.0)
    zero = np.float32(0.0)
    half = np.float32(0.5)
    u1 = np.uint64(1)
    u2 = np.uint64(2)
    u3 = np.uint64(3)
    n_bands = counts.shape[0] - 1
    for b in prange(n_bands):
        band_lo = b * band_rows
        band_hi = min(height, band_lo + band_rows)
        for e in range(counts[b], counts[b + 1]):
            m = items[e]
            n = _quotient(m, n_tri)
            ax = setup[m, 0]
            ay = setup[m, 1]
            bx = setup[m, 2]
            by = setup[m, 3]
            s_ac = setup[m, 4]
            s_ab = setup[m, 5]
            s_bc = setup[m, 6]
            uc = setup[m, 7]
            dudx = setup[m, 8]
            dudy = setup[m, 9]
            vc = setup[m, 10]
            dvdx = setup[m, 11]
            dvdy = setup[m, 12]
            du = np.float32(dudx)
            dv = np.float32(dvdx)
            tex0 = texture_at[n]
            lw = tex_w >> level[n]
            lh = tex_h >> level[n]
            if filtered:
                su = np.float32(lw)
                ou = half
                sv = np.float32(lh + 1)
                ov = zero
            else:
                su = np.float32(lw - 1)
                ou = one
                sv = np.float32(lh - 1)
                ov = one
            row_texels = np.uint64(3 * (lw + 2))
            last_u = np.int32(lw)
            last_v = np.int32(lh)
            cr = colors[n, 0]
            cg = colors[n, 1]
            cb = colors[n, 2]
            g = detail[n]
            op = opacity[n]
            cw = cover[n]
            r_lo = max(row0[m], band_lo)
            r_hi = min(row1[m], band_hi)
            for y in range(r_lo, r_hi):
                fy = np.float64(y)
                xl = ax + (fy - ay) * s_ac
                if fy < by:
                    xs = ax + (fy - ay) * s_ab
                else:
                    xs = bx + (fy - by) * s_bc
                if xs < xl:
                    xl, xs = xs, xl
                xa = max(0, int(np.ceil(xl)))
                xb = min(width, int(np.ceil(xs)))
                if clip is not None:
                    cy = y // clip_cell
                    while xa < xb and clip[cy, xa // clip_cell] == 0:
                        xa = (xa // clip_cell + 1) * clip_cell
                    while xb > xa and clip[cy, (xb - 1) // clip_cell] == 0:
                        xb = ((xb - 1) // clip_cell) * clip_cell
                if xb <= xa:
                    continue
                u = np.float32(uc + dudx * xa + dudy * fy)
                v = np.float32(vc + dvdx * xa + dvdy * fy)
                pix = np.uint64(y * width + xa)
                pix_end = np.uint64(y * width + xb)
                while pix < pix_end:
                    fu = min(max(u, zero), one) * su + ou
                    fv = min(max(v, zero), one) * sv + ov
                    u += du
                    v += dv
                    if bilinear is not None:
                        # float32 throughout: an integer literal here (1 - wu) made the
                        # weights and all twelve texel products float64, a third of the time.
                        ju = min(np.int32(fu), last_u)
                        jv = min(np.int32(fv), last_v)
                        wu = fu - np.float32(ju)
                        wv = fv - np.float32(jv)
                        w00 = (one - wu) * (one - wv)
                        w01 = wu * (one - wv)
                        w10 = (one - wu) * wv
                        w11 = wu * wv
                        t00 = tex0 + np.uint64(jv) * row_texels + np.uint64(ju) * u3
                        t01 = t00 + u3
                        t10 = t00 + row_texels
                        t11 = t10 + u3
                        foot = (w00 * texels[t00] + w01 * texels[t01]
                                + w10 * texels[t10] + w11 * texels[t11])
                        alpha = (w00 * texels[t00 + u1] + w01 * texels[t01 + u1]
                                 + w10 * texels[t10 + u1] + w11 * texels[t11 + u1])
                        shade = (w00 * texels[t00 + u2] + w01 * texels[t01 + u2]
                                 + w10 * texels[t10 + u2] + w11 * texels[t11 + u2])
                    else:
                        t = tex0 + np.uint64(fv + half) * row_texels + np.uint64(fu + half) * u3
                        foot = texels[t]
                        alpha = texels[t + u1]
                        shade = texels[t + u2]
                    # Thin strokes show less of the texture (it would only read as noise); a
                    # pixel whose footprint is 0 has alpha 0 and is left exactly as it was.
                    base = op * foot
                    a = base + g * (op * alpha - base)
                    sh = one + g * (shade - one)
                    q = pix * u3
                    canvas[q] += a * (min(cr * sh, one) - canvas[q])
                    canvas[q + u1] += a * (min(cg * sh, one) - canvas[q + u1])
                    canvas[q + u2] += a * (min(cb * sh, one) - canvas[q + u2])
                    if coverage is not None:
                        coverage[pix] += cw * foot * (one - coverage[pix])
                    if trans is not None:
                        trans[pix] *= one - a
                    pix += u1


def draw_strokes(positions, colors, brush, level, detail, textures, tri, uv, opacity, cover, canvas, coverage, band_rows,
                 bilinear=False, transmittance=None, clip=None, clip_cell=32, filtered=True):
    """Draw strokes in order into ``canvas`` (and ``coverage`` / ``transmittance`` when not None),
    in place.

    ``textures`` are the mip levels (K, TH >> l, TW >> l, 3) float32, finest first; stroke ``n``
    reads brush ``brush[n] % K`` at level ``level[n]`` (N,) uint8. ``detail`` (N,) float32 in
    [0, 1] scales each stroke's texture contrast (0: flat paint). ``opacity`` (N,) float32 multiplies
    each stroke's alpha, ``cover`` (N,) float32 the coverage it lays down. ``clip`` (cells of
    ``clip_cell`` pixels, uint8) or None: only the pixels of its nonzero cells need be drawn.
    ``filtered``: ``positions`` are meshes widened by :func:`facepaint.render.brushes.filter_widen`
    of their level's rows, read with a transparent border (see :func:`_draw_bands`)."""
    height = canvas.shape[0]
    n_tri = tri.shape[0]
    m_total = positions.shape[0] * n_tri
    if m_total == 0:
        return
    row0 = np.empty(m_total, np.int64)
    row1 = np.empty(m_total, np.int64)
    setup = np.empty((m_total, 13), np.float64)
    _setup(positions, tri, uv, height, row0, row1, setup)
    n_bands = (height + band_rows - 1) // band_rows
    counts, items = _bin(row0, row1, band_rows, n_bands)
    variants, tex_h, tex_w = textures[0].shape[:3]
    texels, starts, sizes = _texel_buffer(tuple(textures))
    level = np.minimum(np.asarray(level, np.uint8), np.uint8(len(textures) - 1))
    texture_at = starts[level] + (brush.astype(np.uint64) % np.uint64(variants)) * (sizes[level] // np.uint64(variants))
    _draw_bands(setup, colors, texture_at, level.astype(np.int64), detail, texels, tex_h, tex_w, bool(filtered), n_tri,
                np.ascontiguousarray(opacity, np.float32), np.ascontiguousarray(cover, np.float32), row0, row1, counts, items, band_rows, canvas.shape[1], canvas.reshape(-1),
                None if coverage is None else coverage.reshape(-1),
                None if transmittance is None else transmittance.reshape(-1), True if bilinear else None,
                clip, np.int64(clip_cell))


#: Texel buffers of read-only mip levels (:func:`facepaint.render.brushes.texture_levels` of
#: the brush bank), made once: id of the first level -> (the levels, the buffer).
_TEXELS: dict[int, tuple[tuple[np.ndarray, ...], tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}


def _texel_buffer(levels: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mip ``levels`` bordered (:func:`facepaint.render.brushes.bordered`) and flattened one
    after the other into one float32 buffer, with each level's offset and size (uint64);
    remembered for read-only levels (the same every frame)."""
    frozen = all(isinstance(lv, np.ndarray) and not lv.flags.writeable for lv in levels)
    known = _TEXELS.get(id(levels[0])) if frozen else None
    if known is not None and len(known[0]) == len(levels) and all(a is b for a, b in zip(known[0], levels)):
        return known[1]
    bordered_levels = [bordered(t) for t in levels]
    sizes = np.array([t.size for t in bordered_levels], np.uint64)
    starts = np.concatenate([np.zeros(1, np.uint64), np.cumsum(sizes)[:-1]])
    texels = np.concatenate([np.ascontiguousarray(t, np.float32).reshape(-1) for t in bordered_levels])
    if frozen:
        if len(_TEXELS) >= 32:
            _TEXELS.clear()
        _TEXELS[id(levels[0])] = (levels, (texels, starts, sizes))
    return texels, starts, sizes


@njit(inline="always")
def _widen(a, b, widen):  # pragma: no cover - numba
    """Coordinate ``a`` of a particle pushed away from its rung partner ``b`` by ``widen`` about
    their midpoint, in float64, rounded to the 1/1024 px grid (half to even, as numpy)."""
    a = np.float64(a)
    mid = 0.5 * (a + np.float64(b))
    return np.float32(np.round((mid + widen * (a - mid)) * 1024.0) / 1024.0)


@njit(cache=True, parallel=True)
def widen_ladders(positions, widen, out):  # pragma: no cover - numba
    """``out``: each stroke's particle rows ``0..C-1`` and ``C..2C-1`` pushed apart about their
    midline by ``widen[k]`` (:func:`_widen`)."""
    n, p, _ = positions.shape
    c = p // 2
    for k in prange(n):
        for j in range(c):
            for d in range(2):
                out[k, j, d] = _widen(positions[k, j, d], positions[k, c + j, d], widen[k])
                out[k, c + j, d] = _widen(positions[k, c + j, d], positions[k, j, d], widen[k])


@njit(inline="always")
def _quantise(v):  # pragma: no cover - numba
    """A canvas value in [0, 1] (clipped) as uint8, rounded half up."""
    return np.uint8(min(max(v, 0.0), 1.0) * 255.0 + 0.5)


@njit(cache=True, parallel=True)
def to_uint8(canvas, out):  # pragma: no cover - numba
    """``out = round(clip(canvas, 0, 1) * 255)`` for (H, W, 3) float32 -> uint8."""
    height, width = canvas.shape[0], canvas.shape[1]
    for i in prange(height):
        for j in range(width):
            for c in range(3):
                out[i, j, c] = _quantise(canvas[i, j, c])


@njit(cache=True, parallel=True)
def to_uint8_composited(canvas, image, alpha, out):  # pragma: no cover - numba
    """:func:`to_uint8` of ``canvas`` with ``image`` blended over it through ``alpha`` (H, W) in
    one pass: ``rint(p + a (s - p))`` in float32 (``p`` the quantised canvas, ``a`` clipped to
    [0, 1]), exactly ``s`` where ``a >= 1``, as :func:`facepaint.render.composite_features`."""
    height, width = canvas.shape[0], canvas.shape[1]
    for i in prange(height):
        for j in range(width):
            a = min(max(alpha[i, j], np.float32(0.0)), np.float32(1.0))
            for c in range(3):
                q = _quantise(canvas[i, j, c])
                if a <= 0.0:
                    out[i, j, c] = q
                elif a >= 1.0:
                    out[i, j, c] = image[i, j, c]
                else:
                    d = np.float32(q)
                    out[i, j, c] = np.uint8(np.rint(d + a * (np.float32(image[i, j, c]) - d)))


# The three passes of add_strokes_under run over the rows of the marked cells of flattened
# images, with unsigned indices (no negative-index wraparound), so that each row is one
# contiguous loop: 3-d indexing made them cost about 15 ns a pixel each, as much as drawing.
@njit(inline="always")
def _row(y, x0, x1, width, channels):  # pragma: no cover - numba
    """Flat ``[start, stop)`` of pixels ``x0..x1-1`` of row ``y`` in an image of ``channels``."""
    return np.uint64((y * width + x0) * channels), np.uint64((y * width + x1) * channels)


@njit(inline="always")
def _cell(cells, q, block, height, width):  # pragma: no cover - numba
    """Rows ``y0..y1-1`` and columns ``x0..x1-1`` of cell ``cells[q]`` (cell row, column)."""
    y0 = cells[q, 0] * block
    x0 = cells[q, 1] * block
    return y0, min(height, y0 + block), x0, min(width, x0 + block)


@njit(cache=True, parallel=True)
def under_prepare(cells, block, ground, canvas, below_face, face_y0, face_x0, layer, below, new_coverage):  # pragma: no cover - numba
    """In the ``block``-pixel cells ``cells`` (K, 2) (cell row, column): ``layer <- ground``,
    ``new_coverage <- 0``, and ``below`` the canvas under the face strokes (``below_face``, the
    canvas kept aside in the face box at ``(face_y0, face_x0)``, inside it; the canvas elsewhere)."""
    height, width = new_coverage.shape
    fh, fw = below_face.shape[0], below_face.shape[1]
    ground_f = ground.reshape(-1)
    canvas_f = canvas.reshape(-1)
    face_f = below_face.reshape(-1)
    layer_f = layer.reshape(-1)
    below_f = below.reshape(-1)
    cov_f = new_coverage.reshape(-1)
    for q in prange(cells.shape[0]):
        y0, y1, x0, x1 = _cell(cells, q, block, height, width)
        for y in range(y0, y1):
            a, b = _row(y, x0, x1, width, 3)
            for i in range(a, b):
                layer_f[i] = ground_f[i]
            # The row's pixels in the face box read below_face, the others the canvas.
            fy = y - face_y0
            fa = fb = x1
            if fy >= 0 and fy < fh:
                fa = min(x1, max(x0, face_x0))
                fb = max(fa, min(x1, face_x0 + fw))
            c_a, c_b = _row(y, x0, fa, width, 3)
            for i in range(c_a, c_b):
                below_f[i] = canvas_f[i]
            d_a, d_b = _row(y, fa, fb, width, 3)
            s_a, _ = _row(fy, fa - face_x0, fa - face_x0, fw, 3) if fb > fa else (np.uint64(0), np.uint64(0))
            for i in range(d_b - d_a):
                below_f[d_a + i] = face_f[s_a + i]
            c_a, c_b = _row(y, fb, x1, width, 3)
            for i in range(c_a, c_b):
                below_f[i] = canvas_f[i]
            p_a, p_b = _row(y, x0, x1, width, 1)
            for i in range(p_a, p_b):
                cov_f[i] = 0.0


@njit(cache=True, parallel=True)
def under_lower(cells, block, layer, ground, below, trans):  # pragma: no cover - numba
    """``layer <- below + trans * (layer - ground)`` in the cells (see :func:`under_prepare`)."""
    height, width = trans.shape
    layer_f = layer.reshape(-1)
    ground_f = ground.reshape(-1)
    below_f = below.reshape(-1)
    trans_f = trans.reshape(-1)
    u3 = np.uint64(3)
    for q in prange(cells.shape[0]):
        y0, y1, x0, x1 = _cell(cells, q, block, height, width)
        for y in range(y0, y1):
            p_a, p_b = _row(y, x0, x1, width, 1)
            for p in range(p_a, p_b):
                t = trans_f[p]
                for c in range(3):
                    i = p * u3 + np.uint64(c)
                    layer_f[i] = below_f[i] + t * (layer_f[i] - ground_f[i])


@njit(cache=True, parallel=True)
def under_upper(cells, block, canvas, layer, below, trans, coverage, new_coverage):  # pragma: no cover - numba
    """``canvas += trans * (layer - below)`` and ``coverage <- 1 - (1 - coverage)(1 - new)`` in
    the cells; ``trans`` None: 1 (numba compiles the loop without it)."""
    height, width = coverage.shape
    one = np.float32(1.0)
    canvas_f = canvas.reshape(-1)
    layer_f = layer.reshape(-1)
    below_f = below.reshape(-1)
    cov_f = coverage.reshape(-1)
    new_f = new_coverage.reshape(-1)
    trans_f = None if trans is None else trans.reshape(-1)
    u3 = np.uint64(3)
    for q in prange(cells.shape[0]):
        y0, y1, x0, x1 = _cell(cells, q, block, height, width)
        for y in range(y0, y1):
            p_a, p_b = _row(y, x0, x1, width, 1)
            for p in range(p_a, p_b):
                t = one if trans_f is None else trans_f[p]
                for c in range(3):
                    i = p * u3 + np.uint64(c)
                    canvas_f[i] += t * (layer_f[i] - below_f[i])
                n = new_f[p]
                cov_f[p] += n * (one - cov_f[p])


@njit(inline="always")
def _stroke_bounds(positions, k, widen):  # pragma: no cover - numba
    """``(x_min, y_min, x_max, y_max)`` of stroke ``k``'s finite widened particles (see
    :func:`widen_ladders`); ``x_max < x_min`` when none is finite."""
    p = positions.shape[1]
    c = p // 2
    lo_x = np.inf
    lo_y = np.inf
    hi_x = -np.inf
    hi_y = -np.inf
    for i in range(p):
        o = i + c if i < c else i - c  # its rung partner in the other row
        x = _widen(positions[k, i, 0], positions[k, o, 0], widen)
        y = _widen(positions[k, i, 1], positions[k, o, 1], widen)
        if np.isfinite(x) and np.isfinite(y):
            lo_x = min(lo_x, x)
            lo_y = min(lo_y, y)
            hi_x = max(hi_x, x)
            hi_y = max(hi_y, y)
    return lo_x, lo_y, hi_x, hi_y


@njit(cache=True)
def touched_cells(positions, widen, pad, block, marked):  # pragma: no cover - numba
    """Set ``marked[cy, cx]`` (a grid of ``block``-pixel cells) wherever the box of a stroke's
    finite widened particles, grown by ``pad`` pixels, overlaps cell ``(cy, cx)``: every pixel
    the stroke can draw lies in a marked cell."""
    gh, gw = marked.shape
    for k in range(positions.shape[0]):
        lo_x, lo_y, hi_x, hi_y = _stroke_bounds(positions, k, widen)
        if hi_x < lo_x:  # no finite particle: the stroke draws nothing
            continue
        cx0 = int(min(max((lo_x - pad) / block, 0.0), gw - 1.0))
        cy0 = int(min(max((lo_y - pad) / block, 0.0), gh - 1.0))
        cx1 = int(min(max((hi_x + pad) / block, 0.0), gw - 1.0))
        cy1 = int(min(max((hi_y + pad) / block, 0.0), gh - 1.0))
        for cy in range(cy0, cy1 + 1):
            for cx in range(cx0, cx1 + 1):
                marked[cy, cx] = 1


@njit(cache=True)
def ladder_bounds(positions, widen):  # pragma: no cover - numba
    """``(x_min, y_min, x_max, y_max, found)`` of the widened particles (see :func:`widen_ladders`)
    that are finite; ``found`` False when none is."""
    lo_x = np.inf
    lo_y = np.inf
    hi_x = -np.inf
    hi_y = -np.inf
    for k in range(positions.shape[0]):
        a, b, c, d = _stroke_bounds(positions, k, widen)
        lo_x = min(lo_x, a)
        lo_y = min(lo_y, b)
        hi_x = max(hi_x, c)
        hi_y = max(hi_y, d)
    return lo_x, lo_y, hi_x, hi_y, hi_x >= lo_x


@njit(cache=True, parallel=True)
def strokes_touching(positions, widen, pad, block, marked, out):  # pragma: no cover - numba
    """``out[k]``: the box of stroke ``k``'s finite widened particles, grown by ``pad`` pixels,
    overlaps a marked cell of ``marked`` (as :func:`touched_cells` would mark it)."""
    gh, gw = marked.shape
    for k in prange(positions.shape[0]):
        out[k] = False
        lo_x, lo_y, hi_x, hi_y = _stroke_bounds(positions, k, widen)
        if hi_x < lo_x:
            continue
        cx0 = int(min(max((lo_x - pad) / block, 0.0), gw - 1.0))
        cy0 = int(min(max((lo_y - pad) / block, 0.0), gh - 1.0))
        cx1 = int(min(max((hi_x + pad) / block, 0.0), gw - 1.0))
        cy1 = int(min(max((hi_y + pad) / block, 0.0), gh - 1.0))
        for cy in range(cy0, cy1 + 1):
            for cx in range(cx0, cx1 + 1):
                if marked[cy, cx]:
                    out[k] = True


@njit(cache=True, parallel=True)
def cells_clear(cells, block, paint, trans, coverage):  # pragma: no cover - numba
    """In the cells (K, 2): ``paint <- 0``, ``trans <- 1``, ``coverage <- 0`` (an empty layer)."""
    height, width = trans.shape
    paint_f = paint.reshape(-1)
    trans_f = trans.reshape(-1)
    cov_f = coverage.reshape(-1)
    for q in prange(cells.shape[0]):
        y0, y1, x0, x1 = _cell(cells, q, block, height, width)
        for y in range(y0, y1):
            a, b = _row(y, x0, x1, width, 3)
            for i in range(a, b):
                paint_f[i] = 0.0
            a, b = _row(y, x0, x1, width, 1)
            for i in range(a, b):
                trans_f[i] = 1.0
                cov_f[i] = 0.0


@njit(cache=True, parallel=True)
def cells_copy(cells, block, paint, trans, coverage, to_paint, to_trans, to_coverage):  # pragma: no cover - numba
    """Copy the cells (K, 2) of the three layers into the ``to_`` ones."""
    height, width = trans.shape
    paint_f, to_paint_f = paint.reshape(-1), to_paint.reshape(-1)
    trans_f, to_trans_f = trans.reshape(-1), to_trans.reshape(-1)
    cov_f, to_cov_f = coverage.reshape(-1), to_coverage.reshape(-1)
    for q in prange(cells.shape[0]):
        y0, y1, x0, x1 = _cell(cells, q, block, height, width)
        for y in range(y0, y1):
            a, b = _row(y, x0, x1, width, 3)
            for i in range(a, b):
                to_paint_f[i] = paint_f[i]
            a, b = _row(y, x0, x1, width, 1)
            for i in range(a, b):
                to_trans_f[i] = trans_f[i]
                to_cov_f[i] = cov_f[i]


@njit(cache=True, parallel=True)
def over_ground(ground, trans, paint, out):  # pragma: no cover - numba
    """``out = ground * trans + paint``: a layer drawn from an empty canvas (``paint``, with its
    transmittance ``trans``) as if drawn over ``ground`` (each blend is affine in the canvas)."""
    height, width = trans.shape
    for i in prange(height):
        for j in range(width):
            t = trans[i, j]
            for c in range(3):
                out[i, j, c] = ground[i, j, c] * t + paint[i, j, c]


@njit(cache=True, parallel=True)
def stroke_changes(pos, col, op, fad, thick, brush, known, at, o_pos, o_col, o_op, o_fad, o_thick, o_brush,
                   move, color, opac, changed, s_pos, s_col, s_op, s_fad, s_thick, s_brush):  # pragma: no cover - numba
    """For each stroke ``k`` (drawing state ``pos, col, op, fad, thick, brush``), whether it
    ``changed`` since it was drawn in state ``o_*[at[k]]`` (``known[k]``; unknown strokes are
    new): a particle moved more than ``move`` (or became finite / not finite), a colour channel
    more than ``color``, the opacity more than ``opac``, or its fading, thickness or brush
    differ. ``s_*[k]``: the state to remember, its current one where it changed, else the old."""
    n, p = pos.shape[0], pos.shape[1]
    for k in prange(n):
        ch = not known[k]
        i = at[k]
        if not ch:
            if fad[k] != o_fad[i] or thick[k] != o_thick[i] or brush[k] != o_brush[i] or abs(op[k] - o_op[i]) > opac:
                ch = True
            for c in range(3):
                if abs(col[k, c] - o_col[i, c]) > color:
                    ch = True
            for q in range(p):
                for d in range(2):
                    a = pos[k, q, d]
                    b = o_pos[i, q, d]
                    fa = np.isfinite(a)
                    if fa != np.isfinite(b) or (fa and abs(a - b) > move):
                        ch = True
        changed[k] = ch
        if ch:
            s_pos[k] = pos[k]
            s_col[k] = col[k]
            s_op[k] = op[k]
            s_fad[k] = fad[k]
            s_thick[k] = thick[k]
            s_brush[k] = brush[k]
        else:
            s_pos[k] = o_pos[i]
            s_col[k] = o_col[i]
            s_op[k] = o_op[i]
            s_fad[k] = o_fad[i]
            s_thick[k] = o_thick[i]
            s_brush[k] = o_brush[i]
