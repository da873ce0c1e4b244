"""Temporal warping error (Lai et al., "Learning Blind Video Temporal Consistency", ECCV 2018).

For every pair of consecutive frames the optical flow of the INPUT frames tells where each pixel
of frame ``t`` was in frame ``t-1``. The output frame ``O_{t-1}`` is warped along it and compared
with ``O_t`` on the pixels that are visible in both frames::

    E_pair(t) = sum_i M_t(i) * ||O_t(i) - warp(O_{t-1})(i)||^2 / (3 * sum_i M_t(i))
    E_warp    = mean over t of E_pair(t)

with RGB in [0, 1], so ``E_pair`` is the mean squared difference per pixel and channel.
``M_t`` excludes occluded pixels, found as in Ruder et al. ("Artistic style transfer for videos",
2016), which Lai et al. follow: forward-backward inconsistency
``|b + f(x + b)|^2 > 0.01 (|b|^2 + |f(x + b)|^2) + 0.5`` and motion boundaries
``|grad b_x|^2 + |grad b_y|^2 > 0.01 |b|^2 + 0.002``, plus pixels whose match leaves the frame.

The same error on the input itself (``O = I``) is the floor a video can reach with this flow:
flow errors and lighting changes count there too. We report both and their ratio.

The flow is deliberately not the one that drives facepaint's strokes (OpenCV DIS): a metric that
used the same flow would reward the stylizer for following that flow's mistakes. Farneback is the
default (fast, dense). It underestimates fast motions of small textured objects; the masks then
exclude those pixels, so the error is measured mostly where the flow is right. TV-L1 from
``cv2.optflow`` is more accurate (on a 32 px square moving 8 px it finds the motion exactly and
masks just the disoccluded strip; on real clips the input's own error drops by ~2x and more
pixels pass the consistency test) but ~10x slower: pick it with ``WarpConfig(flow="tvl1")``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

import cv2
import numpy as np

from facepaint.errors import InputError
from facepaint.metrics._frames import check_same_size, lockstep


class FlowMethod(str, Enum):
    """Optical flow used by the metric (never DIS, which drives the strokes)."""

    FARNEBACK = "farneback"
    TVL1 = "tvl1"


@dataclass(frozen=True)
class WarpConfig:
    """How the warping error computes flow and occlusion.

    Attributes
    ----------
    flow : FlowMethod
        Optical flow of the input frames.
    flow_max_side_px : int
        Frames whose longer side exceeds this are downscaled for the flow, and the flow is
        scaled back (Farneback costs ~0.7 s per 1080p pair on a laptop core; at 960 px ~0.2 s).
        ``0`` disables the downscale.
    consistency_rel, consistency_abs : float
        Forward-backward test constants (Ruder et al.: 0.01 and 0.5 px^2).
    boundary_rel, boundary_abs : float
        Motion-boundary test constants (Ruder et al.: 0.01 and 0.002).
    """

    flow: FlowMethod = FlowMethod.FARNEBACK
    flow_max_side_px: int = 960
    consistency_rel: float = 0.01
    consistency_abs: float = 0.5
    boundary_rel: float = 0.01
    boundary_abs: float = 0.002

    def __post_init__(self) -> None:
        if self.flow_max_side_px < 0:
            raise InputError(f"flow_max_side_px must be >= 0 (0 = full size), got {self.flow_max_side_px}")
        if not isinstance(self.flow, FlowMethod):
            object.__setattr__(self, "flow", FlowMethod(self.flow))


@dataclass(frozen=True)
class Correspondence:
    """Where each pixel of frame ``t`` was in frame ``t-1``, and whether it was visible.

    Attributes
    ----------
    map_x, map_y : (H, W) float32
        Source coordinates in frame ``t-1`` (pixels), ready for ``cv2.remap``.
    valid : (H, W) bool
        True where the pixel is neither occluded, on a motion boundary, nor mapped outside.
    """

    map_x: np.ndarray
    map_y: np.ndarray
    valid: np.ndarray


@dataclass(frozen=True)
class WarpingError:
    """Warping error of one output video next to the input's own.

    Attributes
    ----------
    output : float
        ``E_warp`` of the output, mean squared RGB difference in [0, 1]^2 units (NaN: no pairs).
    input : float
        ``E_warp`` of the input frames themselves, with the same flow and masks.
    per_pair_output, per_pair_input : (T-1,) float64
        ``E_pair`` per consecutive pair (NaN where no pixel was valid).
    valid_share : (T-1,) float64
        Share of pixels used per pair.
    """

    output: float
    input: float
    per_pair_output: np.ndarray
    per_pair_input: np.ndarray
    valid_share: np.ndarray

    @property
    def ratio(self) -> float:
        """``output / input``: 1 means as stable as the input itself (NaN if the input's is 0)."""
        if not np.isfinite(self.input) or self.input <= 0.0:
            return float("nan")
        return float(self.output / self.input)

    @property
    def pairs(self) -> int:
        return int(self.per_pair_output.shape[0])


def _gray(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def _flow_engine(method: FlowMethod):
    if method is FlowMethod.FARNEBACK:
        # pyramid 0.5 x 5 levels reaches ~30 px motions at the working size; 15 px windows and
        # poly_n 5 / sigma 1.1 are OpenCV's recommended settings for a smooth, dense field.
        return lambda a, b: cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 5, 15, 3, 5, 1.1, 0)
    # TV-L1 with fewer iterations than OpenCV's defaults (30 inner, 10 outer, eps 0.01): ~1/3 of
    # the time, same answer on the moving-square test; fewer scales or warps lose small objects
    # moving several pixels (a 32 px square moving 8 px is then found moving 2 px).
    engine = cv2.optflow.DualTVL1OpticalFlow_create()
    engine.setScalesNumber(5)
    engine.setWarpingsNumber(5)
    engine.setInnerIterations(10)
    engine.setOuterIterations(3)
    engine.setEpsilon(0.02)
    return lambda a, b: engine.calc(a, b, None)


def estimate_flow(prev_gray: np.ndarray, next_gray: np.ndarray, config: WarpConfig = WarpConfig()) -> np.ndarray:
    """Dense flow from ``prev_gray`` to ``next_gray``.

    Parameters
    ----------
    prev_gray, next_gray : (H, W) uint8
        Grayscale frames.
    config : WarpConfig

    Returns
    -------
    (H, W, 2) float32
        ``(dx, dy)`` such that ``prev(y, x) ~ next(y + dy, x + dx)``, in full-size pixels.
    """
    height, width = prev_gray.shape
    scale = 1.0
    if config.flow_max_side_px and max(height, width) > config.flow_max_side_px:
        scale = config.flow_max_side_px / max(height, width)
    if scale < 1.0:
        size = (max(2, round(width * scale)), max(2, round(height * scale)))
        a = cv2.resize(prev_gray, size, interpolation=cv2.INTER_AREA)
        b = cv2.resize(next_gray, size, interpolation=cv2.INTER_AREA)
        flow = _flow_engine(config.flow)(a, b)
        flow = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR) / scale
    else:
        flow = _flow_engine(config.flow)(prev_gray, next_gray)
    return np.ascontiguousarray(flow, dtype=np.float32)


