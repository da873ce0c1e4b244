"""Painting a still: paint_image, paint_frame, styles, the ``paint`` command, real photos."""

from __future__ import annotations

import numpy as np
import pytest

from facepaint.cli import main
from facepaint.errors import InputError
from facepaint.paint import PaintConfig, paint_frame, paint_image, paint_image_result
from facepaint.render import Style
from facepaint.types import Region, RegionMap


class NoFaces:
    """A face model that finds nothing (keeps these tests independent of mediapipe)."""

    def detect(self, image):
        return []

    def process(self, image):
        return []

    def reset(self):
        pass


def synthetic(h: int = 96, w: int = 128) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    image = np.stack([xx * 2 % 256, yy * 2 % 256, np.full_like(xx, 120)], -1).astype(np.uint8)
    image[30:60, 40:90] = (250, 240, 20)
    return image


def _block_means(image: np.ndarray, block: int = 8) -> np.ndarray:
    h, w = image.shape[:2]
    return image.reshape(h // block, block, w // block, block, 3).astype(np.float64).mean(axis=(1, 3))


@pytest.mark.parametrize("style", list(Style))
def test_paint_image_every_style(style: Style) -> None:
    image = synthetic()
    out = paint_image(image, face_model=NoFaces(), config=PaintConfig(style=style), seed=3)
    assert out.shape == image.shape and out.dtype == np.uint8
    again = paint_image(image, face_model=NoFaces(), config=PaintConfig(style=style), seed=3)
    np.testing.assert_array_equal(out, again)
    # Close to the picture at the scale of strokes: 8x8 block means within 14 levels on average
    # (measured 3-9; a flat frame of the mean colour is 51 off, a black one 130) ...
    assert np.abs(_block_means(out) - _block_means(image)).mean() < 14
    # ... yet a painting, not a copy: pixels differ by 5-12 on average.
    assert np.abs(out.astype(int) - image.astype(int)).mean() > 3


def test_styles_are_told_apart_on_black_and_white() -> None:
    """Left half black, right half white: oil covers both with opaque paint; watercolour's
    transparent washes let the paper through the black and darken the white at the rims; pencil's
    hatching leaves paper between its lines on the black and greys the white with its lead."""
    image = np.zeros((96, 128, 3), np.uint8)
    image[:, 64:] = 255
    black, white = {}, {}
    for style in Style:
        out = paint_image(image, face_model=NoFaces(), config=PaintConfig(style=style), seed=3).astype(np.float64)
        black[style], white[style] = out[8:-8, 8:56], out[8:-8, 72:-8]
    assert black[Style.OIL].max() < 3 and white[Style.OIL].mean() > 250
    assert 3 < black[Style.WATERCOLOR].mean() < 30 and 235 < white[Style.WATERCOLOR].mean() < 251
    assert black[Style.PENCIL].std() > 8 and white[Style.PENCIL].mean() < 242
    assert black[Style.PENCIL].mean() > black[Style.WATERCOLOR].mean() + 3
    assert black[Style.PENCIL].std() > black[Style.WATERCOLOR].std() + 3


def test_paint_frame_with_a_hand_made_face() -> None:
    image = synthetic()
    h, w = image.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    labels = np.full((h, w), Region.BACKGROUND, np.uint8)
    labels[((xx - 64) / 20) ** 2 + ((yy - 48) / 26) ** 2 < 1] = Region.INNER_FACE
    eye = ((xx - 58) / 6) ** 2 + ((yy - 42) / 3) ** 2 < 1
    labels[eye] = Region.FEATURES
    alpha = eye.astype(np.float32)
    result = paint_frame(image, RegionMap(labels, alpha), seed=0)
    assert result.uncovered_share == 0.0
    assert len(result.painting.face) > 0
    np.testing.assert_array_equal(result.image[eye], image[eye])


def test_bad_input() -> None:
    with pytest.raises(InputError):
        paint_image(np.zeros((10, 10), np.uint8), face_model=NoFaces())
    with pytest.raises(InputError):
        paint_image(np.zeros((4, 4, 3), np.uint8), face_model=NoFaces())


def test_paint_command(tmp_path, capsys) -> None:
    import cv2

    src = tmp_path / "in.png"
    cv2.imwrite(str(src), synthetic())
    out = tmp_path / "out.png"
    code = main(["paint", str(src), str(out), "--style", "watercolor", "--seed", "2", "--no-faces"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert out.is_file() and "watercolor" in captured.out and "uncovered 0.000 %" in captured.out
    code = main(["paint", str(src), str(out), "--style", "crayon"])
    assert code != 0


@pytest.mark.slow
def test_akiyo_first_frame_keeps_the_features(media) -> None:
    av = pytest.importorskip("av")
    with av.open(str(media / "video" / "akiyo.mp4")) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    result = paint_image_result(frame, seed=0)
    labels = result.regions.labels
    assert (labels == Region.INNER_FACE).sum() > 500, "mediapipe should find akiyo's face"
    assert result.uncovered_share < 1e-3
    # The region map's feathered alpha peaks at 1 - 6e-8 (float32 round-off): count that as 1.
    alpha = result.regions.feature_alpha
    ones = alpha >= 1.0 - 1e-6
    assert ones.sum() > 20
    np.testing.assert_array_equal(result.image[ones], frame[ones])
    nearly = alpha > 0.99
    assert nearly.sum() > 100
    assert np.abs(result.image[nearly].astype(int) - frame[nearly].astype(int)).max() <= 3
    # Small strokes on the face: most of the background area is painted with thicker strokes.
    bg = result.painting.background
    area = bg.thickness * np.linalg.norm(bg.positions[:, 2] - bg.positions[:, 0], axis=1)
    order = np.argsort(bg.thickness)
    weighted_median = bg.thickness[order][np.searchsorted(np.cumsum(area[order]), 0.5 * area.sum())]
    assert result.painting.face.thickness.max() < weighted_median
