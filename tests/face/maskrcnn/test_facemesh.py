"""The FaceMesh trunk ported from mediapipe's tflite file, the facemesh backbone, face crops at
native size and resuming a crop run where it stopped."""

from __future__ import annotations

from pathlib import Path

from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the Mask R-CNN tests need the 'train' extra (torch, torchvision)")
pytest.importorskip("torchvision", reason="the Mask R-CNN tests need the 'train' extra (torch, torchvision)")

import cv2  # noqa: E402

from facepaint.errors import InputError  # noqa: E402
from facepaint.face.maskrcnn.data import FaceCrops, collate  # noqa: E402
from facepaint.face.maskrcnn.facemesh import (  # noqa: E402
    MESH_INPUT,
    FaceMeshHeads,
    facemesh_backbone,
    facemesh_trunk,
    load_facemesh_heads,
    pad_same,
)
from facepaint.face.maskrcnn.labels import FACE_LABEL, label_of_feature  # noqa: E402
from facepaint.types import FeatureClass  # noqa: E402
from facepaint.face.maskrcnn.model import NativeSizeTransform, facemesh_cpu_config, facepaint_maskrcnn, total_loss  # noqa: E402
from facepaint.face.maskrcnn.pseudolabel import AnnotateConfig, annotate  # noqa: E402
from facepaint.face.maskrcnn.train import TrainConfig, load_checkpoint, load_model, train  # noqa: E402
from facepaint.io import read_image  # noqa: E402

TINY_HEADS = dict(landmark_channels=(8, 8, 8, 8), landmark_hidden=16, box_representation_size=32, mask_channels=8,
                  fpn_channels=16, rpn_batch_size_per_image=32, box_batch_size_per_image=32)


def test_pad_same_puts_the_odd_pixel_after() -> None:
    x = torch.ones(1, 1, 4, 4)
    padded = pad_same(x, 3, 2)  # TF: 2 outputs need 5 inputs: 0 before, 1 after
    assert padded.shape == (1, 1, 5, 5)
    assert padded[0, 0, :4, :4].eq(1).all() and padded[0, 0, 4].eq(0).all() and padded[0, 0, :, 4].eq(0).all()
    assert pad_same(torch.ones(1, 1, 5, 5), 3, 2).shape == (1, 1, 7, 7)  # odd side: 1 and 1
    assert pad_same(torch.ones(1, 1, 6, 6), 3, 1).shape == (1, 1, 8, 8)


def test_port_reproduces_the_tflite_mesh_on_a_real_face(media: Path, face_model) -> None:
    pytest.importorskip("tflite_runtime", reason="the port is checked against tflite-runtime")
    from facepaint.face._nets import _MESH_FILE, model_path
    from tflite_runtime.interpreter import Interpreter

    image = read_image(media / "photos" / "two_men.jpg")
    x0, y0, x1, y1 = face_model.detect(image)[0].box
    side = 1.5 * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    crop = image[int(cy - side / 2) : int(cy + side / 2), int(cx - side / 2) : int(cx + side / 2)]
    blob = (cv2.resize(crop, (MESH_INPUT, MESH_INPUT), interpolation=cv2.INTER_AREA) / np.float32(255.0))[None]
    blob = blob.astype(np.float32)
    interpreter = Interpreter(str(model_path(_MESH_FILE)), num_threads=1)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], blob)
    interpreter.invoke()
    expected = {o["name"]: interpreter.get_tensor(o["index"]).reshape(-1) for o in interpreter.get_output_details()}

    trunk = facemesh_trunk(pretrained=True).eval()
    heads = load_facemesh_heads(FaceMeshHeads()).eval()
    with torch.no_grad():
        mesh, presence = heads(trunk(torch.from_numpy(blob).permute(0, 3, 1, 2)))
    assert mesh.shape == (1, 1404) and presence.shape == (1,)
    assert np.abs(mesh.numpy()[0] - expected["conv2d_21"]).max() < 1e-3  # pixels of a 192-px crop
    assert abs(float(presence[0]) - float(expected["conv2d_31"][0])) < 1e-3
    assert float(presence[0]) > 5.0  # it is a face, confidently
    # A random trunk gives a different mesh: the weights, not the layout, carry the match.
    with torch.no_grad():
        random_mesh, _ = heads(facemesh_trunk(pretrained=False)(torch.from_numpy(blob).permute(0, 3, 1, 2)))
    assert np.abs(random_mesh.numpy()[0] - expected["conv2d_21"]).max() > 1.0


def test_backbone_gives_four_levels_and_a_pooled_one() -> None:
    backbone = facemesh_backbone(pretrained=False, out_channels=16)
    features = backbone(torch.rand(2, 3, 64, 96))
    assert list(features) == ["0", "1", "2", "3", "pool"]
    assert [tuple(f.shape) for f in features.values()] == [(2, 16, 16, 24), (2, 16, 8, 12), (2, 16, 4, 6), (2, 16, 2, 3), (2, 16, 1, 2)]
    with pytest.raises(ValueError, match="returned_stages"):
        facemesh_backbone(pretrained=False, returned_stages=("stage3",))


