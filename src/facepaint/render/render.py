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

from facepaint._image import shrink
from facepaint.errors import InputError
from facepaint.render._raster import (
    draw_strokes,
    ladder_bounds,
    to_uint8,
    to_uint8_composited,
    touched_cells,
    under_lower,
    under_prepare,
    under_upper,
    widen_ladders,
)
from facepaint.render.brushes import MESH_REACH, MESH_WIDEN, Style, brush_textures, filter_widen, mip_level, texture_levels
from facepaint.render.incremental import IncrementalRender, compose
from facepaint.strokes.models import ladder_triangles, ladder_uv
from facepaint.types import Painting, RegionMap, StrokeSet


@dataclass(frozen=True)
class RenderConfig:
    """Parameters of :func:`render_painting`."""

    style: Style = Style.OIL
    opacity: float = 0.95  #: paint opacity multiplied into the brush alpha
    underpainting: str = "blur"  #: canvas before the strokes: "blur" (blurred source), "paper", "mix"
    #: blur sigma of the underpainting as a fraction of the longer image side (5 px at 1280)
    underpainting_blur: float = 0.004
    #: longer side of the copy of the frame the underpainting is made from (see underpainting)
    underpainting_side_px: int = 256
    paper_color: tuple[float, float, float] = (0.96, 0.94, 0.89)  #: RGB in [0, 1]
    paper_mix: float = 0.5  #: "mix": weight of the blurred source over the paper
    brush_variants: int = 4
    band_rows: int = 8  #: rows per band of the parallel rasterizer
    texture_full_px: float = 8.0  #: strokes thinner than this show proportionally less texture
    bilinear: bool = False  #: bilinear texture sampling (slower); default nearest texel
    mip_textures: bool = True  #: each stroke reads the brush texture prefiltered to its size (see brushes)
    #: strokes' edges ramp to zero inside their meshes at every mip level (see brushes.filter_widen)
    filtered_edges: bool = True
    #: blur sigma (pixels) of the underpainting on the faces (regions 1 and 2), 0: as elsewhere
    face_underpainting_sigma_px: float = 1.5
    #: in a video, redraw the background strokes only in the cells that changed (see
    #: :mod:`facepaint.render.incremental`); a stroke is redrawn when a particle moved more than
    #: ``redraw_move_px``, a colour channel (in [0, 1]) changed more than ``redraw_color`` or its
    #: opacity more than ``redraw_opacity`` since it was drawn (all 0: a full render's output)
    incremental: bool = True
    redraw_cell_px: int = 32  #: side of the square cells redrawn
    redraw_move_px: float = 0.25
    redraw_color: float = 2.0 / 255.0
    redraw_opacity: float = 0.01


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
    transmittance: np.ndarray | None = None,
    mip: bool = True,
    clip: np.ndarray | None = None,
    clip_cell_px: int = 32,
    filtered_edges: bool = True,
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
    coverage : (H, W) float32 in [0, 1], C-contiguous, optional
        Accumulates the footprint: ``c += foot * (1 - c)``, in place; strokes fading out
        (``strokes.fading_out``) lay down none.
    textures : (K, TH, TW, 3) float32, optional
        Brush textures (footprint, alpha, shade); default: the oil brushes.
    opacity : float in [0, 1]
        Multiplied into the brush alpha, with each stroke's own ``strokes.opacity``.
    band_rows : int
        Rows per parallel band.
    texture_full_px : float
        Strokes at least this thick show the brush texture fully; thinner ones proportionally
        less (down to a quarter), since a texture squeezed into 2-3 pixels only reads as noise.
    bilinear : bool
        Bilinear texture sampling (about 30 % slower); default nearest texel, which is enough
        while brush textures are larger than the strokes.
    transmittance : (H, W) float32, optional
        Multiplied, in place, by ``1 - alpha`` of every stroke pixel drawn. Since each blend
        ``c <- c + a (s - c)`` is affine in ``c``, a canvas drawn from ``c0`` ends as
        ``c0 * transmittance + (terms independent of c0)``: strokes can later be slipped *under*
        the drawn ones by changing ``c0`` (see :func:`facepaint.pipeline.Stylizer`).
    mip : bool
        Each stroke reads the mip level of ``textures`` matched to its thickness
        (:func:`facepaint.render.brushes.mip_level`): a texture prefiltered to the stroke's size
        instead of an undersampled full-size one (steadier on slow motion, and faster: the texels
        read stay in cache). False: every stroke reads the full-size textures.
    clip : (ceil(H / clip_cell_px), ceil(W / clip_cell_px)) uint8, optional
        Cells of ``clip_cell_px`` pixels: only the pixels of the nonzero ones need be drawn
        (those elsewhere are left undefined; see :mod:`facepaint.render.incremental`).
    filtered_edges : bool
        Read each texture level with a transparent border over a mesh widened by one texel
        spacing (:func:`facepaint.render.brushes.filter_widen`), so that every stroke's
        footprint ramps to zero before its mesh ends; False: the mesh is :data:`MESH_WIDEN`
        times the thickness and ends on the level's border texels (which are not 0 on the
        coarse levels: aliased edges).
    """
    _check_strokes(strokes)
    if canvas.ndim != 3 or canvas.shape[2] != 3 or canvas.dtype != np.float32 or not canvas.flags.c_contiguous:
        raise InputError(f"canvas must be a C-contiguous (H, W, 3) float32 array, got {canvas.shape} {canvas.dtype}")
    if coverage is not None and (
        coverage.shape != canvas.shape[:2] or coverage.dtype != np.float32 or not coverage.flags.c_contiguous
    ):
        raise InputError(
            f"coverage must be a C-contiguous (H, W) float32 array matching the canvas, got {coverage.shape} {coverage.dtype}"
        )
    if transmittance is not None and (
        transmittance.shape != canvas.shape[:2] or transmittance.dtype != np.float32 or not transmittance.flags.c_contiguous
    ):
        raise InputError(
            f"transmittance must be a C-contiguous (H, W) float32 array matching the canvas, got "
            f"{transmittance.shape} {transmittance.dtype}"
        )
    if len(strokes) == 0:
        return
    if textures is None:
        textures = brush_textures(Style.OIL)
    p = strokes.particles_per_stroke
    levels = texture_levels(textures) if mip else (np.ascontiguousarray(textures, np.float32),)
    level = np.minimum(mip_level(strokes.thickness), len(levels) - 1) if mip else np.zeros(len(strokes), np.uint8)
    if filtered_edges:
        rows = np.array([lv.shape[1] for lv in levels], np.float64)
        if rows.min() < 2:
            raise InputError(f"filtered edges need textures of at least 2 rows, got levels of {rows.astype(int).tolist()}")
        widen = filter_widen(rows)[level]
    else:
        widen = np.full(len(strokes), MESH_WIDEN, np.float64)
    draw_strokes(
        _widened(strokes.positions, widen),
        np.ascontiguousarray(strokes.colors, np.float32),
        np.ascontiguousarray(strokes.brush, np.uint8),
        level.astype(np.uint8),
        np.clip(np.asarray(strokes.thickness, np.float32) / np.float32(max(texture_full_px, 1e-3)), 0.25, 1.0).astype(np.float32),
        levels,
        ladder_triangles(p),
        ladder_uv(p),
        np.float32(opacity) * np.asarray(strokes.opacity, np.float32),
        (~np.asarray(strokes.fading_out, bool)).astype(np.float32),
        canvas,
        coverage,
        int(band_rows),
        bool(bilinear),
        transmittance,
        None if clip is None else np.ascontiguousarray(clip, np.uint8),
        int(clip_cell_px),
        bool(filtered_edges),
    )


def underpainting(image: np.ndarray, config: RenderConfig, regions: RegionMap | None = None) -> np.ndarray:
    """The canvas before any stroke: (H, W, 3) float32 in [0, 1] (see ``RenderConfig.underpainting``).

    Painters start on a toned ground or a loose underpainting; here it also keeps any pixel the
    strokes miss from showing a colour unrelated to the image. It is made from a copy of the
    frame ``config.underpainting_side_px`` wide, blurred by ``config.underpainting_blur`` of the
    frame's longer side. In a video it shows in the gaps between strokes, at their soft edges
    and through the strokes fading in and out, and whatever changes in it is flicker there:
    made from a 64-pixel copy blurred by 2 % of the side (25 px at 1280), it spread every moving
    object's colours over its surroundings, and its 20-pixel cells did not follow the camera;
    from a 256-pixel copy blurred by 0.4 % (5 px) the warping ratio over the first 150 frames
    fell from 1.89 to 1.38 on the lower-third stress clip, 1.61 to 1.24 on the face entering and
    leaving, 1.31 to 0.87 on the small face over a pan, 1.07 to 0.81 on lp_s18, 1.36 to 1.27 on
    selfie_expressions and 0.87 to 0.70 on the sky, the look hardly changed (SSIM outside faces
    up by 0.00-0.01; dark specks of the background at the edge of hair are gone).
    With ``regions``, the faces (regions 1 and 2, feathered) get a finer underpainting, blurred
    by ``config.face_underpainting_sigma_px``: in the coarse one a 45 px face of a 720p frame was
    a few pixels of hair, skin and background mixed, and wherever the 3-pixel face strokes leave
    a gap (between them, at their soft edges, where deleted strokes are not yet replaced) that
    mixture showed as dark speckles on the face.
    """
    height, width = image.shape[:2]
    if config.underpainting not in ("blur", "paper", "mix"):
        raise InputError(f"underpainting must be 'blur', 'paper' or 'mix', got {config.underpainting!r}")
    if not (config.underpainting_side_px >= 8 and config.underpainting_blur >= 0):
        raise InputError(
            f"underpainting_side_px must be >= 8 and underpainting_blur >= 0, got {config.underpainting_side_px} "
            f"and {config.underpainting_blur}"
        )
    if config.underpainting == "paper":
        paper = np.empty((height, width, 3), np.float32)
        paper[:] = np.asarray(config.paper_color, np.float32)
        return paper
    small_side = int(config.underpainting_side_px)
    scale = small_side / max(height, width)
    small = shrink(image, (max(1, round(width * scale)), max(1, round(height * scale))))
    sigma = max(0.5, config.underpainting_blur * small_side)
    small = cv2.GaussianBlur(small.astype(np.float32) * np.float32(1.0 / 255.0), (0, 0), sigma)
    blurred = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    if regions is not None and config.face_underpainting_sigma_px > 0:
        _refine_faces(blurred, image, regions, config.face_underpainting_sigma_px)
    if config.underpainting == "blur":
        return np.ascontiguousarray(blurred, np.float32)
    # "mix": the paper colour is constant, so the mix is one affine map of the blurred source.
    paper = np.asarray(config.paper_color, np.float32) * np.float32(1.0 - config.paper_mix)
    return np.ascontiguousarray(blurred * np.float32(config.paper_mix) + paper, np.float32)


def _refine_faces(ground: np.ndarray, image: np.ndarray, regions: RegionMap, sigma: float) -> None:
    """Blend (in place) a ``sigma``-blurred copy of ``image`` into ``ground`` over the faces
    (labels 1 and 2), through their mask blurred by the same sigma; only the faces' box is touched."""
    face = regions.labels != 3
    rows = np.flatnonzero(face.any(axis=1))
    if rows.size == 0:
        return
    cols = np.flatnonzero(face.any(axis=0))
    pad = int(np.ceil(3 * sigma)) + 1
    h, w = face.shape
    y0, y1 = max(0, rows[0] - pad), min(h, rows[-1] + 1 + pad)
    x0, x1 = max(0, cols[0] - pad), min(w, cols[-1] + 1 + pad)
    fine = cv2.GaussianBlur(image[y0:y1, x0:x1].astype(np.float32) * np.float32(1.0 / 255.0), (0, 0), sigma)
    weight = cv2.GaussianBlur(face[y0:y1, x0:x1].astype(np.float32), (0, 0), sigma)[..., None]
    box = ground[y0:y1, x0:x1]
    box += weight * (fine - box)


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


