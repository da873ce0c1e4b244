"""Incremental rendering: a frame's background strokes redrawn only in the cells that changed.

In a talking-head video most of the picture (the studio, the wall) barely moves, yet a full
render draws every one of its ~16k background strokes every frame. :class:`IncrementalRender`
keeps the background layer drawn from an *empty* canvas (its paint ``P`` and transmittance ``T``:
each blend ``c <- c + a (s - c)`` is affine in the canvas, so the layer over any ground ``g`` is
``g T + P``) and, each frame, redraws it only in the 32-pixel cells where a stroke was added,
deleted, or differs from the state it was last drawn in by more than a bound (a particle moved
``RenderConfig.redraw_move_px``, a colour channel ``redraw_color``, the opacity
``redraw_opacity``). Elsewhere the layer of the previous frame is reused, over this frame's
underpainting. The face strokes (few, and moving with the face) are drawn every frame.

The bound: every stroke shows, everywhere, as it was in a state within those bounds of its
current one. A stroke that changed past them is redrawn in all the cells of both its old and new
boxes; a stroke that did not, but touches a redrawn cell, is drawn there as it is now and keeps
its recorded state, so that the parts of it left in other cells never lag more than the bound.
With all three bounds 0 the result is that of a full render up to float rounding.
"""

from __future__ import annotations

import numpy as np

from facepaint.render._raster import cells_clear, cells_copy, over_ground, stroke_changes, strokes_touching, touched_cells
from facepaint.render.brushes import MESH_REACH
from facepaint.types import StrokeSet

#: Pixels added around a stroke's box when marking its cells (covers the bilinear footprint).
_PAD = 2.0


