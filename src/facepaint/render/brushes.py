"""Procedural brush textures (nothing is downloaded) and the painting styles that use them.

A brush texture is a (TH, TW, 3) float32 image laid along a stroke: ``u`` (columns) runs from the
tail to the head, ``v`` (rows) from the top row of particles to the bottom row. Its channels are

* ``footprint`` in [0, 1]: the shape of the stroke (what counts as covered);
* ``alpha`` in [0, 1]: the opacity of paint, with the texture of the medium (bristle gaps, hatching);
* ``shade`` around 1: multiplies the stroke colour (bristle ridges, watercolour edge darkening).

Each style has ``variants`` textures drawn from a fixed random seed, so a render is reproducible;
a stroke's ``brush`` index picks one (modulo the number of variants).

Strokes are mostly a few pixels thick while a texture has 32 rows: sampled at one texel per pixel,
the full-size texture is undersampled several times over, and a stroke that drifts by a fraction
of a pixel reads a different subset of texels each frame (shimmer). :func:`texture_levels` gives
the textures' mip levels (each a 2x2 mean of the one above) and :func:`mip_level` the level each
stroke reads, by its thickness, as in texture mapping generally: the renderer samples a texture
prefiltered to the stroke's size, which also keeps the texels it reads in the first-level cache.
"""

from __future__ import annotations

from enum import Enum
from functools import lru_cache

import cv2
import numpy as np

#: Texture size: rows across the stroke (v), columns along it (u).
TEXTURE_SHAPE = (32, 96)

#: Mip levels of every texture: 32x96, 16x48, 8x24, 4x12.
TEXTURE_LEVELS = 4

#: A stroke reads the finest level with at most this many texel rows per pixel across its mesh:
#: one, so that a texel is at least a pixel wide and bilinear sampling filters it as a pixel
#: would. At 2 (texels half a pixel wide) a painting shifted by 0.25 px rendered 1.9x further
#: from its shifted render (with filtered edges; benchmarks/render_shift.py), for 4 % more gradient
#: energy in the picture: detail that aliased.
TEXELS_PER_PIXEL = 1.0

#: The renderer draws each stroke's mesh this much wider than its thickness (about its centre
#: line), so that a footprint can fade out *across* the nominal edge instead of inside it: the
#: half-alpha contour stays at the stroke's thickness (coverage and placement are unchanged),
#: while the soft band keeps thin strokes that drift by fractions of a pixel from aliasing.
MESH_WIDEN = 1.2


def filter_widen(rows: np.ndarray | int) -> np.ndarray:
    """How much wider than its thickness a stroke's mesh is drawn when its edges are filtered
    (``RenderConfig.filtered_edges``), for a texture (mip level) of ``rows`` texel rows.

    Point-sampling a mip level corner to corner puts its border rows on the mesh edge, and on the
    coarse levels those are the means of the outer texels of the finer ones: 0.56 on the 4-row
    level that strokes under ~4.4 px read, 0.21 on the 8-row one. The footprint then ended in a
    step at the mesh edge, and a stroke that moved by a fraction of a pixel switched whole pixel
    columns along its edge on or off (a painting shifted by 0.25 px rendered 2.6x further from
    the shifted render than a 2x supersampled render does). With filtered edges the texels tile
    the nominal mesh (:data:`MESH_WIDEN` times the thickness), each row's centre at
    ``(i + 0.5) / rows`` as in texture mapping generally, and a transparent row lies half a row
    beyond either side: the mesh is widened to reach it, and the footprint ramps to zero there
    at every level. Each level's footprint then has the area of the full-size texture's (a
    2x2-mean level is the box-filtered texture), and the area no longer changes with the
    stroke's sub-pixel position."""
    rows = np.asarray(rows, np.float64)
    return MESH_WIDEN * (rows + 1.0) / rows


#: The widest mesh of any stroke (thickness times this): the coarsest level's filtered edges.
#: Boxes of what a stroke may draw (incremental redraw, strokes slipped under) use it.
MESH_REACH = float(filter_widen(TEXTURE_SHAPE[0] >> (TEXTURE_LEVELS - 1)))


class Style(str, Enum):
    """Painting styles: which brush textures, opacity, canvas and stroke sizes."""

    OIL = "oil"
    WATERCOLOR = "watercolor"
    PENCIL = "pencil"


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _noise_1d(rng: np.random.Generator, n: int, smooth: float) -> np.ndarray:
    """Smooth noise in [0, 1] of length ``n`` (Gaussian-filtered white noise)."""
    x = rng.random(n + 8).astype(np.float32)
    x = cv2.GaussianBlur(x.reshape(1, -1), (0, 0), smooth).ravel()[4:-4]
    x -= x.min()
    return x / max(1e-6, float(x.max()))


