"""Evaluation figures on synthetic faces with known answers, and model-output -> Face conversion."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the Mask R-CNN tests need the 'train' extra (torch, torchvision)")
pytest.importorskip("torchvision", reason="the Mask R-CNN tests need the 'train' extra (torch, torchvision)")

from facepaint.annotations import FaceAnnotation, ImageAnnotation, box_of_points, rasterize  # noqa: E402
from facepaint.face.maskrcnn.backend import BackendConfig, box_iou, faces_of_output  # noqa: E402
from facepaint.face.maskrcnn.evaluate import (  # noqa: E402
    SIZE_BINS,
    EvalConfig,
    evaluate_faces,
    landmark_errors,
    match_faces,
)
from facepaint.types import Face, FeatureClass  # noqa: E402


def ring(cx, cy, rx, ry):
    angle = np.linspace(0, 2 * np.pi, 36, endpoint=False)
    return np.stack([cx + rx * np.sin(angle), cy - ry * np.cos(angle)], axis=1).astype(np.float32)


def _totals():
    return {
        "false_positives": 0,
        "bins": [[0, 0] for _ in range(len(SIZE_BINS) + 1)],
        "rmse": [],
        "nme": [],
        "iou": {n: [0, 0] for n in ("face", "brow_l", "brow_r", "eye_l", "eye_r", "nose", "mouth")},
    }


def _annotation():
    contour = ring(50, 50, 20, 25)
    eye = np.array([[55, 40], [65, 40], [65, 46], [55, 46]], np.float32)
    face = FaceAnnotation(box_of_points(contour), contour, {FeatureClass.EYE_L: eye})
    tiny = FaceAnnotation(np.array([80, 80, 95, 95], np.float32))
    return ImageAnnotation("x.png", 100, 120, (face, tiny))


def _face_of(ann: ImageAnnotation, index: int, shift: float = 0.0) -> Face:
    _, labels = rasterize(ann, index)
    face = ann.faces[index]
    contour = face.contour if face.contour is not None else ring(87.5, 87.5, 7.5, 7.5)
    return Face(box=face.box + shift, score=1.0, track_id=0, contour=contour + shift,
                feature_mask=labels, mask_offset=(0, 0))


def test_perfect_prediction_scores_perfectly() -> None:
    ann = _annotation()
    totals = _totals()
    evaluate_faces(ann, [_face_of(ann, 0)], EvalConfig(), totals)
    assert totals["rmse"] == [0.0] and totals["nme"] == [0.0]
    assert totals["iou"]["face"][0] == totals["iou"]["face"][1] > 0
    assert totals["iou"]["eye_l"][0] == totals["iou"]["eye_l"][1] > 0
    assert totals["iou"]["mouth"] == [0, 0]  # not annotated: not counted
    # The 40-px face was found, the 15-px one was missed; no false positive.
    assert totals["bins"][1] == [1, 1] and totals["bins"][0] == [0, 1]
    assert totals["false_positives"] == 0


def test_shifted_prediction_has_known_error() -> None:
    ann = _annotation()
    totals = _totals()
    evaluate_faces(ann, [_face_of(ann, 0, shift=4.0)], EvalConfig(), totals)
    w, h = ann.faces[0].box[2:] - ann.faces[0].box[:2]
    assert totals["rmse"][0] == pytest.approx(np.hypot(4 / w, 4 / h), rel=1e-5)
    assert totals["nme"][0] == pytest.approx(np.hypot(4, 4) / np.sqrt(w * h), rel=1e-5)
    rmse, nme = landmark_errors(ann.faces[0].contour, ann.faces[0].contour, ann.faces[0].box)
    assert rmse == 0 and nme == 0


def test_far_prediction_is_a_false_positive() -> None:
    ann = _annotation()
    totals = _totals()
    evaluate_faces(ann, [_face_of(ann, 0, shift=60.0)], EvalConfig(), totals)
    assert totals["false_positives"] == 1 and totals["rmse"] == []


def test_matching_and_iou() -> None:
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)
    b = np.array([[21, 21, 30, 30], [0, 0, 10, 5]], np.float32)
    np.testing.assert_allclose(box_iou(a, b), [[0, 0.5], [81 / 100, 0]], atol=1e-6)
    np.testing.assert_array_equal(match_faces(b, a, 0.5), [1, 0])
    np.testing.assert_array_equal(match_faces(b, a, 0.6), [-1, 0])
    assert match_faces(np.zeros((0, 4)), a, 0.5).tolist() == [-1, -1]


def test_faces_of_output_assigns_features_and_scales_back() -> None:
    h, w = 50, 60  # model image, half the size of the original
    masks = torch.zeros((4, 1, h, w))
    masks[1, 0, 10:14, 20:26] = 0.9  # eye_l (label 4) inside the face
    masks[2, 0, 40:44, 50:55] = 0.9  # mouth far from any face
    output = {
        "boxes": torch.tensor([[10.0, 5, 40, 40], [20, 10, 26, 14], [50, 40, 55, 44], [0, 0, 4, 4]]),
        "labels": torch.tensor([1, 4, 7, 1]),
        "scores": torch.tensor([0.9, 0.8, 0.8, 0.2]),
        "masks": masks,
        "keypoints": torch.cat([torch.rand(1, 36, 2) * 30 + 10, torch.full((2, 36, 2), float("nan")), torch.rand(1, 36, 2)]),
    }
    faces = faces_of_output(output, image_shape=(100, 120), scale=0.5, config=BackendConfig())
    assert len(faces) == 1  # the 0.2 face is below the threshold
    face = faces[0]
    np.testing.assert_allclose(face.box, [20, 10, 80, 80])
    np.testing.assert_allclose(face.contour, output["keypoints"][0].numpy() * 2, rtol=1e-5)
    assert face.mask_offset == (20, 10)
    labels = set(np.unique(face.feature_mask).tolist())
    assert labels == {0, int(FeatureClass.EYE_L)}  # the far mouth belongs to no face
    ys, xs = np.nonzero(face.feature_mask == FeatureClass.EYE_L)
    assert 38 <= xs.min() + 20 <= 42 and 50 <= xs.max() + 20 <= 54  # x 20..26 in the model image, doubled
    assert FeatureClass.EYE_L in face.feature_polygons
    assert faces_of_output({**output, "scores": torch.zeros(4)}, image_shape=(100, 120), scale=0.5) == []


def test_faces_inside_better_faces_are_dropped() -> None:
    n = 4
    output = {
        # A face, a box inside it (lower score), a box shifted by a third of it, a separate face.
        "boxes": torch.tensor([[10.0, 10, 40, 40], [15, 15, 30, 30], [20, 10, 50, 40], [60, 10, 90, 40]]),
        "labels": torch.tensor([1, 1, 1, 1]),
        "scores": torch.tensor([0.9, 0.8, 0.7, 0.6]),
        "masks": torch.zeros((n, 1, 50, 100)),
        "keypoints": torch.rand(n, 36, 2) * 30,
    }
    faces = faces_of_output(output, image_shape=(50, 100), config=BackendConfig())
    np.testing.assert_allclose([f.box for f in faces], [[10, 10, 40, 40], [60, 10, 90, 40]])
    kept_all = faces_of_output(output, image_shape=(50, 100), config=BackendConfig(face_overlap=1.0))
    assert len(kept_all) == 4