class IncrementalRender:
    """The background layer of the previous frame and the strokes' states it was drawn in.

    Parameters
    ----------
    move_px, color, opacity : float
        A stroke is redrawn when a particle moved more than ``move_px`` pixels, a colour channel
        (in [0, 1]) changed more than ``color``, or its opacity more than ``opacity`` since it
        was last drawn.
    cell_px : int
        Side of the square cells redrawn, pixels.
    full_share : float
        When more than this share of the cells must be redrawn, the whole layer is (cheaper than
        selecting), and so are the next 1, 3, 7 frames (as such frames follow in a row).
    """

    def __init__(self, *, move_px: float, color: float, opacity: float, cell_px: int = 32, full_share: float = 0.6) -> None:
        self.cell = int(cell_px)
        self.move_px = float(move_px)
        self.color = float(color)
        self.opacity = float(opacity)
        self.full_share = float(full_share)
        self.reset()
        #: share of the cells redrawn in the last :meth:`draw` (1.0: a full render)
        self.redrawn_share = 1.0

    def reset(self) -> None:
        """Forget the layer: the next :meth:`draw` renders every stroke."""
        self._shape: tuple[int, int] | None = None
        self._paint = self._trans = self._cover = None
        self._scratch = None
        self._ids = self._order = None
        self._state: tuple[np.ndarray, ...] | None = None
        self._busy = 0  # frames in a row that mostly changed
        self._skip = 0  # frames still to draw whole without looking for changes

    def draw(self, strokes: StrokeSet, shape: tuple[int, int], render) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The layer of ``strokes`` drawn from an empty canvas: ``(paint (H, W, 3), trans (H, W),
        coverage (H, W))`` float32, owned by this object (read them; do not write).

        ``render(strokes, paint, coverage, transmittance, clip=None)`` draws strokes, in order, into
        the given arrays, at least in the nonzero cells of ``clip`` when given
        (:func:`facepaint.render.render_strokes` with the run's settings).
        """
        shape = (int(shape[0]), int(shape[1]))
        grid = (-(-shape[0] // self.cell), -(-shape[1] // self.cell))
        if self._shape != shape or self._state is None or self._skip > 0:
            # A frame that mostly moved was followed by 1, 3, then 7 frames drawn whole without
            # looking for changes (whose cost is then saved): a camera that pans keeps most of
            # the frame moving.
            self._skip = max(0, self._skip - 1)
            return self._draw_all(strokes, shape, render, _state_of(strokes))
        marked, state = self._changes(strokes, grid)
        cells = np.argwhere(marked)
        if len(cells) > self.full_share * grid[0] * grid[1]:
            self._busy += 1
            self._skip = min(2**self._busy - 1, 7)
            return self._draw_all(strokes, shape, render, state)
        self._busy = 0
        if len(cells):
            touching = np.empty(len(strokes), np.bool_)
            strokes_touching(np.ascontiguousarray(strokes.positions, np.float32), np.float64(MESH_REACH), _PAD, self.cell, marked, touching)
            paint, trans, cover = self._scratch
            cells_clear(cells, self.cell, paint, trans, cover)
            render(strokes.take(np.flatnonzero(touching)), paint, cover, trans, marked)
            cells_copy(cells, self.cell, paint, trans, cover, self._paint, self._trans, self._cover)
        self._record(strokes, state)
        self.redrawn_share = len(cells) / float(grid[0] * grid[1])
        return self._paint, self._trans, self._cover

    def _draw_all(self, strokes: StrokeSet, shape: tuple[int, int], render, state: tuple[np.ndarray, ...]):
        if self._shape != shape:
            self._shape = shape
            h, w = shape
            self._paint, self._trans, self._cover = (np.empty((h, w, 3), np.float32), np.empty((h, w), np.float32), np.empty((h, w), np.float32))
            self._scratch = (np.empty((h, w, 3), np.float32), np.empty((h, w), np.float32), np.empty((h, w), np.float32))
        self._paint.fill(0.0)
        self._trans.fill(1.0)
        self._cover.fill(0.0)
        render(strokes, self._paint, self._cover, self._trans)
        self._record(strokes, state)
        self.redrawn_share = 1.0
        return self._paint, self._trans, self._cover

    def _record(self, strokes: StrokeSet, state: tuple[np.ndarray, ...]) -> None:
        """Remember ``state`` (the strokes as last drawn, aligned with ``strokes``) by id."""
        self._state = state
        self._order = np.argsort(strokes.ids, kind="stable")
        self._ids = strokes.ids[self._order]

    def _changes(self, strokes: StrokeSet, grid: tuple[int, int]) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """``(marked cells, the drawing states to remember, aligned with strokes)``: the cells of
        the old and new boxes of every stroke that changed, and of every stroke gone."""
        old = self._state
        n = len(strokes)
        known = np.zeros(n, bool)
        at = np.zeros(n, np.int64)
        if len(self._ids):
            slot = np.minimum(np.searchsorted(self._ids, strokes.ids), len(self._ids) - 1)
            known = self._ids[slot] == strokes.ids
            at = self._order[slot]
        current = _state_of(strokes)
        state = tuple(np.empty_like(a) for a in current)
        changed = np.empty(n, np.bool_)
        stroke_changes(*current, known, at, *old, np.float32(self.move_px), np.float32(self.color), np.float32(self.opacity),
                       changed, *state)
        gone = np.ones(len(old[0]), bool)
        gone[at[known]] = False
        lost = np.concatenate([np.flatnonzero(gone), at[changed & known]])
        marked = np.zeros(grid, np.uint8)
        widen = np.float64(MESH_REACH)
        if len(lost):
            touched_cells(np.ascontiguousarray(old[0][lost]), widen, _PAD, self.cell, marked)
        if changed.any():
            touched_cells(np.ascontiguousarray(current[0][changed]), widen, _PAD, self.cell, marked)
        return marked, state


def _state_of(strokes: StrokeSet) -> tuple[np.ndarray, ...]:
    """What a stroke looks like when drawn: positions, colours, opacity, fading, thickness, brush."""
    return (
        np.ascontiguousarray(strokes.positions, np.float32),
        np.ascontiguousarray(strokes.colors, np.float32),
        np.ascontiguousarray(strokes.opacity, np.float32),
        np.ascontiguousarray(strokes.fading_out, np.bool_),
        np.ascontiguousarray(strokes.thickness, np.float32),
        np.ascontiguousarray(strokes.brush, np.uint8),
    )


def compose(ground: np.ndarray, trans: np.ndarray, paint: np.ndarray) -> np.ndarray:
    """``ground * trans + paint``: the layer over the underpainting, a new (H, W, 3) float32."""
    out = np.empty(ground.shape, np.float32)
    over_ground(np.ascontiguousarray(ground, np.float32), trans, paint, out)
    return out
