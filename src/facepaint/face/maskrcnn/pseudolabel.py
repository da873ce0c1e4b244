"""Pseudo-labelled training frames for the extended Mask R-CNN (torch-free).

:func:`annotate` samples every N-th frame of videos (or the images of a folder), labels the faces
with a teacher face model (facepaint's default backend unless told otherwise) and writes each
frame as a PNG with a LabelMe JSON file next to it, flagged ``pseudo_label`` with the teacher's
name. People can then open the files in LabelMe and correct them.

Small-face augmentation: the method is for small faces, and most training videos show large
ones. For a share of the frames, a face of another frame *of the same video* (so that held-out
videos stay unseen) is scaled down to ``small_face_px`` wide and pasted, with a feathered edge,
at a free place of the frame; its labels are scaled and moved with it and the file is flagged
``augmentation: small_face_paste``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from facepaint.annotations import (
    FaceAnnotation,
    ImageAnnotation,
    annotation_of_faces,
    transform_face,
    write_labelme,
)
from facepaint.errors import InputError, OutputError

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".h264", ".264", ".m4v")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


@dataclass(frozen=True)
class AnnotateConfig:
    """``every``: label one frame in ``every``. ``max_frames``: per video, frames labelled at
    most. ``teacher``: registered face-model name. ``small_faces``: share of labelled frames that
    also get a small-face copy (0 disables). ``small_face_px``: range of pasted face widths.
    ``keep_empty``: also write frames where the teacher found no face (negatives).
    ``max_side``: frames are labelled at full size, then written shrunk so that their longer
    side is at most this many pixels (labels scaled with them); None keeps the size."""

    every: int = 10
    max_frames: int | None = None
    teacher: str = "mediapipe"
    small_faces: float = 0.5
    small_face_px: tuple[float, float] = (14.0, 40.0)
    keep_empty: bool = True
    max_side: int | None = None
    seed: int = 0


@dataclass(frozen=True)
class AnnotateResult:
    frames: int  #: frames written (labelled by the teacher)
    augmented: int  #: small-face copies written
    faces: int  #: faces labelled by the teacher in the written frames
    folders: tuple[str, ...]  #: one per video


def _sources(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise InputError(f"{source} does not exist; give a video file or a folder of videos or images")
    videos = sorted(p for p in source.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    if videos:
        return videos
    if any(p.suffix.lower() in IMAGE_SUFFIXES for p in source.iterdir()):
        return [source]
    raise InputError(f"{source} holds no video ({', '.join(VIDEO_SUFFIXES)}) and no image")


def _slug(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem if path.is_file() else path.name)


def _frames(source: Path, every: int, max_frames: int | None) -> Iterator[tuple[int, np.ndarray]]:
    from facepaint.io import open_video

    written = 0
    for frame in open_video(source):
        if frame.index % every:
            continue
        yield frame.index, frame.image
        written += 1
        if max_frames is not None and written >= max_frames:
            return


def _crop_of(face: FaceAnnotation, image: np.ndarray, margin: float = 0.25) -> tuple[np.ndarray, tuple[int, int]]:
    height, width = image.shape[:2]
    x0, y0, x1, y1 = face.box
    mx, my = margin * (x1 - x0), margin * (y1 - y0)
    ix0, iy0 = max(0, int(x0 - mx)), max(0, int(y0 - my))
    ix1, iy1 = min(width, int(np.ceil(x1 + mx))), min(height, int(np.ceil(y1 + my)))
    return image[iy0:iy1, ix0:ix1].copy(), (ix0, iy0)


def paste_small_face(
    image: np.ndarray,
    annotation: ImageAnnotation,
    donor_image: np.ndarray,
    donor: FaceAnnotation,
    width_px: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, FaceAnnotation] | None:
    """Paste ``donor`` (a face of ``donor_image``) scaled to ``width_px`` wide into ``image``.

    The place is drawn at random among those that do not overlap the faces of ``annotation``
    (20 tries). The paste is alpha-blended through a feathered ellipse, so no hard crop edge
    teaches the detector a shortcut.

    Returns
    -------
    (image, face) or None
        The new ``(H, W, 3) uint8`` image and the pasted face's annotation in its pixels; None
        when no free place was found or the donor is degenerate.
    """
    crop, origin = _crop_of(donor, donor_image)
    face_width = float(donor.box[2] - donor.box[0])
    if crop.size == 0 or face_width < 4:
        return None
    scale = min(1.0, width_px / face_width)
    size = (max(2, int(round(crop.shape[1] * scale))), max(2, int(round(crop.shape[0] * scale))))
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    height, width = image.shape[:2]
    if size[0] >= width or size[1] >= height:
        return None
    boxes = [f.box for f in annotation.faces]
    for _ in range(20):
        x = int(rng.integers(0, width - size[0]))
        y = int(rng.integers(0, height - size[1]))
        clash = any(not (x + size[0] < b[0] or x > b[2] or y + size[1] < b[1] or y > b[3]) for b in boxes)
        if not clash:
            break
    else:
        return None
    alpha = np.zeros((size[1], size[0]), np.float32)
    cv2.ellipse(alpha, (size[0] // 2, size[1] // 2), (max(1, size[0] // 2 - 1), max(1, size[1] // 2 - 1)), 0, 0, 360, 1.0, -1)
    sigma = max(0.6, 0.06 * size[0])
    alpha = cv2.GaussianBlur(alpha, (0, 0), sigma)[..., None]
    out = image.copy()
    region = out[y : y + size[1], x : x + size[0]].astype(np.float32)
    out[y : y + size[1], x : x + size[0]] = np.clip(alpha * small + (1 - alpha) * region, 0, 255).astype(np.uint8)
    sx, sy = size[0] / crop.shape[1], size[1] / crop.shape[0]
    # p' = (p - origin) * s + (x, y); the two axes scale alike up to rounding (use their mean).
    s = 0.5 * (sx + sy)
    moved = transform_face(donor, s, (x - origin[0] * s, y - origin[1] * s))
    return out, moved


def _shrink(image: np.ndarray, annotation: ImageAnnotation, max_side: int | None) -> tuple[np.ndarray, ImageAnnotation]:
    height, width = image.shape[:2]
    if max_side is None or max(height, width) <= max_side:
        return image, annotation
    scale = max_side / float(max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    faces = tuple(transform_face(f, scale, (0.0, 0.0)) for f in annotation.faces)
    return small, replace(annotation, height=size[1], width=size[0], faces=faces)


def annotate(
    source: str | os.PathLike,
    outdir: str | os.PathLike,
    config: AnnotateConfig = AnnotateConfig(),
    *,
    teacher=None,
    log: Callable[[str], None] | None = None,
) -> AnnotateResult:
    """Write pseudo-labelled frames (PNG + LabelMe JSON) of a video, a folder of videos or of images.

    Parameters
    ----------
    source : path-like
        A video file, a folder of videos (one output folder each) or a folder of images.
    outdir : path-like
        Created if missing; gets one sub-folder per video named after it.
    teacher : FaceModel, optional
        The labelling model (default: ``create_face_model(config.teacher)``); its ``detect`` is
        used on each sampled frame.

    Returns
    -------
    AnnotateResult
    """
    from facepaint.io import write_image

    if config.every < 1:
        raise InputError(f"--every must be >= 1; got {config.every}")
    low, high = config.small_face_px
    if not 0.0 <= config.small_faces <= 1.0 or not 4 <= low <= high:
        raise InputError("small_faces must be in [0, 1] and small_face_px a range of widths >= 4 px")
    say = log or (lambda line: None)
    root = Path(outdir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create {root}: {error}") from error
    if teacher is None:
        from facepaint.face import create_face_model

        teacher = create_face_model(config.teacher)
    teacher_name = getattr(teacher, "name", None) or config.teacher
    rng = np.random.default_rng(config.seed)
    frames = augmented = faces_total = 0
    folders = []
    for video in _sources(Path(source)):
        slug = _slug(video)
        folder = root / slug
        folder.mkdir(exist_ok=True)
        folders.append(str(folder))
        teacher.reset()
        donors: list[tuple[np.ndarray, FaceAnnotation]] = []
        for index, image in _frames(video, config.every, config.max_frames):
            faces = teacher.detect(image)
            name = f"{slug}_f{index:06d}"
            annotation = annotation_of_faces(
                faces, f"{name}.png", image.shape[0], image.shape[1], teacher=teacher_name
            )
            image, annotation = _shrink(image, annotation, config.max_side)
            if not annotation.faces and not config.keep_empty:
                continue
            write_image(folder / f"{name}.png", image)
            write_labelme(folder / f"{name}.json", annotation)
            frames += 1
            faces_total += len(annotation.faces)
            if donors and rng.random() < config.small_faces:
                donor_image, donor = donors[int(rng.integers(len(donors)))]
                # Always smaller than the donor, so the copy is a genuinely downscaled face.
                donor_width = float(donor.box[2] - donor.box[0])
                width_px = float(rng.uniform(low, max(low, min(high, 0.7 * donor_width))))
                pasted = paste_small_face(image, annotation, donor_image, donor, width_px, rng)
                if pasted is not None:
                    new_image, new_face = pasted
                    small = replace(
                        annotation,
                        image_path=f"{name}_small.png",
                        faces=annotation.faces + (new_face,),
                        augmentation="small_face_paste",
                    )
                    write_image(folder / f"{name}_small.png", new_image)
                    write_labelme(folder / f"{name}_small.json", small)
                    augmented += 1
            # A bounded pool of donors with landmarks, kept as crops (not whole frames).
            for face in annotation.faces:
                if face.contour is not None and face.box[2] - face.box[0] >= 1.5 * low and len(donors) < 64:
                    crop, (ox, oy) = _crop_of(face, image)
                    donors.append((crop, transform_face(face, 1.0, (-ox, -oy))))
        say(f"{video}: {frames} frames, {augmented} small-face copies so far")
    return AnnotateResult(frames, augmented, faces_total, tuple(folders))
