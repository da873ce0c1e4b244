"""Edge tangent flow and saliency: synthetic images with analytic tangents."""

from __future__ import annotations

import numpy as np
import pytest

from facepaint.errors import InputError
from facepaint.fields import (
    EtfConfig,
    FieldConfig,
    compute_orientation_field,
    edge_tangent_flow,
    resize_orientation,
    saliency_map,
    upsample_field,
)
from facepaint.types import Region, RegionMap


def angle_error_deg(t: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Angle between orientations (sign-free), degrees in [0, 90]."""
    dot = np.abs((t * expected).sum(-1)) / np.maximum(
        np.linalg.norm(t, axis=-1) * np.linalg.norm(expected, axis=-1), 1e-12
    )
    return np.degrees(np.arccos(np.clip(dot, 0.0, 1.0)))


def disk_image(size: int = 160, radius: float = 45.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c = (size - 1) / 2
    r = np.hypot(xx - c, yy - c)
    # Anti-aliased disk so the edge position is sub-pixel exact.
    inside = np.clip(radius + 0.5 - r, 0.0, 1.0)
    image = np.repeat((40 + 180 * inside)[..., None], 3, axis=2).astype(np.uint8)
    tangent = np.stack([-(yy - c), xx - c], -1)  # perpendicular to the radius
    return image, tangent, r


@pytest.mark.parametrize("max_side", [1280, 100])
def test_disk_tangent_matches_circle(max_side: int) -> None:
    image, expected, r = disk_image()
    tangent, magnitude = edge_tangent_flow(image, config=EtfConfig(max_side_px=max_side))
    assert tangent.shape == image.shape[:2] + (2,) and tangent.dtype == np.float32
    assert magnitude.shape == image.shape[:2] and 0.0 <= magnitude.min() and magnitude.max() <= 1.0
    np.testing.assert_allclose(np.linalg.norm(tangent, axis=-1), 1.0, atol=1e-3)
    band = np.abs(r - 45.0) < 8
    err = angle_error_deg(tangent[band], expected[band])
    assert np.percentile(err, 99) < 5.0, f"99th percentile error {np.percentile(err, 99):.2f} deg"


@pytest.mark.parametrize("angle_deg", [0.0, 30.0, 90.0, 135.0])
def test_stripes_tangent_matches_stripe_direction(angle_deg: float) -> None:
    size = 128
    a = np.radians(angle_deg)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    # Stripes run along (cos a, sin a): the intensity varies along the normal (-sin a, cos a).
    s = -np.sin(a) * xx + np.cos(a) * yy
    image = np.repeat((128 + 100 * np.sin(2 * np.pi * s / 16.0))[..., None], 3, 2).astype(np.uint8)
    tangent, _ = edge_tangent_flow(image)
    inner = tangent[8:-8, 8:-8]
    err = angle_error_deg(inner, np.array([np.cos(a), np.sin(a)], np.float32))
    assert np.percentile(err, 99) < 5.0, f"99th percentile error {np.percentile(err, 99):.2f} deg"


def test_flat_image_gets_the_fallback_direction() -> None:
    image = np.full((40, 50, 3), 120, np.uint8)
    tangent, magnitude = edge_tangent_flow(image, config=EtfConfig(fallback_angle=np.pi / 2))
    assert np.all(magnitude == 0)
    np.testing.assert_allclose(np.abs(tangent[..., 1]), 1.0, atol=1e-5)


def test_flat_area_beside_an_edge_follows_it() -> None:
    # A single horizontal edge: the flat areas above and below take its direction.
    image = np.full((120, 120, 3), 60, np.uint8)
    image[60:] = 200
    tangent, _ = edge_tangent_flow(image)
    assert np.percentile(angle_error_deg(tangent, np.array([1.0, 0.0])), 95) < 5.0


def test_resize_orientation_keeps_sign_free_orientation() -> None:
    t = np.zeros((10, 10, 2), np.float32)
    t[:, ::2] = (0.0, 1.0)
    t[:, 1::2] = (0.0, -1.0)  # same orientation, opposite signs: must not cancel
    out = resize_orientation(t, (20, 20))
    np.testing.assert_allclose(np.abs(out[..., 1]), 1.0, atol=1e-5)


def test_upsample_field_matches_resize_and_its_windows() -> None:
    import cv2

    rng = np.random.default_rng(0)
    angle = cv2.GaussianBlur(rng.uniform(-np.pi, np.pi, (18, 32)).astype(np.float32), (0, 0), 2.0)
    small = np.dstack([np.cos(angle), np.sin(angle)]).astype(np.float32)
    small[:, ::2] *= -1.0  # signs flipped between columns: the same orientations
    magnitude = rng.random((18, 32)).astype(np.float32)
    tangent, mag = upsample_field(small, magnitude, (54, 96))
    assert tangent.shape == (54, 96, 2) and mag.shape == (54, 96) and tangent.dtype == np.float32
    assert angle_error_deg(tangent, resize_orientation(small, (96, 54))).max() < 0.05
    np.testing.assert_allclose(mag, cv2.resize(magnitude, (96, 54), interpolation=cv2.INTER_LINEAR), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(tangent, axis=-1), 1.0, atol=1e-5)
    window_t, window_m = upsample_field(small, magnitude, (54, 96), (5, 40, 17, 90))
    np.testing.assert_array_equal(window_t, tangent[5:40, 17:90])
    np.testing.assert_array_equal(window_m, mag[5:40, 17:90])
    tangent_only, no_magnitude = upsample_field(small, None, (54, 96))
    assert no_magnitude is None
    np.testing.assert_array_equal(tangent_only, tangent)


def test_upsample_field_without_orientation_and_bad_input() -> None:
    tangent, _ = upsample_field(np.zeros((4, 4, 2), np.float32), np.zeros((4, 4), np.float32), (8, 8))
    np.testing.assert_array_equal(tangent[..., 0], 1.0)  # no orientation: angle 0
    with pytest.raises(InputError, match="inside a frame"):
        upsample_field(np.zeros((4, 4, 2), np.float32), np.zeros((4, 4), np.float32), (8, 8), (0, 9, 0, 8))
    with pytest.raises(InputError, match="tangents"):
        upsample_field(np.zeros((4, 4), np.float32), np.zeros((4, 4), np.float32), (8, 8))


def test_saliency_in_range_and_faces_salient() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)
    labels = np.full((90, 120), Region.BACKGROUND, np.uint8)
    labels[30:60, 40:70] = Region.INNER_FACE
    regions = RegionMap(labels=labels, feature_alpha=np.zeros((90, 120), np.float32))
    sal = saliency_map(image, regions)
    assert sal.shape == (90, 120) and sal.dtype == np.float32
    assert sal.min() >= 0.0 and sal.max() <= 1.0
    assert np.all(sal[35:55, 45:65] >= 0.99)


def test_compute_orientation_field_shapes_and_bad_input() -> None:
    image, _, _ = disk_image(64, 20)
    field = compute_orientation_field(image, config=FieldConfig())
    assert field.tangent.shape == (64, 64, 2) and field.saliency.shape == (64, 64)
    with pytest.raises(InputError):
        compute_orientation_field(image[..., 0])
    with pytest.raises(InputError):
        compute_orientation_field(image.astype(np.float32))
    wrong = RegionMap(labels=np.full((10, 10), 3, np.uint8), feature_alpha=np.zeros((10, 10), np.float32))
    with pytest.raises(InputError, match="same frame"):
        compute_orientation_field(image, wrong)
