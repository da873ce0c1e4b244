"""The trained extended Mask R-CNN as a facepaint face backend (torch).

:class:`MaskRCNNFaceModel` follows the :class:`facepaint.face.FaceModel` protocol: ``detect``
for stills, ``process`` for video frames (adds track ids by box overlap with the previous
frame), ``reset`` between videos. Model outputs (torchvision dicts) are turned into
:class:`facepaint.types.Face` here, at the package boundary.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch

from facepaint.annotations import polygons_of_mask
from facepaint.errors import InputError
from facepaint.face.maskrcnn.data import image_tensor
from facepaint.face.maskrcnn.labels import FACE_LABEL, NUM_CLASSES
from facepaint.face.maskrcnn.train import load_model, resolve_device
from facepaint.face.smoothing import OneEuroConfig, OneEuroFilter
from facepaint.types import CONTOUR_POINTS, Face


@dataclass(frozen=True)
class BackendConfig:
    """``face_threshold``/``feature_threshold``: minimum scores kept; ``mask_threshold``: mask
    probability counted as inside; ``track_iou``: box overlap that continues a track."""

    face_threshold: float = 0.5
    #: Low on purpose: a face keeps only its best-scoring detection of each feature class, so the
    #: floor only decides whether a face gets an eye at all. A small face's eyes and brows often
    #: score 0.05-0.3 (at 0.3, 15-30 % of held-out faces lost an eye or a brow; at 0.05, 2 %).
    feature_threshold: float = 0.05
    mask_threshold: float = 0.5
    track_iou: float = 0.3
    #: A face box that overlaps a better-scoring one by more than this share of the smaller box
    #: is dropped: faces do not sit inside faces, while the detector's class NMS (IoU 0.5) keeps
    #: a small box inside a large one, or two boxes shifted by a third of a face.
    face_overlap: float = 0.5
    #: A model trained at native pixel size (crops around faces, ``ModelConfig.native_size``) runs
    #: on frames up to this many pixels on the longer side unshrunk, larger ones shrunk to it. Its
    #: training size (``max_size``, 480) is for crops: a 720p frame shrunk to 480 turns a 33-px face
    #: into a 12-px one whose eyes it cannot find.
    max_side: int = 1920
    #: ... and faces wider than this (pixels of the frame) are taken from a second pass over the
    #: frame shrunk to the training crops' size (``ModelConfig.max_size``), where they span the
    #: widths the model was trained on (at most ``max_face_px``, 160, shrunk from larger ones).
    large_face_px: float = 200.0
    #: A face box is kept only with at least this many of the six feature classes found in it:
    #: wallpaper, wood grain or a shirt's folds can score as a face, but do not come with brows,
    #: eyes, a nose and a mouth. Measured on 19 frames of 720p/1080p video at native size, boxes
    #: where mediapipe saw no face: 74 with 0, 21 with 1, 5 with 2; held-out faces pasted at 14-40
    #: px found: 120, 118, 109 of 120 (every real held-out face either way). 0: every box.
    min_features: int = 2
    #: Tracked contours are smoothed in time as the mediapipe backend smooths its landmarks
    #: (None: raw per-frame detections), at this frame rate.
    smoothing: OneEuroConfig | None = field(default_factory=OneEuroConfig)
    fps: float = 30.0


def _intersections(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(N, M)`` intersection areas of ``(N, 4)`` and ``(M, 4)`` boxes, and their areas."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    return inter, np.prod(a[:, 2:] - a[:, :2], axis=1), np.prod(b[:, 2:] - b[:, :2], axis=1)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(N, 4)`` x ``(M, 4)`` boxes -> ``(N, M)`` intersection over union."""
    inter, area_a, area_b = _intersections(a, b)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def _suppress_overlapping(boxes: np.ndarray, max_overlap: float) -> np.ndarray:
    """Indices of the ``(N, 4)`` boxes (sorted by decreasing score) that no better box covers by
    more than ``max_overlap`` of the smaller one's area (intersection over minimum)."""
    n = boxes.shape[0]
    if n <= 1:
        return np.arange(n)
    inter, area, _ = _intersections(boxes, boxes)
    area = np.clip(area, 0, None)
    over = inter / np.maximum(np.minimum(area[:, None], area[None, :]), 1e-9) > max_overlap
    keep = np.ones(n, bool)
    for i in range(n):  # greedy, over the few face detections of one image
        if keep[i]:
            keep[i + 1 :] &= ~over[i, i + 1 :]
    return np.flatnonzero(keep)


