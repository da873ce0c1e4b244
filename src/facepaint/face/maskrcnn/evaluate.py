"""Evaluation of a trained extended Mask R-CNN against annotations (torch).

Figures, on every annotated image under a folder (for held-out videos: the frames of videos
left out of training):

* **landmark RMSE** in box-normalised coordinates, the paper's figure (it reports < 0.08): for
  each detected ground-truth face with a contour, both contours are expressed in the
  ground-truth box (``(x - x0) / w, (y - y0) / h``) and ``sqrt(mean_p |p_pred - p_gt|^2)`` over
  the 36 points; the mean over faces is reported;
* **NME**: ``mean_p |p_pred - p_gt| / sqrt(w * h)`` in pixels, the ground-truth box's
  geometric-mean side as the normaliser; mean over faces;
* **mask IoU per class**: over the detected faces, pixels of each feature class in the predicted
  feature mask vs the ground-truth polygons (intersection and union summed over faces); ``face``
  compares the insides of the predicted and ground-truth contours;
* **detection rate by face size**: fraction of ground-truth faces matched by a prediction with
  box IoU >= ``match_iou``, binned by ground-truth face width in pixels; false positives are
  predictions matched to nothing;
* **ms per frame**: median wall time of ``detect`` per image.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from facepaint.annotations import ImageAnnotation, find_annotations, rasterize, read_annotation
from facepaint.face.maskrcnn.backend import BackendConfig, MaskRCNNFaceModel, box_iou
from facepaint.io import read_image
from facepaint.types import FEATURE_NAMES, Face, FeatureClass

#: Upper edges of the face-width bins, pixels (the last bin is open).
SIZE_BINS: tuple[int, ...] = (32, 64, 128)


@dataclass(frozen=True)
class EvalConfig:
    match_iou: float = 0.5
    backend: BackendConfig = field(default_factory=BackendConfig)
    max_images: int | None = None
    exclude: tuple[str, ...] = ()
    include: tuple[str, ...] | None = None
    #: None: every image; False: only real frames; True: only augmented ones (small-face copies)
    augmented: bool | None = None


@dataclass(frozen=True)
class EvalReport:
    """Figures of :func:`evaluate_model` (NaN where there was nothing to measure)."""

    images: int
    gt_faces: int
    detected_faces: int
    false_positives: int
    landmark_rmse: float  #: box-normalised, mean over detected faces with a contour
    landmark_rmse_median: float
    nme: float
    mask_iou: dict[str, float]  #: per class (``face`` + the six features)
    detection_rate_by_size: dict[str, tuple[int, int, float]]  #: bin -> (detected, total, rate)
    ms_per_frame: float  #: median
    checkpoint: str = ""
    data: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    def markdown(self) -> str:
        lines = [
            "| figure | value |",
            "|---|---|",
            f"| images | {self.images} |",
            f"| ground-truth faces | {self.gt_faces} |",
            f"| detected (IoU >= 0.5) | {self.detected_faces} ({_pct(self.detected_faces, self.gt_faces)}) |",
            f"| false positives | {self.false_positives} |",
            f"| landmark RMSE (box-normalised, mean / median) | {self.landmark_rmse:.4f} / {self.landmark_rmse_median:.4f} |",
            f"| NME (box side) | {self.nme:.4f} |",
            f"| ms per frame (median) | {self.ms_per_frame:.1f} |",
        ]
        lines += [f"| mask IoU {name} | {value:.3f} |" for name, value in self.mask_iou.items()]
        lines += [
            f"| detection rate, width {name} px | {d}/{t} ({rate:.2f}) |"
            for name, (d, t, rate) in self.detection_rate_by_size.items()
        ]
        return "\n".join(lines)


def _pct(a: int, b: int) -> str:
    return f"{100.0 * a / b:.0f}%" if b else "n/a"


def _bin_names() -> list[str]:
    edges = (0,) + SIZE_BINS
    names = [f"{lo}-{hi}" for lo, hi in zip(edges[:-1], edges[1:])]
    return names + [f">={SIZE_BINS[-1]}"]


def match_faces(pred_boxes: np.ndarray, gt_boxes: np.ndarray, min_iou: float) -> np.ndarray:
    """Greedy one-to-one matching, best IoU first: ``(G,)`` index of the prediction per ground
    truth face, -1 when unmatched."""
    match = np.full(len(gt_boxes), -1)
    if len(pred_boxes) == 0 or len(gt_boxes) == 0:
        return match
    iou = box_iou(gt_boxes, pred_boxes)
    used: set[int] = set()
    for flat in np.argsort(-iou, axis=None):
        g, p = np.unravel_index(flat, iou.shape)
        if iou[g, p] < min_iou:
            break
        if match[g] == -1 and p not in used:
            match[g] = p
            used.add(int(p))
    return match


def landmark_errors(pred: np.ndarray, gt: np.ndarray, box: np.ndarray) -> tuple[float, float]:
    """``(box-normalised RMSE, NME)`` of ``(36, 2)`` predicted vs ground-truth points in ``box``."""
    size = np.maximum(np.asarray(box[2:], np.float64) - box[:2], 1e-6)
    diff = (np.asarray(pred, np.float64) - gt) / size
    rmse = float(np.sqrt(np.mean(np.sum(diff**2, axis=1))))
    nme = float(np.mean(np.linalg.norm(np.asarray(pred, np.float64) - gt, axis=1)) / np.sqrt(np.prod(size)))
    return rmse, nme


def _predicted_labels(face: Face, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    labels = np.zeros(shape, np.uint8)
    x0, y0 = face.mask_offset
    crop = face.feature_mask
    h = max(0, min(crop.shape[0], shape[0] - y0))
    w = max(0, min(crop.shape[1], shape[1] - x0))
    labels[y0 : y0 + h, x0 : x0 + w] = crop[:h, :w]
    inside = np.zeros(shape, np.uint8)
    cv2.fillPoly(inside, [np.round(face.contour).astype(np.int32)], 1)
    return inside, labels


def evaluate_faces(
    annotation: ImageAnnotation, faces: list[Face], config: EvalConfig, totals: dict
) -> None:
    """Accumulate one image's figures into ``totals`` (see :func:`evaluate_model`)."""
    gt_boxes = np.stack([f.box for f in annotation.faces]) if annotation.faces else np.zeros((0, 4))
    pred_boxes = np.stack([f.box for f in faces]) if faces else np.zeros((0, 4))
    match = match_faces(pred_boxes, gt_boxes, config.match_iou)
    totals["false_positives"] += len(faces) - int((match >= 0).sum())
    shape = (annotation.height, annotation.width)
    for g, face in enumerate(annotation.faces):
        width = float(face.box[2] - face.box[0])
        bin_index = int(np.searchsorted(np.asarray(SIZE_BINS), width, side="right"))
        totals["bins"][bin_index][1] += 1
        if match[g] < 0:
            continue
        totals["bins"][bin_index][0] += 1
        pred = faces[int(match[g])]
        if face.contour is not None:
            rmse, nme = landmark_errors(pred.contour, face.contour, face.box)
            totals["rmse"].append(rmse)
            totals["nme"].append(nme)
            gt_inside, gt_labels = rasterize(annotation, g)
        else:
            gt_inside, gt_labels = rasterize(annotation, g)
        inside, labels = _predicted_labels(pred, shape)
        if face.contour is not None:
            totals["iou"]["face"][0] += int(np.count_nonzero(inside & gt_inside))
            totals["iou"]["face"][1] += int(np.count_nonzero(inside | gt_inside))
        for feature in FeatureClass:
            if feature not in face.polygons:
                continue
            a, b = labels == int(feature), gt_labels == int(feature)
            name = feature.name.lower()
            totals["iou"][name][0] += int(np.count_nonzero(a & b))
            totals["iou"][name][1] += int(np.count_nonzero(a | b))


