"""Image helpers shared by several stages (private)."""

from __future__ import annotations

import cv2
import numpy as np


def at_nearest_pixel(array: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``array[y, x]`` at the pixel nearest to each of ``points (N, 2)`` (x, y), clamped to the
    array's edges: ``(N,)`` for an ``(H, W)`` array, ``(N, C)`` for an ``(H, W, C)`` one."""
    height, width = array.shape[:2]
    x = np.clip(np.rint(points[:, 0]).astype(np.int64), 0, width - 1)
    y = np.clip(np.rint(points[:, 1]).astype(np.int64), 0, height - 1)
    return array[y, x]


def shrink(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``cv2.resize(image, size, interpolation=cv2.INTER_AREA)`` (``size = (width, height)``,
    smaller than the image), halving the image first (at most twice) while it is at least twice
    the size.

    OpenCV's area averaging has a fast path for a factor of exactly 2: measured on the 2-core
    machine, a 1080p RGB frame to 64x36 took 6.0-7.5 ms in one step and about 2.2 ms halved first.
    Each step rounds to the image's dtype, and OpenCV's area weights at a fractional factor are
    not exact: the result differs from the one-step resize by a few levels (at most 4 on a 1080p
    frame of crowd_1080p, 1 on one of lp_s32).
    """
    width, height = size
    for _ in range(2):
        if not (image.shape[1] >= 2 * width and image.shape[0] >= 2 * height and image.shape[1] % 2 == 0 and image.shape[0] % 2 == 0):
            break
        image = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)
    if (image.shape[1], image.shape[0]) == (width, height):
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
