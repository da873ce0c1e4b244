"""Incremental rendering (facepaint.render.incremental): the background layer redrawn only in the
cells whose strokes changed equals a full render (all bounds 0), redraws nothing for a still
painting, and keeps every stroke within its bounds of where it is."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from facepaint.render import IncrementalRender, RenderConfig, render_layers
from facepaint.temporal import merge_strokes, select_strokes
from facepaint.types import Painting
from strokesets import random_painting

SHAPE = (96, 160)


def _painting(rng, first_id=0):
    p = random_painting(rng, 400, 40, SHAPE)
    bg = replace(p.background, ids=np.arange(first_id, first_id + len(p.background), dtype=np.int64))
    face = replace(p.face, ids=np.arange(10_000 + first_id, 10_000 + first_id + len(p.face), dtype=np.int64))
    return Painting(background=bg, face=face)


def _image(rng):
    return (rng.random(SHAPE + (3,)) * 255).astype(np.uint8)


def _step(rng, painting: Painting, next_id: int) -> Painting:
    """A frame of a running painting: some strokes of the left third move, recolour, fade; some
    go; a few new ones come in under the others in its corner."""
    bg = painting.background
    n = len(bg)
    pos = bg.positions.copy()
    left = np.nanmean(pos[:, :, 0], axis=1) < SHAPE[1] / 3
    moving = (rng.random(n) < 0.2) & left
    pos[moving] += rng.uniform(-3, 3, (int(moving.sum()), 1, 2)).astype(np.float32)
    colors = bg.colors.copy()
    recolour = (rng.random(n) < 0.1) & left
    colors[recolour] = rng.random((int(recolour.sum()), 3)).astype(np.float32)
    opacity = bg.opacity.copy()
    opacity[(rng.random(n) < 0.1) & left] = 0.5
    bg = select_strokes(replace(bg, positions=pos, colors=colors, opacity=opacity), ~((rng.random(n) < 0.1) & left))
    new = random_painting(rng, 12, 0, (30, 40)).background
    new = replace(new, ids=np.arange(next_id, next_id + len(new), dtype=np.int64))
    return Painting(background=merge_strokes(new, bg), face=painting.face)


def test_zero_bounds_give_a_full_render_frame_after_frame() -> None:
    rng = np.random.default_rng(1)
    config = RenderConfig()
    cache = IncrementalRender(move_px=0.0, color=0.0, opacity=0.0, full_share=1.0)
    painting = _painting(rng)
    shares = []
    for frame in range(6):
        image = _image(rng)
        got = render_layers(painting, image, config=config, incremental=cache)
        ref = render_layers(painting, image, config=config)
        np.testing.assert_allclose(got.canvas, ref.canvas, atol=3e-5)
        np.testing.assert_allclose(got.coverage, ref.coverage, atol=3e-5)
        np.testing.assert_allclose(got.t_background, ref.t_background, atol=3e-5)
        shares.append(cache.redrawn_share)
        painting = _step(rng, painting, 1000 + 100 * frame)
    assert shares[0] == 1.0 and 0.0 < max(shares[1:]) < 1.0, shares


def test_a_still_painting_redraws_nothing_over_a_new_underpainting() -> None:
    rng = np.random.default_rng(2)
    config = RenderConfig()
    cache = IncrementalRender(move_px=0.25, color=2 / 255, opacity=0.01)
    painting = _painting(rng)
    render_layers(painting, _image(rng), config=config, incremental=cache)
    image = _image(rng)  # the frame changed under the strokes: only the underpainting did
    got = render_layers(painting, image, config=config, incremental=cache)
    assert cache.redrawn_share == 0.0
    np.testing.assert_allclose(got.canvas, render_layers(painting, image, config=config).canvas, atol=3e-5)


def test_moves_below_the_bound_accumulate_until_redrawn() -> None:
    rng = np.random.default_rng(3)
    config = RenderConfig()
    cache = IncrementalRender(move_px=0.25, color=2 / 255, opacity=0.01, full_share=1.0)
    painting = _painting(rng)
    image = _image(rng)
    render_layers(painting, image, config=config, incremental=cache)
    shares = []
    for _ in range(3):  # 0.1 px a frame: 0.1, 0.2 stay within the bound, 0.3 passes it
        bg = replace(painting.background, positions=painting.background.positions + np.float32(0.1))
        painting = Painting(background=bg, face=painting.face)
        got = render_layers(painting, image, config=config, incremental=cache)
        ref = render_layers(painting, image, config=config)
        shares.append(cache.redrawn_share)
        error = np.abs(got.canvas - ref.canvas)
        if shares[-1] == 0.0:
            assert 0.0 < error.max() and error.mean() < 0.05, "strokes shown where they were, 0.1-0.2 px off"
        else:
            assert error.max() < 3e-5
    assert shares[:2] == [0.0, 0.0] and shares[2] == 1.0, shares


def test_a_moved_stroke_redraws_the_cells_of_its_old_and_new_places() -> None:
    rng = np.random.default_rng(4)
    config = RenderConfig()
    cache = IncrementalRender(move_px=0.25, color=2 / 255, opacity=0.01)
    painting = _painting(rng)
    image = _image(rng)
    render_layers(painting, image, config=config, incremental=cache)
    pos = painting.background.positions.copy()
    pos[7] += np.float32(5.0)
    painting = Painting(background=replace(painting.background, positions=pos), face=painting.face)
    got = render_layers(painting, image, config=config, incremental=cache)
    cells = (SHAPE[0] // 32 + 1) * (SHAPE[1] // 32)
    assert 0 < cache.redrawn_share * cells <= 6, cache.redrawn_share * cells
    np.testing.assert_allclose(got.canvas, render_layers(painting, image, config=config).canvas, atol=3e-5)


def test_an_emptied_and_refilled_painting() -> None:
    rng = np.random.default_rng(5)
    config = RenderConfig()
    cache = IncrementalRender(move_px=0.25, color=2 / 255, opacity=0.01, full_share=1.0)
    painting = _painting(rng)
    empty = Painting(background=select_strokes(painting.background, np.zeros(len(painting.background), bool)), face=painting.face)
    image = _image(rng)
    for p in (painting, empty, empty, painting):
        got = render_layers(p, image, config=config, incremental=cache)
        np.testing.assert_allclose(got.canvas, render_layers(p, image, config=config).canvas, atol=3e-5)


def test_a_moving_frame_backs_off_then_a_still_one_is_redrawn_no_more() -> None:
    """While everything moves the layer is drawn whole (probing for changes after 1, 3, then 7
    frames); once the painting stands still, a probe finds it and nothing is redrawn."""
    rng = np.random.default_rng(6)
    config = RenderConfig()
    cache = IncrementalRender(move_px=0.25, color=2 / 255, opacity=0.01)
    painting = _painting(rng)
    image = _image(rng)
    for _ in range(6):  # a pan: every stroke moves a pixel a frame
        painting = Painting(background=replace(painting.background, positions=painting.background.positions + np.float32(1.0)), face=painting.face)
        got = render_layers(painting, image, config=config, incremental=cache)
        assert cache.redrawn_share == 1.0
        np.testing.assert_allclose(got.canvas, render_layers(painting, image, config=config).canvas, atol=3e-5)
    shares = []
    for _ in range(9):  # the camera stops
        render_layers(painting, image, config=config, incremental=cache)
        shares.append(cache.redrawn_share)
    assert shares[-1] == 0.0 and shares.count(1.0) <= 8, shares
