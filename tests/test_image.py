"""The private image helpers."""

from __future__ import annotations

import cv2
import numpy as np

from facepaint._image import shrink


def test_shrink_is_the_area_resize_within_one_level():
    rng = np.random.default_rng(0)
    for shape, size in [((1080, 1920, 3), (64, 36)), ((720, 1280, 3), (64, 36)), ((90, 70, 3), (64, 50)), ((30, 20, 3), (40, 60))]:
        image = rng.integers(0, 256, shape, dtype=np.uint8)
        image = cv2.GaussianBlur(image, (0, 0), 3)  # smooth content, as frames are
        want = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        got = shrink(image, size)
        assert got.shape == want.shape and got.dtype == np.uint8
        assert np.abs(got.astype(int) - want).max() <= 2
    flat = np.full((64, 128, 3), 77, np.uint8)
    assert (shrink(flat, (8, 4)) == 77).all()
