"""The animation holds up where the content does something the flow gets wrong (issue 17):
static content over a moving camera, a face under an occluder, content that fades away.
Synthetic clips with known answers, and one real face."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facepaint.pipeline import PipelineConfig, Stylizer
from facepaint.strokes.models import material_points
from facepaint.types import Region

NO_FACE = PipelineConfig(face_model="none")


def _texture(h: int, w: int, seed: int, palette, cell: int = 10) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = 0.3 * rng.random((h // cell + 2, w // cell + 2, 3)).astype(np.float32) + 0.7 * np.asarray(palette, np.float32)
    big = cv2.resize(small, (w + 2 * cell, h + 2 * cell), interpolation=cv2.INTER_CUBIC)[:h, :w]
    return np.clip(big * 255, 0, 255).astype(np.uint8)


def test_no_paint_is_dragged_across_a_static_inset_over_a_panning_background() -> None:
    # A static reddish picture (48x48) over a bluish background that pans 1 px a frame: after
    # 100 frames the painting 3-12 px outside the inset is not reddish and 3-12 px inside it is
    # not bluish (strokes dragged across the edge by the flow would smear one over the other;
    # before prefer_static and the stroke-end colour test: 2.6 % and 4.8 % of those pixels).
    h, w, side = 96, 128, 48
    y0, x0 = (h - side) // 2, (w - side) // 2
    red, blue = (0.75, 0.3, 0.2), (0.2, 0.35, 0.7)
    scene = _texture(h, w + 120, seed=1, palette=blue)
    inset = _texture(side, side, seed=2, palette=red)
    stylizer = Stylizer(NO_FACE, seed=0)
    frames = []
    for t in range(101):
        frame = np.ascontiguousarray(scene[:, t:t + w])
        frame[y0:y0 + side, x0:x0 + side] = inset
        frames.append(frame)
    for t, frame in enumerate(frames):
        out = stylizer.process(frame, upcoming=frames[t + 1] if t + 1 < len(frames) else None)
    yy, xx = np.mgrid[0:h, 0:w]
    dx = np.maximum(np.maximum(x0 - xx, xx - (x0 + side - 1)), 0)
    dy = np.maximum(np.maximum(y0 - yy, yy - (y0 + side - 1)), 0)
    outside = np.hypot(dx, dy)
    inside = np.minimum.reduce([xx - x0, x0 + side - 1 - xx, yy - y0, y0 + side - 1 - yy])
    colour = out.astype(np.float32) / 255
    centre = lambda p: 0.7 * np.asarray(p, np.float32) + 0.15  # noqa: E731 (the palettes' mean colours)
    reddish = np.linalg.norm(colour - centre(red), axis=2) < np.linalg.norm(colour - centre(blue), axis=2)
    ring_out = (outside >= 3) & (outside <= 12)
    ring_in = (dx == 0) & (dy == 0) & (inside >= 3) & (inside <= 12)
    assert not reddish[ring_out].any() or reddish[ring_out].mean() < 0.02, reddish[ring_out].mean()
    assert (~reddish)[ring_in].mean() < 0.01, (~reddish)[ring_in].mean()


def test_content_that_fades_away_leaves_no_stroke_of_its_colour() -> None:
    # A dark disc on a flat pale field fades out over frames 20-39: within 10 frames after it is
    # gone every stroke over it has the field's colour (the deletion threshold alone left
    # strokes up to 0.3 away from it: a grey ghost).
    h, w = 96, 128
    field = np.array([200, 210, 225], np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    disc = (xx - 64) ** 2 + (yy - 48) ** 2 < 22**2
    stylizer = Stylizer(NO_FACE, seed=0)
    for t in range(50):
        frame = np.empty((h, w, 3), np.uint8)
        frame[:] = field
        strength = 1.0 if t < 20 else max(0.0, 1.0 - (t - 19) / 20)
        frame[disc] = (field * (1 - 0.8 * strength)).astype(np.uint8)
        out = stylizer.process(frame)
    strokes = stylizer.painting.background
    centres = material_points(strokes.positions)
    over = disc[np.clip(centres[:, 1].astype(int), 0, h - 1), np.clip(centres[:, 0].astype(int), 0, w - 1)]
    off = np.linalg.norm(strokes.colors[over] - field / 255.0, axis=1)
    assert over.sum() > 0 and off.max() < 0.05, f"strokes over the vanished disc are up to {off.max():.3f} off the field"
    assert np.abs(out[disc].astype(int) - field).max() < 16


@pytest.mark.slow
def test_a_face_is_painted_in_its_own_colours_after_an_occluder_has_passed(media) -> None:
    # speech_512 at 256x256 (a ~160 px face) with a skin-toned disc crossing the mouth over
    # frames 8-27; at frame 47 the painted inner face is as close to the source as it was
    # before the occluder came (frame 7), and no painted face pixel has the occluder's colour
    # where the source does not.
    from facepaint.io import open_video

    frames = [cv2.resize(f.image, (256, 256), interpolation=cv2.INTER_AREA)
              for f in open_video(media / "video" / "speech_512.mp4", max_frames=48)]
    colour = np.array([60, 200, 90], np.uint8)  # a green object: unlike skin, hair or background
    for t in range(8, 28):
        cx = int(-40 + (t - 8) * 336 / 19)
        cv2.circle(frames[t], (cx, 185), 38, tuple(int(c) for c in colour), -1, cv2.LINE_AA)
    stylizer = Stylizer(PipelineConfig(), seed=0)
    errors = {}
    for t, frame in enumerate(frames):
        out = stylizer.process(frame, upcoming=frames[t + 1] if t + 1 < len(frames) else None)
        if t in (7, 47):
            inner = stylizer.regions.labels == Region.INNER_FACE
            assert inner.sum() > 2000
            diff = np.abs(out.astype(int) - frame.astype(int)).mean(axis=2)[inner]
            greenish = (np.linalg.norm(out.astype(int) - colour, axis=2) < 60)[inner]
            errors[t] = (float(diff.mean()), float(greenish.mean()))
    assert errors[47][1] == 0.0, errors
    assert errors[47][0] < errors[7][0] * 1.25 + 2, errors


def test_strokes_follow_a_ticker_scrolling_over_a_static_caption_bar() -> None:
    # 1280x720 (the flow runs on a frame shrunk to 640 px, where the letters' 2 px strokes are
    # one pixel): a dark bar with white letter-like marks scrolling left 4 px a frame over a
    # static textured scene. The strokes over the marks follow them: of the strokes on the bar
    # in one frame, about half are still there, unfaded, in the next (0.52; the rest are
    # mostly the bar's own, static, covered by the passing marks). Before, 0.30: the shrunk
    # frame's flow is the bar's zero there and the strokes on the marks were left behind; those
    # born by the marks' edges failed the end test at once; strokes fading out buried new ones.
    h, w, top, bottom = 720, 1280, 560, 620
    scene = _texture(h, w, seed=3, palette=(0.45, 0.5, 0.4), cell=24)
    rng = np.random.default_rng(4)
    strip = np.zeros((bottom - top, w + 4 * 30, 3), np.uint8)
    for x in range(0, strip.shape[1] - 20, 14):  # "letters": a stem and a bar each, 2 px strokes
        y0 = int(rng.integers(10, 20))
        cv2.line(strip, (x, y0), (x + int(rng.integers(0, 8)), 50), (240, 240, 240), 2, cv2.LINE_AA)
        cv2.line(strip, (x, y0 + int(rng.integers(5, 30))), (x + 9, y0 + int(rng.integers(5, 30))), (240, 240, 240), 2, cv2.LINE_AA)
    frames = []
    for t in range(24):
        frame = scene.copy()
        text = strip[:, 4 * t:4 * t + w]
        frame[top:bottom] = np.maximum(np.array([20, 40, 110], np.uint8), text)
        frames.append(frame)
    stylizer = Stylizer(NO_FACE, seed=0)
    kept = []
    before = None
    for t, frame in enumerate(frames):
        stylizer.process(frame, upcoming=frames[t + 1] if t + 1 < len(frames) else None)
        strokes = stylizer.painting.background
        centres = strokes.positions.mean(axis=1)
        on_bar = (centres[:, 1] > top + 4) & (centres[:, 1] < bottom - 4) & ~strokes.fading_out
        if before is not None and t >= 12:
            alive = np.isin(before, strokes.ids[~strokes.fading_out])
            kept.append(alive.mean())
        before = strokes.ids[on_bar]
    assert np.median(kept) > 0.45, kept
