"""Optical flow between consecutive frames, and the occlusion masks derived from it.

The default is OpenCV's DIS flow (Kroeger et al. 2016), computed on a grey image shrunk so that
its long side is at most :attr:`FlowConfig.max_side_px` (640), with the DIS preset chosen from
the working resolution: medium up to 130k pixels (CIF and smaller), fast up to 1 MP, ultrafast
beyond. Measured on the shared 2-core development machine for one 1080p pair: ultrafast 33 ms,
fast 52 ms, medium 275 ms at full size, 7/16/57 ms at half size; at 640x360, fast costs 4.5 ms
of CPU. Strokes are several pixels wide and the particles are sampled bilinearly, so the
shrunk flow loses little: on crowd_1080p, computing it at 960 or 1920 px instead of 640 traded
fewer colour deletions for more torn (strained) strokes and more additions overall.
``mode="accurate"`` runs DIS's medium preset at full resolution with
:attr:`FlowConfig.accurate_refinement_iters` variational-refinement iterations (tens of times
slower at 1080p: 2.5 s per frame pair under load).

Occlusion follows the forward-backward consistency test of Sundaram et al. (2010), the one used
by Lai et al. (2018) for the warping error: a pixel ``x`` of the first frame is occluded in the
second when ``|f(x) + b(x + f(x))|^2 > 0.01 (|f(x)|^2 + |b(x + f(x))|^2) + 0.5``.

Flows are ``(H, W, 2)`` float32 ``(dx, dy)`` in pixels of the *full* frame, even when they
were computed on a smaller working image: :class:`FlowResult` keeps the working-resolution
arrays and :func:`sample_flow` / :func:`sample_mask` read them at full-resolution points, so a
caller that only needs values at stroke particles never pays for upsampling.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Literal

import cv2
import numba
import numpy as np

from facepaint.errors import InputError

FlowMode = Literal["fast", "accurate"]

#: DIS presets by working-image pixel count (upper bound, inclusive) for ``mode="fast"``.
_FAST_PRESETS: tuple[tuple[int, int], ...] = (
    (130_000, cv2.DISOPTICAL_FLOW_PRESET_MEDIUM),
    (1_000_000, cv2.DISOPTICAL_FLOW_PRESET_FAST),
)


@dataclass(frozen=True)
class FlowConfig:
    """Settings of the optical-flow stage.

    Attributes
    ----------
    mode : {"fast", "accurate"}
        ``"fast"``: DIS on a shrunk grey image, preset by resolution. ``"accurate"``: DIS medium
        preset at full resolution with ``accurate_refinement_iters`` variational iterations.
    max_side_px : int
        In fast mode, the long side of the working image (frames larger than this are shrunk
        with area averaging and the flow is scaled back). Ignored in accurate mode.
    accurate_refinement_iters : int
        Variational refinement iterations per DIS scale in accurate mode.
    occlusion_rel, occlusion_abs_px2 : float
        The two constants of the forward-backward test (0.01 and 0.5 in Sundaram et al.).
    static_margin : float
        Where the frames are explained at least as well by no motion as by the estimated flow,
        the flow is set to zero (see :func:`prefer_static`): the mean absolute grey difference
        of the two frames over a 5x5 window is at most that of the flow-warped frame plus this
        many grey levels. Negative: off.
    refine_window_px : int
        Stroke motion is matched again at full resolution (:func:`refine_motion`) with this
        Lucas-Kanade window; 0: off (strokes move by the shrunk frame's flow alone).
    refine_max_change_px, refine_min_eigen : float
        The refinement moves a stroke by at most this much (full-frame pixels) from the flow,
        and only where the content is textured enough (see :func:`refine_motion`).
    refine_prefilter_eigen : float
        Only points where the shrunk frame is textured (the smaller eigenvalue of its gradient
        matrix over 3x3 blocks, in ``cv2.cornerMinEigenVal``'s units, is at least this) are
        matched at full resolution (:func:`textured_points`): matching costs as much for a
        point that then fails ``refine_min_eigen`` as for one that passes, and on real clips
        90-99 % fail. On
        lp_s18, lp_s32 and crowd_1080p the prefilter keeps 99.6-100 % of the points that pass,
        and 7-34 % of all. 0: every point is matched.
    refine_levels : int
        Pyramid levels of that matching above the full size (far matches reach about
        ``2 ** refine_levels`` half-windows). 0: the ticker of the lower-third stress clip
        (letters 4 px a frame) is followed as well as with 2 (warping ratio 5.4 against 5.3,
        first 50 frames) at half the cost (15 against 28 ms for 15.6k strokes at 720p).
    rematch_gain : float
        A match farther than ``refine_max_change_px`` from the flow's is taken when its window
        differs from the previous frame's by less than this factor times the flow's match (the
        flow missed content too fine for the shrunk frame); 0: never.
    """

    mode: FlowMode = "fast"
    max_side_px: int = 640
    accurate_refinement_iters: int = 10
    occlusion_rel: float = 0.01
    occlusion_abs_px2: float = 0.5
    static_margin: float = 0.5
    refine_window_px: int = 9
    refine_max_change_px: float = 0.75
    refine_min_eigen: float = 1e-2
    refine_prefilter_eigen: float = 1e-4
    refine_levels: int = 0
    rematch_gain: float = 0.5

    def __post_init__(self) -> None:
        if self.mode not in ("fast", "accurate"):
            raise InputError(f"flow mode must be 'fast' or 'accurate', got {self.mode!r}")
        if self.max_side_px < 16:
            raise InputError(f"FlowConfig.max_side_px must be >= 16, got {self.max_side_px}")
        if self.refine_window_px != 0 and self.refine_window_px < 3:
            raise InputError(f"FlowConfig.refine_window_px must be 0 (off) or >= 3, got {self.refine_window_px}")
        if not 0 <= self.refine_levels <= 5:
            raise InputError(f"FlowConfig.refine_levels must be in 0..5, got {self.refine_levels}")
        if not 0.0 <= self.rematch_gain < 1.0:
            raise InputError(f"FlowConfig.rematch_gain must be in [0, 1), got {self.rematch_gain}")


@dataclass(frozen=True)
class FlowResult:
    """Flow between frame ``t-1`` ("prev") and frame ``t`` ("next").

    All arrays are at the working resolution ``(h, w)``; vectors are in full-frame pixels.

    Attributes
    ----------
    forward : (h, w, 2) float32
        Displacement of each prev-frame pixel into the next frame: ``prev(x) ~ next(x + f(x))``.
    backward : (h, w, 2) float32, or None
        Displacement of each next-frame pixel back into the prev frame; None in a forward-only
        result (:meth:`FlowEstimator.forward`), as are the two masks.
    occluded_prev : (h, w) bool, or None
        Prev-frame pixels that the forward-backward test finds hidden (or gone) in the next frame.
    occluded_next : (h, w) bool, or None
        Next-frame pixels not visible in the prev frame (disocclusions, new content).
    scale : float
        Full-frame pixels per working pixel (``>= 1``).
    full_shape : tuple of int
        ``(H, W)`` of the full frame.
    static_prev : (h, w) bool, or None
        Prev-frame pixels whose forward flow was set to zero (:func:`prefer_static`).
    texture_prev : (h, w) float32, or None
        How textured the prev frame is at working resolution (:func:`texture_map`), where the
        flow ran on a shrunk frame and its refinement's prefilter is on (computed with the flow,
        on the flow's worker thread in the pipeline; :func:`textured_points` reads it).
    """

    forward: np.ndarray
    backward: np.ndarray | None
    occluded_prev: np.ndarray | None
    occluded_next: np.ndarray | None
    scale: float
    full_shape: tuple[int, int]
    static_prev: np.ndarray | None = None
    texture_prev: np.ndarray | None = None


def _preset_for(pixels: int) -> int:
    for limit, preset in _FAST_PRESETS:
        if pixels <= limit:
            return preset
    return cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST


def _check_image(image: np.ndarray, name: str) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise InputError(
            f"{name} must be a uint8 numpy image (H, W) or (H, W, 3) RGB, got "
            f"{type(image).__name__} {getattr(image, 'dtype', '')}"
        )
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise InputError(f"{name} must have shape (H, W) or (H, W, 3), got {image.shape}")
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise InputError(f"{name} must be at least 2x2 pixels, got {image.shape[:2]}")


class FlowEstimator:
    """Computes :class:`FlowResult` for consecutive frames, reusing its DIS instances.

    A class (not a bare function) because creating a DIS object costs as much as running it on a
    small frame, and the pipeline calls it once per frame. It keeps no frame-to-frame state.

    Parameters
    ----------
    config : FlowConfig
    """

    def __init__(self, config: FlowConfig = FlowConfig()) -> None:
        self.config = config
        self._dis: dict[int, cv2.DISOpticalFlow] = {}

    def _solver(self, pixels: int) -> cv2.DISOpticalFlow:
        if self.config.mode == "accurate":
            preset = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
        else:
            preset = _preset_for(pixels)
        if preset not in self._dis:
            dis = cv2.DISOpticalFlow_create(preset)
            if self.config.mode == "accurate":
                dis.setVariationalRefinementIterations(self.config.accurate_refinement_iters)
            self._dis[preset] = dis
        return self._dis[preset]

    def working_scale(self, shape: tuple[int, int]) -> float:
        """Full-frame pixels per working pixel for a frame of ``shape = (H, W)``."""
        if self.config.mode == "accurate":
            return 1.0
        return max(1.0, max(shape[0], shape[1]) / self.config.max_side_px)

    def to_working_gray(self, image: np.ndarray) -> np.ndarray:
        """``(H, W, 3)`` RGB or ``(H, W)`` grey uint8 -> ``(h, w)`` uint8 grey working image."""
        _check_image(image, "image")
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
        scale = self.working_scale(image.shape[:2])
        if scale > 1.0:
            h = max(2, int(round(image.shape[0] / scale)))
            w = max(2, int(round(image.shape[1] / scale)))
            gray = cv2.resize(gray, (w, h), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(gray)

    def __call__(
        self,
        prev: np.ndarray,
        next: np.ndarray,
        *,
        prev_working: np.ndarray | None = None,
        next_working: np.ndarray | None = None,
    ) -> FlowResult:
        """Flow from ``prev`` to ``next`` and back, with occlusion masks: :meth:`forward`, then
        :meth:`complete`.

        Parameters
        ----------
        prev, next : (H, W, 3) uint8 RGB or (H, W) uint8 grey
            Consecutive frames of the same size.
        prev_working, next_working : (h, w) uint8, optional
            Results of :meth:`to_working_gray` for the frames, when the caller already has them
            (the pipeline keeps the previous one).

        Returns
        -------
        FlowResult
        """
        _check_pair(prev, next)
        a = self.to_working_gray(prev) if prev_working is None else prev_working
        b = self.to_working_gray(next) if next_working is None else next_working
        return self.complete(self.forward(prev, next, prev_working=a, next_working=b), a, b)

    def forward(
        self,
        prev: np.ndarray,
        next: np.ndarray,
        *,
        prev_working: np.ndarray | None = None,
        next_working: np.ndarray | None = None,
    ) -> FlowResult:
        """The forward flow alone: a :class:`FlowResult` whose ``backward`` and masks are None.
        It is all that moving the strokes needs, so the pipeline starts the physics on it while
        the backward flow, which only the deletion reads, is computed (:meth:`complete`).
        Parameters as for :meth:`__call__`."""
        _check_pair(prev, next)
        a = self.to_working_gray(prev) if prev_working is None else prev_working
        b = self.to_working_gray(next) if next_working is None else next_working
        scale = self.working_scale(prev.shape[:2])
        forward = self._solver(a.size).calc(a, b, None)
        static = prefer_static(forward, a, b, self.config.static_margin)
        texture = None
        if scale != 1.0:
            forward *= scale
            if self.config.refine_window_px and self.config.refine_prefilter_eigen > 0:
                texture = texture_map(a)
        return FlowResult(
            forward=forward,
            backward=None,
            occluded_prev=None,
            occluded_next=None,
            scale=float(scale),
            full_shape=(int(prev.shape[0]), int(prev.shape[1])),
            static_prev=static,
            texture_prev=texture,
        )

    def complete(self, result: FlowResult, prev_working: np.ndarray, next_working: np.ndarray) -> FlowResult:
        """``result`` of :meth:`forward` with the backward flow and the occlusion masks added.

        Parameters
        ----------
        result : FlowResult
            From :meth:`forward` for the same frames.
        prev_working, next_working : (h, w) uint8
            The frames' :meth:`to_working_gray` images.
        """
        if prev_working.shape != result.forward.shape[:2] or next_working.shape != prev_working.shape:
            raise InputError(
                f"complete needs the working images of the flow's frames, {result.forward.shape[:2]}; "
                f"got {prev_working.shape} and {next_working.shape}"
            )
        scale = result.scale
        backward = self._solver(prev_working.size).calc(next_working, prev_working, None)
        prefer_static(backward, next_working, prev_working, self.config.static_margin)
        # The test runs in working pixels (its absolute term is not scale-covariant).
        forward = result.forward if scale == 1.0 else result.forward * np.float32(1.0 / scale)
        occ_prev = _inconsistent(forward, backward, self.config)
        occ_next = _inconsistent(backward, forward, self.config)
        if scale != 1.0:
            backward *= scale
        return replace(result, backward=backward, occluded_prev=occ_prev, occluded_next=occ_next)


def _check_pair(prev: np.ndarray, next: np.ndarray) -> None:
    _check_image(prev, "prev")
    _check_image(next, "next")
    if prev.shape[:2] != next.shape[:2]:
        raise InputError(
            f"flow needs two frames of the same size, got {prev.shape[:2]} and "
            f"{next.shape[:2]}; resize one of them first"
        )


def estimate_flow(prev: np.ndarray, next: np.ndarray, *, config: FlowConfig = FlowConfig()) -> FlowResult:
    """One-shot :class:`FlowEstimator` call; see there. Prefer the class in loops."""
    return FlowEstimator(config)(prev, next)


def prefer_static(flow: np.ndarray, a: np.ndarray, b: np.ndarray, margin: float) -> np.ndarray | None:
    """Set ``flow`` (from ``a`` to ``b``, working pixels, in place) to zero where no motion
    explains the frames as well as the flow does; returns where (``(h, w)`` bool), None if off.

    Why: a static picture, logo or caption bar over a panning camera is a motion boundary, and
    DIS, like every flow with a smoothness prior, spreads the pan a few pixels into the static
    side; strokes there are dragged across the edge and smear. Where the frames are unchanged
    (the 5x5 mean absolute difference of ``a`` and ``b`` is at most that of ``a`` and ``b``
    warped back by the flow, plus ``margin`` grey levels), zero motion is at least as good an
    explanation, and the simpler one. Slow motion of texture is kept: even a tenth of a pixel
    per frame over a gradient of 20 levels a pixel leaves a difference the flow explains
    better. On flat areas both explain the frames, and a stroke there looks the same wherever
    it is.

    Parameters
    ----------
    flow : (h, w, 2) float32, ``(dx, dy)`` working pixels
    a, b : (h, w) uint8 grey working images
    margin : float
        Grey levels; negative: do nothing.
    """
    if margin < 0:
        return None
    h, w = a.shape
    warped = cv2.remap(b, _identity_map(h, w) + flow, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    still = cv2.blur(cv2.absdiff(a, b).astype(np.float32), (5, 5))
    moved = cv2.blur(cv2.absdiff(a, warped).astype(np.float32), (5, 5))
    static = np.empty((h, w), np.bool_)
    # One pass (numpy's flow[static] = 0 cost 3 ms at 640x360, more than the flow's own solve).
    _zero_where_still(still, moved, np.float32(margin), flow, static)
    return static


@numba.njit(cache=True, parallel=True, nogil=True)
def _zero_where_still(still, moved, margin, flow, static):  # pragma: no cover - numba
    """``static = still <= moved + margin``; ``flow`` (h, w, 2) set to 0 there, in place."""
    h, w = static.shape
    for y in numba.prange(h):
        for x in range(w):
            s = still[y, x] <= moved[y, x] + margin
            static[y, x] = s
            if s:
                flow[y, x, 0] = 0.0
                flow[y, x, 1] = 0.0


@lru_cache(maxsize=8)
def _identity_map(h: int, w: int) -> np.ndarray:
    """(h, w, 2) float32 ``(x, y)`` of each pixel, read-only: a remap's map is this plus a flow."""
    grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), axis=-1)
    grid.setflags(write=False)
    return grid


