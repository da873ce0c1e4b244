"""The two deformable stroke models, as particle layouts shared by placement, physics and render.

Both models are a ladder: two rows of ``C`` particles running along the stroke from its tail
(where the brush lands) to its head, the *top* row on the left of the direction of travel in image
coordinates (y down), i.e. on the side of the normal ``n = (dy, -dx)`` of the direction ``(dx, dy)``,
the *bottom* row on the other side. Particle ``k`` (``0 <= k < C``) is column ``k`` of the top row,
particle ``C + k`` column ``k`` of the bottom row::

    6-particle model (region 3, C = 3)          4-particle model (region 1, C = 2)

    tail                    head                 a            b
      0 ------- 1 ------- 2     top row           0 -------- 1
      |  \\      |  \\      |                       |  \\       |
      |    \\    |    \\    |                       |    \\     |
      3 ------- 4 ------- 5     bottom row        2 -------- 3

Springs (the ``springs`` array of a :class:`~facepaint.types.StrokeSet`, in this order):

* 6-particle, 9 springs: rows ``(0,1) (1,2) (3,4) (4,5)``, rungs ``(0,3) (1,4) (2,5)``, diagonals
  ``(0,4) (1,5)``. With 12 degrees of freedom minus 3 rigid motions, 9 springs is exactly the number
  that makes the ladder rigid at rest, and the diagonals are the ones the renderer uses to split each
  quad into two triangles, so a spring runs along every mesh edge.
* 4-particle, 5 springs: rows ``(0,1) (2,3)``, rungs ``(0,2) (1,3)``, diagonal ``(0,3)``.

Texture coordinates: particle column ``k`` has ``u = k / (C - 1)`` (0 at the tail, 1 at the head);
the top row has ``v = 0``, the bottom row ``v = 1``. The rung at the tail and the head sit half a
thickness beyond the ends of the stroke's centre line (round caps come from the brush texture).

Material point (the point that carries the stroke's colour and is followed by the animation): a
fixed weighted mean of the particles, :data:`MATERIAL_WEIGHTS_6` (the centre of the middle rung,
``(p1 + p4) / 2``) and :data:`MATERIAL_WEIGHTS_4` (the centre of the quad, the paper's "centre" of
a face stroke). Use :func:`material_points`.
"""

from __future__ import annotations

import numpy as np

from facepaint.errors import InputError
from facepaint.types import StrokeSet

#: Springs of the 6-particle, 9-spring model of region 3 (see the module docstring).
SPRINGS_6 = np.array(
    [[0, 1], [1, 2], [3, 4], [4, 5], [0, 3], [1, 4], [2, 5], [0, 4], [1, 5]], dtype=np.int32
)
#: Springs of the 4-particle, 5-spring model of region 1.
SPRINGS_4 = np.array([[0, 1], [2, 3], [0, 2], [1, 3], [0, 3]], dtype=np.int32)

#: Material point of a 6-particle stroke: the centre of the middle rung.
MATERIAL_WEIGHTS_6 = np.array([0, 0.5, 0, 0, 0.5, 0], dtype=np.float32)
#: Material point of a 4-particle stroke: the centre of the quad.
MATERIAL_WEIGHTS_4 = np.full(4, 0.25, dtype=np.float32)


def springs_for(particles: int) -> np.ndarray:
    """(S, 2) int32 spring topology of the model with ``particles`` particles (6 or 4)."""
    if particles == 6:
        return SPRINGS_6.copy()
    if particles == 4:
        return SPRINGS_4.copy()
    raise InputError(f"stroke models have 6 or 4 particles, got {particles}")


def material_weights(particles: int) -> np.ndarray:
    """(P,) float32 weights of the material point of the model with ``particles`` particles."""
    if particles == 6:
        return MATERIAL_WEIGHTS_6.copy()
    if particles == 4:
        return MATERIAL_WEIGHTS_4.copy()
    raise InputError(f"stroke models have 6 or 4 particles, got {particles}")


def material_points(positions: np.ndarray) -> np.ndarray:
    """Material points of strokes.

    Parameters
    ----------
    positions : (N, P, 2) float32, P in {4, 6}

    Returns
    -------
    (N, 2) float32 ``(x, y)`` pixels
    """
    weights = material_weights(positions.shape[1])
    return np.einsum("npk,p->nk", positions, weights).astype(np.float32)


def particle_means(positions: np.ndarray) -> np.ndarray:
    """``(N, 2) float32``: the mean of each stroke's particles ``positions (N, P, 2)``, summed
    particle by particle (numpy's mean over axis 1 of a float32 (N, P, 2) array is several times
    slower)."""
    positions = np.asarray(positions, np.float32)
    out = positions[:, 0].copy()
    for k in range(1, positions.shape[1]):  # over the 4-6 particles of the model
        out += positions[:, k]
    out *= np.float32(1.0 / positions.shape[1])
    return out


