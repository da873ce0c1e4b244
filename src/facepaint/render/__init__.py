"""Rendering: brush textures, the numba stroke rasterizer, the region-2 composite.

Public API: :func:`render_painting` (the stage), :func:`render_strokes` (draw a stroke set into a
canvas), :class:`RenderConfig`, :class:`RenderResult`, :class:`Style`, :func:`brush_textures`.
"""

from __future__ import annotations

from facepaint.render.brushes import TEXTURE_SHAPE, Style, brush_textures
from facepaint.render.render import (
    RenderConfig,
    RenderResult,
    canvas_to_uint8,
    composite_features,
    render_painting,
    render_strokes,
    underpainting,
)

__all__ = [
    "TEXTURE_SHAPE",
    "RenderConfig",
    "RenderResult",
    "Style",
    "brush_textures",
    "canvas_to_uint8",
    "composite_features",
    "render_painting",
    "render_strokes",
    "underpainting",
]
