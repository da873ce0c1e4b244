"""Running the face mesh on crops: crop placement (mediapipe's ROI rules), warping, mapping back.

A crop is a rotated square ``(cx, cy, side, angle)`` in frame pixels: centred on the face, its
side ``crop_scale`` (1.5) times the face size, rotated by ``angle`` (radians, image axes, y down)
so that the line from the subject's right eye to the left eye is horizontal in the crop.
"""

from __future__ import annotations

import cv2
import numpy as np

from facepaint.face._detect import Detections
from facepaint.face._nets import MESH_INPUT, Networks
from facepaint.face.topology import EYE_CORNER_L, EYE_CORNER_R


def crops_from_detections(detections: Detections, *, crop_scale: float) -> np.ndarray:
    """(n, 4) float64 crops ``cx, cy, side, angle`` from detector boxes and eye keypoints
    (mediapipe's FaceDetectionFrontDetectionToRoi: box centre, long side x 1.5, eyes level)."""
    boxes = detections.boxes.astype(np.float64)
    eyes = detections.keypoints[:, 1].astype(np.float64) - detections.keypoints[:, 0]
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2.0
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) * crop_scale
    angle = np.arctan2(eyes[:, 1], eyes[:, 0])
    return np.column_stack([centre, side, angle])


def crops_from_landmarks(landmarks: np.ndarray, *, crop_scale: float) -> np.ndarray:
    """(n, 4) crops from previous meshes ``(n, 468, 2)`` (mediapipe's face-landmark tracking ROI:
    the mesh's bounding box in the eye-aligned frame, long side x 1.5)."""
    pts = landmarks.astype(np.float64)
    eyes = pts[:, EYE_CORNER_L] - pts[:, EYE_CORNER_R]
    angle = np.arctan2(eyes[:, 1], eyes[:, 0])
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    # coordinates in the rotated frame (rotate by -angle)
    u = pts[..., 0] * cos + pts[..., 1] * sin
    v = -pts[..., 0] * sin + pts[..., 1] * cos
    umid = (u.min(1) + u.max(1)) / 2.0
    vmid = (v.min(1) + v.max(1)) / 2.0
    side = np.maximum(u.max(1) - u.min(1), v.max(1) - v.min(1)) * crop_scale
    cx = umid * cos[:, 0] - vmid * sin[:, 0]
    cy = umid * sin[:, 0] + vmid * cos[:, 0]
    return np.column_stack([cx, cy, side, angle])


def crop_affines(crops: np.ndarray, size: int = MESH_INPUT) -> np.ndarray:
    """(n, 2, 3) float64 affine maps from frame pixels to a ``size`` px square crop (default the
    192 px mesh input)."""
    cx, cy, side, angle = crops.T
    scale = size / side
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    half = (size - 1) / 2.0
    m = np.empty((len(crops), 2, 3))
    m[:, 0, 0], m[:, 0, 1] = cos, sin
    m[:, 1, 0], m[:, 1, 1] = -sin, cos
    m[:, 0, 2] = half - (cos * cx + sin * cy)
    m[:, 1, 2] = half - (-sin * cx + cos * cy)
    return m


def warp_crops(image: np.ndarray, crops: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut rotated square crops out of ``image``, resampled to ``size`` px (black outside).

    Returns ``(n, size, size, 3) uint8`` crops and their ``(n, 2, 3)`` frame-to-crop affines.
    Crops that shrink the image by more than 2x are cut from a Gaussian pyramid level so that the
    bilinear warp does not alias.
    """
    affines = crop_affines(crops, size)
    batch = np.empty((len(crops), size, size, 3), np.uint8)
    pyramid = {0: image}
    for i, m in enumerate(affines):
        shrink = size / crops[i, 2]
        source, m_used = image, m
        if shrink < 0.5:
            levels = int(np.floor(np.log2(1.0 / shrink)))
            while levels not in pyramid:
                top = max(pyramid)
                pyramid[top + 1] = cv2.pyrDown(pyramid[top])
            source = pyramid[levels]
            m_used = m.copy()
            m_used[:, :2] *= 2.0**levels  # pyrDown keeps pixel 2x at x: x_full = 2 x_small
        batch[i] = cv2.warpAffine(source, m_used, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return batch, affines


def run_mesh(nets: Networks, image: np.ndarray, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mesh every crop of ``image``.

    Returns
    -------
    landmarks : (n, 468, 2) float32 frame pixels
    presence : (n,) float32 in [0, 1]
    """
    if len(crops) == 0:
        return np.zeros((0, 468, 2), np.float32), np.zeros(0, np.float32)
    batch, affines = warp_crops(image, crops, MESH_INPUT)
    local, presence = nets.mesh(batch)
    inverse = np.stack([cv2.invertAffineTransform(m) for m in affines])
    # the network's coordinates are crop-pixel edges (0..192); shift to centres
    local = local.astype(np.float64) - 0.5
    frame = np.einsum("nij,nkj->nki", inverse[:, :, :2], local) + inverse[:, None, :, 2]
    return frame.astype(np.float32), presence


def verify_faces(nets: Networks, image: np.ndarray, meshes: np.ndarray, *, context: float = 3.0) -> np.ndarray:
    """Second opinion of the detector on each new face: (n,) float32 best detector score near the
    centre of an upright crop ``context`` times the face size (the face then fills a third of the
    detector input, where it is most reliable).

    The face network's presence score alone lets through face-like texture (printed letters on
    a shirt scored 1.0); on the crowd photos the detector gave real faces >= 0.64 here and that
    shirt 0.21.
    """
    from facepaint.face._nets import DETECTOR_INPUT, decode_detections

    if len(meshes) == 0:
        return np.zeros(0, np.float32)
    crops = crops_from_landmarks(meshes, crop_scale=context)
    tiles, _ = warp_crops(image, crops, DETECTOR_INPUT)
    scores, raw = nets.detect(tiles)
    best = np.zeros(len(meshes), np.float32)
    centre = DETECTOR_INPUT / 2.0
    for i, (boxes, _, tile_scores) in enumerate(decode_detections(scores, raw, min_score=0.05)):
        if len(tile_scores):
            mid = (boxes[:, :2] + boxes[:, 2:]) / 2.0
            near = np.hypot(mid[:, 0] - centre, mid[:, 1] - centre) < 0.15 * DETECTOR_INPUT
            if near.any():
                best[i] = tile_scores[near].max()
    return best
