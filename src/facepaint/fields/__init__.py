"""Per-pixel guidance of the strokes: edge tangent flow, gradient magnitude and saliency.

Public API: :func:`compute_orientation_field` (the stage), :func:`edge_tangent_flow`,
:func:`saliency_map` and their configs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from facepaint.errors import InputError
from facepaint.fields.etf import (
    EtfConfig,
    edge_tangent_flow,
    gradient,
    half_angle_orientation,
    resize_orientation,
    upsample_field,
)
from facepaint.fields.saliency import SaliencyConfig, face_mask, saliency_map
from facepaint.types import OrientationField, RegionMap

__all__ = [
    "EtfConfig",
    "FieldConfig",
    "SaliencyConfig",
    "compute_orientation_field",
    "edge_tangent_flow",
    "face_mask",
    "gradient",
    "half_angle_orientation",
    "resize_orientation",
    "saliency_map",
    "upsample_field",
]


@dataclass(frozen=True)
class FieldConfig:
    """Configuration of :func:`compute_orientation_field`."""

    etf: EtfConfig = field(default_factory=EtfConfig)
    saliency: SaliencyConfig = field(default_factory=SaliencyConfig)


def compute_orientation_field(
    image: np.ndarray, regions: RegionMap | None = None, *, config: FieldConfig = FieldConfig()
) -> OrientationField:
    """Edge tangent flow, gradient magnitude and saliency of one frame.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB
    regions : RegionMap, optional
        The frame's regions; faces count as salient. Its shape must match the image.
    config : FieldConfig

    Returns
    -------
    OrientationField
        ``tangent`` (H, W, 2) float32 unit vectors, ``magnitude`` and ``saliency`` (H, W) float32
        in [0, 1].
    """
    tangent, magnitude = edge_tangent_flow(image, config=config.etf)
    if regions is not None and regions.labels.shape != image.shape[:2]:
        raise InputError(
            f"regions.labels has shape {regions.labels.shape} but the image is {image.shape[:2]}; "
            "build the region map from the same frame"
        )
    saliency = saliency_map(image, regions, config=config.saliency)
    return OrientationField(tangent=tangent, magnitude=magnitude, saliency=saliency)
