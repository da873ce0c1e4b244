"""Stress clips for the robustness benchmark, made from ../shared/media (issue 17).

Every clip is generated deterministically from the shared media (nothing random, nothing
downloaded) and written once to ``benchmarks/.cache/stress/<name>.mp4`` (x264 CRF 12, 25 fps);
``python benchmarks/stress_clips.py`` (re)makes them all, :func:`clip_path` makes one on demand.

The recipes (frame ``t`` of ``n``; "ping-pong" plays a source clip forwards, then backwards,
then forwards ..., so that a short clip yields any length without a jump):

* ``small_face_pan`` (1280x720, 300 frames): the paper's case, a small face in a wide frame.
  Background: frame 298 of foreman_cif (a construction site, no face) scaled to 720 rows and
  mirrored side by side to 1760 columns, panned 1 px a frame (the camera moves). Pasted at a
  fixed place over it (a static picture-in-picture over a moving camera): anchor_woman_700,
  ping-pong, scaled so that her face is ~45 px wide (the frame 124x124 px). A hand-like
  occluder (a skin-toned, shaded ellipse with four finger bumps, 60x46 px) passes in front of
  her mouth from the right during frames 100-150 and back during 190-230.
* ``zoom`` (1280x720, 300 frames): anchor_man_700, ping-pong, as a picture centred on the static
  foreman background whose scale goes smoothly (cosine) from a ~40 px face to ~120 px and back
  down to ~40 px: zooming in, then out (an outline left behind shows as a ghost ring).
* ``lower_third`` (1280x720, 282 frames): lp_s18 (hand-held camera, a woman in a living room)
  with a static lower-third bar (dark blue, 18 % opaque edge, rows 590-660) whose white text
  scrolls right to left 4 px a frame, and a static white logo box in the top-left corner.
* ``fade`` (700x700, 199 frames): anchor_woman_700 faded to black over frames 60-79, black for
  80-94, faded back in over 95-114 (linear in RGB).
* ``occluder`` (512x512, 200 frames): speech_512 with the hand-like occluder (190x150 px)
  crossing the lower face left to right during frames 40-90 and right to left during 120-170.
* ``enter_leave`` (1280x720, 300 frames): anchor_man_700 scaled to a ~80 px face (the frame
  228x228 px) moving left to right 5 px a frame across the static foreman background, entering
  from beyond the left edge and leaving beyond the right one.
* ``title_sky`` (1280x720, 240 frames): a smooth sky (vertical gradient, light blue to pale) with
  an animated title: "BREAKING NEWS TONIGHT" appears one letter every 3 frames from frame 20,
  stays, and disappears letter by letter from frame 140 (dark letters left behind would be
  ghosts); anchor_woman_700 pasted at a ~60 px face in the lower right.

For the batch benchmark (``benchmarks/batch_scale.py``, not part of the robustness run):

* ``multi_shot`` (640x360, 703 frames, 6 shots joined by hard cuts): lp_s13 frames 0-102, then
  frames 0-119 of anchor_woman_700, selfie_expressions, lp_s32, speech_512 and akiyo, each scaled
  to 360 rows and cut to its middle 640 columns, or, when narrower, given its own mirrored and
  blurred edges at its sides (as the soak clip).

``soak_frames(n)`` yields the soak clip on the fly (640x360, any length): speech_512 ping-pong
scaled to 360x360 (a ~230 px face) in the middle of a frame whose sides are its own mirrored,
blurred edges.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT / ".." / "shared" / "media" / "video"
CACHE = ROOT / "benchmarks" / ".cache" / "stress"
FPS = 25.0


@functools.lru_cache(maxsize=8)
def _source(name: str, side: int | None = None) -> tuple[np.ndarray, ...]:
    """Every frame of a shared clip, (H, W, 3) uint8 RGB, optionally resized to ``side`` x ``side``."""
    sys.path.insert(0, str(ROOT / "src"))
    from facepaint.io import open_video

    fps = 25.0 if name.endswith(".h264") else None
    frames = []
    for frame in open_video(MEDIA / name, fps=fps):
        image = frame.image
        if side is not None:
            image = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
        frames.append(image)
    return tuple(frames)


def _ping_pong(frames: tuple[np.ndarray, ...], t: int) -> np.ndarray:
    n = len(frames)
    period = 2 * (n - 1)
    k = t % period
    return frames[k if k < n else period - k]


@functools.lru_cache(maxsize=2)
def _site(height: int = 720, mirrored_width: int = 1760) -> np.ndarray:
    """Frame 298 of foreman_cif (no face) at ``height`` rows, mirrored side by side."""
    site = _source("foreman_cif.h264")[298]
    width = round(site.shape[1] * height / site.shape[0])
    site = cv2.resize(site, (width, height), interpolation=cv2.INTER_CUBIC)
    wide = np.concatenate([site, site[:, ::-1]], axis=1)
    while wide.shape[1] < mirrored_width:
        wide = np.concatenate([wide, wide[:, ::-1]], axis=1)
    return np.ascontiguousarray(wide[:, :mirrored_width])


def _scaled(image: np.ndarray, size: int) -> np.ndarray:
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if size < image.shape[0] else cv2.INTER_CUBIC)


def _paste(canvas: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    """Paste ``patch`` with its top-left corner at (x, y), clipped to the canvas."""
    h, w = canvas.shape[:2]
    ph, pw = patch.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + pw, w), min(y + ph, h)
    if x1 > x0 and y1 > y0:
        canvas[y0:y1, x0:x1] = patch[y0 - y:y1 - y, x0 - x:x1 - x]


@functools.lru_cache(maxsize=4)
def _hand(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """A hand-like occluder: (h, w, 3) uint8 skin colour shaded like a rounded object, and its
    (h, w) float32 alpha (a palm ellipse with four finger bumps on the left, soft edges)."""
    alpha = np.zeros((height, width), np.float32)
    cv2.ellipse(alpha, (int(width * 0.62), height // 2), (int(width * 0.36), int(height * 0.42)), 0, 0, 360, 1.0, -1)
    for k in range(4):
        cy = int(height * (0.2 + 0.2 * k))
        cv2.ellipse(alpha, (int(width * 0.25), cy), (int(width * 0.22), max(2, int(height * 0.085))), 0, 0, 360, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(0.8, width / 80))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    shade = 0.75 + 0.25 * np.cos((yy / height - 0.4) * np.pi) * np.cos((xx / width - 0.55) * np.pi)
    colour = np.array([224, 172, 140], np.float32)
    rgb = np.clip(colour[None, None] * shade[..., None], 0, 255).astype(np.uint8)
    return rgb, alpha


def _blend(canvas: np.ndarray, rgb: np.ndarray, alpha: np.ndarray, x: int, y: int) -> None:
    h, w = canvas.shape[:2]
    ph, pw = alpha.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + pw, w), min(y + ph, h)
    if x1 <= x0 or y1 <= y0:
        return
    a = alpha[y0 - y:y1 - y, x0 - x:x1 - x, None]
    region = canvas[y0:y1, x0:x1].astype(np.float32)
    canvas[y0:y1, x0:x1] = (region * (1 - a) + rgb[y0 - y:y1 - y, x0 - x:x1 - x] * a + 0.5).astype(np.uint8)


def _sweep(t: int, start: int, end: int, x_from: float, x_to: float) -> float | None:
    """x position of an object sweeping from x_from to x_to over frames [start, end), None outside."""
    if not start <= t < end:
        return None
    return x_from + (x_to - x_from) * (t - start) / (end - start - 1)


def small_face_pan(t: int) -> np.ndarray:
    site = _site()
    frame = np.ascontiguousarray(site[:, t:t + 1280])
    inset = _scaled(_ping_pong(_source("anchor_woman_700.mp4"), t), 124)
    x, y = 760, 300
    _paste(frame, inset, x, y)
    hand, alpha = _hand(60, 46)
    # her mouth is at about (0.5, 0.66) of the inset
    for start, end, a, b in ((100, 150, x + 124, x + 20), (190, 230, x + 20, x + 124)):
        hx = _sweep(t, start, end, a, b)
        if hx is not None:
            _blend(frame, hand, alpha, int(round(hx)), y + 82 - 23)
    return frame


def zoom(t: int) -> np.ndarray:
    frame = np.ascontiguousarray(_site()[:, 240:1520])
    n = 300
    # face 246 px in the 700 px source: 40 -> 120 -> 40 px face
    face = 40 + 80 * 0.5 * (1 - np.cos(2 * np.pi * t / n))
    size = int(round(700 * face / 246))
    size += size % 2
    inset = _scaled(_ping_pong(_source("anchor_man_700.mp4"), t), size)
    _paste(frame, inset, 640 - size // 2, 360 - size // 2)
    return frame


@functools.lru_cache(maxsize=1)
def _ticker() -> np.ndarray:
    text = "  facepaint stress test  -  markets open higher  -  weather: sunny spells later  -  sports at ten  -"
    strip = np.zeros((44, 2600, 3), np.uint8)
    cv2.putText(strip, text, (0, 32), cv2.FONT_HERSHEY_DUPLEX, 1.0, (255, 255, 255), 2, cv2.LINE_AA)
    return strip


def lower_third(t: int) -> np.ndarray:
    frame = _source("lp_s18.mp4")[t].copy()
    bar = frame[590:660].astype(np.float32)
    frame[590:660] = (bar * 0.18 + np.array([20, 40, 110], np.float32) * 0.82).astype(np.uint8)
    strip = _ticker()
    offset = (4 * t) % (strip.shape[1] - 1280)
    text = strip[:, offset:offset + 1280]
    mask = text.max(axis=2) > 0
    region = frame[603:647]
    region[mask] = text[mask]
    cv2.rectangle(frame, (30, 30), (190, 90), (255, 255, 255), -1)
    cv2.putText(frame, "FP NEWS", (42, 72), cv2.FONT_HERSHEY_DUPLEX, 1.0, (20, 40, 110), 2, cv2.LINE_AA)
    return frame


def fade(t: int) -> np.ndarray:
    frame = _source("anchor_woman_700.mp4")[t]
    if 60 <= t < 80:
        gain = 1 - (t - 59) / 20
    elif 80 <= t < 95:
        gain = 0.0
    elif 95 <= t < 115:
        gain = (t - 94) / 20
    else:
        return frame.copy()
    return (frame.astype(np.float32) * gain + 0.5).astype(np.uint8)


def occluder(t: int) -> np.ndarray:
    frame = _source("speech_512.mp4")[t].copy()
    hand, alpha = _hand(190, 150)
    for start, end, a, b in ((40, 90, -190, 512), (120, 170, 512, -190)):
        hx = _sweep(t, start, end, a, b)
        if hx is not None:
            _blend(frame, hand, alpha, int(round(hx)), 300)
    return frame


def enter_leave(t: int) -> np.ndarray:
    frame = np.ascontiguousarray(_site()[:, 240:1520])
    inset = _scaled(_ping_pong(_source("anchor_man_700.mp4"), t), 228)
    _paste(frame, inset, -228 + 5 * t, 250)
    return frame


@functools.lru_cache(maxsize=1)
def _sky() -> np.ndarray:
    rows = np.linspace(0, 1, 720, dtype=np.float32)[:, None, None]
    top = np.array([90, 150, 215], np.float32)
    bottom = np.array([215, 230, 240], np.float32)
    return np.repeat((top * (1 - rows) + bottom * rows).astype(np.uint8), 1280, axis=1)


def title_sky(t: int) -> np.ndarray:
    frame = _sky().copy()
    title = "BREAKING NEWS TONIGHT"
    shown = min(len(title), max(0, (t - 20) // 3 + 1)) if t >= 20 else 0
    if t >= 140:
        shown = max(0, len(title) - (t - 140) // 3 - 1)
    x = 160
    for k, letter in enumerate(title):
        (w, _), _ = cv2.getTextSize(letter, cv2.FONT_HERSHEY_TRIPLEX, 2.6, 5)
        if k < shown:
            cv2.putText(frame, letter, (x, 260), cv2.FONT_HERSHEY_TRIPLEX, 2.6, (25, 30, 45), 5, cv2.LINE_AA)
        x += w + 6
    inset = _scaled(_ping_pong(_source("anchor_woman_700.mp4"), t), 166)
    _paste(frame, inset, 1000, 470)
    return frame


#: name -> (frame function, frame count)
CLIPS: dict[str, tuple[Callable[[int], np.ndarray], int]] = {
    "small_face_pan": (small_face_pan, 300),
    "zoom": (zoom, 300),
    "lower_third": (lower_third, 282),
    "fade": (fade, 199),
    "occluder": (occluder, 200),
    "enter_leave": (enter_leave, 300),
    "title_sky": (title_sky, 240),
}


_SHOTS = (("lp_s13.mp4", 103), ("anchor_woman_700.mp4", 120), ("selfie_expressions.mp4", 120), ("lp_s32.mp4", 120), ("speech_512.mp4", 120), ("akiyo.mp4", 120))


def _cover(image: np.ndarray, width: int = 640, height: int = 360) -> np.ndarray:
    """``image`` scaled to ``height`` rows and cut to its middle ``width`` columns; a narrower
    one gets its own edges, mirrored and blurred, at its sides (as the soak clip)."""
    h, w = image.shape[:2]
    sw = round(w * height / h)
    image = cv2.resize(image, (sw, height), interpolation=cv2.INTER_AREA if height < h else cv2.INTER_CUBIC)
    if sw >= width:
        x = (sw - width) // 2
        return np.ascontiguousarray(image[:, x : x + width])
    left = (width - sw) // 2
    right = width - sw - left
    sides = [cv2.GaussianBlur(np.ascontiguousarray(part[:, ::-1]), (0, 0), 6) for part in (image[:, :left], image[:, sw - right :])]
    return np.concatenate([sides[0], image, sides[1]], axis=1)


def multi_shot(t: int) -> np.ndarray:
    for name, count in _SHOTS:
        if t < count:
            return _cover(_source(name)[t])
        t -= count
    raise IndexError(f"multi_shot has {sum(count for _, count in _SHOTS)} frames")


#: Clips of other benchmarks, made the same way: name -> (frame function, frame count)
OTHER_CLIPS: dict[str, tuple[Callable[[int], np.ndarray], int]] = {
    "multi_shot": (multi_shot, sum(count for _, count in _SHOTS)),
}


def clip_path(name: str) -> Path:
    """The stress clip ``name`` (of ``CLIPS`` or ``OTHER_CLIPS``), made (once) under
    ``benchmarks/.cache/stress``."""
    known = {**CLIPS, **OTHER_CLIPS}
    if name not in known:
        raise KeyError(f"no stress clip {name!r}; known: {', '.join(known)}")
    path = CACHE / f"{name}.mp4"
    if path.exists():
        return path
    sys.path.insert(0, str(ROOT / "src"))
    from facepaint.io import VideoWriter

    make, count = known[name]
    CACHE.mkdir(parents=True, exist_ok=True)
    with VideoWriter(path, fps=FPS, crf=12, preset="fast") as writer:
        for t in range(count):
            writer.write(make(t))
    return path


def clip_source(name: str) -> tuple[Path, float | None]:
    """(path, fps to assume) of a clip name: a file of ../shared/media/video (raw ``.h264``
    streams carry no rate: 25 fps), or ``stress:<name>`` for a generated one (made on demand)."""
    if name.startswith("stress:"):
        return clip_path(name.split(":", 1)[1]), None
    return MEDIA / name, (FPS if name.endswith(".h264") else None)


def soak_frames(count: int) -> Iterator[np.ndarray]:
    """The soak clip, ``count`` frames of 640x360 (see the module docstring)."""
    talk = _source("speech_512.mp4", 360)
    for t in range(count):
        face = _ping_pong(talk, t)
        frame = np.empty((360, 640, 3), np.uint8)
        frame[:, 140:500] = face
        side = cv2.GaussianBlur(face[:, :140][:, ::-1], (0, 0), 6)
        frame[:, :140] = side
        frame[:, 500:] = cv2.GaussianBlur(face[:, -140:][:, ::-1], (0, 0), 6)
        yield frame


if __name__ == "__main__":
    for clip in sys.argv[1:] or [*CLIPS, *OTHER_CLIPS]:
        print(clip_path(clip))