def ladder_uv(particles: int) -> np.ndarray:
    """(P, 2) float32 texture coordinates ``(u, v)`` of the particles (see the module docstring)."""
    columns = particles // 2
    u = np.arange(columns, dtype=np.float32) / max(1, columns - 1)
    uv = np.zeros((particles, 2), np.float32)
    uv[:columns, 0] = u
    uv[columns:, 0] = u
    uv[columns:, 1] = 1.0
    return uv


def ladder_triangles(particles: int) -> np.ndarray:
    """(T, 3) int32 particle indices of the mesh triangles, ``T = 2 (C - 1)``.

    Quad ``k`` (columns ``k, k+1``) is split along the diagonal spring ``(k, C + k + 1)`` into
    ``(k, k+1, C+k+1)`` and ``(k, C+k+1, C+k)``.
    """
    columns = particles // 2
    tris = []
    for k in range(columns - 1):
        tris.append((k, k + 1, columns + k + 1))
        tris.append((k, columns + k + 1, columns + k))
    return np.array(tris, dtype=np.int32)


def rest_lengths(positions: np.ndarray, springs: np.ndarray) -> np.ndarray:
    """(N, S) float32 spring lengths of ``positions`` (N, P, 2): the rest lengths at birth."""
    d = positions[:, springs[:, 0], :] - positions[:, springs[:, 1], :]
    return np.sqrt((d * d).sum(-1)).astype(np.float32)


def ladder_from_spine(spine: np.ndarray, thickness: np.ndarray) -> np.ndarray:
    """Particles of ladders built around centre lines.

    Parameters
    ----------
    spine : (N, C, 2) float
        ``C`` points along each stroke's centre line, tail to head, the first and last being the
        rung positions (already extended by the caps).
    thickness : (N,) float
        Stroke width in pixels.

    Returns
    -------
    (N, 2 C, 2) float32 particles, top row first (see the module docstring).
    """
    spine = np.asarray(spine, np.float64)
    n, columns, _ = spine.shape
    direction = np.empty_like(spine)
    if columns == 1:
        raise InputError("a ladder needs at least 2 spine points")
    direction[:, 0] = spine[:, 1] - spine[:, 0]
    direction[:, -1] = spine[:, -1] - spine[:, -2]
    if columns > 2:
        direction[:, 1:-1] = spine[:, 2:] - spine[:, :-2]
    length = np.linalg.norm(direction, axis=-1, keepdims=True)
    direction = np.where(length > 1e-9, direction / np.maximum(length, 1e-9), np.array([1.0, 0.0]))
    normal = np.stack([direction[..., 1], -direction[..., 0]], axis=-1)
    half = 0.5 * np.asarray(thickness, np.float64)[:, None, None]
    out = np.empty((n, 2 * columns, 2), np.float32)
    out[:, :columns] = spine + normal * half
    out[:, columns:] = spine - normal * half
    return out


def empty_stroke_set(particles: int) -> StrokeSet:
    """A :class:`StrokeSet` with no strokes of the model with ``particles`` particles."""
    springs = springs_for(particles)
    return StrokeSet(
        positions=np.zeros((0, particles, 2), np.float32),
        velocities=np.zeros((0, particles, 2), np.float32),
        rest_lengths=np.zeros((0, len(springs)), np.float32),
        springs=springs,
        colors=np.zeros((0, 3), np.float32),
        thickness=np.zeros(0, np.float32),
        brush=np.zeros(0, np.uint8),
        region=np.zeros(0, np.uint8),
        age=np.zeros(0, np.int32),
        ids=np.zeros(0, np.int64),
    )


def concat_stroke_sets(*sets: StrokeSet) -> StrokeSet:
    """Stroke sets of one model joined in the given order (drawing order is kept)."""
    if not sets:
        raise InputError("concat_stroke_sets needs at least one StrokeSet")
    p = sets[0].particles_per_stroke
    if any(s.particles_per_stroke != p for s in sets):
        raise InputError("cannot join stroke sets of different models (6- and 4-particle)")
    return StrokeSet(
        positions=np.concatenate([s.positions for s in sets]),
        velocities=np.concatenate([s.velocities for s in sets]),
        rest_lengths=np.concatenate([s.rest_lengths for s in sets]),
        springs=sets[0].springs,
        colors=np.concatenate([s.colors for s in sets]),
        thickness=np.concatenate([s.thickness for s in sets]),
        brush=np.concatenate([s.brush for s in sets]),
        region=np.concatenate([s.region for s in sets]),
        age=np.concatenate([s.age for s in sets]),
        ids=np.concatenate([s.ids for s in sets]),
        opacity=np.concatenate([s.opacity for s in sets]),
        fading_out=np.concatenate([s.fading_out for s in sets]),
        born_end_distance=np.concatenate([s.born_end_distance for s in sets]),
    )
