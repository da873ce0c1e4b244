"""Evaluate a trained extended Mask R-CNN on held-out videos against its teacher.

Usage (after ``facepaint annotate`` and ``facepaint train``)::

    /work/venv/bin/python benchmarks/maskrcnn_eval.py \
        --weights checkpoints/maskrcnn_mnv3.pt --data checkpoints/pseudo \
        --held-out akiyo carphone_qcif vtc1nw

or, in one command that makes the pseudo-labels, trains (resuming if the checkpoint exists) and
evaluates: ``/work/venv/bin/python benchmarks/maskrcnn_eval.py --train --minutes 50``.

Learning curves (landmark RMSE and detection rate against CPU hours of training, one curve per
start)::

    /work/venv/bin/python benchmarks/maskrcnn_eval.py --data DATA \
        --curve facemesh=RUNS/facemesh random=RUNS/random --max-images 45

evaluates every checkpoint under each folder (``*.pt``, recursively: the run's float16 snapshots
and any copies of its checkpoint) on the held-out real frames and writes
``benchmarks/results/maskrcnn_curve.{json,md}``. The CPU hours are the training process's CPU
time (``cpu_seconds`` in the checkpoint), not wall time, so runs sharing a loaded machine compare.

The ground truth is the teacher's pseudo-labels (facepaint's default mediapipe backend) on the
frames of videos left out of training, so the figures say how closely the student reproduces its
teacher on unseen videos, not how close either is to hand labels. Writes
``benchmarks/results/maskrcnn_eval.{json,md}`` and ``maskrcnn_examples.png`` (teacher in green,
student in red on a few held-out frames).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def hardware() -> str:
    import os

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs visible"


class CachedDetections:
    """Runs the model once per distinct image: the per-video and the overall figures share the
    detections (the timing is that of the first, real run)."""

    def __init__(self, model) -> None:
        self.model = model
        self._cache: dict[bytes, list] = {}
        self.times_ms: list[float] = []

    def detect(self, image: np.ndarray) -> list:
        import hashlib
        import time

        key = hashlib.sha1(image.tobytes()).digest()
        if key not in self._cache:
            tic = time.perf_counter()
            self._cache[key] = self.model.detect(image)
            self.times_ms.append((time.perf_counter() - tic) * 1000.0)
        return self._cache[key]


def teacher_timing(args: argparse.Namespace) -> float:
    """Median ms of the teacher's ``detect`` on the held-out real frames."""
    import statistics
    import time

    from facepaint.annotations import find_annotations, read_annotation
    from facepaint.face import create_face_model
    from facepaint.io import read_image

    teacher = create_face_model("mediapipe")
    times = []
    for file in find_annotations(args.data):
        if not any(v in str(file) for v in args.held_out) or "_small" in file.name:
            continue
        image = read_image(read_annotation(file).resolve_image())
        tic = time.perf_counter()
        teacher.detect(image)
        times.append((time.perf_counter() - tic) * 1000.0)
    return statistics.median(times) if times else float("nan")


def draw_examples(model, files: list[Path], out: Path) -> None:
    from facepaint.annotations import read_labelme
    from facepaint.io import read_image

    tiles = []
    for file in files:
        ann = read_labelme(file)
        image = read_image(ann.resolve_image())
        canvas = image.copy()
        for face in ann.faces:
            if face.contour is not None:
                cv2.polylines(canvas, [np.round(face.contour).astype(np.int32)], True, (0, 255, 0), 1)
            for poly in face.polygons.values():
                cv2.polylines(canvas, [np.round(poly).astype(np.int32)], True, (0, 160, 0), 1)
        for face in model.detect(image):
            cv2.polylines(canvas, [np.round(face.contour).astype(np.int32)], True, (255, 0, 0), 1)
            cv2.rectangle(canvas, tuple(int(v) for v in face.box[:2]), tuple(int(v) for v in face.box[2:]), (255, 80, 80), 1)
            for poly in face.feature_polygons.values():
                cv2.polylines(canvas, [np.round(poly).astype(np.int32)], True, (255, 0, 255), 1)
        scale = 240.0 / canvas.shape[0]
        tiles.append(cv2.resize(canvas, (round(canvas.shape[1] * scale), 240), interpolation=cv2.INTER_AREA))
    strip = np.concatenate(tiles, axis=1)
    cv2.imwrite(str(out), strip[..., ::-1])


