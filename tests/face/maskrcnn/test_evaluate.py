"""Evaluation figures on synthetic faces with known answers, and model-output -> Face conversion."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the Mask R-CNN tests need the 'train' extra (torch, torchvision)")
pytest.importorskip("torchvision", reason="the Mask R-CNN tests need the 'train' extra (torch, torchvision)")

from facepaint.annotations import FaceAnnotation, ImageAnnotation, box_of_points, rasterize  # noqa: E402
from facepaint.face.maskrcnn.backend import BackendConfig, box_iou, detections, faces_of_output, paste_mask  # noqa: E402
from facepaint.face.maskrcnn.model import facepaint_maskrcnn  # noqa: E402
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
    # Box-level mask probabilities (28x28 over each box) of a model image half the original's size.
    masks = torch.zeros((4, 1, 28, 28))
    masks[1] = 0.9  # eye_l (label 4) inside the face, filling its box
    masks[2] = 0.9  # mouth far from any face
    output = {
        "boxes": torch.tensor([[10.0, 5, 40, 40], [20, 10, 26, 14], [50, 40, 55, 44], [0, 0, 4, 4]]),
        "labels": torch.tensor([1, 4, 7, 1]),
        "scores": torch.tensor([0.9, 0.8, 0.8, 0.2]),
        "masks": masks,
        "keypoints": torch.cat([torch.rand(1, 36, 2) * 30 + 10, torch.full((2, 36, 2), float("nan")), torch.rand(1, 36, 2)]),
    }
    faces = faces_of_output(output, image_shape=(100, 120), scale=0.5, config=BackendConfig(min_features=1))
    assert len(faces) == 1  # the 0.2 face is below the threshold
    face = faces[0]
    np.testing.assert_allclose(face.box, [20, 10, 80, 80])
    np.testing.assert_allclose(face.contour, output["keypoints"][0].numpy() * 2, rtol=1e-5)
    assert face.mask_offset == (20, 10)
    labels = set(np.unique(face.feature_mask).tolist())
    assert labels == {0, int(FeatureClass.EYE_L)}  # the far mouth belongs to no face
    ys, xs = np.nonzero(face.feature_mask == FeatureClass.EYE_L)
    # Box x 20..26, y 10..14 in the model image: 40.5..52.5, 20.5..28.5 in pixel centres of the original.
    assert (xs.min() + 20, xs.max() + 20, ys.min() + 10, ys.max() + 10) == (41, 52, 21, 28)
    assert FeatureClass.EYE_L in face.feature_polygons
    assert faces_of_output({**output, "scores": torch.zeros(4)}, image_shape=(100, 120), scale=0.5) == []
    # A face box with fewer feature classes than min_features is not a face (by default, two).
    assert faces_of_output(output, image_shape=(100, 120), scale=0.5) == []
    two = {**output, "labels": torch.tensor([1, 4, 7, 1]), "boxes": output["boxes"].clone()}
    two["boxes"][2] = torch.tensor([28.0, 30, 34, 34])  # the mouth moved into the face
    assert len(faces_of_output(two, image_shape=(100, 120), scale=0.5)) == 1


def test_paste_mask_inverts_roialign_sampling_with_subpixel_boxes() -> None:
    # A mask whose left half is on, over a box from x 10.3 to 18.3: the edge is at the box's middle.
    probs = np.zeros((28, 28), np.float32)
    probs[:, :14] = 1.0
    pasted = paste_mask(probs, np.array([10.3, 4.0, 18.3, 12.0]), (20, 30), (0, 0))
    row = pasted[8]
    assert row[9] == 0.0 and row[21] == 0.0  # nothing outside the box
    # Cell j sits at x0 + (j + 0.5) * w / M (RoIAlign, aligned=False): cells 13 and 14 at 14.16, 14.44.
    assert row[14] == 1.0 and row[15] == 0.0 and row[11] == 1.0
    # A ramp (cell j holds j / 27) reads back the cell coordinate: pixel x -> (x - x0) * M / w - 0.5.
    ramp = np.tile(np.arange(28, dtype=np.float32) / 27.0, (28, 1))
    for x0 in (10.3, 10.55):  # a quarter-pixel shift of the box moves the mask, not its rounding
        pasted_ramp = paste_mask(ramp, np.array([x0, 4.0, x0 + 8.0, 12.0]), (20, 30), (0, 0))
        expected = ((np.arange(12, 17) - x0) * 3.5 - 0.5) / 27.0
        np.testing.assert_allclose(pasted_ramp[8, 12:17], expected, atol=1 / 32 / 27)  # OpenCV: 1/32-cell steps
    # A crop offset and a model scale: the crop's pixel (c, r) is the original's (c + 2, r + 1).
    half = paste_mask(probs, np.array([5.15, 2.0, 9.15, 6.0]), (20, 30), (2, 1), scale=0.5)
    np.testing.assert_allclose(half[7, 8:14], paste_mask(probs, np.array([10.3, 4.0, 18.3, 12.0]), (20, 30), (0, 0))[8, 10:16], atol=1e-5)


def test_detections_leave_masks_over_their_boxes() -> None:
    torch.manual_seed(0)
    model = facepaint_maskrcnn(backbone="facemesh", native_size=True, pretrained_backbone=False, fpn_channels=16, mask_channels=16)
    model.eval()
    model.roi_heads.score_thresh = 0.0
    image = torch.rand(3, 64, 96)
    with torch.inference_mode():
        found, scale = detections(model, image)
        full = model([image])[0]
    assert scale == 1.0
    torch.testing.assert_close(found["boxes"], full["boxes"])
    assert found["masks"].shape[1:] == (1, 28, 28) and full["masks"].shape[1:] == (1, 64, 96)


def test_faces_inside_better_faces_are_dropped() -> None:
    n = 4
    output = {
        # A face, a box inside it (lower score), a box shifted by a third of it, a separate face.
        "boxes": torch.tensor([[10.0, 10, 40, 40], [15, 15, 30, 30], [20, 10, 50, 40], [60, 10, 90, 40]]),
        "labels": torch.tensor([1, 1, 1, 1]),
        "scores": torch.tensor([0.9, 0.8, 0.7, 0.6]),
        "masks": torch.zeros((n, 1, 28, 28)),
        "keypoints": torch.rand(n, 36, 2) * 30,
    }
    faces = faces_of_output(output, image_shape=(50, 100), config=BackendConfig(min_features=0))
    np.testing.assert_allclose([f.box for f in faces], [[10, 10, 40, 40], [60, 10, 90, 40]])
    kept_all = faces_of_output(output, image_shape=(50, 100), config=BackendConfig(face_overlap=1.0, min_features=0))
    assert len(kept_all) == 4
