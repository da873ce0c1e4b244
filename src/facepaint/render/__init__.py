"""Rendering: brush textures, the numba stroke rasterizer, the region-2 composite.

Public API: :func:`render_painting` (the stage), :func:`render_strokes` (draw a stroke set into a
canvas), :func:`render_layers` / :func:`add_strokes_under` (render, then slip strokes under
the drawn ones), :class:`IncrementalRender` (a video's background layer redrawn only where it
changed), :class:`RenderConfig`, :class:`RenderResult`, :class:`Style`,
:func:`brush_textures` and their mip levels (:func:`texture_levels`, :func:`mip_level`).
"""

from __future__ import annotations

from facepaint.render.brushes import MESH_WIDEN, TEXTURE_SHAPE, Style, brush_textures, mip_level, texture_levels
from facepaint.render.incremental import IncrementalRender
from facepaint.render.render import (
    LayeredRender,
    RenderConfig,
    RenderResult,
    add_strokes_under,
    canvas_to_uint8,
    composite_canvas,
    composite_features,
    render_layers,
    render_painting,
    render_strokes,
    underpainting,
)

__all__ = [
    "MESH_WIDEN",
    "TEXTURE_SHAPE",
    "IncrementalRender",
    "LayeredRender",
    "add_strokes_under",
    "render_layers",
    "RenderConfig",
    "RenderResult",
    "Style",
    "brush_textures",
    "canvas_to_uint8",
    "composite_canvas",
    "composite_features",
    "mip_level",
    "render_painting",
    "render_strokes",
    "texture_levels",
    "underpainting",
]