def mean_face_reference(args: argparse.Namespace) -> dict:
    """Landmark RMSE (box-normalised, as the evaluation's) of the training set's mean contour
    placed in each held-out real frame's ground-truth face box: the error of knowing only where
    the face is. Returns ``{"mean", "median", "faces"}``."""
    import torch

    from facepaint.face.maskrcnn.data import AnnotatedFrames
    from facepaint.face.maskrcnn.evaluate import landmark_errors
    from facepaint.face.maskrcnn.heads import denormalize_landmarks

    mean = torch.from_numpy(AnnotatedFrames(args.data, exclude=tuple(args.held_out)).mean_contour()[None].astype(np.float64))
    held = AnnotatedFrames(args.data, include=tuple(args.held_out))
    errors = []
    for index, file in enumerate(held.files):
        if "_small" in file.name:
            continue
        for face in held.annotation(index).faces:
            if face.contour is not None:
                box = np.asarray(face.box, np.float64)
                placed = denormalize_landmarks(mean, torch.from_numpy(box[None]))[0].numpy()
                errors.append(landmark_errors(placed, face.contour, box)[0])
    return {"mean": float(np.mean(errors)), "median": float(np.median(errors)), "faces": len(errors)}


#: The data recipe, fixed so that runs compare: pseudo-labels of every video of
#: ../shared/media/video by the default mediapipe backend (one frame in 8, written at most 480 px
#: on the longer side, a small-face copy (14-40 px wide, pasted from the same video) for half of
#: them, seed 0; 630 frames, 623 faces, 279 copies), the videos akiyo, carphone_qcif and vtc1nw held out
#: (131 real frames + 60 copies), the rest (718 images) for training.
DATA_RECIPE = (
    "facepaint annotate ../shared/media/video DATA --every 8 --max-side 480 --small-faces 0.5 --seed 0; "
    "held out: akiyo, carphone_qcif, vtc1nw"
)
#: The training recipe of the CPU runs (``--start facemesh`` or ``random``).
TRAIN_RECIPE = (
    "facepaint train DATA --out RUN/ckpt.pt --backbone facemesh [--random-backbone] --crop-px 192 "
    "--batch-size 8 --lr 5e-4 --lr-halve-every 8 --threads 1 --device cpu --exclude akiyo "
    "--exclude carphone_qcif --exclude vtc1nw --snapshot-every 10 (under nice -n 19; rerun to resume)"
)
#: How the shipped checkpoint was trained: the recipe above, then continued (each step's
#: ``--init`` is the previous step's ``--export``, or its ``--out`` resumed), all under nice -n 19
#: with the recipe's data, held-out videos, crop size, batch and thread.
SHIPPED_LINEAGE = (
    "1. TRAIN_RECIPE, 24 epochs (2160 steps, 0.68 CPU h; sessions 12-13); "
    "2. the same run resumed to epoch 42 (3796 steps, 1.19 CPU h; session 16); "
    "3. `--init` its export `--mirror --scale-jitter 0.5 --lr 1e-4 --lr-halve-every 24` to epoch 57 "
    "(5130 steps, 1.61 CPU h; session 17); "
    "4. `--init` its export `--mask-detail --mirror --scale-jitter 0.5 --lr 1e-4 --lr-halve-every 40` "
    "(session 17; the pixel path at 20x the rate)"
)