def faces_of_output(
    output: dict[str, torch.Tensor],
    *,
    image_shape: tuple[int, int],
    scale: float = 1.0,
    config: BackendConfig = BackendConfig(),
) -> list[Face]:
    """Turn the model's output for one image into faces (track ids are the detection order).

    Parameters
    ----------
    output : dict
        The detections of one image (:func:`detections`: ``boxes``, ``labels``, ``scores``,
        ``masks (n, 1, M, M)`` probabilities over each box, ``keypoints (n, 36, 2)``), in the
        pixels of a model image ``scale`` times the size of the original.
    image_shape : (H, W)
        Size of the original image; faces are given in its pixels.

    Returns
    -------
    list of Face
        Sorted by decreasing score. Each feature detection goes to the face whose box holds its
        centre (the most overlapping one); per face and class the best-scoring one is kept.
    """
    boxes = output["boxes"].detach().cpu().numpy().astype(np.float32)
    labels = output["labels"].detach().cpu().numpy()
    scores = output["scores"].detach().cpu().numpy().astype(np.float32)
    masks = output["masks"].detach().cpu().numpy()[:, 0] if "masks" in output else None
    points = output["keypoints"].detach().cpu().numpy().astype(np.float32)
    height, width = image_shape
    faces_idx = np.where((labels == FACE_LABEL) & (scores >= config.face_threshold))[0]
    faces_idx = faces_idx[np.argsort(-scores[faces_idx], kind="stable")]
    feats_idx = np.where((labels > FACE_LABEL) & (labels < NUM_CLASSES) & (scores >= config.feature_threshold))[0]
    if faces_idx.size == 0:
        return []
    faces_idx = faces_idx[_suppress_overlapping(boxes[faces_idx], config.face_overlap)]
    face_boxes = boxes[faces_idx]
    owner = np.full(feats_idx.shape, -1)
    if feats_idx.size:
        centres = (boxes[feats_idx, :2] + boxes[feats_idx, 2:]) / 2
        inside = (
            (centres[:, None, 0] >= face_boxes[None, :, 0])
            & (centres[:, None, 0] <= face_boxes[None, :, 2])
            & (centres[:, None, 1] >= face_boxes[None, :, 1])
            & (centres[:, None, 1] <= face_boxes[None, :, 3])
        )
        overlap = box_iou(boxes[feats_idx], face_boxes) + inside  # inside wins, overlap breaks ties
        owner = np.where(inside.any(axis=1), overlap.argmax(axis=1), -1)

    result = []
    inv = 1.0 / scale
    for rank, row in enumerate(faces_idx):
        mine = feats_idx[owner == rank]
        if config.min_features > 0 and len(np.unique(labels[mine])) < config.min_features:
            continue
        box = boxes[row] * inv
        box = np.clip(box, 0, [width - 1, height - 1, width - 1, height - 1]).astype(np.float32)
        x0, y0 = int(np.floor(box[0])), int(np.floor(box[1]))
        x1, y1 = int(np.ceil(box[2])) + 1, int(np.ceil(box[3])) + 1
        crop = np.zeros((max(y1 - y0, 1), max(x1 - x0, 1)), np.uint8)
        best: dict[int, int] = {}
        for feat in mine[np.argsort(scores[mine], kind="stable")]:  # few per face: ascending, best last
            best[int(labels[feat])] = int(feat)
        if masks is not None:
            for label in sorted(best):
                inside_mask = paste_mask(masks[best[label]], boxes[best[label]], crop.shape, (x0, y0), scale)
                crop[inside_mask >= config.mask_threshold] = label - 1  # detector label -> FeatureClass value
        contour = points[row] * inv
        if not np.all(np.isfinite(contour)):
            contour = _ellipse_contour(box)
        result.append(
            Face(
                box=box,
                score=float(scores[row]),
                track_id=rank,
                contour=contour.astype(np.float32),
                feature_mask=crop,
                mask_offset=(x0, y0),
                feature_polygons=polygons_of_mask(crop, (x0, y0)),
            )
        )
    return result


