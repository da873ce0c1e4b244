"""SSIM and stylization strength with exactly known answers."""

from __future__ import annotations

import numpy as np
import pytest

from facepaint.errors import InputError
from facepaint.metrics import ssim_map, ssim_outside, stylization_strength

C1, C2 = 0.01**2, 0.03**2


def gray(value: int, shape=(32, 40)) -> np.ndarray:
    return np.full((*shape, 3), value, np.uint8)


def textured(seed: int = 0, shape=(48, 64)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(40, 215, size=(*shape, 3), dtype=np.uint8)


def test_identical_images_have_ssim_one_and_no_strength():
    image = textured()
    ssim = ssim_map(image, image)
    assert ssim.shape == image.shape[:2] and ssim.dtype == np.float32
    np.testing.assert_allclose(ssim, 1.0, atol=1e-5)
    assert stylization_strength(image, image) == pytest.approx(0.0, abs=1e-5)


def test_two_flat_images_give_the_luminance_term_exactly():
    # flat images have no variance: SSIM = (2ab + C1) / (a^2 + b^2 + C1)
    a, b = 100 / 255, 180 / 255
    expected = (2 * a * b + C1) / (a * a + b * b + C1)
    np.testing.assert_allclose(ssim_map(gray(100), gray(180)), expected, rtol=1e-6)


def test_more_noise_means_more_strength():
    image = textured()
    rng = np.random.default_rng(3)
    mild = np.clip(image + rng.normal(0, 5, image.shape), 0, 255).astype(np.uint8)
    strong = np.clip(image + rng.normal(0, 40, image.shape), 0, 255).astype(np.uint8)
    assert 0 < stylization_strength(image, mild) < stylization_strength(image, strong)


def test_excluded_pixels_do_not_count():
    image = textured()
    changed = image.copy()
    changed[16:32, 20:40] = 0
    exclude = np.zeros(image.shape[:2], bool)
    # the 11x11 window reaches 5 px, so the mask covers the change plus 5 px each side
    exclude[11:37, 15:45] = True
    assert ssim_outside(image, changed, exclude) == pytest.approx(1.0, abs=1e-5)
    assert ssim_outside(image, changed) < 0.95
    assert np.isnan(ssim_outside(image, changed, np.ones(image.shape[:2], bool)))


def test_bad_inputs():
    image = textured()
    with pytest.raises(InputError, match="uint8"):
        ssim_map(image, image.astype(np.float64))
    with pytest.raises(InputError, match="resize"):
        ssim_map(image, image[:, :-2])
    with pytest.raises(InputError, match="exclude"):
        ssim_outside(image, image, np.zeros((3, 3), bool))
    with pytest.raises(InputError, match=r"\(H, W, 3\)"):
        ssim_map(image[..., 0], image[..., 0])
