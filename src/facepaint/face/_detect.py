"""Finding faces down to ~24 px wide: a detector on a pyramid of overlapping tiles.

A detector finds faces from a share ``s`` of its input upwards (``min_face_share``: 0.11 for the
short-range model, 0.065 for the full-range one). A tile of side ``T`` source pixels therefore
finds faces from ``s T``; the levels grow by ``level_ratio`` (3) so each covers ``[s T, 3 s T]``,
and tiles of a level overlap by ``overlap`` (0.4) of their side so that every face of the level
lies whole in some tile. The last level is the whole frame, letterboxed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from facepaint.face._nets import DETECTOR_INPUT

#: Smallest face width, as a share of the short-range detector's input, that it finds reliably.
MIN_FACE_SHARE = 0.11


@dataclass(frozen=True)
class Detections:
    """Faces found by the detector, frame pixels."""

    boxes: np.ndarray  #: (n, 4) float32 x0, y0, x1, y1 (eyes-to-mouth box, not the whole head)
    keypoints: np.ndarray  #: (n, 6, 2) float32: right eye, left eye, nose, mouth, right ear, left ear
    scores: np.ndarray  #: (n,) float32 in [0, 1]

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    @staticmethod
    def empty() -> Detections:
        return Detections(np.zeros((0, 4), np.float32), np.zeros((0, 6, 2), np.float32), np.zeros(0, np.float32))


def tile_squares(
    shape: tuple[int, int],
    *,
    min_face_px: float,
    level_ratio: float = 3.0,
    overlap: float = 0.4,
    min_face_share: float = MIN_FACE_SHARE,
) -> np.ndarray:
    """Source squares scanned by the detector, finest level first, whole frame last.

    Parameters
    ----------
    shape : (H, W) of the frame
    min_face_px : smallest face width to find, frame pixels
    level_ratio : growth of the tile side from one level to the next (> 1)
    overlap : overlap of neighbouring tiles of a level, as a share of the side, in [0, 1)
    min_face_share : smallest face the detector finds, as a share of its input side

    Returns
    -------
    (n, 3) float32 rows ``x0, y0, side``: squares in frame pixels (they may reach past the frame
    border; the outside is read as black).
    """
    height, width = shape
    longest = float(max(height, width))
    squares = []
    side = min_face_px / min_face_share
    while side < longest:
        step = side * (1.0 - overlap)
        xs = _positions(width, side, step)
        ys = _positions(height, side, step)
        squares.extend((x, y, side) for y in ys for x in xs)
        if side * level_ratio >= longest:
            break
        side *= level_ratio
    squares.append(((width - longest) / 2.0, (height - longest) / 2.0, longest))
    return np.asarray(squares, np.float32)


def _positions(length: int, side: float, step: float) -> np.ndarray:
    if length <= side:
        return np.array([(length - side) / 2.0])
    count = math.ceil((length - side) / step) + 1
    return np.linspace(0.0, length - side, count)


def cut_tiles(image: np.ndarray, squares: np.ndarray, size: int = DETECTOR_INPUT) -> tuple[np.ndarray, np.ndarray]:
    """Resample source squares to detector inputs of ``size`` px.

    Returns
    -------
    tiles : (n, size, size, 3) uint8
    maps : (n, 4) float64 ``ox, oy, sx, sy``: a tile pixel ``(u, v)`` is the frame point
        ``(ox + u * sx, oy + v * sy)``.
    """
    height, width = image.shape[:2]
    tiles = np.zeros((len(squares), size, size, 3), np.uint8)
    maps = np.zeros((len(squares), 4), np.float64)
    for i, (x0, y0, side) in enumerate(squares):
        scale = size / side
        cx0, cy0 = max(0, int(math.floor(x0))), max(0, int(math.floor(y0)))
        cx1, cy1 = min(width, int(math.ceil(x0 + side))), min(height, int(math.ceil(y0 + side)))
        dx0, dy0 = max(0, int(round((cx0 - x0) * scale))), max(0, int(round((cy0 - y0) * scale)))
        dx1 = min(size, int(round((cx1 - x0) * scale)))
        dy1 = min(size, int(round((cy1 - y0) * scale)))
        if dx1 <= dx0 or dy1 <= dy0 or cx1 <= cx0 or cy1 <= cy0:
            maps[i] = (x0, y0, 1.0 / scale, 1.0 / scale)
            continue
        crop = image[cy0:cy1, cx0:cx1]
        interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
        tiles[i, dy0:dy1, dx0:dx1] = cv2.resize(crop, (dx1 - dx0, dy1 - dy0), interpolation=interp)
        sx, sy = (cx1 - cx0) / (dx1 - dx0), (cy1 - cy0) / (dy1 - dy0)
        # pixel centres: tile pixel u covers source [cx0 + (u - dx0) sx, ...]
        maps[i] = (cx0 - dx0 * sx + 0.5 * sx - 0.5, cy0 - dy0 * sy + 0.5 * sy - 0.5, sx, sy)
    return tiles, maps


def detect_in_squares(
    detector,
    image: np.ndarray,
    squares: np.ndarray,
    *,
    min_score: float,
    nms_iou: float,
    batch: int = 16,
) -> Detections:
    """Run ``detector`` (a ShortRangeDetector or FullRangeDetector) on the given source squares
    and merge the faces found in overlapping tiles (weighted NMS)."""
    boxes, keypoints, scores = [], [], []
    for start in range(0, len(squares), batch):
        tiles, maps = cut_tiles(image, squares[start : start + batch], detector.input_size)
        for (b, k, s), (ox, oy, sx, sy) in zip(detector.detect_tiles(tiles, min_score=min_score), maps):
            if not len(s):
                continue
            # decoded coordinates are input-pixel edges (0..128); shift to pixel centres
            scale_xy = np.array([sx, sy], np.float32)
            origin = np.array([ox, oy], np.float32)
            boxes.append((b.reshape(-1, 2, 2) - 0.5) * scale_xy + origin)
            keypoints.append((k - 0.5) * scale_xy + origin)
            scores.append(s)
    if not scores:
        return Detections.empty()
    return weighted_nms(
        np.concatenate(boxes).reshape(-1, 4), np.concatenate(keypoints), np.concatenate(scores), iou_threshold=nms_iou
    )


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one ``(4,)`` box with ``(n, 4)`` boxes (x0, y0, x1, y1)."""
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, *, iou_threshold: float
) -> Detections:
    """mediapipe's WEIGHTED non-maximum suppression: each cluster of boxes overlapping the best
    one by more than ``iou_threshold`` is replaced by their score-weighted mean (the best score
    is kept). Loops over clusters (faces), not anchors."""
    order = np.argsort(-scores, kind="stable")
    out_boxes, out_keypoints, out_scores = [], [], []
    while order.size:
        top = order[0]
        ious = box_iou(boxes[top], boxes[order])
        members = order[ious > iou_threshold]
        weights = scores[members][:, None]
        out_boxes.append((boxes[members] * weights).sum(0) / weights.sum())
        out_keypoints.append((keypoints[members] * weights[:, :, None]).sum(0) / weights.sum())
        out_scores.append(scores[top])
        order = order[ious <= iou_threshold]
    return Detections(
        np.asarray(out_boxes, np.float32), np.asarray(out_keypoints, np.float32), np.asarray(out_scores, np.float32)
    )


def scan_schedule(squares: np.ndarray) -> np.ndarray:
    """Order in which rolling detection visits the squares (indices into ``squares``).

    Each pyramid level gets a share of the visits proportional to the square root of its tile
    count (smooth weighted round robin), so coarse levels, which find the larger and nearer
    faces, come round several times while the finest level is swept once, and every square is
    visited within one cycle of the returned length.
    """
    sides = squares[:, 2]
    levels = [np.flatnonzero(sides == side) for side in np.unique(sides)]
    weights = np.array([np.sqrt(len(level)) for level in levels])
    picks = int(np.ceil(max(len(level) / w for level, w in zip(levels, weights)) * weights.sum()))
    credit = np.zeros(len(levels))
    cursor = [0] * len(levels)
    order = []
    for _ in range(picks):
        credit += weights
        k = int(np.argmax(credit))
        credit[k] -= weights.sum()
        order.append(levels[k][cursor[k] % len(levels[k])])
        cursor[k] += 1
    return np.asarray(order, np.int64)
