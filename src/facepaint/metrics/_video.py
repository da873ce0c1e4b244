"""Video-level evaluation: warping error, recognizability and stylization strength in one pass."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from facepaint.errors import InputError
from facepaint.metrics._frames import check_same_size, lockstep
from facepaint.metrics._recognizability import (
    BucketStats,
    FaceScore,
    detect_faces,
    face_embeddings,
    face_mask,
    require_dlib,
    scores_against,
    summarize_faces,
)
from facepaint.metrics._ssim import ssim_outside
from facepaint.metrics._warping import WarpConfig, correspondence, pair_warping_error


@dataclass(frozen=True)
class EvaluationConfig:
    """What :func:`evaluate_video` measures and how often.

    Attributes
    ----------
    warp : WarpConfig
        Flow and occlusion settings of the warping error (computed on every pair).
    face_every_n_frames : int
        Faces (detection, embeddings, NME) and SSIM are measured on frames ``0, n, 2n, ...``:
        detection at an upsample that finds small faces costs up to ~1 s per 1080p frame.
    detector_upsample : int, optional
        dlib HOG upsampling; ``None``: 2 up to VGA, else 1.
    face_margin : float
        Growth of each face box, per side, for the SSIM's face mask.
    faces : bool
        ``False`` skips recognizability (no dlib needed); SSIM then covers the whole frame.
    """

    warp: WarpConfig = field(default_factory=WarpConfig)
    face_every_n_frames: int = 10
    detector_upsample: int | None = None
    face_margin: float = 0.3
    faces: bool = True

    def __post_init__(self) -> None:
        if self.face_every_n_frames < 1:
            raise InputError(f"face_every_n_frames must be >= 1, got {self.face_every_n_frames}")
        if self.face_margin < 0:
            raise InputError(f"face_margin must be >= 0, got {self.face_margin}")


@dataclass(frozen=True)
class VideoReport:
    """Quality figures of one stylized video against its input.

    Attributes
    ----------
    frames : int
        Frames compared.
    warping_error : float
        Lai et al.'s ``E_warp`` of the output (mean squared RGB difference, RGB in [0, 1]).
    warping_error_input : float
        The same on the input itself: the floor for this clip and flow.
    ssim_outside_faces : float
        Mean SSIM to the input outside the faces (whole frame if ``faces_measured`` is False).
    face_frames : int
        Frames on which faces and SSIM were measured.
    faces_measured : bool
        Whether recognizability was computed (needs the ``metrics`` extra).
    face_widths_px, face_distances, face_nme : (F,) float64
        Per face-frame: source width, embedding distance, landmark NME on the output.
    buckets : tuple of BucketStats
        :func:`~facepaint.metrics.summarize_faces` of the face-frames (empty if not measured).
    input_path, output_path : str or None
        Files compared, when the report comes from :func:`evaluate_video`.
    """

    frames: int
    warping_error: float
    warping_error_input: float
    ssim_outside_faces: float
    face_frames: int
    faces_measured: bool
    face_widths_px: np.ndarray
    face_distances: np.ndarray
    face_nme: np.ndarray
    buckets: tuple[BucketStats, ...]
    input_path: str | None = None
    output_path: str | None = None

    @property
    def warping_ratio(self) -> float:
        """``warping_error / warping_error_input`` (target: <= 1.5)."""
        if not np.isfinite(self.warping_error_input) or self.warping_error_input <= 0:
            return float("nan")
        return float(self.warping_error / self.warping_error_input)

    @property
    def stylization_strength(self) -> float:
        """``1 - ssim_outside_faces``: 0 for the identity, larger for stronger painting."""
        return 1.0 - self.ssim_outside_faces

    def bucket(self, name: str) -> BucketStats:
        """The :class:`BucketStats` called ``name`` (``"<40"``, ..., ``">=40"``, ``"all"``)."""
        for stats in self.buckets:
            if stats.name == name:
                return stats
        known = ", ".join(s.name for s in self.buckets) or "none: faces were not measured"
        raise KeyError(f"no bucket {name!r}; known: {known}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (per-face arrays left out; NaN becomes None)."""

        def num(value: float) -> float | None:
            return None if not np.isfinite(value) else float(value)

        return {
            "input_path": self.input_path,
            "output_path": self.output_path,
            "frames": self.frames,
            "warping_error": num(self.warping_error),
            "warping_error_input": num(self.warping_error_input),
            "warping_ratio": num(self.warping_ratio),
            "ssim_outside_faces": num(self.ssim_outside_faces),
            "stylization_strength": num(self.stylization_strength),
            "face_frames": self.face_frames,
            "faces_measured": self.faces_measured,
            "buckets": {
                b.name: {
                    "count": b.count,
                    "recognizable_share": num(b.recognizable_share),
                    "median_distance": num(b.median_distance),
                    "median_nme": num(b.median_nme),
                }
                for b in self.buckets
            },
        }