def test_native_size_transform_keeps_small_images_and_shrinks_large_ones() -> None:
    transform = NativeSizeTransform(64, 128, [0.0] * 3, [1.0] * 3)
    image = torch.rand(3, 60, 100)
    same, _ = transform.resize(image)
    assert same.shape == (3, 60, 100)
    target = {"boxes": torch.tensor([[10.0, 20.0, 50.0, 40.0]]), "masks": torch.ones(1, 100, 256, dtype=torch.uint8),
              "keypoints": torch.tensor([[[100.0, 50.0, 1.0]]])}
    small, moved = transform.resize(torch.rand(3, 100, 256), target)
    assert small.shape == (3, 50, 128) and moved["masks"].shape == (1, 50, 128)
    assert torch.allclose(moved["boxes"], torch.tensor([[5.0, 10.0, 25.0, 20.0]]))
    assert torch.allclose(moved["keypoints"][0, 0, :2], torch.tensor([50.0, 25.0]))


@pytest.fixture(scope="module")
def frames(media: Path, tmp_path_factory) -> Path:
    """Two pseudo-labelled frames of akiyo (~96-px face at 352x288) and a small-face copy."""
    out = tmp_path_factory.mktemp("pseudo_crops")
    annotate(media / "video" / "akiyo.mp4", out, AnnotateConfig(every=60, max_frames=2, small_faces=1.0, seed=2))
    return out


def test_face_crops_keep_native_size_and_whole_faces(frames: Path) -> None:
    crops = FaceCrops(frames, crop_px=128, max_face_px=160, seed=3)
    for index in range(len(crops)):
        annotation = crops.annotation(index)
        sample = crops[index]
        _, height, width = sample.image.shape
        assert height <= 128 and width <= 128
        faces = sample.target["labels"] == FACE_LABEL
        assert int(faces.sum()) >= 1
        boxes = sample.target["boxes"][faces]
        widths = boxes[:, 2] - boxes[:, 0]
        # akiyo's face is under 160 px: its crop keeps the frame's pixel size
        frame_widths = sorted(float(f.box[2] - f.box[0]) for f in annotation.faces)
        assert any(abs(float(w) - fw) < 1.5 for w in widths for fw in frame_widths)
        assert sample.target["masks"].shape[1:] == (height, width)
    shrunk = FaceCrops(frames, crop_px=64, max_face_px=40, min_shrunk_px=30, seed=0)
    sample = shrunk[0]
    face_boxes = sample.target["boxes"][sample.target["labels"] == FACE_LABEL]
    assert sample.image.shape[1:] == (64, 64) and float((face_boxes[:, 2] - face_boxes[:, 0]).max()) <= 40.5
    with pytest.raises(InputError, match="crop_px"):
        FaceCrops(frames, crop_px=16)


def test_face_crop_augmentation_mirrors_and_rescales_the_labels_with_the_pixels(frames: Path) -> None:
    plain = FaceCrops(frames, crop_px=128, seed=5)
    augmented = FaceCrops(frames, crop_px=128, seed=5, mirror=True, scale_jitter=0.5)
    widths, mirrored = [], 0
    for draw in range(12):
        sample = augmented[draw % len(augmented)]
        target = sample.target
        faces = target["labels"] == FACE_LABEL
        widths.append(float((target["boxes"][faces, 2] - target["boxes"][faces, 0]).max()))
        # The left eye is on the image's right of the right eye, mirrored or not: labels follow pixels.
        left, right = (target["labels"] == label_of_feature(f) for f in (FeatureClass.EYE_L, FeatureClass.EYE_R))
        if left.any() and right.any():
            x_left = float(target["boxes"][left][0, [0, 2]].mean())
            x_right = float(target["boxes"][right][0, [0, 2]].mean())
            assert x_left > x_right
        # A feature's box is its pixels' extent (pixel i spans i - 0.5 to i + 0.5).
        for box, mask in zip(target["boxes"][~faces], target["masks"][~faces]):
            ys, xs = np.nonzero(mask.numpy())
            np.testing.assert_allclose(box.numpy(), [xs.min() - 0.5, ys.min() - 0.5, xs.max() + 0.5, ys.max() + 0.5])
    # Mirroring alone: the first draw of a seed takes the same window as without it, so the crop is
    # that window or its mirror image, and the masks follow, left and right classes swapped.
    swap = {label_of_feature(a): label_of_feature(b) for a, b in ((FeatureClass.EYE_L, FeatureClass.EYE_R),
            (FeatureClass.EYE_R, FeatureClass.EYE_L), (FeatureClass.BROW_L, FeatureClass.BROW_R), (FeatureClass.BROW_R, FeatureClass.BROW_L))}
    for seed in range(8):
        same = FaceCrops(frames, crop_px=128, seed=seed)[0]
        maybe = FaceCrops(frames, crop_px=128, seed=seed, mirror=True)[0]
        flipped = not torch.equal(maybe.image, same.image)
        mirrored += int(flipped)
        expected = same.image.flip(-1) if flipped else same.image
        assert torch.equal(maybe.image, expected)
        for label, mask in zip(same.target["labels"].tolist(), same.target["masks"]):
            want = swap.get(label, label) if flipped else label
            pixels = mask.flip(-1) if flipped else mask
            found = maybe.target["masks"][maybe.target["labels"] == want]
            overlap = (found.bool() & pixels.bool()).sum(dim=(1, 2)).max() / pixels.bool().sum()
            assert overlap > 0.9  # polygons re-rasterised after mirroring: equal up to rounding
    assert 0 < mirrored < 8  # about half the crops flipped
    plain_width = float(max(f.box[2] - f.box[0] for f in plain.annotation(0).faces))
    assert max(widths) / min(widths) > 1.3 and min(widths) < plain_width < max(widths) * 1.01 + 1
    with pytest.raises(InputError, match="scale_jitter"):
        FaceCrops(frames, scale_jitter=-0.1)


