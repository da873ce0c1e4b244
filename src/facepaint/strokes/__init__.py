"""Deformable brush strokes: the two stroke models and their placement on a frame.

Public API: :func:`place_strokes` and :class:`PlacementConfig` (placement), and from
:mod:`facepaint.strokes.models` the particle layouts (``SPRINGS_6``, ``SPRINGS_4``,
:func:`material_points`, :func:`ladder_uv`, :func:`ladder_triangles` ...). The layouts are
documented precisely in :mod:`facepaint.strokes.models`.
"""

from __future__ import annotations

from facepaint.strokes.models import (
    MATERIAL_WEIGHTS_4,
    MATERIAL_WEIGHTS_6,
    SPRINGS_4,
    SPRINGS_6,
    concat_stroke_sets,
    empty_stroke_set,
    ladder_from_spine,
    ladder_triangles,
    ladder_uv,
    material_points,
    material_weights,
    rest_lengths,
    springs_for,
)
from facepaint.strokes.placement import (
    PlacementConfig,
    blur_for_colours,
    edge_distance,
    place_strokes,
    size_scale,
    stroke_size_maps,
)

__all__ = [
    "MATERIAL_WEIGHTS_4",
    "MATERIAL_WEIGHTS_6",
    "SPRINGS_4",
    "SPRINGS_6",
    "PlacementConfig",
    "blur_for_colours",
    "concat_stroke_sets",
    "edge_distance",
    "empty_stroke_set",
    "ladder_from_spine",
    "ladder_triangles",
    "ladder_uv",
    "material_points",
    "material_weights",
    "place_strokes",
    "rest_lengths",
    "size_scale",
    "springs_for",
    "stroke_size_maps",
]
