"""The three-region map on synthetic faces with exact answers, and on a real photo."""

from __future__ import annotations


import numpy as np
import pytest

from facepaint.errors import InputError
from facepaint.regions import RegionConfig, build_region_map, draw_regions
from facepaint.types import Face, FeatureClass, RegionMap



def _face(x0, y0, size, track_id=0, feature=None) -> Face:
    """A square 'face' with a square 'mouth' feature of side size/4 in its lower middle."""
    ring = np.array([[x0 + t * size / 9, y0] for t in range(9)]
                    + [[x0 + size, y0 + t * size / 9] for t in range(9)]
                    + [[x0 + size - t * size / 9, y0 + size] for t in range(9)]
                    + [[x0, y0 + size - t * size / 9] for t in range(9)], np.float32)  # fmt: skip
    fx, fy, fs = feature if feature is not None else (x0 + 3 * size // 8, y0 + 5 * size // 8, size // 4)
    mask = np.full((fs, fs), int(FeatureClass.MOUTH), np.uint8)
    poly = np.array([[fx, fy], [fx + fs - 1, fy], [fx + fs - 1, fy + fs - 1], [fx, fy + fs - 1]], np.float32)
    return Face(
        box=np.array([x0, y0, x0 + size, y0 + size], np.float32),
        score=1.0,
        track_id=track_id,
        contour=ring,
        feature_mask=mask,
        mask_offset=(fx, fy),
        feature_polygons={FeatureClass.MOUTH: poly},
    )


def test_no_face_is_all_background():
    regions = build_region_map([], (40, 60))
    assert isinstance(regions, RegionMap)
    assert regions.labels.shape == (40, 60) and regions.labels.dtype == np.uint8
    assert (regions.labels == 3).all()
    assert regions.feature_alpha.dtype == np.float32 and (regions.feature_alpha == 0).all()
    assert regions.face_ids.dtype == np.int32 and (regions.face_ids == -1).all()


def test_square_face_gives_exact_regions():
    face = _face(16, 8, 64, track_id=7)
    config = RegionConfig(feature_grow_frac=0.0, feather_frac=0.0, min_feather_px=0.0)
    regions = build_region_map([face], (100, 120), config=config)
    labels = regions.labels
    inside = np.zeros_like(labels, bool)
    inside[8:73, 16:81] = True
    feature = np.zeros_like(labels, bool)
    feature[48:64, 40:56] = True
    assert (labels[feature] == 2).all()
    assert (labels[inside & ~feature] == 1).all()
    assert (labels[~inside] == 3).all()
    assert (regions.face_ids[inside] == 7).all() and (regions.face_ids[~inside] == -1).all()
    np.testing.assert_array_equal(regions.feature_alpha, feature.astype(np.float32))


def test_feathered_alpha_is_soft_at_the_edge_and_full_inside():
    face = _face(0, 0, 200, feature=(60, 100, 80))
    regions = build_region_map([face], (220, 220), config=RegionConfig(feature_grow_frac=0.0, feather_frac=0.02))
    alpha = regions.feature_alpha
    assert 0.0 <= alpha.min() and alpha.max() <= 1.0
    assert alpha[140, 100] == pytest.approx(1.0, abs=1e-3)  # deep inside
    assert 0.3 < alpha[140, 60] < 0.7  # on the edge: about one half
    assert alpha[140, 40] < 1e-3  # far outside
    assert alpha[140, 58] > 0.0  # the feather reaches out


def test_wider_face_wins_where_faces_overlap():
    small = _face(40, 40, 30, track_id=1)
    big = _face(0, 0, 60, track_id=2)
    regions = build_region_map([big, small], (80, 80))
    assert (regions.face_ids[45:60, 45:60] == 2).all()


def test_features_cut_by_the_frame_border():
    face = _face(-20, -20, 64, feature=(-10, -10, 20))
    regions = build_region_map([face], (50, 50), config=RegionConfig(feature_grow_frac=0.0, feather_frac=0.0, min_feather_px=0.0))
    assert (regions.labels[0:10, 0:10] == 2).all()
    assert regions.labels[20, 20] == 1
    assert regions.labels[49, 49] == 3


def test_bad_input():
    with pytest.raises(InputError, match="height, width"):
        build_region_map([], (10,))
    with pytest.raises(InputError, match="positive"):
        build_region_map([], (0, 10))
    with pytest.raises(InputError, match="feather_frac"):
        RegionConfig(feather_frac=-1)
    bad = Face(np.zeros(4, np.float32), 1.0, 0, np.zeros((2, 2), np.float32), np.zeros((1, 1), np.uint8), (0, 0))
    with pytest.raises(InputError, match="contour"):
        build_region_map([bad], (10, 10))


def test_draw_regions_marks_regions_and_points():
    face = _face(16, 8, 64)
    image = np.full((100, 120, 3), 128, np.uint8)
    regions = build_region_map([face], image.shape[:2])
    out = draw_regions(image, regions, [face])
    assert out.shape == image.shape and out.dtype == np.uint8
    assert out[60, 30, 2] > out[60, 30, 0]  # inner face tinted blue
    assert out[55, 48, 0] > out[55, 48, 2]  # feature tinted orange
    assert out[95, 5].max() < 128  # background darkened
    with pytest.raises(InputError, match="differ"):
        draw_regions(image[:50], regions)


def test_real_photo_regions(media):
    from facepaint.face import create_face_model
    from facepaint.io import read_image

    image = read_image(media / "photos" / "group_steps.jpg")
    faces = create_face_model().detect(image)
    assert len(faces) == 6
    regions = build_region_map(faces, image.shape[:2])
    labels = regions.labels
    assert set(np.unique(labels)) == {1, 2, 3}
    for face in faces:
        cx, cy = face.feature_polygons[FeatureClass.MOUTH].mean(0).round().astype(int)
        assert labels[cy, cx] == 2
        assert regions.face_ids[int(face.contour[18, 1]) - 3, int(face.contour[18, 0])] == face.track_id
    # features are a small share of the faces
    assert (labels == 2).sum() < 0.5 * (labels == 1).sum()