def test_facemesh_model_trains_on_crops_and_resumes_where_it_stopped(frames: Path, tmp_path: Path) -> None:
    config = facemesh_cpu_config(pretrained_backbone=False, **TINY_HEADS)
    model = facepaint_maskrcnn(config=config)
    assert isinstance(model.transform, NativeSizeTransform) and model.transform.image_std == [1.0, 1.0, 1.0]
    images, targets = collate([FaceCrops(frames, crop_px=96)[i] for i in range(2)])
    model.train()
    assert torch.isfinite(total_loss(model(images, targets)))

    out = tmp_path / "crops.pt"
    train_config = TrainConfig(epochs=1, batch_size=1, crop_px=96, threads=1, device="cpu", max_minutes=1e-5, model=config)
    lines: list[str] = []
    first = train(frames, out, train_config, log=lines.append)
    saved = load_checkpoint(out)
    assert first.stopped_early and saved["step"] == 1 and saved["position"]["batch"] == 1 and saved["cpu_seconds"] > 0
    assert saved["model_config"]["native_size"] and saved["rng"]["loop"]["bit_generator"] == "PCG64"
    second = train(frames, out, train_config, log=lines.append)
    assert second.steps == 2 and any("batch 2/" in line for line in lines)
    model = load_model(out)
    with torch.inference_mode():
        output = model([torch.rand(3, 70, 90)])[0]
    assert output["keypoints"].shape[1:] == (36, 2)


def test_mask_detail_starts_as_the_model_it_extends_and_learns_from_the_pixels(frames: Path, tmp_path: Path) -> None:
    from facepaint.face.maskrcnn.backend import detections
    from facepaint.face.maskrcnn.detail import DetailMaskPredictor
    from facepaint.face.maskrcnn.train import export_weights

    config = facemesh_cpu_config(pretrained_backbone=False, **TINY_HEADS)
    plain = facepaint_maskrcnn(config=config).eval()
    plain.roi_heads.score_thresh = 0.0
    detailed = facepaint_maskrcnn(config=facemesh_cpu_config(pretrained_backbone=False, mask_detail=True, **TINY_HEADS)).eval()
    detailed.roi_heads.score_thresh = 0.0
    missing, unexpected = detailed.load_state_dict(plain.state_dict(), strict=False)
    assert {k.split(".")[2] for k in missing} == {"fuse", "pixel"} and all(k.startswith("roi_heads.mask_predictor.") for k in missing)
    assert not unexpected
    image = torch.rand(3, 64, 96)
    with torch.inference_mode():
        a, _ = detections(plain, image)
        b, _ = detections(detailed, image)
    assert a["masks"].shape[0] > 0
    torch.testing.assert_close(a["masks"], b["masks"])  # the fusion starts as the identity

    # The pixels reach the logits: the fusion's weights on them get a gradient from the mask loss.
    detailed.train()
    images, targets = collate([FaceCrops(frames, crop_px=96)[i] for i in range(2)])
    total_loss(detailed(images, targets)).backward()
    fuse = detailed.roi_heads.mask_predictor.fuse
    assert isinstance(detailed.roi_heads.mask_predictor, DetailMaskPredictor)
    assert float(fuse.weight.grad[:, -16:].abs().sum()) > 0

    # A run continued from plain weights with --mask-detail gains the pixel path, at 20 times the rate.
    plain_ckpt = tmp_path / "plain.pt"
    train_config = TrainConfig(epochs=1, batch_size=1, crop_px=96, threads=1, device="cpu", max_minutes=1e-5, model=config)
    train(frames, plain_ckpt, train_config, log=lambda line: None)
    weights = export_weights(plain_ckpt, tmp_path / "plain_weights.pt")
    lines: list[str] = []
    detail_config = replace(train_config, model=replace(config, mask_detail=True), init=str(weights))
    train(frames, tmp_path / "detail.pt", detail_config, log=lines.append)
    saved = load_checkpoint(tmp_path / "detail.pt")
    assert saved["model_config"]["mask_detail"] and "roi_heads.mask_predictor.fuse.weight" in saved["model"]
    assert [g["lr"] for g in saved["optimizer"]["param_groups"]] == pytest.approx([1e-4, 2e-3])
    assert load_model(tmp_path / "detail.pt").facepaint_config.mask_detail
