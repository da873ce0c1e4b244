"""Rendering a painting: textured deformable strokes, then the facial features composited.

Why a numba scanline rasterizer (``_raster.py``): it draws exactly the deformed particles the
physics hands over (each stroke a small mesh whose texture bends with it), needs no GL context or
GPU, runs the same everywhere, and is deterministic. ``benchmarks/paint_speed.py`` compares it, on
this project's shared 2-core machine, with the obvious alternative of one OpenCV ``fillPoly`` per
stroke from Python: at 20k strokes the flat, untextured, unblended OpenCV loop already costs about
as much as the textured numba renderer, and it cannot bend a texture at all; at 50k it is slower.
The issue's own measurements on this machine put moderngl on Mesa llvmpipe at about 1.5x and
skia/cairo at 3-5x the numba time (moderngl is not installed in this environment, so it is not
re-measured here). A GL backend, which would use a real GPU where one exists, is not built.
Figures and load conditions: ``benchmarks/results/paint_speed.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facepaint.errors import InputError
from facepaint.render._raster import draw_strokes, to_uint8
from facepaint.render.brushes import Style, brush_textures
from facepaint.strokes.models import ladder_triangles, ladder_uv
from facepaint.types import Painting, RegionMap, StrokeSet


@dataclass(frozen=True)
class RenderConfig:
    """Parameters of :func:`render_painting`."""

    style: Style = Style.OIL
    opacity: float = 0.95  #: paint opacity multiplied into the brush alpha
    underpainting: str = "blur"  #: canvas before the strokes: "blur" (blurred source), "paper", "mix"
    underpainting_blur: float = 0.02  #: blur sigma as a fraction of the longer image side
    paper_color: tuple[float, float, float] = (0.96, 0.94, 0.89)  #: RGB in [0, 1]
    paper_mix: float = 0.5  #: "mix": weight of the blurred source over the paper
    brush_variants: int = 4
    band_rows: int = 8  #: rows per band of the parallel rasterizer
    texture_full_px: float = 8.0  #: strokes thinner than this show proportionally less texture
    bilinear: bool = False  #: bilinear texture sampling (slower); default nearest texel


@dataclass(frozen=True)
class RenderResult:
    """A rendered frame."""

    image: np.ndarray  #: (H, W, 3) uint8 RGB, region 2 composited
    coverage: np.ndarray  #: (H, W) float32 in [0, 1], accumulated stroke footprint before region 2


def _check_strokes(strokes: StrokeSet) -> None:
    p = strokes.positions
    if p.ndim != 3 or p.shape[2] != 2 or p.shape[1] not in (4, 6):
        raise InputError(f"strokes.positions must be (N, 4 or 6, 2), got {p.shape}")
    n = p.shape[0]
    if strokes.colors.shape != (n, 3) or strokes.brush.shape != (n,) or strokes.thickness.shape != (n,):
        raise InputError(
            f"strokes.colors must be ({n}, 3), strokes.brush and strokes.thickness ({n},), got "
            f"{strokes.colors.shape}, {strokes.brush.shape} and {strokes.thickness.shape}"
        )


def render_strokes(
    strokes: StrokeSet,
    canvas: np.ndarray,
    coverage: np.ndarray | None = None,
    *,
    textures: np.ndarray | None = None,
    opacity: float = 0.95,
    band_rows: int = 8,
    texture_full_px: float = 8.0,
    bilinear: bool = False,
) -> None:
    """Draw strokes, in order, into a canvas (in place).

    Each stroke is its ladder mesh (:func:`facepaint.strokes.models.ladder_triangles`) with its
    particles as vertices, so a deformed stroke bends its texture; the texture's alpha times
    ``opacity`` blends the tinted colour ``color * shade`` over the canvas.

    Parameters
    ----------
    strokes : StrokeSet
        4- or 6-particle strokes; ``positions`` may be deformed arbitrarily (NaN strokes are skipped).
    canvas : (H, W, 3) float32 in [0, 1], C-contiguous
        Painted in place.
    coverage : (H, W) float32 in [0, 1], optional
        Accumulates the footprint: ``c += foot * (1 - c)``, in place.
    textures : (K, TH, TW, 3) float32, optional
        Brush textures (footprint, alpha, shade); default: the oil brushes.
    opacity : float in [0, 1]
    band_rows : int
        Rows per parallel band.
    texture_full_px : float
        Strokes at least this thick show the brush texture fully; thinner ones proportionally
        less (down to a quarter), since a texture squeezed into 2-3 pixels only reads as noise.
    bilinear : bool
        Bilinear texture sampling (about 30 % slower); default nearest texel, which is enough
        while brush textures are larger than the strokes.
    """
    _check_strokes(strokes)
    if canvas.ndim != 3 or canvas.shape[2] != 3 or canvas.dtype != np.float32 or not canvas.flags.c_contiguous:
        raise InputError(f"canvas must be a C-contiguous (H, W, 3) float32 array, got {canvas.shape} {canvas.dtype}")
    if coverage is not None and (coverage.shape != canvas.shape[:2] or coverage.dtype != np.float32):
        raise InputError(f"coverage must be (H, W) float32 matching the canvas, got {coverage.shape} {coverage.dtype}")
    if len(strokes) == 0:
        return
    if textures is None:
        textures = brush_textures(Style.OIL)
    p = strokes.particles_per_stroke
    draw_strokes(
        np.ascontiguousarray(strokes.positions, np.float32),
        np.ascontiguousarray(strokes.colors, np.float32),
        np.ascontiguousarray(strokes.brush, np.uint8),
        np.clip(np.asarray(strokes.thickness, np.float32) / np.float32(max(texture_full_px, 1e-3)), 0.25, 1.0).astype(np.float32),
        np.ascontiguousarray(textures, np.float32),
        ladder_triangles(p),
        ladder_uv(p),
        float(opacity),
        canvas,
        coverage,
        int(band_rows),
        bool(bilinear),
    )


def underpainting(image: np.ndarray, config: RenderConfig) -> np.ndarray:
    """The canvas before any stroke: (H, W, 3) float32 in [0, 1] (see ``RenderConfig.underpainting``).

    Painters start on a toned ground or a loose underpainting; here it also keeps any pixel the
    strokes miss from showing a colour unrelated to the image.
    """
    height, width = image.shape[:2]
    paper = np.empty((height, width, 3), np.float32)
    paper[:] = np.asarray(config.paper_color, np.float32)
    if config.underpainting == "paper":
        return paper
    small_side = 64
    scale = small_side / max(height, width)
    small = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    sigma = max(0.5, config.underpainting_blur * small_side)
    small = cv2.GaussianBlur(small.astype(np.float32) * np.float32(1.0 / 255.0), (0, 0), sigma)
    blurred = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    if config.underpainting == "blur":
        return np.ascontiguousarray(blurred, np.float32)
    if config.underpainting == "mix":
        return np.ascontiguousarray(config.paper_mix * blurred + (1.0 - config.paper_mix) * paper, np.float32)
    raise InputError(f"underpainting must be 'blur', 'paper' or 'mix', got {config.underpainting!r}")


def composite_features(painted: np.ndarray, image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Region 2: the source alpha-blended over the painting through the feathered feature mask.

    Parameters
    ----------
    painted : (H, W, 3) uint8
    image : (H, W, 3) uint8, the source
    alpha : (H, W) float32 in [0, 1]

    Returns
    -------
    (H, W, 3) uint8: ``painted`` where alpha is 0, exactly ``image`` where alpha is 1.
    """
    out = painted.copy()
    rows = np.flatnonzero(alpha.max(axis=1) > 0)
    if rows.size == 0:
        return out
    cols = np.flatnonzero(alpha.max(axis=0) > 0)
    ys = slice(rows[0], rows[-1] + 1)
    xs = slice(cols[0], cols[-1] + 1)
    a = np.clip(alpha[ys, xs], 0.0, 1.0)[..., None]
    src = image[ys, xs].astype(np.float32)
    dst = painted[ys, xs].astype(np.float32)
    mixed = np.rint(dst + a * (src - dst))
    # Exact where alpha is 1 (no float round-off), as the paper's region 2 is the source itself.
    mixed = np.where(a >= 1.0, src, mixed)
    out[ys, xs] = mixed.astype(np.uint8)
    return out


