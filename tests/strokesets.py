"""Synthetic stroke sets for the render tests (importable by name: tests/ is on the path)."""

from __future__ import annotations

import numpy as np

from facepaint.strokes import empty_stroke_set, ladder_from_spine, rest_lengths, springs_for
from facepaint.types import Painting, Region, StrokeSet


def make_strokes(positions: np.ndarray, color=(1.0, 0.5, 0.25)) -> StrokeSet:
    n, p, _ = positions.shape
    springs = springs_for(p)
    return StrokeSet(
        positions=positions.astype(np.float32),
        velocities=np.zeros_like(positions, dtype=np.float32),
        rest_lengths=rest_lengths(positions, springs),
        springs=springs,
        colors=np.tile(np.asarray(color, np.float32), (n, 1)),
        thickness=np.full(n, 10.0, np.float32),
        brush=np.zeros(n, np.uint8),
        region=np.full(n, Region.BACKGROUND, np.uint8),
        age=np.zeros(n, np.int32),
        ids=np.arange(n, dtype=np.int64),
    )


def straight_stroke(centre, angle_deg, length, thickness, columns=3) -> np.ndarray:
    a = np.radians(angle_deg)
    d = np.array([np.cos(a), np.sin(a)])
    f = np.linspace(-0.5, 0.5, columns)[:, None]
    spine = np.asarray(centre, float)[None, :] + f * length * d[None, :]
    return ladder_from_spine(spine[None], np.array([thickness]))


def random_painting(rng, n_bg, n_face, shape):
    h, w = shape

    def strokes(n, columns, thickness, region, face_box):
        if n == 0:
            return empty_stroke_set(2 * columns)
        x0, y0, x1, y1 = face_box
        centres = np.stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)], axis=1)
        angles = rng.uniform(0, 180, n)
        pos = np.concatenate([straight_stroke(c, a, rng.uniform(6, 30), thickness, columns) for c, a in zip(centres, angles)])
        s = make_strokes(pos)
        return StrokeSet(**{**s.__dict__, "colors": rng.random((n, 3)).astype(np.float32),
                            "brush": rng.integers(0, 4, n).astype(np.uint8),
                            "thickness": np.full(n, float(thickness), np.float32),
                            "region": np.full(n, int(region), np.uint8)})

    return Painting(
        background=strokes(n_bg, 3, 7.0, Region.BACKGROUND, (-5, -5, w + 5, h + 5)),
        face=strokes(n_face, 2, 3.0, Region.INNER_FACE, (w * 0.3, h * 0.3, w * 0.6, h * 0.7)),
    )
