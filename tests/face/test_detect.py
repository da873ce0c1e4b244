"""Tile pyramid, tile resampling and non-maximum suppression on synthetic inputs."""

from __future__ import annotations

import numpy as np
import pytest

from facepaint.face._detect import MIN_FACE_SHARE, cut_tiles, scan_schedule, tile_squares, weighted_nms


@pytest.mark.parametrize("shape", [(1080, 1920), (720, 1280), (288, 352), (144, 176), (1920, 1080)])
def test_every_face_size_fits_whole_in_a_tile_of_a_suited_level(shape):
    height, width = shape
    squares = tile_squares(shape, min_face_px=24)
    assert squares[-1, 2] == max(shape)  # the whole frame comes last
    rng = np.random.default_rng(0)
    for _ in range(300):
        w = rng.uniform(24, max(shape) * 0.3)
        x, y = rng.uniform(0, width - w), rng.uniform(0, height - w)
        ok = (
            (squares[:, 0] <= x + 1e-3)
            & (squares[:, 1] <= y + 1e-3)
            & (squares[:, 0] + squares[:, 2] >= x + w - 1e-3)
            & (squares[:, 1] + squares[:, 2] >= y + w - 1e-3)
            & (w >= MIN_FACE_SHARE * squares[:, 2] - 1e-3)
        )
        assert ok.any(), (w, x, y)


def test_schedule_visits_every_square():
    squares = tile_squares((1080, 1920), min_face_px=24)
    order = scan_schedule(squares)
    assert set(order.tolist()) == set(range(len(squares)))
    whole = len(squares) - 1
    # the whole-frame square comes round several times per cycle
    assert (order == whole).sum() >= 3


def test_cut_tiles_maps_tile_pixels_back_to_the_frame():
    height, width = 300, 500
    ys, xs = np.mgrid[0:height, 0:width]
    image = np.stack([xs % 256, ys % 256, np.zeros_like(xs)], -1).astype(np.uint8)
    squares = np.array([[100, 50, 128], [-20, -30, 256], [0, -100, 500]], np.float32)
    tiles, maps = cut_tiles(image, squares)
    assert tiles.shape == (3, 128, 128, 3) and tiles.dtype == np.uint8
    ox, oy, sx, sy = maps[0]
    assert (sx, sy) == (1.0, 1.0)
    np.testing.assert_array_equal(tiles[0], image[50:178, 100:228])
    ox, oy, sx, sy = maps[1]
    u, v = 100, 90
    assert abs((ox + u * sx) - tiles[1][v, u, 0]) <= 2.0  # red = x inside 0..255
    assert abs((oy + v * sy) - tiles[1][v, u, 1]) <= 2.0
    assert (tiles[1][:5, :5] == 0).all()  # outside the frame is black
    assert (tiles[2][:20] == 0).all()  # letterbox band


def test_weighted_nms_merges_overlaps_and_keeps_the_rest():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], np.float32)
    keypoints = np.zeros((3, 6, 2), np.float32)
    scores = np.array([0.9, 0.9, 0.6], np.float32)
    out = weighted_nms(boxes, keypoints, scores, iou_threshold=0.3)
    assert len(out) == 2
    np.testing.assert_allclose(out.boxes[0], [0.5, 0, 10.5, 10])
    np.testing.assert_allclose(out.scores, [0.9, 0.6])