def render_painting(
    painting: Painting, image: np.ndarray, regions: RegionMap, *, config: RenderConfig = RenderConfig()
) -> RenderResult:
    """Render one frame: underpainting, background strokes (coarse to fine, as ordered), face
    strokes, then region 2 composited from the source.

    Parameters
    ----------
    painting : Painting
    image : (H, W, 3) uint8 RGB, the source frame
    regions : RegionMap of the frame (its ``feature_alpha`` drives the region-2 composite)
    config : RenderConfig

    Returns
    -------
    RenderResult
        ``image`` (H, W, 3) uint8 and ``coverage`` (H, W) float32 (stroke footprint before region 2).
    """
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"image must be (H, W, 3) uint8 RGB, got {getattr(image, 'shape', type(image))}")
    height, width = image.shape[:2]
    if regions.feature_alpha.shape != (height, width):
        raise InputError(f"regions are {regions.feature_alpha.shape}, the image {(height, width)}: use one frame")
    textures = brush_textures(config.style, variants=config.brush_variants)
    canvas = underpainting(image, config)
    coverage = np.zeros((height, width), np.float32)
    for strokes in (painting.background, painting.face):
        render_strokes(
            strokes, canvas, coverage, textures=textures, opacity=config.opacity, band_rows=config.band_rows,
            texture_full_px=config.texture_full_px, bilinear=config.bilinear,
        )
    painted = np.empty((height, width, 3), np.uint8)
    to_uint8(canvas, painted)
    out = composite_features(painted, image, np.asarray(regions.feature_alpha, np.float32))
    return RenderResult(image=out, coverage=coverage)


def canvas_to_uint8(canvas: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 in [0, 1] -> (H, W, 3) uint8 (rounded, clipped), in parallel."""
    out = np.empty(canvas.shape, np.uint8)
    to_uint8(np.ascontiguousarray(canvas, np.float32), out)
    return out
