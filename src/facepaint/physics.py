"""Mass-spring dynamics of deformable strokes, all strokes of a set at once.

Following NVIDIA warp.sim, the static model (topology, rest lengths, constants) is kept apart
from the per-step state (positions, velocities), and one step is a function
``step(model, state, targets, dt) -> state``.

Forces on particle ``i`` of a stroke (unit mass):

* **external, from the optical flow**: a zero-rest-length spring of stiffness ``k_flow`` that
  pulls the particle towards its target ``t_i``, the point the flow carries it to
  (``t_i = x_i + u(x_i)``, or ``x_i + u(c)`` for face strokes driven through their centre ``c``);
* **internal, Hooke springs** along the stroke's topology:
  ``F = k_spring (|x_j - x_i| - L_ij) (x_j - x_i) / |x_j - x_i|`` with ``L_ij`` the rest length
  at the stroke's birth;
* **damping** ``-c v``.

The equilibrium of these forces minimises ``k_flow/2 sum |x - t|^2 + k_spring/2 sum (l - L)^2``:
for a rigid motion of the content every target set is congruent to the stroke and the stroke
lands exactly on it; for a non-rigid flow the stroke follows the flow as far as its springs
allow and keeps its shape otherwise (it neither smears nor tears).

Integration is semi-implicit (symplectic) Euler, with the damping term taken implicitly,
``v <- (v + h F(x) ) / (1 + h c)``, ``x <- x + h v``. The damping part is then unconditionally
stable; the elastic part is stable for ``h * sqrt(k_max) < 2`` where ``k_max`` bounds the largest
eigenvalue of the stiffness matrix: by Gershgorin, ``k_max <= k_flow + 2 * deg * k_spring``
(``deg``: largest number of springs at one particle; each 2x2 spring block has norm ``k_spring``
at rest, and the geometric term of a stretched spring adds less than that). :func:`substeps_for` picks the number of substeps per frame so
that ``h * sqrt(k_max) <= 1.5``: a margin of 4/3 on a bound that itself overestimates the largest
eigenvalue (for a 6-particle ladder of 20 x 4 px at rest, Gershgorin gives ``k_flow + 8 k_spring``
where the springs' largest eigenvalue is ``4.6 k_spring``). With the default constants this is 6
substeps per frame instead of the 9 that ``h * sqrt(k_max) <= 1`` took.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numba
import numpy as np

from facepaint.errors import InputError
from facepaint.flow import FlowResult, sample_flow
from facepaint.types import StrokeSet


#: Largest ``h * sqrt(k_max)`` the substeps allow (symplectic Euler is stable below 2).
STABILITY_MARGIN_H_OMEGA = 1.5


@dataclass(frozen=True)
class PhysicsConfig:
    """Constants of the spring system (unit particle mass, time in frames).

    Attributes
    ----------
    k_flow : float
        Stiffness of the pull towards the flow target, per frame^2.
    k_spring : float
        Stiffness of the stroke's own springs, per frame^2 (relative to ``k_flow`` it sets how
        much a stroke resists being bent or stretched by the flow).
    damping : float
        Velocity damping ``c`` per frame (``2 sqrt(k_flow)`` is critical damping of the pull).
    min_substeps : int
        Lower bound of the Euler substeps per frame; more are taken if stability needs them.
    start_at_targets : bool
        Start each frame's integration at the flow targets instead of the old positions. The
        equilibrium is the same; starting there makes rigid motions exact after one substep
        instead of after the transient, so the step needs fewer substeps to settle.
    """

    k_flow: float = 16.0
    k_spring: float = 8.0
    damping: float = 8.0
    min_substeps: int = 4
    start_at_targets: bool = True

    def __post_init__(self) -> None:
        for name in ("k_flow", "k_spring", "damping"):
            if getattr(self, name) < 0:
                raise InputError(f"PhysicsConfig.{name} must be >= 0, got {getattr(self, name)}")
        if self.min_substeps < 1:
            raise InputError(f"PhysicsConfig.min_substeps must be >= 1, got {self.min_substeps}")


@dataclass(frozen=True)
class SpringModel:
    """Static part of a stroke set's spring system.

    Attributes
    ----------
    springs : (S, 2) int32
        Particle index pairs, shared by every stroke.
    rest_lengths : (N, S) float32
        Rest length of every spring of every stroke, pixels.
    k_flow, k_spring, damping : float
        See :class:`PhysicsConfig`.
    substeps : int
        Euler substeps per unit time (frame).
    """

    springs: np.ndarray
    rest_lengths: np.ndarray
    k_flow: float
    k_spring: float
    damping: float
    substeps: int


@dataclass(frozen=True)
class SpringState:
    """Per-step state: ``positions``, ``velocities`` ``(N, P, 2)`` float32 (pixels, pixels/frame)."""

    positions: np.ndarray
    velocities: np.ndarray


def substeps_for(springs: np.ndarray, particles: int, k_flow: float, k_spring: float, dt: float, minimum: int = 1) -> int:
    """Euler substeps per ``dt`` so that ``h sqrt(k_max) <= STABILITY_MARGIN_H_OMEGA`` (see the module docstring)."""
    springs = np.asarray(springs)
    if springs.size:
        degree = int(np.bincount(springs.ravel(), minlength=particles).max())
    else:
        degree = 0
    k_max = k_flow + 2.0 * degree * k_spring
    return max(int(minimum), int(math.ceil(dt * math.sqrt(max(k_max, 0.0)) / STABILITY_MARGIN_H_OMEGA)))


def build_model(springs: np.ndarray, rest_lengths: np.ndarray, particles: int, config: PhysicsConfig = PhysicsConfig(), *, dt: float = 1.0) -> SpringModel:
    """Make a :class:`SpringModel`, validating the topology and choosing the substeps.

    Parameters
    ----------
    springs : (S, 2) int
        Particle index pairs in ``[0, particles)``.
    rest_lengths : (N, S) float
    particles : int
        Particles per stroke ``P``.
    config : PhysicsConfig
    dt : float
        The step length the model will be used with, in frames.
    """
    springs = np.ascontiguousarray(springs, dtype=np.int32).reshape(-1, 2)
    rest = np.ascontiguousarray(rest_lengths, dtype=np.float32)
    if rest.ndim != 2 or rest.shape[1] != springs.shape[0]:
        raise InputError(
            f"rest_lengths must be (N, S) with S = {springs.shape[0]} springs, got {rest.shape}"
        )
    if springs.size and (springs.min() < 0 or springs.max() >= particles):
        raise InputError(f"spring indices must lie in [0, {particles}), got {springs.min()}..{springs.max()}")
    return SpringModel(
        springs=springs,
        rest_lengths=rest,
        k_flow=float(config.k_flow),
        k_spring=float(config.k_spring),
        damping=float(config.damping),
        substeps=substeps_for(springs, particles, config.k_flow, config.k_spring, dt, config.min_substeps),
    )


# nogil: the pipeline runs the face model on another thread meanwhile (see facepaint.pipeline).
# Strokes are integrated in chunks of _CHUNK, each copied into particle-major scratch arrays
# (particle, coordinate, stroke) so that the loops over the chunk's strokes are contiguous and
# vectorise (SIMD across strokes); the arithmetic is the one of the stroke-by-stroke loop.
# Measured at 31k 6-particle strokes, 6 substeps, on the 2-core machine: 15 ms -> 4.5 ms.
_CHUNK = 128


@numba.njit(cache=True, parallel=True, fastmath=True, nogil=True)
def _integrate(pos, vel, targets, has_targets, springs, rest, k_flow, k_spring, damping, h, n_sub):
    n, p, _ = pos.shape
    s = springs.shape[0]
    inv = np.float32(1.0) / (np.float32(1.0) + h * damping)
    zero = np.float32(0.0)
    tiny = np.float32(1e-6)
    for c in numba.prange((n + _CHUNK - 1) // _CHUNK):
        k0 = c * _CHUNK
        m = min(n, k0 + _CHUNK) - k0
        x = np.empty((p, 2, _CHUNK), np.float32)
        v = np.empty((p, 2, _CHUNK), np.float32)
        t = np.zeros((p, 2, _CHUNK), np.float32)
        f = np.empty((p, 2, _CHUNK), np.float32)
        r = np.empty((s, _CHUNK), np.float32)
        for q in range(m):
            for i in range(p):
                for d in range(2):
                    x[i, d, q] = pos[k0 + q, i, d]
                    v[i, d, q] = vel[k0 + q, i, d]
                    if has_targets:
                        t[i, d, q] = targets[k0 + q, i, d]
            for j in range(s):
                r[j, q] = rest[k0 + q, j]
        for _sub in range(n_sub):
            for i in range(p):
                for d in range(2):
                    for q in range(m):
                        f[i, d, q] = k_flow * (t[i, d, q] - x[i, d, q]) if has_targets else zero
            for j in range(s):
                a = springs[j, 0]
                b = springs[j, 1]
                for q in range(m):
                    dx = x[b, 0, q] - x[a, 0, q]
                    dy = x[b, 1, q] - x[a, 1, q]
                    length = math.sqrt(dx * dx + dy * dy)
                    # Branch-free: a spring of (near) zero length exerts no force.
                    g = k_spring * (length - r[j, q]) / max(length, tiny)
                    g = g if length > tiny else zero
                    f[a, 0, q] += g * dx
                    f[a, 1, q] += g * dy
                    f[b, 0, q] -= g * dx
                    f[b, 1, q] -= g * dy
            for i in range(p):
                for d in range(2):
                    for q in range(m):
                        v[i, d, q] = (v[i, d, q] + h * f[i, d, q]) * inv
                        x[i, d, q] += h * v[i, d, q]
        for q in range(m):
            for i in range(p):
                for d in range(2):
                    pos[k0 + q, i, d] = x[i, d, q]
                    vel[k0 + q, i, d] = v[i, d, q]


def _check_state(model: SpringModel, state: SpringState) -> None:
    pos = state.positions
    if pos.ndim != 3 or pos.shape[2] != 2:
        raise InputError(f"positions must be (N, P, 2), got {pos.shape}")
    if state.velocities.shape != pos.shape:
        raise InputError(f"velocities {state.velocities.shape} must match positions {pos.shape}")
    if model.rest_lengths.shape[0] != pos.shape[0]:
        raise InputError(
            f"the model has {model.rest_lengths.shape[0]} strokes but the state {pos.shape[0]}"
        )


def step(model: SpringModel, state: SpringState, targets: np.ndarray | None, dt: float = 1.0, *, start: np.ndarray | None = None) -> SpringState:
    """Advance the spring system by ``dt`` frames.

    Parameters
    ----------
    model : SpringModel
    state : SpringState
        ``(N, P, 2)`` positions and velocities; not modified.
    targets : (N, P, 2) float32 or None
        Flow targets of the particles (where the flow carries them); ``None``: no external
        force (the springs just relax).
    dt : float
        Frames to advance; ``model.substeps * dt`` Euler substeps are taken.
    start : (N, P, 2) float32, optional
        Positions to start the integration from instead of ``state.positions`` (the pipeline
        starts at the targets, see :attr:`PhysicsConfig.start_at_targets`).

    Returns
    -------
    SpringState
        New arrays.
    """
    _check_state(model, state)
    pos = np.array(state.positions if start is None else start, dtype=np.float32, order="C", copy=True)
    vel = np.array(state.velocities, dtype=np.float32, order="C", copy=True)
    if pos.shape != vel.shape:
        raise InputError(f"start {pos.shape} must match the state's positions {vel.shape}")
    if pos.shape[0] == 0:
        return SpringState(pos, vel)
    if targets is None:
        tgt = np.zeros((1, 1, 2), np.float32)
        has = False
    else:
        tgt = np.ascontiguousarray(targets, dtype=np.float32)
        if tgt.shape != pos.shape:
            raise InputError(f"targets must have the positions' shape {pos.shape}, got {tgt.shape}")
        has = True
    n_sub = max(1, int(math.ceil(model.substeps * dt)))
    h = np.float32(dt / n_sub)
    _integrate(
        pos, vel, tgt, has, model.springs, model.rest_lengths,
        np.float32(model.k_flow), np.float32(model.k_spring), np.float32(model.damping), h, n_sub,
    )
    return SpringState(pos, vel)


def spring_lengths(positions: np.ndarray, springs: np.ndarray) -> np.ndarray:
    """Current spring lengths: ``positions (N, P, 2)``, ``springs (S, 2)`` -> ``(N, S)`` float32."""
    d = positions[:, springs[:, 1], :] - positions[:, springs[:, 0], :]
    return np.sqrt((d * d).sum(-1)).astype(np.float32)


def rest_lengths_of(positions: np.ndarray, springs: np.ndarray) -> np.ndarray:
    """Rest lengths for strokes born at ``positions (N, P, 2)`` -> ``(N, S)`` float32."""
    return spring_lengths(np.asarray(positions, np.float32), np.asarray(springs, np.int32))


def flow_targets(
    positions: np.ndarray, flow: FlowResult, *, driven_by_centre: bool, centre_weights: np.ndarray | None = None,
    centre_motion: np.ndarray | None = None, correction: np.ndarray | None = None,
) -> np.ndarray:
    """Where the flow carries each particle.

    Parameters
    ----------
    positions : (N, P, 2) float32
        Particles in the previous frame, full-frame pixels.
    flow : facepaint.flow.FlowResult
    driven_by_centre : bool
        ``True``: every particle moves with the flow at the stroke's centre (its material
        point), as the paper drives its small face strokes; ``False``: each particle with the
        flow under it.
    centre_weights : (P,) float, optional
        Weights of the material point over the particles (see
        :func:`facepaint.strokes.models.material_weights`); default: the plain mean.
    centre_motion : (N, 2) float32, optional
        With ``driven_by_centre``: the displacement of each stroke's centre when the caller knows
        it better than the optical flow (face strokes carried by their tracked face mesh,
        :func:`facepaint.face.mesh_motion`); rows of NaN take the flow's.
    correction : (N, 2) float32, optional
        Added to the target of every particle of a stroke (its motion as refined at full
        resolution, :func:`facepaint.flow.refine_motion`, less the flow's).

    Returns
    -------
    (N, P, 2) float32
    """
    positions = np.asarray(positions, np.float32)
    if positions.shape[0] == 0:
        return positions.copy()
    if driven_by_centre:
        if centre_weights is None:
            centre = positions.mean(axis=1)
        else:
            w = np.asarray(centre_weights, np.float32)
            if w.shape != (positions.shape[1],):
                raise InputError(f"centre_weights must be ({positions.shape[1]},), got {w.shape}")
            centre = np.einsum("npk,p->nk", positions, w / w.sum())
        motion = sample_flow(flow, centre)
        if centre_motion is not None:
            given = np.asarray(centre_motion, np.float32)
            if given.shape != motion.shape:
                raise InputError(f"centre_motion must be ({len(positions)}, 2), got {given.shape}")
            known = np.isfinite(given).all(axis=1)
            motion[known] = given[known]
        targets = positions + motion[:, None, :]
    else:
        targets = positions + sample_flow(flow, positions)
    if correction is not None:
        targets += np.asarray(correction, np.float32)[:, None, :]
    return targets


def advect_strokes(
    strokes: StrokeSet, flow: FlowResult, *, config: PhysicsConfig = PhysicsConfig(), driven_by_centre: bool = False,
    centre_weights: np.ndarray | None = None, centre_motion: np.ndarray | None = None, correction: np.ndarray | None = None,
    use_springs: bool = True,
) -> StrokeSet:
    """Move a :class:`facepaint.types.StrokeSet` from frame ``t-1`` to frame ``t``.

    The flow targets (:func:`flow_targets`) are the external force of one :func:`step` of one
    frame; ``use_springs=False`` is the ablation that puts every particle on its target (pure
    advection, no spring). Velocities of the result are the particles' displacement over the
    frame; ages grow by one. Everything else is carried over.

    Parameters
    ----------
    strokes : StrokeSet
        Strokes at frame ``t-1``.
    flow : FlowResult
        Flow from ``t-1`` to ``t``.

    driven_by_centre, centre_weights, centre_motion, correction :
        See :func:`flow_targets`.
    use_springs : bool

    Returns
    -------
    StrokeSet
    """
    old = np.asarray(strokes.positions, np.float32)
    targets = flow_targets(
        old, flow, driven_by_centre=driven_by_centre, centre_weights=centre_weights, centre_motion=centre_motion,
        correction=correction,
    )
    if not use_springs or len(strokes) == 0:
        new = targets
    else:
        model = build_model(strokes.springs, strokes.rest_lengths, strokes.particles_per_stroke, config)
        # Starting at the targets with zero velocity: the prediction already carries the motion,
        # so the integration only resolves the disagreement between flow and stroke shape.
        start = targets if config.start_at_targets else old
        vel0 = np.zeros_like(old) if config.start_at_targets else np.asarray(strokes.velocities, np.float32)
        new = step(model, SpringState(old, vel0), targets, 1.0, start=start).positions
    return replace(strokes, positions=new, velocities=(new - old).astype(np.float32), age=strokes.age + 1)
