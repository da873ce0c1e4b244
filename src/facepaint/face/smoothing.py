"""The One Euro filter (Casiez et al., CHI 2012), vectorised over landmarks.

An adaptive low-pass filter: its cut-off frequency rises with the speed of the signal, so a still
face does not jitter and a fast head move is not lagged. Speeds are measured in face sizes per
second (the landmarks are divided by ``scale`` before the derivative), so one set of parameters
serves faces of 24 px and of 800 px alike, as in mediapipe's landmark smoothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroConfig:
    """Parameters of the One Euro filter.

    min_cutoff_hz : cut-off frequency of a still signal (lower: smoother, more lag when slow)
    beta : how fast the cut-off rises with speed (in face sizes per second; higher: less lag)
    derivative_cutoff_hz : cut-off of the low-pass on the speed estimate
    jump_faces : a sample whose points lie, on average, farther than this many face sizes from
        the filtered ones is taken as it is and the filter goes on from there (0: never). The
        speed estimate is itself low-passed, so a head that jumps after standing still (a clip
        that repeats frames, then moves on) was followed a third of the jump behind: on lp_s13
        (77 px face, jumps of 12-24 px) the smoothed contour was 6 px off a fresh detection
        at frames 64, 70 and 77 and painted frame 70's features beside the face. The landmarks'
        own jitter is a fraction of a percent of the face.
    """

    min_cutoff_hz: float = 0.3
    beta: float = 20.0
    derivative_cutoff_hz: float = 1.0
    jump_faces: float = 0.04


def _alpha(cutoff_hz: np.ndarray | float, dt_s: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * np.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt_s)


class OneEuroFilter:
    """State of one filter over an ``(N, 2)`` array of points (one filter per coordinate)."""

    def __init__(self, config: OneEuroConfig = OneEuroConfig()) -> None:
        self.config = config
        self._value: np.ndarray | None = None
        self._speed: np.ndarray | None = None

    def reset(self) -> None:
        self._value = None
        self._speed = None

    def __call__(self, points: np.ndarray, *, dt_s: float, scale: float) -> np.ndarray:
        """Filter one new sample.

        Parameters
        ----------
        points : (N, 2) float32 pixels, the raw landmarks of this frame
        dt_s : time since the previous sample, seconds (> 0)
        scale : size of the face in pixels (> 0), the unit of the speed

        Returns
        -------
        (N, 2) float32 filtered landmarks, pixels
        """
        x = points.astype(np.float64)
        if self._value is None:
            self._value = x
            self._speed = np.zeros_like(x)
            return points.astype(np.float32)
        c = self.config
        step = x - self._value
        raw_speed = step / (dt_s * max(scale, 1e-6))
        if c.jump_faces > 0 and np.mean(np.linalg.norm(step, axis=-1)) > c.jump_faces * max(scale, 1e-6):
            self._speed, self._value = raw_speed, x
            return points.astype(np.float32)
        a_d = _alpha(c.derivative_cutoff_hz, dt_s)
        self._speed = self._speed + a_d * (raw_speed - self._speed)
        cutoff = c.min_cutoff_hz + c.beta * np.abs(self._speed)
        a = _alpha(cutoff, dt_s)
        self._value = self._value + a * (x - self._value)
        return self._value.astype(np.float32)