def _noise_2d(rng: np.random.Generator, shape: tuple[int, int], sx: float, sy: float) -> np.ndarray:
    x = rng.random(shape).astype(np.float32)
    x = cv2.GaussianBlur(x, (0, 0), sigmaX=sx, sigmaY=sy)
    x -= x.min()
    return x / max(1e-6, float(x.max()))


def _shape(
    rng: np.random.Generator, tip: float, softness: float, wobble: float, straddle: float = 0.0
) -> np.ndarray:
    """Footprint of a stroke with rounded ends: inside where ``d_v^2 + d_u^2 < r(u)^2``, with
    ``d_v = |2 v - 1| * MESH_WIDEN`` (the nominal half-thickness is 1; the mesh reaches
    :data:`MESH_WIDEN`), ``d_u`` the distance into the end zones of length ``tip`` (in u) scaled
    alike (so the tips fade out inside the mesh too), and the radius ``r`` wobbling along the stroke; soft from ``1 - softness`` to
    ``1 + straddle`` of the radius (``straddle <= MESH_WIDEN - 1``)."""
    th, tw = TEXTURE_SHAPE
    u = np.linspace(0.0, 1.0, tw, dtype=np.float32)[None, :]
    v = np.linspace(0.0, 1.0, th, dtype=np.float32)[:, None]
    dv = np.abs(2.0 * v - 1.0) * MESH_WIDEN
    du = np.maximum(np.maximum(tip - u, u - (1.0 - tip)), 0.0) / tip * MESH_WIDEN
    radius = 1.0 - wobble * _noise_1d(rng, tw, 3.0)[None, :]
    dist = np.sqrt(dv * dv + du * du) / radius
    return 1.0 - _smoothstep(1.0 - softness, 1.0 + straddle, dist)


def _oil(rng: np.random.Generator) -> np.ndarray:
    th, tw = TEXTURE_SHAPE
    # Soft across the nominal edge (0.75-1.25 of the radius): a harder edge (0.88-1.0) aliased
    # on strokes drifting by sub-pixel amounts and made silhouettes shimmer in video (warping
    # error on carphone_qcif 1.97x the input's own with the hard edge, 1.28x with this one).
    foot = _shape(rng, tip=0.18, softness=0.2, wobble=0.06, straddle=MESH_WIDEN - 1.0)
    # Bristles: streaks along the stroke (noise smooth along u, sharp across v).
    bristle = _noise_2d(rng, (th, tw), sx=12.0, sy=0.7)
    u = np.linspace(0.0, 1.0, tw, dtype=np.float32)[None, :]
    # Dry brush towards the head: gaps between bristles open up as the paint runs out.
    dry = _smoothstep(0.6, 1.0, u) * (1.0 - _smoothstep(0.25, 0.55, bristle))
    alpha = foot * np.clip(1.0 - 0.9 * dry - 0.12 * (1.0 - bristle), 0.0, 1.0)
    # Impasto: ridges lit from above (derivative of the bristle height across the stroke).
    ridge = np.gradient(bristle, axis=0)
    shade = 1.0 + 0.08 * (bristle - 0.5) + 0.3 * ridge
    return np.stack([foot, alpha, shade], axis=-1)


def _watercolor(rng: np.random.Generator) -> np.ndarray:
    th, tw = TEXTURE_SHAPE
    foot = _shape(rng, tip=0.3, softness=0.35, wobble=0.15)
    granulation = _noise_2d(rng, (th, tw), sx=1.0, sy=1.0)
    alpha = foot * (0.75 + 0.25 * granulation)
    # Pigment gathers where the wash dries: a darker rim where the footprint falls off.
    rim = np.clip(4.0 * foot * (1.0 - foot), 0.0, 1.0)
    shade = 1.0 - 0.22 * rim - 0.05 * (granulation - 0.5)
    return np.stack([foot, alpha, shade], axis=-1)