def evaluate_model(
    checkpoint: str | os.PathLike,
    data: str | os.PathLike,
    config: EvalConfig = EvalConfig(),
    *,
    device: str = "auto",
    threads: int | None = None,
    model: MaskRCNNFaceModel | None = None,
) -> EvalReport:
    """Evaluate a checkpoint on every annotation under ``data`` (see the module docstring)."""
    runner = model or MaskRCNNFaceModel(checkpoint, device=device, threads=threads, config=config.backend)
    files = find_annotations(data)
    files = [f for f in files if not any(e in str(f) for e in config.exclude)]
    if config.include is not None:
        files = [f for f in files if any(i in str(f) for i in config.include)]
    annotations = [read_annotation(f) for f in files]
    if config.augmented is not None:
        annotations = [a for a in annotations if (a.augmentation is not None) == config.augmented]
    if config.max_images is not None:
        step = max(1, len(annotations) // config.max_images)
        annotations = annotations[::step][: config.max_images]
    totals: dict = {
        "false_positives": 0,
        "bins": [[0, 0] for _ in range(len(SIZE_BINS) + 1)],
        "rmse": [],
        "nme": [],
        "iou": {name: [0, 0] for name in ("face",) + FEATURE_NAMES},
    }
    times = []
    for annotation in annotations:
        image = read_image(annotation.resolve_image())
        tic = time.perf_counter()
        faces = runner.detect(image)
        times.append((time.perf_counter() - tic) * 1000.0)
        evaluate_faces(annotation, faces, config, totals)
    bins = {
        name: (d, t, d / t if t else float("nan")) for name, (d, t) in zip(_bin_names(), totals["bins"])
    }
    gt = sum(t for _, t in totals["bins"])
    detected = sum(d for d, _ in totals["bins"])
    nan = float("nan")
    return EvalReport(
        images=len(annotations),
        gt_faces=gt,
        detected_faces=detected,
        false_positives=totals["false_positives"],
        landmark_rmse=float(np.mean(totals["rmse"])) if totals["rmse"] else nan,
        landmark_rmse_median=float(np.median(totals["rmse"])) if totals["rmse"] else nan,
        nme=float(np.mean(totals["nme"])) if totals["nme"] else nan,
        mask_iou={k: (i / u if u else nan) for k, (i, u) in totals["iou"].items()},
        detection_rate_by_size=bins,
        ms_per_frame=statistics.median(times) if times else nan,
        checkpoint=str(checkpoint),
        data=str(data),
    )