def _mean(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def evaluate_frames(
    frames_in: Iterable,
    outputs: Mapping[str, Iterable],
    config: EvaluationConfig = EvaluationConfig(),
) -> dict[str, VideoReport]:
    """Evaluate several stylized versions of one input in a single streaming pass.

    Flow, occlusion masks, face detection and source embeddings are computed once per input
    frame and shared by every output.

    Parameters
    ----------
    frames_in : iterable of (H, W, 3) uint8 RGB arrays or Frame
        The input video.
    outputs : mapping name -> iterable of (H, W, 3) uint8 RGB arrays or Frame
        Stylized videos, each of the input's size and length. ``"input"`` is a reserved name.
    config : EvaluationConfig

    Returns
    -------
    dict name -> VideoReport

    Raises
    ------
    InputError
        Wrong frame type/shape, size or length mismatch, no output, fewer than 2 frames.
    MissingDependencyError
        ``config.faces`` is True and dlib / face_recognition_models are not installed.
    """
    if not outputs:
        raise InputError("evaluate_frames needs at least one output video to compare with the input")
    if "input" in outputs:
        raise InputError("'input' is reserved for the input video; name the outputs otherwise")
    if config.faces:
        require_dlib()
    names = list(outputs)
    pair_errors: dict[str, list[float]] = {name: [] for name in ["input", *names]}
    ssim: dict[str, list[float]] = {name: [] for name in names}
    scores: dict[str, list[FaceScore]] = {name: [] for name in names}
    previous: dict[str, np.ndarray] | None = None
    frames = face_frames = 0
    for index, step in enumerate(lockstep({"input": frames_in, **outputs}, what="evaluation")):
        src = step["input"]
        for name in names:
            check_same_size(src, step[name], what=f"evaluation of {name!r}")
        if previous is not None:
            if previous["input"].shape != src.shape:
                raise InputError(f"the input changes size at frame {index}: {previous['input'].shape} -> {src.shape}")
            corr = correspondence(previous["input"], src, config.warp)
            for name in pair_errors:
                pair_errors[name].append(pair_warping_error(previous[name], step[name], corr))
        if index % config.face_every_n_frames == 0:
            face_frames += 1
            if config.faces:
                faces = detect_faces(src, upsample=config.detector_upsample)
                exclude = face_mask(src.shape, faces, margin=config.face_margin)
                src_embeddings = face_embeddings(src, faces)
            else:
                faces, exclude, src_embeddings = (), None, None
            for name in names:
                ssim[name].append(ssim_outside(src, step[name], exclude))
                if faces:
                    scores[name].extend(scores_against(faces, src_embeddings, step[name]))
        previous = step
        frames += 1
    if frames < 2:
        raise InputError(f"the videos have {frames} frame(s); the warping error needs at least 2")
    own = _mean(pair_errors["input"])
    return {
        name: VideoReport(
            frames=frames,
            warping_error=_mean(pair_errors[name]),
            warping_error_input=own,
            ssim_outside_faces=_mean(ssim[name]),
            face_frames=face_frames,
            faces_measured=config.faces,
            face_widths_px=np.array([s.width_px for s in scores[name]], dtype=np.float64),
            face_distances=np.array([s.distance for s in scores[name]], dtype=np.float64),
            face_nme=np.array([s.nme for s in scores[name]], dtype=np.float64),
            buckets=summarize_faces(scores[name]) if config.faces else (),
        )
        for name in names
    }


def evaluate_video(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    config: EvaluationConfig = EvaluationConfig(),
    *,
    max_frames: int | None = None,
    fps: float | None = None,
) -> VideoReport:
    """Evaluate a stylized video file against its input file.

    Parameters
    ----------
    input_path, output_path : str or path-like
        Anything :func:`facepaint.io.open_video` reads (files, raw streams, frame folders).
    config : EvaluationConfig
    max_frames : int, optional
        Compare only the first ``max_frames`` frames of each.
    fps : float, optional
        Rate assumed for inputs that carry none (raw H.264), passed to both readers.

    Returns
    -------
    VideoReport
    """
    from facepaint.io import open_video  # io sits below metrics; imported here to keep import cheap

    if max_frames is not None and max_frames < 2:
        raise InputError(f"max_frames must be >= 2 (the warping error compares pairs), got {max_frames}")
    source = open_video(input_path, fps=fps, max_frames=max_frames)
    stylized = open_video(output_path, fps=fps, max_frames=max_frames)
    report = evaluate_frames(source, {"output": stylized}, config)["output"]
    return dataclasses.replace(report, input_path=str(input_path), output_path=str(output_path))