def _inconsistent(flow_ab: np.ndarray, flow_ba: np.ndarray, config: FlowConfig) -> np.ndarray:
    """Forward-backward test in the working units (the test is scale-covariant only up to the
    absolute term, which we keep in working pixels as the flow was estimated there)."""
    out = np.empty(flow_ab.shape[:2], np.bool_)
    _fb_test(
        np.ascontiguousarray(flow_ab, np.float32), np.ascontiguousarray(flow_ba, np.float32),
        np.float32(config.occlusion_rel), np.float32(config.occlusion_abs_px2), out,
    )
    return out


@numba.njit(cache=True, parallel=True, fastmath=True, nogil=True)
def _fb_test(fab, fba, rel, abs_px2, out):  # pragma: no cover - numba
    """``out[y, x]``: ``|f(x) + b(x + f(x))|^2 > rel (|f|^2 + |b|^2) + abs``, or the match
    ``x + f(x)`` leaves the frame; ``b`` read bilinearly (border clamped). In float32 with flat
    unsigned indices (``x + f`` with an integer ``x`` had made the whole test float64, and 3-d
    indexing with its negative-index checks half of the rest: 1.8 -> 1.1 ms a test of a 640x360
    frame on one thread)."""
    h, w, _ = fab.shape
    ab = fab.reshape(-1)
    ba = fba.reshape(-1)
    right = np.float32(w - 1)
    bottom = np.float32(h - 1)
    one = np.float32(1.0)
    u1 = np.uint64(1)
    row = np.uint64(2 * w)
    step = np.uint64(2) if w > 1 else np.uint64(0)
    down = row if h > 1 else np.uint64(0)
    for y in numba.prange(h):
        fy0 = np.float32(y)
        for x in range(w):
            i = np.uint64((y * w + x) * 2)
            fx = ab[i]
            fy = ab[i + u1]
            mx = np.float32(x) + fx
            my = fy0 + fy
            if not (mx >= 0.0 and mx <= right and my >= 0.0 and my <= bottom):
                out[y, x] = True
                continue
            x0 = min(np.int32(mx), np.int32(w - 2)) if w > 1 else np.int32(0)
            y0 = min(np.int32(my), np.int32(h - 2)) if h > 1 else np.int32(0)
            ax = mx - np.float32(x0)
            ay = my - np.float32(y0)
            j = np.uint64(y0) * row + np.uint64(x0) * np.uint64(2)
            bx = (one - ay) * ((one - ax) * ba[j] + ax * ba[j + step]) + ay * ((one - ax) * ba[j + down] + ax * ba[j + down + step])
            by = (one - ay) * ((one - ax) * ba[j + u1] + ax * ba[j + step + u1]) + ay * ((one - ax) * ba[j + down + u1] + ax * ba[j + down + step + u1])
            ex = fx + bx
            ey = fy + by
            out[y, x] = ex * ex + ey * ey > rel * (fx * fx + fy * fy + bx * bx + by * by) + abs_px2