def composite_canvas(canvas: np.ndarray, image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``composite_features(canvas_to_uint8(canvas), image, alpha)`` in one parallel pass (the
    same bytes): the painted float canvas quantised and region 2 blended over it.

    Parameters
    ----------
    canvas : (H, W, 3) float32 in [0, 1]
    image : (H, W, 3) uint8, the source
    alpha : (H, W) float32, the feathered feature mask

    Returns
    -------
    (H, W, 3) uint8
    """
    if canvas.shape != image.shape or alpha.shape != canvas.shape[:2]:
        raise InputError(f"canvas {canvas.shape}, image {image.shape} and alpha {alpha.shape} must be one frame")
    out = np.empty(canvas.shape, np.uint8)
    to_uint8_composited(np.ascontiguousarray(canvas, np.float32), np.ascontiguousarray(image, np.uint8),
                        np.ascontiguousarray(alpha, np.float32), out)
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
    canvas = underpainting(image, config, regions)
    coverage = np.zeros((height, width), np.float32)
    for strokes in (painting.background, painting.face):
        render_strokes(
            strokes, canvas, coverage, textures=textures, opacity=config.opacity, band_rows=config.band_rows,
            texture_full_px=config.texture_full_px, bilinear=config.bilinear, mip=config.mip_textures,
            filtered_edges=config.filtered_edges,
        )
    out = composite_canvas(canvas, image, np.asarray(regions.feature_alpha, np.float32))
    return RenderResult(image=out, coverage=coverage)


def canvas_to_uint8(canvas: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 in [0, 1] -> (H, W, 3) uint8 (rounded, clipped), in parallel."""
    out = np.empty(canvas.shape, np.uint8)
    to_uint8(np.ascontiguousarray(canvas, np.float32), out)
    return out


@dataclass
class LayeredRender:
    """A rendered painting that strokes can be slipped *under* afterwards (:func:`render_layers`,
    :func:`add_strokes_under`); mutable, owned by whoever renders.

    Attributes
    ----------
    canvas : (H, W, 3) float32 in [0, 1]
        Underpainting, background strokes, face strokes (region 2 not composited).
    coverage : (H, W) float32 in [0, 1]
        Accumulated stroke footprint (independent of the drawing order).
    ground : (H, W, 3) float32
        The underpainting.
    t_background, t_face : (H, W) float32
        Product of ``1 - alpha`` of the background / face strokes at each pixel (``t_face`` is
        None when there are no face strokes: 1 everywhere).
    face_box : (y0, y1, x0, x1) or None
        Box of the face strokes' rows and columns.
    below_face : (y1 - y0, x1 - x0, 3) float32 or None
        The canvas in ``face_box`` before the face strokes were drawn (outside it the canvas is
        unchanged by them).
    """

    canvas: np.ndarray
    coverage: np.ndarray
    ground: np.ndarray
    t_background: np.ndarray
    t_face: np.ndarray | None
    face_box: tuple[int, int, int, int] | None
    below_face: np.ndarray | None


def _box_of(strokes: StrokeSet, shape: tuple[int, int], pad: int = 2) -> tuple[int, int, int, int] | None:
    """Box ``(y0, y1, x0, x1)`` of the strokes' widened meshes grown by ``pad``, clipped to the
    frame; None when empty (one serial numba pass: no widened copy)."""
    if len(strokes) == 0:
        return None
    lo_x, lo_y, hi_x, hi_y, found = ladder_bounds(np.ascontiguousarray(strokes.positions, np.float32), np.float64(MESH_REACH))
    if not found:
        return None
    h, w = shape
    x0 = int(np.clip(np.floor(lo_x) - pad, 0, w))
    x1 = int(np.clip(np.ceil(hi_x) + pad, 0, w))
    y0 = int(np.clip(np.floor(lo_y) - pad, 0, h))
    y1 = int(np.clip(np.ceil(hi_y) + pad, 0, h))
    return (y0, y1, x0, x1) if x1 > x0 and y1 > y0 else None


def render_layers(
    painting: Painting,
    image: np.ndarray,
    *,
    config: RenderConfig = RenderConfig(),
    regions: RegionMap | None = None,
    incremental: IncrementalRender | None = None,
) -> LayeredRender:
    """Render ``painting`` as :func:`render_painting` does before the region-2 composite, keeping
    what :func:`add_strokes_under` needs.

    Parameters
    ----------
    painting : Painting
    image : (H, W, 3) uint8 RGB, the source frame (for the underpainting)
    config : RenderConfig
    regions : RegionMap, optional
        The frame's regions: the faces get a fine underpainting (see :func:`underpainting`).
    incremental : IncrementalRender, optional
        The background layer of the previous frame of a video, redrawn only where its strokes
        changed (updated in place); None: every stroke drawn.

    Returns
    -------
    LayeredRender
    """
    height, width = image.shape[:2]
    textures = brush_textures(config.style, variants=config.brush_variants)
    ground = underpainting(image, config, regions)
    kw = dict(textures=textures, opacity=config.opacity, band_rows=config.band_rows,
              texture_full_px=config.texture_full_px, bilinear=config.bilinear, mip=config.mip_textures,
              filtered_edges=config.filtered_edges)
    if incremental is not None:
        paint, trans, cover = incremental.draw(
            painting.background, (height, width),
            lambda strokes, p, c, t, clip=None: render_strokes(
                strokes, p, c, transmittance=t, clip=clip, clip_cell_px=incremental.cell, **kw
            ),
        )
        canvas = compose(ground, trans, paint)
        coverage = cover.copy()
        t_bg = trans.copy()
    else:
        canvas = ground.copy()
        coverage = np.zeros((height, width), np.float32)
        t_bg = np.ones((height, width), np.float32)
        render_strokes(painting.background, canvas, coverage, transmittance=t_bg, **kw)
    face_box = _box_of(painting.face, (height, width))
    below = t_face = None
    if face_box is not None:
        y0, y1, x0, x1 = face_box
        below = canvas[y0:y1, x0:x1].copy()
        t_face = np.ones((height, width), np.float32)
        render_strokes(painting.face, canvas, coverage, transmittance=t_face, **kw)
    return LayeredRender(canvas, coverage, ground, t_bg, t_face, face_box, below)


#: Side of the cells add_strokes_under works in, pixels.
_CELL = 32


def add_strokes_under(layers: LayeredRender, new: Painting, *, config: RenderConfig = RenderConfig()) -> None:
    """Update ``layers`` (in place) as if ``new.background`` had been drawn before the rendered
    background strokes and ``new.face`` between the rendered background and face strokes.

    Exact up to float rounding: each blend is affine in the canvas below it, so the strokes above
    pass a change of their underlayer on multiplied by their transmittance. The work is limited
    to the 32-pixel cells that the new strokes' boxes touch (one numba pass per step over those
    cells, the new strokes drawn once into frame-sized scratch arrays of which only those cells
    are written), far less than re-rendering the frame when a few thousand strokes are added to
    tens of thousands.

    After the call ``canvas`` and ``coverage`` are those of the merged painting; the other fields
    still describe the painting of :func:`render_layers` (call this once per render).

    Parameters
    ----------
    layers : LayeredRender
        From :func:`render_layers` of the painting without the new strokes.
    new : Painting
        Strokes to slip under (frame coordinates).
    config : RenderConfig
        As given to :func:`render_layers`.
    """
    height, width = layers.coverage.shape
    marked = np.zeros((-(-height // _CELL), -(-width // _CELL)), np.uint8)
    for strokes in (new.background, new.face):
        if len(strokes):
            _check_strokes(strokes)
            touched_cells(np.ascontiguousarray(strokes.positions, np.float32), np.float64(MESH_REACH), 2.0, _CELL, marked)
    cells = np.argwhere(marked)
    if len(cells) == 0:
        return
    textures = brush_textures(config.style, variants=config.brush_variants)
    kw = dict(textures=textures, opacity=config.opacity, band_rows=config.band_rows,
              texture_full_px=config.texture_full_px, bilinear=config.bilinear, mip=config.mip_textures,
              filtered_edges=config.filtered_edges)
    # Frame-sized scratch arrays: only the marked cells are ever written or read.
    layer = np.empty((height, width, 3), np.float32)
    below = np.empty((height, width, 3), np.float32)
    new_cov = np.empty((height, width), np.float32)
    if layers.face_box is None:
        below_face, fy0, fx0 = np.zeros((0, 0, 3), np.float32), 0, 0
    else:
        below_face, fy0, fx0 = layers.below_face, layers.face_box[0], layers.face_box[2]
    under_prepare(cells, _CELL, layers.ground, layers.canvas, below_face, fy0, fx0, layer, below, new_cov)
    if len(new.background):
        render_strokes(new.background, layer, new_cov, **kw)
    # New background strokes seen through the old background strokes: the new underlayer of
    # the face strokes.
    under_lower(cells, _CELL, layer, layers.ground, below, layers.t_background)
    if len(new.face):
        render_strokes(new.face, layer, new_cov, **kw)
    under_upper(cells, _CELL, layers.canvas, layer, below, layers.t_face, layers.coverage, new_cov)


def _widened(positions: np.ndarray, widen: np.ndarray) -> np.ndarray:
    """(N, P, 2) float32 C-contiguous: each stroke's two particle rows (``0..C-1`` and ``C..2C-1``)
    pushed apart about their midline by ``widen`` (N,), the mesh the brush footprint fills."""
    # Snapped to a 1/1024 px grid (exact in float32 below 8192 px), so that widening commutes with
    # integer shifts of the strokes (a float32 rounding difference would move an edge pixel
    # between a render of the frame and one of a shifted window). One parallel numba pass (the
    # numpy version in float64 cost 8 ms per call at 1080p).
    pts = np.ascontiguousarray(positions, np.float32)
    n, p = pts.shape[:2]
    out = np.empty((n, p, 2), np.float32)
    if n:
        widen_ladders(pts, np.ascontiguousarray(widen, np.float64), out)
    return out