def paste_mask(
    probabilities: np.ndarray, box: np.ndarray, shape: tuple[int, int], offset: tuple[int, int], scale: float = 1.0
) -> np.ndarray:
    """Mask probabilities over a detection box, resampled onto a crop of the original image.

    Parameters
    ----------
    probabilities : (M, M) float
        The mask branch's output for one detection.
    box : (4,) float
        The detection's box ``(x0, y0, x1, y1)`` in the model image's pixels.
    shape : (h, w)
        Size of the crop.
    offset : (x, y)
        Original-image pixel of the crop's top-left pixel.
    scale : float
        Model image size over original size.

    Returns
    -------
    (h, w) float32
        Probabilities at the crop's pixel centres, 0 outside the box.

    Notes
    -----
    The mask branch learns its targets from torchvision's RoIAlign of the ground-truth mask
    (``aligned=False``): cell ``j`` holds the mask at ``x0 + (j + 0.5) * width / M``, pixel ``i``'s
    value sitting at coordinate ``i``. This is the exact inverse of that sampling, bilinear and
    with sub-pixel box corners. torchvision's ``paste_masks_in_image`` rounds the corners down to
    whole pixels and stretches the mask over one pixel more than the box: up to a pixel of shift
    and a tenth of extra size on a feature 4-10 px tall, where one pixel costs half the IoU.
    """
    side_y, side_x = probabilities.shape
    bx0, by0, bx1, by1 = (float(v) for v in box)
    cells_x = side_x / max(bx1 - bx0, 1e-3)  # mask cells per model-image pixel
    cells_y = side_y / max(by1 - by0, 1e-3)
    # Crop pixel c -> original x0 + c -> model image (x + 0.5) * scale - 0.5 -> mask cell.
    cx = ((offset[0] + 0.5) * scale - 0.5 - bx0) * cells_x - 0.5
    cy = ((offset[1] + 0.5) * scale - 0.5 - by0) * cells_y - 0.5
    inverse = np.array([[scale * cells_x, 0.0, cx], [0.0, scale * cells_y, cy]], np.float64)
    return cv2.warpAffine(
        np.ascontiguousarray(probabilities, np.float32),
        inverse,
        (int(shape[1]), int(shape[0])),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0.0,
    )


def detections(model: torch.nn.Module, image: torch.Tensor) -> tuple[dict[str, torch.Tensor], float]:
    """The extended Mask R-CNN's detections of one ``(3, H, W)`` image tensor, masks left over
    their boxes: ``(output, scale)``, ``output`` in the pixels of the model image, ``scale`` times
    the image's size.

    torchvision's eval forward, less its last step: pasting every detection's mask into a
    full-size image (``box_detections_per_img``, 60, of a 720p frame: 220 MB of floats, with boxes
    rounded to whole pixels; :func:`paste_mask` does it for the few kept, in a face's crop)."""
    images, _ = model.transform([image])
    features = model.backbone(images.tensors)
    proposals, _ = model.rpn(images, features)
    found, _ = model.roi_heads(features, proposals, images.image_sizes)
    return found[0], images.image_sizes[0][1] / float(image.shape[-1])


def _ellipse_contour(box: np.ndarray) -> np.ndarray:
    angle = np.linspace(0, 2 * np.pi, CONTOUR_POINTS, endpoint=False)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    rx, ry = (box[2] - box[0]) / 2, (box[3] - box[1]) / 2
    return np.stack([cx + rx * np.sin(angle), cy - ry * np.cos(angle)], axis=1).astype(np.float32)