def _pencil(rng: np.random.Generator) -> np.ndarray:
    th, tw = TEXTURE_SHAPE
    foot = _shape(rng, tip=0.12, softness=0.1, wobble=0.04)
    v = np.linspace(0.0, 1.0, th, dtype=np.float32)[:, None]
    lines = np.zeros((th, tw), np.float32)
    n_lines = int(rng.integers(4, 7))
    for centre in (np.arange(n_lines) + 0.5 + 0.3 * (rng.random(n_lines) - 0.5)) / n_lines:
        width = 0.035 + 0.02 * rng.random()
        strength = 0.6 + 0.4 * rng.random()
        lines = np.maximum(lines, strength * np.exp(-(((v - centre) / width) ** 2)))
    grain = _noise_2d(rng, (th, tw), sx=0.6, sy=0.6)
    alpha = foot * np.clip(lines * (0.55 + 0.6 * grain), 0.0, 1.0)
    shade = np.full((th, tw), 0.8, np.float32)
    return np.stack([foot, alpha, shade], axis=-1)


_MAKERS = {Style.OIL: _oil, Style.WATERCOLOR: _watercolor, Style.PENCIL: _pencil}


@lru_cache(maxsize=16)
def _cached(style: Style, variants: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    bank = np.stack([_MAKERS[style](rng) for _ in range(variants)]).astype(np.float32)
    bank.setflags(write=False)
    return bank


def brush_textures(style: Style | str, *, variants: int = 4, seed: int = 7) -> np.ndarray:
    """The brush textures of a style.

    Parameters
    ----------
    style : Style or its name
    variants : int
        Number of different textures.
    seed : int
        Seed of the procedural noise (fixed: renders are reproducible).

    Returns
    -------
    (variants, TH, TW, 3) float32, read-only: channels footprint, alpha, shade.
    """
    return _cached(Style(style), int(variants), int(seed))


#: Mip levels of read-only texture banks (such as :func:`brush_textures`'), made once: every
#: render call asks for them (id -> (the bank, its levels); the bank is kept, so its id stays its).
_LEVELS: dict[tuple[int, int], tuple[np.ndarray, tuple[np.ndarray, ...]]] = {}


def texture_levels(textures: np.ndarray, levels: int = TEXTURE_LEVELS) -> tuple[np.ndarray, ...]:
    """The mip levels of brush ``textures`` (K, TH, TW, 3): ``levels`` float32 arrays
    (K, TH / 2**l, TW / 2**l, 3), level 0 the textures themselves, each next one the 2x2 means of
    the one before (footprint, alpha and shade alike; a level stops halving a side of 2).
    Read-only textures get read-only levels, made on the first call and returned again after."""
    frozen = isinstance(textures, np.ndarray) and not textures.flags.writeable
    if not frozen:
        return _levels(textures, levels)
    key = (id(textures), int(levels))
    known = _LEVELS.get(key)
    if known is None or known[0] is not textures:
        made = _levels(textures, levels)
        for level in made:
            level.setflags(write=False)
        if len(_LEVELS) >= 32:
            _LEVELS.clear()
        known = _LEVELS[key] = (textures, made)
    return known[1]


def _levels(textures: np.ndarray, levels: int) -> tuple[np.ndarray, ...]:
    out = [np.ascontiguousarray(textures, np.float32)]
    for _ in range(1, levels):
        a = out[-1]
        if a.shape[1] < 4 or a.shape[2] < 4:
            break
        a = a[:, : a.shape[1] // 2 * 2, : a.shape[2] // 2 * 2]
        out.append(np.ascontiguousarray(0.25 * (a[:, 0::2, 0::2] + a[:, 1::2, 0::2] + a[:, 0::2, 1::2] + a[:, 1::2, 1::2]), np.float32))
    return tuple(out)


def bordered(level: np.ndarray) -> np.ndarray:
    """A texture level (K, h, w, 3) with a texel of border on every side: footprint and alpha 0
    (transparent), shade that of the nearest edge texel; (K, h + 2, w + 2, 3) float32."""
    out = np.pad(np.asarray(level, np.float32), ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    out[:, [0, -1], :, :2] = 0.0
    out[:, :, [0, -1], :2] = 0.0
    return out


def mip_level(thickness: np.ndarray, widen: float = MESH_WIDEN) -> np.ndarray:
    """The mip level (N,) uint8 that strokes of ``thickness`` (N,) pixels read of textures of
    :data:`TEXTURE_SHAPE`: the finest with at most :data:`TEXELS_PER_PIXEL` texel rows per pixel
    across the mesh (``widen`` times the thickness), 0 for strokes thick enough for the full
    texture (the renderer clips it to the levels it has)."""
    rows = TEXTURE_SHAPE[0] / (TEXELS_PER_PIXEL * widen * np.maximum(np.asarray(thickness, np.float64), 1e-3))
    return np.clip(np.ceil(np.log2(np.maximum(rows, 1.0))), 0, TEXTURE_LEVELS - 1).astype(np.uint8)
