"""Make the README's opening images from ../shared/media: a before/after still and an animation.

    python benchmarks/readme_media.py [--out docs/]

- ``docs/before_after.jpg``: a frame of crowd_1080p.mp4 (five faces of 30-100 px) as the source,
  as facepaint paints it (frame 60 of a ``facepaint.stylize_video`` run, so the strokes have
  been carried by the flow for two seconds) and through a per-frame filter (OpenCV's
  ``cv2.stylization``); below each, a small face near the middle, enlarged (nearest pixels).
- ``docs/painted.webp``: three seconds (3-6 s) of stage_scene_cuts_360p.mp4 (a performer on stage),
  source | painted side by side at 15 frames/s, as an animated WebP (a few hundred KB).

Both come from ``facepaint.stylize_video``, the same call the command line makes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

import facepaint
from facepaint.face import create_face_model

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media" / "video"

STILL_CLIP = "crowd_1080p.mp4"
STILL_FRAME = 60
STILL_PANEL_W = 640  # each of the three panels, px
SMALL_FACE_PX = 80

ANIMATION_CLIP = "stage_scene_cuts_360p.mp4"
ANIMATION_START_S, ANIMATION_END_S = 3.0, 6.0  # the performer on stage, before the cut to the audience
ANIMATION_PANEL_W = 480
ANIMATION_STEP = 2  # every 2nd frame: 15 frames/s from 30
WEBP_QUALITY = 55


def _frames(path: Path, **range_) -> list[np.ndarray]:
    return [frame.image for frame in facepaint.open_video(path, **range_)]


def _label(image: np.ndarray, text: str) -> np.ndarray:
    picture = Image.fromarray(image)
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=max(14, image.shape[1] // 28))
    box = draw.textbbox((8, 6), text, font=font)
    draw.rectangle((box[0] - 4, box[1] - 3, box[2] + 4, box[3] + 3), fill=(0, 0, 0))
    draw.text((8, 6), text, font=font, fill=(255, 255, 255))
    return np.asarray(picture)


def _resize(image: np.ndarray, width: int) -> np.ndarray:
    height = round(image.shape[0] * width / image.shape[1])
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def make_still(out: Path, work: Path) -> dict:
    source = MEDIA / STILL_CLIP
    started = time.perf_counter()
    painted_path = work / "still.mp4"
    facepaint.stylize_video(source, painted_path, seed=0, max_frames=STILL_FRAME + 1, audio=False)
    painted = _frames(painted_path)[STILL_FRAME]
    frame = _frames(source, max_frames=STILL_FRAME + 1)[STILL_FRAME]
    # OpenCV works in BGR; the filter's defaults (sigma_s 60, sigma_r 0.45)
    filtered = cv2.cvtColor(cv2.stylization(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)), cv2.COLOR_BGR2RGB)
    faces = create_face_model("mediapipe").detect(frame)
    widths = np.array([float(f.box[2] - f.box[0]) for f in faces])
    height, width = frame.shape[:2]
    # the small face (under SMALL_FACE_PX wide) nearest the middle of the frame, else the smallest
    centres = np.array([(f.box[0] + f.box[2]) / 2 for f in faces])
    small = np.flatnonzero(widths < SMALL_FACE_PX)
    pick = int(small[np.argmin(np.abs(centres[small] - width / 2))]) if small.size else int(np.argmin(widths))
    face = faces[pick]
    # a 2:1 window, two face heights tall, so the zooms fill a row as wide as the panels
    face_h = float(face.box[3] - face.box[1])
    crop_h = int(2 * face_h)
    crop_w = 2 * crop_h
    cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
    x0 = int(np.clip(cx - crop_w / 2, 0, width - crop_w))
    y0 = int(np.clip(cy - crop_h / 2, 0, height - crop_h))
    crop = (slice(y0, y0 + crop_h), slice(x0, x0 + crop_w))
    zoom_size = (STILL_PANEL_W, STILL_PANEL_W // 2)

    top, bottom = [], []
    for image, name in ((frame, "source"), (painted, "facepaint"), (filtered, "per-frame filter (cv2.stylization)")):
        panel = _resize(image, STILL_PANEL_W)
        scale = STILL_PANEL_W / width
        cv2.rectangle(panel, (int(x0 * scale), int(y0 * scale)), (int((x0 + crop_w) * scale), int((y0 + crop_h) * scale)), (255, 220, 0), 2)
        top.append(_label(panel, name))
        # nearest pixels: the strokes stay visible as strokes
        zoom = cv2.resize(image[crop], zoom_size, interpolation=cv2.INTER_NEAREST)
        bottom.append(_label(zoom, f"a {widths[pick]:.0f} px face, {zoom_size[0] / crop_w:.1f}x") if name == "source" else zoom)
    sheet = np.vstack([np.hstack(top), np.hstack(bottom)])
    path = out / "before_after.jpg"
    Image.fromarray(sheet).save(path, quality=82, optimize=True)
    return {"still": str(path.relative_to(ROOT)), "still_kb": path.stat().st_size // 1024, "still_s": time.perf_counter() - started,
            "face_px": float(widths[pick]), "faces": len(faces)}


def make_animation(out: Path, work: Path) -> dict:
    source = MEDIA / ANIMATION_CLIP
    started = time.perf_counter()
    painted_path = work / "animation.mp4"
    report = facepaint.stylize_video(source, painted_path, seed=0, start_s=ANIMATION_START_S, end_s=ANIMATION_END_S, audio=False)
    painted = _frames(painted_path)
    sources = _frames(source, start_s=ANIMATION_START_S, end_s=ANIMATION_END_S)
    frames = []
    for index in range(0, len(painted), ANIMATION_STEP):
        pair = np.hstack([_resize(sources[index], ANIMATION_PANEL_W), _resize(painted[index], ANIMATION_PANEL_W)])
        frames.append(Image.fromarray(pair))
    path = out / "painted.webp"
    frames[0].save(
        path, save_all=True, append_images=frames[1:], duration=round(1000 * ANIMATION_STEP / report.fps), loop=0,
        quality=WEBP_QUALITY, method=6,
    )
    return {"animation": str(path.relative_to(ROOT)), "animation_kb": path.stat().st_size // 1024, "animation_frames": len(frames),
            "animation_s": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--only", choices=("still", "animation"), help="make only this one")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="facepaint-readme-") as work:
        if args.only in (None, "still"):
            print(make_still(args.out, Path(work)), flush=True)
        if args.only in (None, "animation"):
            print(make_animation(args.out, Path(work)), flush=True)


if __name__ == "__main__":
    main()
