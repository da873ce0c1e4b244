"""The landmark branch, its loss, and the composed extended Mask R-CNN."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the Mask R-CNN tests need the 'train' extra (torch, torchvision)")
pytest.importorskip("torchvision", reason="the Mask R-CNN tests need the 'train' extra (torch, torchvision)")

from facepaint.face.maskrcnn.heads import (  # noqa: E402
    LandmarkHead,
    LandmarkPredictor,
    LandmarkRoIHeads,
    denormalize_landmarks,
    landmark_inference,
    landmark_loss,
    normalize_landmarks,
)
from facepaint.face.maskrcnn.labels import FACE_LABEL, NUM_CLASSES  # noqa: E402
from facepaint.face.maskrcnn.model import ModelConfig, facepaint_maskrcnn, total_loss  # noqa: E402

TINY = ModelConfig(min_size=96, max_size=128, landmark_channels=(16, 16, 16, 16), landmark_hidden=32,
                   box_representation_size=64, mask_channels=16)


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(before)


def test_head_shapes_follow_the_paper() -> None:
    head = LandmarkHead(256)
    convs = [m for m in head if isinstance(m, torch.nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(3, 3), (3, 3), (3, 3), (2, 2)]
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in head) == 4
    assert sum(isinstance(m, torch.nn.ReLU) for m in head) == 4
    x = torch.randn(5, 256, 48, 48)
    features = head(x)
    assert features.shape == (5, 128, 2, 2) and LandmarkHead.output_side(48) == 2
    predictor = LandmarkPredictor(128 * 2 * 2)
    assert predictor.fc2.out_features == 72
    out = predictor(features)
    assert out.shape == (5, 36, 2)
    assert predictor(head(torch.zeros(0, 256, 48, 48))).shape == (0, 36, 2)


def test_head_rejects_wrong_layer_count() -> None:
    with pytest.raises(ValueError, match="4 convolutions"):
        LandmarkHead(8, (4, 4, 4))


def test_normalisation_round_trip() -> None:
    boxes = torch.tensor([[10.0, 20.0, 30.0, 60.0]])
    points = torch.tensor([[[10.0, 20.0], [30.0, 60.0], [20.0, 40.0]]])
    norm = normalize_landmarks(points, boxes)
    torch.testing.assert_close(norm, torch.tensor([[[0.0, 0.0], [1.0, 1.0], [0.5, 0.5]]]))
    torch.testing.assert_close(denormalize_landmarks(norm, boxes), points)
    assert landmark_inference(norm, [boxes])[0].shape == (1, 3, 2)


def test_landmark_loss_equals_hand_computation() -> None:
    # Two points per face for a readable hand computation (the loss is generic in P).
    proposals = [torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 20.0, 10.0]])]
    gt = [torch.tensor([[[5.0, 5.0, 1.0], [10.0, 0.0, 1.0]]])]  # one face, both valid
    matched = [torch.tensor([0, 0])]
    predicted = torch.tensor([[[0.5, 0.5], [1.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]], requires_grad=True)
    # Proposal 1: targets (0.5, 0.5), (1, 0) -> exact -> 0.
    # Proposal 2: targets (0.25, 0.5), (0.5, 0) -> 0.0625 + 0.25 + 0.25 + 0 = 0.5625.
    loss = landmark_loss(predicted, proposals, gt, matched)
    assert loss.item() == pytest.approx((0.0 + 0.5625) / 2)
    loss.backward()
    assert predicted.grad is not None and predicted.grad[0].abs().sum() == 0


def test_landmark_loss_is_zero_without_faces() -> None:
    predicted = torch.zeros((0, 36, 2), requires_grad=True)
    loss = landmark_loss(predicted, [torch.zeros((0, 4))], [torch.zeros((0, 36, 3))], [torch.zeros(0, dtype=torch.int64)])
    assert loss.item() == 0.0
    loss.backward()  # still part of the graph
    # Faces without landmarks (valid flag 0) do not count either.
    predicted = torch.rand((2, 36, 2), requires_grad=True)
    gt = [torch.zeros((1, 36, 3))]
    loss = landmark_loss(predicted, [torch.tensor([[0.0, 0, 4, 4], [1.0, 1, 5, 5]])], gt, [torch.tensor([0, 0])])
    assert loss.item() == 0.0


def _toy_target(size: int = 128) -> dict:
    angle = np.linspace(0, 2 * np.pi, 36, endpoint=False)
    contour = np.stack([64 + 24 * np.sin(angle), 64 - 30 * np.cos(angle)], axis=1)
    mask = np.zeros((size, size), np.uint8)
    import cv2

    cv2.fillPoly(mask, [np.round(contour).astype(np.int32)], 1)
    eye = np.zeros_like(mask)
    eye[52:58, 70:80] = 1
    keypoints = np.zeros((2, 36, 3), np.float32)
    keypoints[0, :, :2] = contour
    keypoints[0, :, 2] = 1
    return {
        "boxes": torch.tensor([[40.0, 34.0, 88.0, 94.0], [70.0, 52.0, 80.0, 58.0]]),
        "labels": torch.tensor([FACE_LABEL, 4]),
        "masks": torch.from_numpy(np.stack([mask, eye])),
        "keypoints": torch.from_numpy(keypoints),
    }


def test_model_is_torchvision_maskrcnn_with_landmark_heads() -> None:
    from torchvision.models.detection import MaskRCNN
    from torchvision.models.detection.roi_heads import RoIHeads

    model = facepaint_maskrcnn(config=TINY)
    assert isinstance(model, MaskRCNN) and isinstance(model.roi_heads, LandmarkRoIHeads)
    assert isinstance(model.roi_heads, RoIHeads)
    assert model.roi_heads.landmark_roi_pool.output_size == (48, 48)
    assert model.roi_heads.box_predictor.cls_score.out_features == NUM_CLASSES == 8
    with pytest.raises(ValueError, match="backbone"):
        facepaint_maskrcnn(backbone="vgg")


def test_resnet50_fpn_backbone_as_in_the_paper() -> None:
    model = facepaint_maskrcnn(config=TINY, backbone="resnet50")
    assert hasattr(model.backbone.body, "layer4") and model.backbone.out_channels == 256
    assert model.roi_heads.landmark_roi_pool.featmap_names == ["0", "1", "2", "3"]
    assert model.facepaint_config.backbone == "resnet50"
    # No pretrained weights anywhere: batch norms are trainable (not frozen) for training from scratch.
    assert isinstance(model.backbone.body.bn1, torch.nn.BatchNorm2d)


def test_training_losses_and_eval_outputs() -> None:
    model = facepaint_maskrcnn(config=TINY)
    model.train()
    images = [torch.rand(3, 128, 128), torch.rand(3, 128, 128)]
    empty = {
        "boxes": torch.zeros((0, 4)),
        "labels": torch.zeros(0, dtype=torch.int64),
        "masks": torch.zeros((0, 128, 128), dtype=torch.uint8),
        "keypoints": torch.zeros((0, 36, 3)),
    }
    losses = model(images, [_toy_target(), empty])
    assert set(losses) == {"loss_classifier", "loss_box_reg", "loss_mask", "loss_landmark", "loss_objectness", "loss_rpn_box_reg"}
    assert losses["loss_landmark"].item() > 0  # the ground-truth box is always a face proposal
    total = total_loss(losses)
    assert total.item() == pytest.approx(sum(v.item() for v in losses.values()), rel=1e-5)
    total.backward()
    assert model.roi_heads.landmark_predictor.fc2.weight.grad is not None

    # An image with no face gives a zero landmark loss.
    losses = model([images[1]], [empty])
    assert losses["loss_landmark"].item() == 0.0

    model.eval()
    model.roi_heads.score_thresh = 0.0
    with torch.no_grad():
        out = model([torch.rand(3, 100, 140)])[0]
    n = out["boxes"].shape[0]
    assert out["keypoints"].shape == (n, 36, 2) and out["masks"].shape == (n, 1, 100, 140)
    faces = out["labels"] == FACE_LABEL
    assert torch.isfinite(out["keypoints"][faces]).all() and torch.isnan(out["keypoints"][~faces]).all()


def test_missing_torch_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import facepaint.face.maskrcnn as m\n"
        "from facepaint.errors import MissingDependencyError\n"
        "try:\n    m.create_face_model(weights='x.pt')\n"
        "except MissingDependencyError as e:\n    print(e); sys.exit(0 if 'facepaint[train]' in str(e) else 1)\n"
        "sys.exit(2)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