def sample_field(field: np.ndarray, points: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Bilinear samples of a per-pixel field at full-resolution points.

    Parameters
    ----------
    field : (h, w) or (h, w, C) float32, uint8 or uint16
        Values at working resolution (integer values are not rescaled).
    points : (..., 2) float
        ``(x, y)`` full-frame pixels; points outside are clamped to the border.
    scale : float
        Full-frame pixels per working pixel of ``field``.

    Returns
    -------
    (..., ) or (..., C) float32
    """
    pts = np.asarray(points, dtype=np.float32)
    lead = pts.shape[:-1]
    flat = pts.reshape(-1, 2)
    if flat.shape[0] == 0:
        tail = field.shape[2:] if field.ndim == 3 else ()
        return np.zeros(lead + tail, np.float32)
    # Pixel centres: full pixel x sits at working (x + 0.5) / scale - 0.5.
    # uint8/uint16 images are sampled as they are (no full-frame float copy); results are float32.
    src = np.ascontiguousarray(field) if field.dtype in (np.uint8, np.uint16, np.float32) else np.ascontiguousarray(field, np.float32)
    squeeze = src.ndim == 2
    if squeeze:
        src = src[..., None]
    out = np.empty((flat.shape[0], src.shape[2]), np.float32)
    _bilinear(src, np.ascontiguousarray(flat, np.float32), np.float32(1.0 / scale), out)
    out = out[:, 0] if squeeze else out
    return out.reshape(lead + out.shape[1:])


@numba.njit(cache=True, parallel=True, fastmath=True, nogil=True)
def _bilinear(src, points, inv_scale, out):  # pragma: no cover - numba
    """Bilinear lookup with border clamping; ``points`` in full-frame pixels."""
    h, w, c = src.shape
    for i in numba.prange(points.shape[0]):
        x = (points[i, 0] + 0.5) * inv_scale - 0.5
        y = (points[i, 1] + 0.5) * inv_scale - 0.5
        x = min(max(x, 0.0), w - 1.0)
        y = min(max(y, 0.0), h - 1.0)
        x0 = min(int(x), w - 2) if w > 1 else 0
        y0 = min(int(y), h - 2) if h > 1 else 0
        x1 = min(x0 + 1, w - 1)
        y1 = min(y0 + 1, h - 1)
        fx = x - x0
        fy = y - y0
        for ch in range(c):
            a = np.float32(src[y0, x0, ch])
            b = np.float32(src[y0, x1, ch])
            top = a + fx * (b - a)
            a = np.float32(src[y1, x0, ch])
            b = np.float32(src[y1, x1, ch])
            bot = a + fx * (b - a)
            out[i, ch] = top + fy * (bot - top)


def sample_flow(flow: FlowResult, points: np.ndarray) -> np.ndarray:
    """Forward flow at full-resolution ``points (..., 2)`` -> ``(..., 2)`` float32 pixels."""
    return sample_field(flow.forward, points, flow.scale)


def refine_motion(
    prev_gray: np.ndarray, next_gray: np.ndarray, points: np.ndarray, motion: np.ndarray, *,
    window_px: int = 9, max_change_px: float = 0.75, min_eigen: float = 1e-2,
    levels: int = 0, rematch_gain: float = 0.5, still: np.ndarray | None = None, candidates: np.ndarray | None = None,
) -> np.ndarray:
    """Sharpen the motion of ``points`` to a fraction of a full-resolution pixel, and match
    again the points that the flow got wrong.

    The dense flow is measured on a shrunk frame (:attr:`FlowConfig.max_side_px`) and is off by
    about a tenth of a full-frame pixel a frame (on a 720p pan, median 0.07 px, p90 0.26):
    a textured stroke carried that far off its content changes colour under the warping-error
    test as much as the video's own noise several times over. Content finer than the shrunk
    frame resolves (the letters of a ticker scrolling over a static caption bar, 2 px strokes
    moving 4 px a frame) is not followed at all: the flow there is the bar's, zero. Here each
    point is matched again, from where the flow puts it, by pyramidal Lucas-Kanade on the
    full-size grey frames (window ``window_px``, ``levels`` pyramid levels above the full
    size). The match is taken when it is near the flow's (within ``max_change_px``: the same
    minimum, made sharper) or, farther away, when it is a clearly better match: the mean
    absolute grey difference of the window there is below ``rematch_gain`` times that at the
    flow's match (and the flow's is more than noise, 2 grey levels). A point keeps the flow's
    motion where the match fails (the frame's edge; a window whose gradients' smaller
    eigenvalue, per pixel and in [0, 1] grey units, is below ``min_eigen``: flat or blurred
    content, where a window of noise would pull the stroke about) or is neither near nor
    better (another minimum than the flow's: an occlusion, a motion boundary).

    Parameters
    ----------
    prev_gray, next_gray : (H, W) uint8
        Full-size grey frames.
    points : (N, 2) float32
        Positions in ``prev_gray``.
    motion : (N, 2) float32
        Their displacement by the flow.
    levels : int
        Pyramid levels above the full size: far matches reach about ``2 ** levels`` times the
        window's half-width.
    rematch_gain : float
        How much lower (as a factor) the window difference of a far match must be; 0: far
        matches are never taken.
    still : (N,) bool, optional
        Points the flow found static (:func:`prefer_static`): they keep the flow's motion
        unless a far match is clearly better (no sub-pixel nudging of static content).
    candidates : (N,) bool, optional
        Only these points are matched (e.g. :func:`textured_points`); the others keep the
        flow's motion.

    Returns
    -------
    (N, 2) float32
        The refined displacement.
    """
    for name, gray in (("prev_gray", prev_gray), ("next_gray", next_gray)):
        if not isinstance(gray, np.ndarray) or gray.ndim != 2 or gray.dtype != np.uint8:
            raise InputError(f"refine_motion: {name} must be an (H, W) uint8 grey frame, got {getattr(gray, 'shape', type(gray))}")
    if prev_gray.shape != next_gray.shape:
        raise InputError(f"refine_motion: the frames differ in size, {prev_gray.shape} and {next_gray.shape}")
    points = np.ascontiguousarray(points, np.float32)
    motion = np.ascontiguousarray(motion, np.float32)
    if points.ndim != 2 or points.shape[1:] != (2,) or motion.shape != points.shape:
        raise InputError(f"refine_motion: points and motion must both be (N, 2), got {points.shape} and {motion.shape}")
    if still is not None and np.shape(still) != (len(points),):
        raise InputError(f"refine_motion: still must be ({len(points)},) bool, got {np.shape(still)}")
    if candidates is not None and np.shape(candidates) != (len(points),):
        raise InputError(f"refine_motion: candidates must be ({len(points)},) bool, got {np.shape(candidates)}")
    if len(points) == 0:
        return motion.copy()
    start = points + motion
    found = start.copy()
    status = np.zeros((len(points), 1), np.uint8)
    chosen = slice(None) if candidates is None else np.flatnonzero(candidates)
    if candidates is None or len(chosen):
        found[chosen], status[chosen], _ = cv2.calcOpticalFlowPyrLK(
            prev_gray, next_gray, points[chosen], np.array(start[chosen]), winSize=(window_px, window_px), maxLevel=levels,
            criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 10, 0.01), flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
            minEigThreshold=min_eigen,
        )
    change = found - start
    matched = (status[:, 0] == 1) & np.isfinite(change).all(axis=1)
    near = matched & (np.abs(change).max(axis=1) <= max_change_px)
    if still is not None:
        near &= ~np.asarray(still, bool)
    far = np.flatnonzero(matched & ~near)
    good = near.copy()
    if rematch_gain > 0 and len(far):
        half = window_px // 2
        ends = np.concatenate([start[far], found[far]])
        origin = np.concatenate([points[far], points[far]])
        diff = np.empty(len(ends), np.float32)
        _window_difference(prev_gray, next_gray, origin, ends, half, diff)
        at_flow, at_match = diff[: len(far)], diff[len(far):]
        better = (at_match < rematch_gain * at_flow) & (at_flow > 2.0)
        good[far[better]] = True
    out = motion.copy()
    out[good] += change[good]
    return out


def texture_map(working_gray: np.ndarray) -> np.ndarray:
    """``(h, w) float32``: the smaller eigenvalue of the gradient matrix of ``working_gray (h, w)
    uint8`` over 3x3 blocks (``cv2.cornerMinEigenVal(gray, 3, 3)``, in its units)."""
    if working_gray.ndim != 2 or working_gray.dtype != np.uint8:
        raise InputError(f"texture_map needs an (h, w) uint8 grey image, got {working_gray.shape} {working_gray.dtype}")
    return cv2.cornerMinEigenVal(working_gray, 3, 3)


def textured_points(texture: np.ndarray, points: np.ndarray, scale: float, min_eigen: float) -> np.ndarray:
    """``(N,) bool``: where the shrunk frame is textured at full-frame ``points (N, 2)``: its
    :func:`texture_map` ``texture (h, w)`` at the nearest working pixel is at least
    ``min_eigen``; ``scale`` is full-frame pixels per working pixel."""
    # sample_mask reads points outside the frame as set: there they read as untextured.
    return ~sample_mask(texture < np.float32(min_eigen), np.asarray(points, np.float32).reshape(-1, 2), scale)


@numba.njit(cache=True, parallel=True, fastmath=True, nogil=True)
def _window_difference(a, b, at_a, at_b, half, out):  # pragma: no cover - numba
    """``out[i]``: mean absolute difference (grey levels) of the ``2 half + 1`` square windows of
    ``a`` about ``at_a[i]`` and of ``b`` about ``at_b[i]``, both read bilinearly (border
    clamped)."""
    h, w = a.shape
    n = (2 * half + 1) * (2 * half + 1)
    for i in numba.prange(at_a.shape[0]):
        total = np.float32(0.0)
        for dy in range(-half, half + 1):
            for dx in range(-half, half + 1):
                total += abs(_sample(a, at_a[i, 0] + dx, at_a[i, 1] + dy, h, w)
                             - _sample(b, at_b[i, 0] + dx, at_b[i, 1] + dy, h, w))
        out[i] = total / n


@numba.njit(inline="always")
def _sample(img, x, y, h, w):  # pragma: no cover - numba
    """Bilinear value of the (h, w) uint8 ``img`` at ``(x, y)``, clamped to the border."""
    x = min(max(x, np.float32(0.0)), np.float32(w - 1))
    y = min(max(y, np.float32(0.0)), np.float32(h - 1))
    x0 = min(int(x), w - 2)
    y0 = min(int(y), h - 2)
    fx = x - x0
    fy = y - y0
    top = np.float32(img[y0, x0]) + fx * (np.float32(img[y0, x0 + 1]) - np.float32(img[y0, x0]))
    bot = np.float32(img[y0 + 1, x0]) + fx * (np.float32(img[y0 + 1, x0 + 1]) - np.float32(img[y0 + 1, x0]))
    return top + fy * (bot - top)


def sample_mask(mask: np.ndarray, points: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Nearest-pixel lookup of a ``(h, w)`` bool mask at full-resolution ``points (..., 2)``;
    points outside the frame read as ``True`` (unknown counts as masked)."""
    pts = np.asarray(points, dtype=np.float32)
    h, w = mask.shape
    x = np.floor((pts[..., 0] + 0.5) / scale).astype(np.int64)
    y = np.floor((pts[..., 1] + 0.5) / scale).astype(np.int64)
    inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    out = np.ones(pts.shape[:-1], dtype=bool)
    out[inside] = mask[y[inside], x[inside]]
    return out


def upsample_flow(flow: np.ndarray, scale: float, full_shape: tuple[int, int]) -> np.ndarray:
    """A working-resolution flow ``(h, w, 2)`` resized to ``full_shape (H, W)`` (values already in
    full-frame pixels, so only the grid changes)."""
    if scale == 1.0 and flow.shape[:2] == tuple(full_shape):
        return flow
    return cv2.resize(flow, (full_shape[1], full_shape[0]), interpolation=cv2.INTER_LINEAR)


def warp_backward(image: np.ndarray, flow_to_source: np.ndarray) -> np.ndarray:
    """Resample ``image`` along a full-resolution flow: ``out(x) = image(x + flow(x))``.

    Parameters
    ----------
    image : (H, W) or (H, W, C) array
    flow_to_source : (H, W, 2) float32
        For each output pixel, the displacement to where it is found in ``image`` (e.g. the
        backward flow ``t -> t-1`` warps frame ``t-1`` onto frame ``t``).
    """
    h, w = flow_to_source.shape[:2]
    if image.shape[:2] != (h, w):
        raise InputError(f"warp: image {image.shape[:2]} and flow {(h, w)} differ in size")
    return cv2.remap(
        image, _identity_map(h, w) + np.asarray(flow_to_source, np.float32), None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