def reproduce(args: argparse.Namespace) -> None:
    """The CPU recipe (:data:`DATA_RECIPE`, :data:`TRAIN_RECIPE`): make the pseudo-labels when
    ``--data`` is missing, then train ``--weights`` from ``--start`` (the face-trained FaceMesh
    trunk or random weights) on crops of 192 px around faces at native size, resuming when the
    checkpoint exists, for ``--minutes``. Adam at 5e-4 halved every 8 epochs instead of the
    paper's 1e-4 halved every 50: the paper fine-tunes for 100+ epochs on a GPU; a CPU run gets a
    few epochs a day. The earlier recipe (MobileNetV3-FPN from random weights on whole frames)
    is ``facepaint train DATA --backbone mobilenet_v3 --min-size 256 --max-size 384 --batch-size 4``."""
    from facepaint.face.maskrcnn.model import facemesh_cpu_config
    from facepaint.face.maskrcnn.pseudolabel import AnnotateConfig, annotate
    from facepaint.face.maskrcnn.train import TrainConfig, train

    data = Path(args.data)
    if not data.exists():
        media = ROOT.parent / "shared" / "media" / "video"
        annotate(media, data, AnnotateConfig(every=8, max_side=480, small_faces=0.5, seed=0), log=print)
    Path(args.weights).parent.mkdir(parents=True, exist_ok=True)
    config = TrainConfig(
        batch_size=8, lr=5e-4, lr_halve_every=8, threads=1, device="auto", max_minutes=args.minutes,
        exclude=tuple(args.held_out), crop_px=192, snapshot_every_cpu_minutes=10.0,
        model=facemesh_cpu_config(pretrained_backbone=args.start == "facemesh"),
    )
    train(data, args.weights, config, log=print)


def held_out_real_files(args: argparse.Namespace) -> list[Path]:
    """The held-out real frames (no small-face copies), ``--max-images`` of them evenly spaced."""
    from facepaint.annotations import find_annotations

    files = [f for f in find_annotations(args.data) if any(v in str(f) for v in args.held_out) and "_small" not in f.name]
    if args.max_images is not None and len(files) > args.max_images:
        files = [files[int(i)] for i in np.linspace(0, len(files) - 1, args.max_images).round()]
    return files


def oracle_box_rmse(weights: str | Path, args: argparse.Namespace) -> dict:
    """Landmark RMSE of the landmark branch alone: run on the ground-truth face boxes of the
    held-out real frames (no detection involved), box-normalised as the paper's. Early in
    training the detected-face RMSE is measured on the few faces found; this one on all.
    Returns ``{"mean", "median", "faces"}``."""
    import torch

    from facepaint.annotations import read_annotation
    from facepaint.face.maskrcnn.data import image_tensor
    from facepaint.face.maskrcnn.evaluate import landmark_errors
    from facepaint.face.maskrcnn.heads import denormalize_landmarks
    from facepaint.face.maskrcnn.train import load_model
    from facepaint.io import read_image

    model = load_model(weights)
    errors = []
    with torch.inference_mode():
        for file in held_out_real_files(args):
            annotation = read_annotation(file)
            faces = [f for f in annotation.faces if f.contour is not None]
            if not faces:
                continue
            image = read_image(annotation.resolve_image())
            batch, _ = model.transform([image_tensor(image)])
            (height, width) = batch.image_sizes[0]
            scale = torch.tensor([width / image.shape[1], height / image.shape[0]] * 2, dtype=torch.float32)
            boxes = torch.from_numpy(np.stack([np.asarray(f.box, np.float32) for f in faces])) * scale
            features = model.backbone(batch.tensors)
            normalized = model.roi_heads.landmarks(features, [boxes], batch.image_sizes)
            pixels = (denormalize_landmarks(normalized, boxes) / scale[:2]).numpy()
            for face, points in zip(faces, pixels):
                errors.append(landmark_errors(points, face.contour, np.asarray(face.box, np.float64))[0])
    return {"mean": float(np.mean(errors)), "median": float(np.median(errors)), "faces": len(errors)}