def correspondence(
    prev_in: np.ndarray, cur_in: np.ndarray, config: WarpConfig = WarpConfig()
) -> Correspondence:
    """Backward flow of frame ``t`` to ``t-1`` with its non-occlusion mask.

    Parameters
    ----------
    prev_in, cur_in : (H, W, 3) uint8 RGB
        Consecutive INPUT frames ``I_{t-1}`` and ``I_t``.
    config : WarpConfig

    Returns
    -------
    Correspondence
    """
    if prev_in.shape != cur_in.shape:
        raise InputError(f"consecutive frames differ in size: {prev_in.shape} then {cur_in.shape}")
    prev_gray, cur_gray = _gray(prev_in), _gray(cur_in)
    backward = estimate_flow(cur_gray, prev_gray, config)  # t -> t-1
    forward = estimate_flow(prev_gray, cur_gray, config)  # t-1 -> t
    height, width = cur_gray.shape
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    map_x = grid_x + backward[..., 0]
    map_y = grid_y + backward[..., 1]
    # forward flow read at the matched position in t-1: should undo the backward flow
    forward_at = cv2.remap(forward, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    round_trip = backward + forward_at
    inconsistent = np.sum(round_trip**2, axis=2) > (
        config.consistency_rel * (np.sum(backward**2, axis=2) + np.sum(forward_at**2, axis=2))
        + config.consistency_abs
    )
    grad_sq = np.zeros((height, width), np.float32)
    for channel in range(2):
        gx = cv2.Sobel(backward[..., channel], cv2.CV_32F, 1, 0, ksize=1)
        gy = cv2.Sobel(backward[..., channel], cv2.CV_32F, 0, 1, ksize=1)
        grad_sq += gx * gx + gy * gy
    # the Sobel ksize=1 kernel is [-1, 0, 1], i.e. twice the central difference
    grad_sq *= 0.25
    boundary = grad_sq > config.boundary_rel * np.sum(backward**2, axis=2) + config.boundary_abs
    inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
    return Correspondence(map_x=map_x, map_y=map_y, valid=inside & ~inconsistent & ~boundary)


def pair_warping_error(prev_out: np.ndarray, cur_out: np.ndarray, corr: Correspondence) -> float:
    """``E_pair``: masked mean squared RGB difference between ``O_t`` and warped ``O_{t-1}``.

    Parameters
    ----------
    prev_out, cur_out : (H, W, 3) uint8 RGB
        Consecutive output frames.
    corr : Correspondence
        From :func:`correspondence` on the matching input frames.

    Returns
    -------
    float
        In [0, 1] (RGB scaled to [0, 1]); NaN when no pixel is valid.
    """
    count = int(np.count_nonzero(corr.valid))
    if count == 0:
        return float("nan")
    warped = cv2.remap(prev_out, corr.map_x, corr.map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    diff = (cur_out.astype(np.float32) - warped.astype(np.float32)) * (1.0 / 255.0)
    sq = np.sum(diff * diff, axis=2)
    return float(np.sum(sq[corr.valid], dtype=np.float64) / (3.0 * count))


def _mean(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def warping_errors(
    frames_in: Iterable,
    outputs: Mapping[str, Iterable],
    config: WarpConfig = WarpConfig(),
) -> dict[str, WarpingError]:
    """Warping error of several outputs of the same input, streaming over frame pairs.

    The flow and masks are computed once per input pair and shared by every output, so a
    benchmark of several methods pays for the flow once.

    Parameters
    ----------
    frames_in : iterable of (H, W, 3) uint8 RGB arrays or Frame
        The input video.
    outputs : mapping name -> iterable of (H, W, 3) uint8 RGB arrays or Frame
        Stylized videos of the same length and size as the input.
    config : WarpConfig

    Returns
    -------
    dict name -> WarpingError

    Raises
    ------
    InputError
        Frames of the wrong type/shape, outputs of another size or length than the input.
    """
    if "input" in outputs:
        raise InputError("'input' is reserved for the input video; name the outputs otherwise")
    streams = {"input": frames_in, **outputs}
    names = list(outputs)
    per_pair: dict[str, list[float]] = {name: [] for name in ["input", *names]}
    shares: list[float] = []
    previous: dict[str, np.ndarray] | None = None
    for step in lockstep(streams, what="warping error"):
        for name in names:
            check_same_size(step["input"], step[name], what=f"warping error of {name!r}")
        if previous is not None:
            corr = correspondence(previous["input"], step["input"], config)
            shares.append(float(np.mean(corr.valid)))
            for name in per_pair:
                per_pair[name].append(pair_warping_error(previous[name], step[name], corr))
        previous = step
    own = np.asarray(per_pair["input"], np.float64)
    share = np.asarray(shares, np.float64)
    return {
        name: WarpingError(
            output=_mean(per_pair[name]),
            input=_mean(per_pair["input"]),
            per_pair_output=np.asarray(per_pair[name], np.float64),
            per_pair_input=own,
            valid_share=share,
        )
        for name in names
    }


def warping_error(frames_in: Iterable, frames_out: Iterable, config: WarpConfig = WarpConfig()) -> WarpingError:
    """Warping error of one output video next to the input's own (see :func:`warping_errors`).

    Examples
    --------
    >>> result = warping_error(input_frames, stylized_frames)  # doctest: +SKIP
    >>> result.output, result.input, result.ratio  # doctest: +SKIP
    """
    return warping_errors(frames_in, {"output": frames_out}, config)["output"]
