"""Measuring what facepaint promises: temporal coherence, recognizable faces, painted background.

Three figures, each computed on plain arrays and again per video:

- :func:`warping_error`: Lai et al. 2018's temporal warping error of the output, with the flow
  of the input (Farneback, not the DIS flow that drives the strokes), next to the input's own.
- :func:`face_recognizability`: dlib embedding distance between each source face and the same
  face in the stylized frame (aligned with the source's landmarks), and the 68-point NME of the
  landmarks found on the output; :func:`summarize_faces` groups them by face width.
- :func:`stylization_strength`: ``1 - SSIM`` to the input outside the faces, so that returning
  the input unchanged does not win.

:func:`evaluate_video` runs all three on two files and returns a :class:`VideoReport`;
:func:`evaluate_frames` compares several outputs of one input in one pass (the benchmark uses it).
Recognizability needs the optional ``metrics`` extra (dlib-bin, face_recognition_models).
"""

from facepaint.metrics._recognizability import (
    SAME_PERSON_DISTANCE,
    WIDTH_BUCKETS,
    BucketStats,
    DetectedFace,
    FaceScore,
    detect_faces,
    face_embeddings,
    face_mask,
    face_recognizability,
    landmark_nme,
    summarize_faces,
)
from facepaint.metrics._ssim import ssim_map, ssim_outside, stylization_strength
from facepaint.metrics._video import EvaluationConfig, VideoReport, evaluate_frames, evaluate_video
from facepaint.metrics._warping import (
    Correspondence,
    FlowMethod,
    WarpConfig,
    WarpingError,
    correspondence,
    estimate_flow,
    pair_warping_error,
    warping_error,
    warping_errors,
)

__all__ = [
    "SAME_PERSON_DISTANCE",
    "WIDTH_BUCKETS",
    "BucketStats",
    "Correspondence",
    "DetectedFace",
    "EvaluationConfig",
    "FaceScore",
    "FlowMethod",
    "VideoReport",
    "WarpConfig",
    "WarpingError",
    "correspondence",
    "detect_faces",
    "estimate_flow",
    "evaluate_frames",
    "evaluate_video",
    "face_embeddings",
    "face_mask",
    "face_recognizability",
    "landmark_nme",
    "pair_warping_error",
    "ssim_map",
    "ssim_outside",
    "stylization_strength",
    "summarize_faces",
    "warping_error",
    "warping_errors",
]