class MaskRCNNFaceModel:
    """Face backend running a trained extended Mask R-CNN checkpoint.

    Parameters
    ----------
    weights : path-like
        A checkpoint from ``facepaint train`` (or :func:`~.train.export_weights`).
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    threads : int, optional
        torch CPU threads (default: leave torch's setting).
    config : BackendConfig
    """

    name = "maskrcnn"

    def __init__(
        self,
        weights: str | os.PathLike,
        *,
        device: str = "auto",
        threads: int | None = None,
        config: BackendConfig = BackendConfig(),
    ) -> None:
        if threads is not None:
            torch.set_num_threads(max(1, int(threads)))
        self.device = resolve_device(device)
        self.weights_path = Path(weights)
        self.model = load_model(weights, device=self.device)
        self.model.roi_heads.score_thresh = min(config.face_threshold, config.feature_threshold)
        self.config = config
        self._min_size = int(self.model.transform.min_size[0])
        self._max_size = int(self.model.transform.max_size)
        self._native_size = bool(getattr(self.model, "facepaint_config", None) and self.model.facepaint_config.native_size)
        self._crop_size = self._max_size
        if self._native_size:
            self._max_size = int(config.max_side)
            self.model.transform.max_size = self._max_size
        self._previous: list[Face] = []
        self._next_id = 0
        self._smoothers: dict[int, OneEuroFilter] = {}

    def _run(self, image: np.ndarray) -> list[Face]:
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            got = f"{image.shape} {image.dtype}" if isinstance(image, np.ndarray) else type(image).__name__
            raise InputError(f"the maskrcnn face model expects an (H, W, 3) uint8 RGB image; got {got}")
        height, width = image.shape[:2]
        if not self._native_size:
            # The model resizes the shorter side to min_size anyway: shrinking first is cheaper.
            return self._pass(image, min(1.0, self._min_size / float(min(height, width))))
        # Trained on faces at their pixel size up to max_face_px (larger ones shrunk into that
        # range): small faces are found in the frame at its own size (up to max_side), large ones
        # in the frame shrunk to the training crops' max_size, each where the model saw its kind.
        longest = float(max(height, width))
        native_scale = min(1.0, self._max_size / longest)
        native = self._pass(image, native_scale)
        coarse_scale = min(1.0, self._crop_size / longest)
        if coarse_scale > 0.75 * native_scale:
            return native
        limit = self.config.large_face_px
        kept = [f for f in native if f.box[2] - f.box[0] <= limit]
        large = [f for f in self._pass(image, coarse_scale) if f.box[2] - f.box[0] > limit]
        if kept and large:
            overlap = box_iou(np.stack([f.box for f in large]), np.stack([f.box for f in kept])).max(axis=1)
            large = [f for f, o in zip(large, overlap) if o < self.config.track_iou]
        merged = sorted(kept + large, key=lambda f: -f.score)
        return [replace(f, track_id=rank) for rank, f in enumerate(merged)]

    def _pass(self, image: np.ndarray, scale: float) -> list[Face]:
        """Faces of ``image`` run through the model ``scale`` times its size (in its pixels)."""
        height, width = image.shape[:2]
        small = image
        if scale < 1.0:
            small = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
            scale = small.shape[1] / float(width)
        with torch.inference_mode():
            output, model_scale = detections(self.model, image_tensor(small).to(self.device))
        return faces_of_output(output, image_shape=(height, width), scale=scale * model_scale, config=self.config)

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces of a still image; ``track_id`` is the rank by score."""
        return self._run(image)

    def process(self, image: np.ndarray) -> list[Face]:
        """Faces of the next video frame, with track ids kept while boxes overlap."""
        faces = self._run(image)
        ids = np.full(len(faces), -1)
        if faces and self._previous:
            iou = box_iou(np.stack([f.box for f in faces]), np.stack([f.box for f in self._previous]))
            # Greedy matching, best pair first (a handful of faces: the loop is over matches).
            for flat in np.argsort(-iou, axis=None):
                i, j = np.unravel_index(flat, iou.shape)
                if iou[i, j] < self.config.track_iou:
                    break
                if ids[i] == -1 and self._previous[j].track_id not in ids:
                    ids[i] = self._previous[j].track_id
        tracked = []
        for face, track in zip(faces, ids):
            if track == -1:
                track = self._next_id
                self._next_id += 1
            contour = face.contour
            if self.config.smoothing is not None:
                smoother = self._smoothers.setdefault(int(track), OneEuroFilter(self.config.smoothing))
                width = float(max(np.ptp(contour[:, 0]), np.ptp(contour[:, 1]), 1.0))
                contour = smoother(contour, dt_s=1.0 / self.config.fps, scale=width)
            # The contour doubles as the face's mesh: face strokes ride its triangles
            # (facepaint.face.mesh_motion) instead of an optical flow measured across a small face.
            tracked.append(replace(face, contour=contour, mesh=contour, track_id=int(track)))
        alive = {face.track_id for face in tracked}
        self._smoothers = {t: f for t, f in self._smoothers.items() if t in alive}
        self._previous = tracked
        return tracked

    def reset(self) -> None:
        """Forget the tracks (call between videos)."""
        self._previous = []
        self._next_id = 0
        self._smoothers = {}


#: The checkpoint shipped with facepaint: the CPU recipe's run from the face-trained start
#: (``benchmarks/maskrcnn_eval.py``, ``TRAIN_RECIPE``), exported in float16. Its figures are in the
#: README (issue 19); a later session's run continues from it (``facepaint train --init``).
BUNDLED_WEIGHTS = Path(__file__).with_name("weights") / "facemesh_cpu.pt"


def create_maskrcnn_face_model(*, weights: str | os.PathLike | None = None, **options) -> MaskRCNNFaceModel:
    """Factory behind ``create_face_model("maskrcnn", weights=PATH, ...)``; without ``weights``,
    the shipped checkpoint (:data:`BUNDLED_WEIGHTS`)."""
    if weights is None:
        if not BUNDLED_WEIGHTS.is_file():
            raise InputError(
                f"the maskrcnn face model needs a checkpoint and the shipped one ({BUNDLED_WEIGHTS}) is missing: "
                "pass --weights CKPT (train one with `facepaint train DATA --out CKPT`)"
            )
        weights = BUNDLED_WEIGHTS
    known = {k: options.pop(k) for k in ("device", "threads") if k in options}
    fields = BackendConfig.__dataclass_fields__
    config = BackendConfig(**{k: options.pop(k) for k in list(options) if k in fields})
    # Other options of the generic face-model interface (e.g. max_faces) do not apply here.
    return MaskRCNNFaceModel(weights, config=config, **known)
