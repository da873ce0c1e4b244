"""Painting one image: faces -> regions -> orientation field -> strokes -> render.

This is the look of facepaint for a still photo, and the first frame of every shot of a video.

>>> from facepaint.paint import paint_image, PaintConfig
>>> from facepaint.render import Style
>>> out = paint_image(rgb, config=PaintConfig(style=Style.WATERCOLOR), seed=3)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from facepaint.errors import InputError
from facepaint.fields import FieldConfig, compute_orientation_field
from facepaint.render import RenderConfig, Style, render_painting
from facepaint.strokes import PlacementConfig, place_strokes
from facepaint.types import OrientationField, Painting, RegionMap

#: Stroke sizes of each style (the defaults of PlacementConfig are the oil look).
STYLE_PLACEMENT: dict[Style, PlacementConfig] = {
    Style.OIL: PlacementConfig(),
    Style.WATERCOLOR: PlacementConfig(
        thickness_min_px=5.0, thickness_max_px=26.0, length_ratio=2.5, color_threshold=0.2,
        cover_width=0.5, cover_cap=0.2,  # the soft, wobbly wash is full only near its middle
    ),
    Style.PENCIL: PlacementConfig(
        thickness_min_px=3.0, thickness_max_px=9.0, length_ratio=7.0, min_length_ratio=2.0,
        color_threshold=0.2, max_turn_step_deg=25.0,
    ),
}

#: Brushes, opacity and canvas of each style.
STYLE_RENDER: dict[Style, RenderConfig] = {
    Style.OIL: RenderConfig(style=Style.OIL, opacity=0.95, underpainting="blur"),
    Style.WATERCOLOR: RenderConfig(style=Style.WATERCOLOR, opacity=0.7, underpainting="mix", paper_mix=0.6),
    Style.PENCIL: RenderConfig(style=Style.PENCIL, opacity=0.95, underpainting="mix", paper_mix=0.25),
}


@dataclass(frozen=True)
class PaintConfig:
    """Configuration of :func:`paint_image`.

    ``placement`` and ``render`` default to the presets of ``style``
    (:data:`STYLE_PLACEMENT`, :data:`STYLE_RENDER`); give them to override the preset.
    """

    style: Style = Style.OIL
    fields: FieldConfig = field(default_factory=FieldConfig)
    placement: PlacementConfig | None = None
    render: RenderConfig | None = None
    stroke_scale: float = 1.0  #: multiplies the placement's background stroke sizes (faces keep theirs)

    def placement_config(self) -> PlacementConfig:
        placement = self.placement if self.placement is not None else STYLE_PLACEMENT[Style(self.style)]
        if self.stroke_scale == 1.0:
            return placement
        return replace(placement, stroke_scale=placement.stroke_scale * self.stroke_scale)

    def render_config(self) -> RenderConfig:
        return self.render if self.render is not None else STYLE_RENDER[Style(self.style)]


@dataclass(frozen=True)
class PaintResult:
    """Everything :func:`paint_frame` made, for callers that need more than the picture."""

    image: np.ndarray  #: (H, W, 3) uint8 RGB painting
    painting: Painting  #: the strokes
    regions: RegionMap
    field: OrientationField
    coverage: np.ndarray  #: (H, W) float32 in [0, 1], stroke footprint before region 2

    @property
    def uncovered_share(self) -> float:
        """Share of the pixels of regions 1 and 3 that no stroke covers (coverage < 0.5)."""
        painted = self.regions.labels != 2
        if not painted.any():
            return 0.0
        return float(((self.coverage < 0.5) & painted).sum() / painted.sum())


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray):
        raise InputError(f"image must be an (H, W, 3) uint8 RGB numpy array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(
            f"image must be (H, W, 3) uint8 RGB, got shape {image.shape} dtype {image.dtype}; "
            "read files with facepaint.read_image"
        )
    if min(image.shape[:2]) < 8:
        raise InputError(f"image must be at least 8x8 pixels to paint, got {image.shape[1]}x{image.shape[0]}")


def paint_frame(
    image: np.ndarray, regions: RegionMap, *, config: PaintConfig = PaintConfig(), seed: int | np.random.Generator = 0
) -> PaintResult:
    """Paint one frame whose regions are known.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB
    regions : RegionMap of the image
    config : PaintConfig
    seed : int or numpy.random.Generator
        The same seed gives the same painting.

    Returns
    -------
    PaintResult
    """
    _check_image(image)
    if regions.labels.shape != image.shape[:2]:
        raise InputError(f"regions are {regions.labels.shape}, the image {image.shape[:2]}: build them from this image")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(int(seed))
    field_ = compute_orientation_field(image, regions, config=config.fields)
    painting = place_strokes(image, regions, field_, config=config.placement_config(), rng=rng)
    rendered = render_painting(painting, image, regions, config=config.render_config())
    return PaintResult(rendered.image, painting, regions, field_, rendered.coverage)


def paint_image(
    image: np.ndarray, *, face_model=None, config: PaintConfig = PaintConfig(), seed: int = 0
) -> np.ndarray:
    """Paint a still image (a photo, a group photo) with brush strokes, keeping faces recognizable.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB
    face_model : FaceModel, optional
        Finds the faces (its ``detect`` is used: a still, full effort). Default: the mediapipe
        backend, ``facepaint.face.create_face_model("mediapipe")``.
    config : PaintConfig
        Style and stage configs.
    seed : int
        The same seed gives the same painting.

    Returns
    -------
    (H, W, 3) uint8 RGB
    """
    return paint_image_result(image, face_model=face_model, config=config, seed=seed).image


def paint_image_result(
    image: np.ndarray, *, face_model=None, config: PaintConfig = PaintConfig(), seed: int = 0
) -> PaintResult:
    """:func:`paint_image`, returning the strokes, regions, field and coverage as well."""
    _check_image(image)
    from facepaint.face import create_face_model
    from facepaint.regions import build_region_map

    model = face_model if face_model is not None else create_face_model("mediapipe")
    faces = model.detect(image)
    regions = build_region_map(faces, image.shape[:2])
    return paint_frame(image, regions, config=config, seed=seed)