def learning_curve(args: argparse.Namespace) -> dict:
    """Evaluate every checkpoint of each ``LABEL=FOLDER`` of ``args.curve`` on the held-out real
    frames; write ``maskrcnn_curve.{json,md}``. Returns the payload."""
    from facepaint.face.maskrcnn.backend import BackendConfig, MaskRCNNFaceModel
    from facepaint.face.maskrcnn.evaluate import EvalConfig, evaluate_model
    from facepaint.face.maskrcnn.train import load_checkpoint

    backend = BackendConfig(face_threshold=args.face_threshold)
    config = EvalConfig(backend=backend, include=tuple(args.held_out), augmented=False, max_images=args.max_images)
    curves: dict[str, list[dict]] = {}
    seen_steps: dict[str, set] = {}
    for spec in args.curve:
        label, _, folder = spec.partition("=")
        if not folder:
            raise SystemExit(f"--curve takes LABEL=FOLDER; got {spec!r}")
        points = []
        for file in sorted(Path(folder).rglob("*.pt")):
            data = load_checkpoint(file)
            key = int(data.get("step", 0))
            if key in seen_steps.setdefault(label, set()):
                continue  # a copy of a checkpoint already measured
            seen_steps[label].add(key)
            report = evaluate_model(file, args.data, config, model=MaskRCNNFaceModel(file, device="cpu", config=backend))
            oracle = oracle_box_rmse(file, args)
            sizes = report.detection_rate_by_size
            detected_32_128 = sum(sizes[k][0] for k in sizes if k in ("32-64", "64-128"))
            total_32_128 = sum(sizes[k][1] for k in sizes if k in ("32-64", "64-128"))
            point = {
                "file": str(file),
                "step": key,
                "cpu_hours": round(float(data.get("cpu_seconds", 0.0)) / 3600.0, 4),
                "wall_hours": round(float(data.get("seconds", 0.0)) / 3600.0, 4),
                "landmark_rmse": report.landmark_rmse,
                "landmark_rmse_median": report.landmark_rmse_median,
                "oracle_box_rmse": oracle["mean"],
                "oracle_box_rmse_median": oracle["median"],
                "detected": report.detected_faces,
                "faces": report.gt_faces,
                "false_positives": report.false_positives,
                "detection_rate_32_128": detected_32_128 / total_32_128 if total_32_128 else float("nan"),
                "mask_iou": report.mask_iou,
                "images": report.images,
            }
            print(f"{label}: step {key} cpu_h {point['cpu_hours']:.3f} rmse {report.landmark_rmse:.4f} in true boxes {oracle['mean']:.4f} detected {report.detected_faces}/{report.gt_faces}", flush=True)
            points.append(point)
        curves[label] = sorted(points, key=lambda p: p["cpu_hours"])
    mean_face = mean_face_reference(args)
    payload = {"hardware": hardware(), "held_out": args.held_out, "max_images": args.max_images,
               "mean_face_in_gt_box_rmse": mean_face, "curves": curves}
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    (results / "maskrcnn_curve.json").write_text(json.dumps(payload, indent=1, default=str))
    lines = [
        "# Extended Mask R-CNN: learning curves on two shared CPU cores",
        "",
        f"Held-out real frames of {', '.join(args.held_out)} ({args.max_images or 'all'} images, evenly spaced); "
        "ground truth: the teacher's pseudo-labels. CPU hours: CPU time of the training process "
        "(one torch thread, `nice -n 19` beside other work), not wall time. RMSE is box-normalised, "
        "over the detected faces only: read it with the detection rate; \"in true boxes\" is the landmark "
        "branch alone, run on every ground-truth face box. Reference: the mean contour in the "
        f"true box gives {mean_face['mean']:.4f}; the paper's target is < 0.08. Written by "
        "`benchmarks/maskrcnn_eval.py --curve`.",
        "",
        f"Data: `{DATA_RECIPE}`. Training: `{TRAIN_RECIPE}`.",
        "",
        "| start | step | CPU h | wall h | RMSE mean / median | RMSE in true boxes mean / median | detected (IoU 0.5) | rate 32-128 px | false pos. | mask IoU eyes / brows / nose / mouth |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, points in curves.items():
        for p in points:
            m = p["mask_iou"]
            eyes = (m.get("eye_l", float("nan")) + m.get("eye_r", float("nan"))) / 2
            brows = (m.get("brow_l", float("nan")) + m.get("brow_r", float("nan"))) / 2
            lines.append(
                f"| {label} | {p['step']} | {p['cpu_hours']:.3f} | {p['wall_hours']:.3f} | {p['landmark_rmse']:.4f} / {p['landmark_rmse_median']:.4f} | "
                f"{p['oracle_box_rmse']:.4f} / {p['oracle_box_rmse_median']:.4f} | "
                f"{p['detected']}/{p['faces']} | {p['detection_rate_32_128']:.2f} | {p['false_positives']} | "
                f"{eyes:.2f} / {brows:.2f} / {m.get('nose', float('nan')):.2f} / {m.get('mouth', float('nan')):.2f} |"
            )
    (results / "maskrcnn_curve.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {results / 'maskrcnn_curve.md'} and .json")
    return payload


def _jaw_to_contour(contour: np.ndarray, truth: np.ndarray) -> float:
    """Box-normalised RMS distance of the 300-W jaw points (iBUG 0-16) to the closed 36-point
    contour polyline, in the 68 points' box (``(x - x0) / w, (y - y0) / h``). The 36-point
    contour runs over the forehead above the brows, so only the jaw lies on it."""
    x0, y0 = truth.min(0)
    size = np.maximum(np.ptp(truth, axis=0), 1.0)
    a = (np.asarray(contour, np.float64) - (x0, y0)) / size
    b = np.roll(a, -1, axis=0)
    jaw = (truth[:17] - (x0, y0)) / size
    seg = b - a
    t = np.clip(np.einsum("psk,sk->ps", jaw[:, None, :] - a[None], seg) / np.maximum((seg**2).sum(1), 1e-12), 0.0, 1.0)
    nearest = a[None] + t[..., None] * seg[None]
    d = np.sqrt(((jaw[:, None, :] - nearest) ** 2).sum(-1)).min(axis=1)
    return float(np.sqrt(np.mean(d**2)))


def part_300w(args: argparse.Namespace) -> dict:
    """Figure 2 of issue 19: the 36-point contours of the student (``--weights``) and of its
    teacher (the default mediapipe backend) against the hand-labelled 300-W faces of
    ``../shared/media/landmarks/300w`` (:func:`_jaw_to_contour`); a face is found when a
    detection's box centre lies within half the truth's jaw width of the truth's centre."""
    from facepaint.face import create_face_model
    from facepaint.face.maskrcnn.backend import BackendConfig, MaskRCNNFaceModel
    from facepaint.io import read_image
    from facepaint.annotations import read_pts

    folder = ROOT.parent / "shared" / "media" / "landmarks" / "300w"
    models = {"student": MaskRCNNFaceModel(args.weights, device="cpu", config=BackendConfig(face_threshold=args.face_threshold)),
              "teacher": create_face_model("mediapipe")}
    rows: dict[str, dict] = {}
    for pts in sorted(folder.glob("*.pts")):
        image = read_image(pts.with_suffix(".jpg"))
        truth = read_pts(pts).astype(np.float64)
        centre, width = truth.mean(0), np.ptp(truth[:17, 0])
        rows[pts.stem] = {"width_px": float(width)}
        for name, model in models.items():
            faces = model.detect(image)
            best = min(faces, key=lambda f: np.linalg.norm(f.contour.mean(0) - centre), default=None)
            if best is None or np.linalg.norm(best.contour.mean(0) - centre) > 0.5 * width:
                rows[pts.stem][name] = None
            else:
                rows[pts.stem][name] = _jaw_to_contour(best.contour, truth)
    summary = {}
    for name in models:
        values = [r[name] for r in rows.values() if r[name] is not None]
        summary[name] = {"found": len(values), "faces": len(rows),
                         "rmse_mean": float(np.mean(values)) if values else None,
                         "rmse_median": float(np.median(values)) if values else None}
    payload = {"weights": args.weights, "summary": summary, "faces": rows}
    out = Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    (out / "maskrcnn_300w.json").write_text(json.dumps(payload, indent=1))
    lines = ["# The 36-point contour on 300-W (hand labels)", "",
             f"`python benchmarks/maskrcnn_eval.py --part 300w --weights {args.weights}`: the 11 faces of "
             "`../shared/media/landmarks/300w` (108-265 px). Per face: RMS distance of the 17 jaw points (iBUG 0-16) to the "
             "closed 36-point contour, box-normalised in the 68 points' box (the contour runs above the brows, so the jaw "
             "is the part of the 300-W outline it can be held to).", "",
             "| model | found | jaw-to-contour RMSE mean / median |", "|---|---|---|"]
    for name, v in summary.items():
        lines.append(f"| {name} | {v['found']}/{v['faces']} | "
                     + (f"{v['rmse_mean']:.4f} / {v['rmse_median']:.4f} |" if v["found"] else "- |"))
    (out / "maskrcnn_300w.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return payload


def part_labels(args: argparse.Namespace) -> dict:
    """How precise the feature masks can be: per class, on the held-out real frames, the teacher's
    labels against themselves shifted down by one pixel; the teacher rerun on the frame shifted by
    half a pixel and on it scaled by 1.1, mapped back; and ``--weights`` on every 4th real frame of
    the training videos (how well it fits what it learnt from) next to the held-out ones. Writes
    ``maskrcnn_labels.{json,md}``."""
    import dataclasses

    import cv2

    from facepaint.annotations import annotation_of_faces, find_annotations, rasterize, read_annotation, transform_face
    from facepaint.face import create_face_model
    from facepaint.face.maskrcnn.backend import BackendConfig, MaskRCNNFaceModel
    from facepaint.face.maskrcnn.evaluate import EvalConfig, evaluate_model
    from facepaint.io import read_image
    from facepaint.types import FeatureClass

    names = [f.name.lower() for f in FeatureClass]
    sums = {key: {n: [0, 0] for n in names} for key in ("one pixel down", "teacher, half-pixel shift", "teacher, scaled 1.1")}

    def add(key: str, a: np.ndarray, b: np.ndarray, name: str) -> None:
        sums[key][name][0] += int(np.count_nonzero(a & b))
        sums[key][name][1] += int(np.count_nonzero(a | b))

    teacher = create_face_model("mediapipe")
    for file in held_out_real_files(args):
        annotation = read_annotation(file)
        image = read_image(annotation.resolve_image())
        reruns = {}
        for key, (d, scale) in {"teacher, half-pixel shift": (0.5, 1.0), "teacher, scaled 1.1": (0.0, 1.1)}.items():
            matrix = np.float32([[scale, 0, d], [0, scale, d]])
            size = (int(image.shape[1] * scale + 1), int(image.shape[0] * scale + 1))
            teacher.reset()
            found = annotation_of_faces(teacher.detect(cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR)), "x.png", size[1], size[0])
            back = tuple(transform_face(f, 1.0 / scale, (-d / scale, -d / scale)) for f in found.faces)
            reruns[key] = dataclasses.replace(annotation, faces=back)
        for g, face in enumerate(annotation.faces):
            _, labels = rasterize(annotation, g)
            centre = (face.box[0] + face.box[2]) / 2
            for feature, name in zip(FeatureClass, names):
                if feature not in face.polygons:
                    continue
                mask = labels == int(feature)
                add("one pixel down", mask, np.roll(mask, 1, axis=0), name)
            for key, rerun in reruns.items():
                match = [k for k, f in enumerate(rerun.faces) if f.box[0] < centre < f.box[2]]
                if not match:
                    continue
                _, other = rasterize(rerun, match[0])
                for feature, name in zip(FeatureClass, names):
                    if feature in face.polygons:
                        add(key, labels == int(feature), other == int(feature), name)
    rows = {key: {n: (i / u if u else float("nan")) for n, (i, u) in v.items()} for key, v in sums.items()}
    backend = BackendConfig(face_threshold=args.face_threshold)
    model = MaskRCNNFaceModel(args.weights, device="cpu", config=backend)
    training_videos = sorted({p.parent.name for p in find_annotations(args.data)} - set(args.held_out))
    fitted = evaluate_model(args.weights, args.data, EvalConfig(backend=backend, include=tuple(training_videos), augmented=False,
                                                                max_images=None), model=model)
    held = evaluate_model(args.weights, args.data, EvalConfig(backend=backend, include=tuple(args.held_out), augmented=False), model=model)
    rows["model on training frames"] = {n: fitted.mask_iou[n] for n in names}
    rows["model on held-out frames"] = {n: held.mask_iou[n] for n in names}
    payload = {"weights": args.weights, "held_out": args.held_out, "training_images": fitted.images, "iou": rows}
    out = Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    (out / "maskrcnn_labels.json").write_text(json.dumps(payload, indent=1))
    lines = [
        "# How precise can the feature masks be?",
        "",
        f"`python benchmarks/maskrcnn_eval.py --part labels --weights {args.weights}`: feature-mask IoU per class. "
        f"The first three rows compare the teacher's labels of the held-out real frames ({', '.join(args.held_out)}) "
        "with themselves moved by one pixel, and with the teacher rerun on the frame shifted by half a pixel or "
        f"scaled by 1.1 (mapped back); the last two are the model on the real frames of its training videos "
        f"({fitted.images} images) and on the held-out ones.",
        "",
        "| | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for key, values in rows.items():
        lines.append(f"| {key} | " + " | ".join(f"{values[n]:.3f}" for n in names) + " |")
    (out / "maskrcnn_labels.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return payload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default="checkpoints/maskrcnn_mnv3.pt")
    parser.add_argument("--data", default="checkpoints/pseudo")
    parser.add_argument("--held-out", nargs="+", default=["akiyo", "carphone_qcif", "vtc1nw"])
    parser.add_argument("--max-images", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--face-threshold", type=float, default=0.5)
    parser.add_argument("--train", action="store_true", help="First make the pseudo-labels (if --data is missing) and train --weights (resumes it if present).")
    parser.add_argument("--minutes", type=float, default=95.0, help="Training time budget of --train.")
    parser.add_argument("--start", choices=["facemesh", "random"], default="facemesh", help="--train: the trunk's start.")
    parser.add_argument("--curve", nargs="+", default=None, metavar="LABEL=FOLDER",
                        help="Learning curves: evaluate every checkpoint under each FOLDER (see the module docstring) and stop.")
    parser.add_argument("--results", default=str(RESULTS), help="--curve, --part 300w: folder of the results.")
    parser.add_argument("--part", choices=["held-out", "300w", "labels"], default="held-out",
                        help="300w: the contours of --weights and of the teacher against the 300-W hand labels; labels: how "
                             "precise the feature masks can be (the teacher against itself, the model on its training frames); then stop.")
    args = parser.parse_args(argv)

    import torch

    if args.curve:
        torch.set_num_threads(args.threads)
        learning_curve(args)
        return 0
    if args.part == "300w":
        torch.set_num_threads(args.threads)
        part_300w(args)
        return 0
    if args.part == "labels":
        torch.set_num_threads(args.threads)
        part_labels(args)
        return 0

    if args.train:
        reproduce(args)

    from facepaint.face.maskrcnn.backend import BackendConfig, MaskRCNNFaceModel
    from facepaint.face.maskrcnn.evaluate import EvalConfig, evaluate_model
    from facepaint.face.maskrcnn.train import load_checkpoint

    torch.set_num_threads(args.threads)
    checkpoint = load_checkpoint(args.weights)
    backend = BackendConfig(face_threshold=args.face_threshold)
    network = MaskRCNNFaceModel(args.weights, device="cpu", config=backend)
    model = CachedDetections(network)
    RESULTS.mkdir(parents=True, exist_ok=True)
    per_video = {}
    for video in args.held_out:
        config = EvalConfig(backend=backend, include=(video,), augmented=False, max_images=args.max_images)
        report = evaluate_model(args.weights, args.data, config, model=model)
        per_video[video] = report
        print(f"\n## {video}\n{report.markdown()}")
    import dataclasses
    import statistics

    real_times = list(model.times_ms)
    config = EvalConfig(backend=backend, include=tuple(args.held_out), augmented=False, max_images=args.max_images)
    overall = evaluate_model(args.weights, args.data, config, model=model)
    # The overall pass reuses the per-video detections: report their real timing.
    overall = dataclasses.replace(overall, ms_per_frame=statistics.median(real_times) if real_times else float("nan"))
    print(f"\n## all held-out videos (real frames)\n{overall.markdown()}")
    config = EvalConfig(backend=backend, include=tuple(args.held_out), augmented=True, max_images=args.max_images)
    small = evaluate_model(args.weights, args.data, config, model=model)
    print(f"\n## held-out small-face copies\n{small.markdown()}")

    mean_face = mean_face_reference(args)
    print(f"mean training contour placed in the ground-truth boxes: RMSE {mean_face['mean']:.4f} / {mean_face['median']:.4f}")

    ms_per_frame = statistics.median(model.times_ms) if model.times_ms else float("nan")
    print(f"\nmedian ms per frame over {len(model.times_ms)} frames: {ms_per_frame:.1f}")
    teacher_ms = teacher_timing(args)
    print(f"teacher (default mediapipe backend) median ms per frame on the same real frames: {teacher_ms:.1f}")
    weights_mb = Path(args.weights).stat().st_size / 1e6
    training = {
        "backbone": checkpoint["model_config"]["backbone"],
        "epochs": checkpoint.get("epoch"),
        "steps": checkpoint.get("step"),
        "train_minutes": round(float(checkpoint.get("seconds", 0.0)) / 60.0, 1),
        "train_config": checkpoint.get("train_config"),
        "final_epoch_losses": (checkpoint.get("history") or [None])[-1],
        "weights_file_mb": round(weights_mb, 1),
    }
    payload = {
        "hardware": hardware(),
        "torch": torch.__version__,
        "threads": args.threads,
        "ms_per_frame_median": ms_per_frame,
        "teacher_ms_per_frame_median": teacher_ms,
        "weights": args.weights,
        "held_out": args.held_out,
        "training": training,
        "mean_face_in_gt_box_rmse": mean_face,
        "overall": overall.to_dict(),
        "small_face_copies": small.to_dict(),
        "per_video": {k: v.to_dict() for k, v in per_video.items()},
    }
    (RESULTS / "maskrcnn_eval.json").write_text(json.dumps(payload, indent=1, default=str))
    lines = [
        "# Extended Mask R-CNN vs its teacher on held-out videos",
        "",
        f"Weights `{args.weights}` ({training['backbone']}, {training['epochs']} epochs, {training['steps']} steps, "
        f"{training['train_minutes']} min of training on {payload['hardware']}); ground truth: the teacher's "
        f"pseudo-labels of {', '.join(args.held_out)} (videos never seen in training). "
        "Reproduce: `.venv/bin/python benchmarks/maskrcnn_eval.py` (add `--train --minutes 95` to redo "
        f"the pseudo-labels and the training). Median ms per frame over all {len(model.times_ms)} distinct frames: "
        f"{ms_per_frame:.0f} ms ({args.threads} CPU thread(s), shared and loaded machine); the teacher's "
        f"`detect` on the same real frames: {teacher_ms:.0f} ms.",
        "",
        f"Training: {training['train_config']}.",
        "",
        f"The shipped checkpoint's runs: {SHIPPED_LINEAGE}.",
        "",
        f"Decoding: face score >= {backend.face_threshold}, feature score >= {backend.feature_threshold} (each face keeps "
        f"its best detection of each class), mask probability >= {backend.mask_threshold}.",
        "",
        "Reference: the mean contour of the training faces placed in each held-out ground-truth box (no",
        f"network at all) has a landmark RMSE of {mean_face['mean']:.4f} mean / {mean_face['median']:.4f} median;",
        "a model that does not beat it has not learnt landmarks.",
        "",
        "## All held-out videos (real frames)",
        "",
        overall.markdown(),
        "",
        "## Small-face copies of held-out frames (a held-out face pasted at 14-40 px wide)",
        "",
        small.markdown(),
    ]
    for video, report in per_video.items():
        lines += ["", f"## {video}", "", report.markdown()]
    (RESULTS / "maskrcnn_eval.md").write_text("\n".join(lines) + "\n")

    from facepaint.annotations import find_annotations

    examples = []
    for video in args.held_out:
        files = [f for f in find_annotations(args.data) if video in str(f) and "_small" not in f.name]
        examples += files[len(files) // 2 : len(files) // 2 + 1]
        small = [f for f in find_annotations(args.data) if video in str(f) and "_small" in f.name]
        examples += small[:1]
    draw_examples(model, examples, RESULTS / "maskrcnn_examples.png")
    print(f"\nwrote {RESULTS / 'maskrcnn_eval.md'}, .json and maskrcnn_examples.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
