"""Training on real pseudo-labelled frames, checkpoints, the backend and the CLI commands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the Mask R-CNN tests need the 'train' extra (torch, torchvision)")
pytest.importorskip("torchvision", reason="the Mask R-CNN tests need the 'train' extra (torch, torchvision)")

from facepaint.annotations import read_labelme  # noqa: E402
from facepaint.errors import InputError  # noqa: E402
from facepaint.face.maskrcnn.data import AnnotatedFrames, collate, target_of_annotation  # noqa: E402
from facepaint.face.maskrcnn.labels import FACE_LABEL  # noqa: E402
from facepaint.face.maskrcnn.model import ModelConfig, facepaint_maskrcnn, total_loss  # noqa: E402
from facepaint.face.maskrcnn.pseudolabel import AnnotateConfig, annotate  # noqa: E402
from facepaint.types import Face  # noqa: E402

TINY = ModelConfig(min_size=96, max_size=128, landmark_channels=(16, 16, 16, 16), landmark_hidden=32,
                   box_representation_size=64, mask_channels=16, rpn_batch_size_per_image=64,
                   box_batch_size_per_image=64)


@pytest.fixture(scope="module")
def frames(media: Path, tmp_path_factory) -> Path:
    """Three pseudo-labelled frames of akiyo (and one small-face copy), made by the teacher."""
    out = tmp_path_factory.mktemp("pseudo")
    result = annotate(
        media / "video" / "akiyo.mp4",
        out,
        AnnotateConfig(every=40, max_frames=3, small_faces=1.0, max_side=240, seed=1),
    )
    assert result.frames == 3 and result.faces >= 3 and result.augmented >= 1
    return out


def test_annotate_writes_pseudo_labels(frames: Path) -> None:
    files = sorted(frames.rglob("*.json"))
    plain = [read_labelme(f) for f in files if "_small" not in f.name]
    small = [read_labelme(f) for f in files if "_small" in f.name]
    assert all(a.pseudo_label and a.teacher for a in plain + small)
    assert all(a.faces[0].contour is not None and len(a.faces[0].polygons) == 6 for a in plain)
    assert all(a.augmentation == "small_face_paste" for a in small)
    pasted = small[0].faces[-1]
    assert pasted.box[2] - pasted.box[0] <= 40.5  # the pasted face is small
    assert max(plain[0].height, plain[0].width) == 240
    for ann in plain + small:
        assert ann.resolve_image().is_file()


def test_targets_from_annotations(frames: Path) -> None:
    ann = read_labelme(sorted(frames.rglob("*_small.json"))[0])
    target = target_of_annotation(ann)
    k = target["boxes"].shape[0]
    assert target["labels"].dtype == torch.int64 and (target["labels"] == FACE_LABEL).sum() == 2
    assert target["masks"].shape == (k, ann.height, ann.width) and target["keypoints"].shape == (k, 36, 3)
    assert target["boxes"].dtype == torch.float32
    faces = target["labels"] == FACE_LABEL
    assert (target["keypoints"][faces][..., 2] == 1).all() and (target["keypoints"][~faces][..., 2] == 0).all()
    half = target_of_annotation(ann, 0.5)
    assert half["masks"].shape[1:] == (round(ann.height * 0.5), round(ann.width * 0.5))


def test_mean_contour_is_the_box_normalised_mean_and_primes_the_branch(frames: Path) -> None:
    dataset = AnnotatedFrames(frames)
    shapes = []
    for i in range(len(dataset)):
        for face in dataset.annotation(i).faces:
            box = np.asarray(face.box, np.float64)
            shapes.append((np.asarray(face.contour, np.float64) - box[:2]) / (box[2:] - box[:2]))
    mean = dataset.mean_contour()
    assert mean.shape == (36, 2) and mean.dtype == np.float32
    np.testing.assert_allclose(mean, np.mean(shapes, axis=0), atol=1e-6)
    assert 0.0 <= mean.min() and mean.max() <= 1.0  # a contour inside its face box
    model = facepaint_maskrcnn(config=TINY)
    predictor = model.roi_heads.landmark_predictor
    predictor.set_prior(torch.from_numpy(mean))
    with torch.no_grad():
        out = predictor(torch.zeros(2, predictor.fc1.in_features))
    # Zero features: the output is the bias, the mean face (the first layer's bias passes
    # through the small second-layer weights).
    np.testing.assert_allclose(out[0].numpy(), mean, atol=0.05)
    with pytest.raises(ValueError, match="mean_shape"):
        predictor.set_prior(torch.zeros(35, 2))


def test_tiny_model_lowers_its_loss_on_real_frames(frames: Path) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    dataset = AnnotatedFrames(frames, max_side=160)
    images, targets = collate([dataset[i] for i in range(2)])
    model = facepaint_maskrcnn(config=TINY)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    history = []
    for _ in range(8):
        losses = model(images, targets)
        loss = total_loss(losses)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append({k: float(v.detach()) for k, v in losses.items()} | {"total": float(loss.detach())})
    first = np.mean([h["total"] for h in history[:2]])
    last = np.mean([h["total"] for h in history[-2:]])
    assert last < 0.8 * first, [round(h["total"], 3) for h in history]
    assert np.mean([h["loss_landmark"] for h in history[-2:]]) < np.mean([h["loss_landmark"] for h in history[:2]])


def test_train_checkpoint_resume_backend_and_cli(frames: Path, tmp_path: Path) -> None:
    from facepaint.face import create_face_model
    from facepaint.face.maskrcnn.train import TrainConfig, export_weights, load_checkpoint, train

    ckpt = tmp_path / "model.pt"
    config = TrainConfig(epochs=1, batch_size=2, threads=1, device="cpu", max_side=160, model=TINY)
    first = train(frames, ckpt, config, log=lambda line: None)
    per_epoch = -(-len(AnnotatedFrames(frames)) // 2)
    assert first.epochs == 1 and first.steps == per_epoch and ckpt.is_file()
    lines: list[str] = []
    second = train(frames, ckpt, TrainConfig(**{**config.__dict__, "epochs": 2}), log=lines.append)
    assert second.epochs == 2 and second.steps == 2 * per_epoch and lines[0].startswith("resumed")
    assert len(load_checkpoint(ckpt)["history"]) == 2

    slim = export_weights(ckpt, tmp_path / "slim.pt")
    assert slim.stat().st_size < ckpt.stat().st_size
    model = create_face_model("maskrcnn", weights=str(slim), device="cpu", face_threshold=0.0)
    image = np.asarray(__import__("facepaint.io", fromlist=["read_image"]).read_image(
        sorted(frames.rglob("*.png"))[0]))
    faces = model.detect(image)
    for face in faces:  # an untrained model finds anything or nothing; the types must hold
        assert isinstance(face, Face) and face.contour.shape == (36, 2) and face.contour.dtype == np.float32
        assert face.feature_mask.dtype == np.uint8 and face.box.dtype == np.float32
    tracked = model.process(image)
    again = model.process(image)
    assert [f.track_id for f in again] == [f.track_id for f in tracked]
    model.reset()
    with pytest.raises(InputError, match="uint8 RGB"):
        model.detect(np.zeros((10, 10), np.float32))
    from facepaint.face.maskrcnn import backend

    shipped = create_face_model("maskrcnn", device="cpu")  # without weights: the shipped checkpoint
    assert Path(shipped.weights_path) == backend.BUNDLED_WEIGHTS and backend.BUNDLED_WEIGHTS.stat().st_size < 15e6
    assert any(f.contour.shape == (36, 2) for f in shipped.detect(image))  # a trained model finds akiyo's face
    # In a video its tracked contours are smoothed and double as the mesh face strokes ride.
    first, second = shipped.process(image), shipped.process(image)
    assert first and [f.track_id for f in second] == [f.track_id for f in first]
    for face in second:
        assert face.mesh is not None and np.array_equal(face.mesh, face.contour) and face.mesh.dtype == np.float32
    original = backend.BUNDLED_WEIGHTS
    backend.BUNDLED_WEIGHTS = tmp_path / "missing.pt"
    try:
        with pytest.raises(InputError, match="--weights"):
            create_face_model("maskrcnn")
    finally:
        backend.BUNDLED_WEIGHTS = original
    with pytest.raises(InputError, match="not a facepaint"):
        bad = tmp_path / "bad.pt"
        bad.write_bytes(b"junk")
        create_face_model("maskrcnn", weights=str(bad))

    from facepaint.cli import main

    code = main(["evaluate-model", str(slim), str(frames), "--device", "cpu", "--max-images", "2", "--frames", "real",
                 "--json", str(tmp_path / "eval.json")])
    assert code == 0 and (tmp_path / "eval.json").is_file()
    assert main(["train", str(tmp_path / "nothing"), "--out", str(tmp_path / "x.pt")]) == 2


def test_a_run_continues_from_its_exported_weights(frames: Path, tmp_path: Path) -> None:
    """The float16 export kept between sessions carries the model and the counts on: the run
    continued from it starts at its weights, epoch and schedule, with a new optimizer."""
    from facepaint.face.maskrcnn.train import TrainConfig, export_weights, load_checkpoint, train

    config = TrainConfig(epochs=1, batch_size=2, threads=1, device="cpu", max_side=160, model=TINY, lr_halve_every=1)
    first = train(frames, tmp_path / "a.pt", config, log=lambda line: None)
    slim = export_weights(first.checkpoint, tmp_path / "slim.pt")
    lines: list[str] = []
    continued = train(frames, tmp_path / "b.pt", TrainConfig(**{**config.__dict__, "epochs": 2, "init": str(slim), "max_minutes": 1e-6}),
                      log=lines.append)
    assert lines[0].startswith("continued from the weights") and continued.steps == first.steps + 1
    state = load_checkpoint(tmp_path / "b.pt")
    assert state["epoch"] == 1 and state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(config.lr / 2)
    with pytest.raises(InputError, match="training checkpoint"):
        train(frames, tmp_path / "c.pt", TrainConfig(**{**config.__dict__, "init": str(first.checkpoint)}), log=lambda line: None)


def test_shipped_model_finds_a_small_face_and_its_features_in_a_720p_frame(media: Path) -> None:
    import cv2

    from facepaint.face import create_face_model
    from facepaint.io import open_video
    from facepaint.types import FeatureClass

    akiyo = next(iter(open_video(media / "video" / "akiyo.mp4", max_frames=1))).image
    small = cv2.resize(akiyo, None, fx=0.35, fy=0.35, interpolation=cv2.INTER_AREA)  # a face about 25 px wide
    frame = np.full((720, 1280, 3), 128, np.uint8)
    frame[300 : 300 + small.shape[0], 600 : 600 + small.shape[1]] = small
    faces = create_face_model("maskrcnn", device="cpu").detect(frame)
    assert len(faces) == 1
    x0, y0, x1, y1 = faces[0].box
    assert 600 <= x0 < x1 <= 600 + small.shape[1] and 300 <= y0 < y1 <= 300 + small.shape[0] and x1 - x0 < 40
    assert {FeatureClass.EYE_L, FeatureClass.EYE_R, FeatureClass.MOUTH} <= set(faces[0].feature_polygons)
    # Trained at native pixel size, it runs at native size: shrunk to its crops' 480 px, the face is 9 px.
    assert create_face_model("maskrcnn", device="cpu", max_side=480).detect(frame) == []
