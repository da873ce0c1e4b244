"""Recognizability on real faces: identical -> distance 0, blurred -> not recognizable."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest

from facepaint.errors import InputError, MissingDependencyError
from facepaint.metrics import (
    SAME_PERSON_DISTANCE,
    DetectedFace,
    FaceScore,
    detect_faces,
    face_mask,
    face_recognizability,
    summarize_faces,
)
from facepaint.metrics import _recognizability


@pytest.fixture(scope="module")
def group(media):
    pytest.importorskip("dlib", reason="recognizability needs the 'metrics' extra (dlib-bin)")
    from facepaint.io import read_image

    image = read_image(media / "photos" / "group_steps.jpg")
    faces = detect_faces(image)
    return image, faces


def blur_faces(image: np.ndarray, faces, sigma_of_width: float) -> np.ndarray:
    out = image.copy()
    for face in faces:
        x0, y0, x1, y1 = face.box.astype(int)
        pad = int(0.4 * (x1 - x0))
        r0, c0 = max(0, y0 - pad), max(0, x0 - pad)
        sigma = sigma_of_width * (x1 - x0)
        out[r0 : y1 + pad, c0 : x1 + pad] = cv2.GaussianBlur(image[r0 : y1 + pad, c0 : x1 + pad], (0, 0), sigma)
    return out


def test_detects_the_six_people_with_68_landmarks(group):
    image, faces = group
    assert len(faces) == 6
    for face in faces:
        assert face.landmarks.shape == (68, 2) and face.landmarks.dtype == np.float32
        assert face.box.shape == (4,)
        assert 60 < face.width_px < 130
        x0, y0, x1, y1 = face.box
        # the landmarks lie around the box (the jaw may leave it a little)
        assert np.all(face.landmarks[:, 0] > x0 - 0.3 * face.width_px)
        assert np.all(face.landmarks[:, 0] < x1 + 0.3 * face.width_px)


def test_identical_image_gives_distance_zero(group):
    image, faces = group
    scores = face_recognizability(image, image.copy(), faces)
    assert len(scores) == len(faces)
    for score in scores:
        assert score.distance == pytest.approx(0.0, abs=1e-6)
        assert score.nme == pytest.approx(0.0, abs=1e-6)
        assert score.recognizable


def test_blurred_faces_lose_recognizability(group):
    image, faces = group
    mild = face_recognizability(image, blur_faces(image, faces, 0.005), faces)
    strong = face_recognizability(image, blur_faces(image, faces, 0.15), faces)
    assert all(s.recognizable for s in mild)
    assert not any(s.recognizable for s in strong)
    assert np.median([s.nme for s in strong]) > 3 * np.median([s.nme for s in mild])


def test_non_contiguous_frames_are_accepted(group):
    # decoders hand out padded views; dlib's bindings refuse anything but C-contiguous arrays
    image, faces = group
    wide = np.zeros((image.shape[0], image.shape[1] + 7, 3), np.uint8)
    wide[:, : image.shape[1]] = image
    view = wide[:, : image.shape[1]]
    assert not view.flags["C_CONTIGUOUS"]
    scores = face_recognizability(view, view, faces)
    assert [s.distance for s in scores] == pytest.approx([0.0] * len(faces), abs=1e-6)


def test_faces_are_detected_when_not_given(group):
    image, faces = group
    scores = face_recognizability(image, image, None)
    assert len(scores) == len(faces)


def test_no_face_gives_no_score(group):
    flat = np.full((120, 160, 3), 128, np.uint8)
    assert detect_faces(flat) == ()
    assert face_recognizability(flat, flat) == ()


def test_bad_inputs(group):
    image, faces = group
    with pytest.raises(InputError, match="resize"):
        face_recognizability(image, image[:-1], faces)
    with pytest.raises(InputError, match="upsample"):
        detect_faces(image, upsample=-1)


def test_summary_per_width_bucket():
    scores = [
        FaceScore(width_px=30, distance=0.7, nme=0.2),
        FaceScore(width_px=39.9, distance=0.5, nme=0.1),
        FaceScore(width_px=40, distance=0.2, nme=0.05),
        FaceScore(width_px=79, distance=0.4, nme=0.03),
        FaceScore(width_px=200, distance=0.1, nme=0.01),
    ]
    stats = {b.name: b for b in summarize_faces(scores)}
    assert list(stats) == ["<40", "40-80", "80-160", ">160", ">=40", "all"]
    assert stats["<40"].count == 2 and stats["<40"].recognizable_share == 0.5
    assert stats["<40"].median_distance == pytest.approx(0.6)
    assert stats["40-80"].count == 2 and stats["40-80"].recognizable_share == 1.0
    assert stats["80-160"].count == 0 and np.isnan(stats["80-160"].median_distance)
    assert stats[">=40"].count == 3 and stats[">=40"].median_nme == pytest.approx(0.03)
    assert stats["all"].count == 5 and stats["all"].recognizable_share == pytest.approx(0.8)
    assert SAME_PERSON_DISTANCE == 0.6


def test_face_mask_grows_the_box():
    face = DetectedFace(box=np.array([10, 20, 29, 39], np.float32), landmarks=np.zeros((68, 2), np.float32))
    mask = face_mask((60, 50), [face], margin=0.0)
    assert mask.sum() == 20 * 20 and mask[20, 10] and mask[39, 29] and not mask[40, 29]
    grown = face_mask((60, 50), [face], margin=0.5)
    assert grown.sum() > mask.sum() and grown[11, 1]
    assert not face_mask((60, 50), []).any()


def test_missing_dlib_names_the_extra(monkeypatch):
    _recognizability._models.cache_clear()
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib now raises ImportError
    try:
        with pytest.raises(MissingDependencyError, match=r"facepaint\[metrics\]"):
            detect_faces(np.zeros((8, 8, 3), np.uint8))
    finally:
        _recognizability._models.cache_clear()
