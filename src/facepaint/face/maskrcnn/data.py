"""Annotations -> torchvision training samples (torch).

This is the boundary where facepaint's typed annotations (:mod:`facepaint.annotations`) become
torchvision's target dicts; the dicts never leave this package.

Each annotated face gives one ``face`` instance (mask: inside the 36-point contour; landmarks:
the contour, marked invalid when the face has none) and one instance per annotated feature
(mask: its polygon; landmarks: all invalid).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor

from facepaint.annotations import ImageAnnotation, find_annotations, mirror_face, rasterize, read_annotation, transform_face
from facepaint.errors import InputError
from facepaint.face.maskrcnn.heads import normalize_landmarks
from facepaint.face.maskrcnn.labels import FACE_LABEL, NUM_LANDMARKS, label_of_feature
from facepaint.io import read_image

#: Features smaller than this (pixels, either side) after resizing are dropped from the targets.
MIN_INSTANCE_PX = 2.0


@dataclass(frozen=True)
class Sample:
    """One training image: ``image (3, H, W) float32`` in [0, 1] and torchvision's ``target``."""

    image: Tensor
    target: dict[str, Tensor]
    annotation: ImageAnnotation


def scale_for(height: int, width: int, max_side: int | None) -> float:
    """Down-scaling factor that brings the longer side to ``max_side`` (1.0 when already smaller)."""
    if max_side is None or max(height, width) <= max_side:
        return 1.0
    return max_side / float(max(height, width))


def target_of_annotation(annotation: ImageAnnotation, scale: float = 1.0) -> dict[str, Tensor]:
    """torchvision target of an annotation, geometry multiplied by ``scale``.

    Returns
    -------
    dict
        ``boxes (K, 4) float32`` pixels, ``labels (K,) int64`` (:mod:`.labels`), ``masks
        (K, H', W') uint8``, ``keypoints (K, 36, 3) float32`` ``(x, y, valid)`` where
        ``H' = round(H * scale)``. ``K = 0`` gives correctly shaped empty tensors.
    """
    height = int(round(annotation.height * scale))
    width = int(round(annotation.width * scale))
    boxes, labels, masks, keypoints = [], [], [], []
    no_landmarks = np.zeros((NUM_LANDMARKS, 3), np.float32)
    for index, face in enumerate(annotation.faces):
        face_mask, feature_labels = rasterize(annotation, index)
        if scale != 1.0:
            face_mask = cv2.resize(face_mask, (width, height), interpolation=cv2.INTER_NEAREST)
            feature_labels = cv2.resize(feature_labels, (width, height), interpolation=cv2.INTER_NEAREST)
        box = np.asarray(face.box, np.float32) * scale
        box = np.clip(box, 0, [width - 1, height - 1, width - 1, height - 1]).astype(np.float32)
        if box[2] - box[0] < MIN_INSTANCE_PX or box[3] - box[1] < MIN_INSTANCE_PX:
            continue
        boxes.append(box)
        labels.append(FACE_LABEL)
        masks.append(face_mask)
        if face.contour is not None:
            points = np.concatenate([face.contour * scale, np.ones((NUM_LANDMARKS, 1), np.float32)], axis=1)
            keypoints.append(points.astype(np.float32))
        else:
            keypoints.append(no_landmarks)
        for feature in sorted(face.polygons):
            binary = (feature_labels == int(feature)).astype(np.uint8)
            ys, xs = np.nonzero(binary)
            if xs.size == 0:
                continue
            # The pixels' extent, pixel i covering [i - 0.5, i + 0.5] as everywhere else here (and
            # in RoIAlign, which makes the mask targets): a box centred on the feature.
            fbox = np.array([xs.min() - 0.5, ys.min() - 0.5, xs.max() + 0.5, ys.max() + 0.5], np.float32)
            if fbox[2] - fbox[0] < MIN_INSTANCE_PX or fbox[3] - fbox[1] < MIN_INSTANCE_PX:
                continue
            boxes.append(fbox)
            labels.append(label_of_feature(feature))
            masks.append(binary)
            keypoints.append(no_landmarks)
    if not boxes:
        return {
            "boxes": torch.zeros((0, 4), dtype=torch.float32),
            "labels": torch.zeros((0,), dtype=torch.int64),
            "masks": torch.zeros((0, height, width), dtype=torch.uint8),
            "keypoints": torch.zeros((0, NUM_LANDMARKS, 3), dtype=torch.float32),
        }
    return {
        "boxes": torch.from_numpy(np.stack(boxes)),
        "labels": torch.tensor(labels, dtype=torch.int64),
        "masks": torch.from_numpy(np.stack(masks)),
        "keypoints": torch.from_numpy(np.stack(keypoints)),
    }


def image_tensor(image: np.ndarray) -> Tensor:
    """``(H, W, 3) uint8`` RGB -> ``(3, H, W) float32`` in [0, 1]."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"expected an (H, W, 3) uint8 RGB image; got {image.shape} {image.dtype}")
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float().div_(255.0)


class AnnotatedFrames(torch.utils.data.Dataset):
    """Images and their annotations from a folder (LabelMe ``*.json`` and iBUG ``*.pts``).

    Parameters
    ----------
    root : path-like
        Folder searched recursively, or a single annotation file.
    max_side : int, optional
        Images (and their targets) are shrunk so that their longer side is at most this; the
        model's own transform resizes again, but shrinking here keeps the masks small.
    exclude : iterable of str, optional
        Substrings of annotation paths to leave out (e.g. held-out video names).
    include : iterable of str, optional
        When given, only annotation paths containing one of these substrings are kept.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        max_side: int | None = 480,
        exclude: tuple[str, ...] = (),
        include: tuple[str, ...] | None = None,
        jitter: bool = False,
        seed: int = 0,
    ) -> None:
        files = find_annotations(root)
        files = [f for f in files if not any(e in str(f) for e in exclude)]
        if include is not None:
            files = [f for f in files if any(i in str(f) for i in include)]
        if not files:
            raise InputError(f"no annotation left under {root} after include={include} exclude={exclude}")
        self.files: list[Path] = files
        self.max_side = max_side
        self.jitter = jitter
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.files)

    def annotation(self, index: int) -> ImageAnnotation:
        return read_annotation(self.files[index])

    def mean_contour(self) -> np.ndarray | None:
        """``(36, 2)`` float32 mean of the annotated contours, each normalised to its face box
        (``(x - x0) / w``, ``(y - y0) / h``); None when no face has a contour."""
        contours, boxes = [], []
        for index in range(len(self)):
            for face in self.annotation(index).faces:
                if face.contour is not None:
                    contours.append(np.asarray(face.contour, np.float64))
                    boxes.append(np.asarray(face.box, np.float64))
        if not contours:
            return None
        shapes = normalize_landmarks(torch.from_numpy(np.stack(contours)), torch.from_numpy(np.stack(boxes)))
        return shapes.mean(dim=0).numpy().astype(np.float32)

    def __getitem__(self, index: int) -> Sample:
        annotation = self.annotation(index)
        image = read_image(annotation.resolve_image())
        if image.shape[:2] != (annotation.height, annotation.width):
            raise InputError(
                f"{self.files[index]}: the annotation is for {annotation.width}x{annotation.height} "
                f"but the image {annotation.resolve_image()} is {image.shape[1]}x{image.shape[0]}"
            )
        scale = scale_for(annotation.height, annotation.width, self.max_side)
        if scale != 1.0:
            size = (int(round(annotation.width * scale)), int(round(annotation.height * scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        tensor = image_tensor(image)
        if self.jitter:
            # Photometric jitter only: a geometric flip would swap left/right classes and reverse
            # the contour order.
            gain = float(self._rng.uniform(0.75, 1.25))
            bias = float(self._rng.uniform(-0.08, 0.08))
            tensor = (tensor * gain + bias).clamp_(0.0, 1.0)
        return Sample(tensor, target_of_annotation(annotation, scale), annotation)


class FaceCrops(AnnotatedFrames):
    """Square crops around annotated faces at their native pixel size: cheap training samples.

    Each item is one crop of ``crop_px`` x ``crop_px`` (less where the frame is smaller) from
    frame ``index``: around one of its faces chosen at random, the face at a random place inside
    the crop, or anywhere in a frame without faces (a negative). A face wider than
    ``max_face_px`` is shrunk, with the crop, to a random width in ``[min_shrunk_px,
    max_face_px]``; smaller faces keep their pixel size, so the network sees faces as they are
    in the frames it will run on (the model must then run at native size too:
    ``ModelConfig(native_size=True)``). Only the crop's window is resized and rasterised, so a
    sample costs about a crop's pixels, not a frame's.

    Other faces of the frame that fall in the crop are kept when at least ``min_visible`` of
    their box area is inside; their contours may run outside the crop (landmarks are regressed
    relative to the box). Parameters ``root``, ``exclude``, ``include``, ``jitter`` and
    ``seed`` are :class:`AnnotatedFrames`'s.

    Geometric augmentation (off by default, so that the recipe's runs compare): ``mirror``
    flips half the crops left-right (brows and eyes trade classes, :func:`mirror_face`);
    ``scale_jitter`` ``j`` resizes each crop by a factor drawn log-uniformly from ``[1/(1+j),
    1+j]`` on top of the shrinking of large faces, the face kept between ``min_jitter_px`` and
    ``max_face_px`` wide. Held-out faces differ from the few training videos' in exactly these
    ways: which way they look and how many pixels they span.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        crop_px: int = 192,
        max_face_px: float = 160.0,
        min_shrunk_px: float = 48.0,
        min_visible: float = 0.6,
        exclude: tuple[str, ...] = (),
        include: tuple[str, ...] | None = None,
        jitter: bool = False,
        seed: int = 0,
        mirror: bool = False,
        scale_jitter: float = 0.0,
        min_jitter_px: float = 14.0,
    ) -> None:
        if scale_jitter < 0.0:
            raise InputError(f"scale_jitter must be >= 0; got {scale_jitter}")
        if crop_px < 32 or not 4.0 <= min_shrunk_px <= max_face_px or not 0.0 < min_visible <= 1.0:
            raise InputError(
                f"crop_px must be >= 32, 4 <= min_shrunk_px <= max_face_px and 0 < min_visible <= 1; "
                f"got {crop_px}, {min_shrunk_px}, {max_face_px}, {min_visible}"
            )
        super().__init__(root, max_side=None, exclude=exclude, include=include, jitter=jitter, seed=seed)
        self.crop_px = int(crop_px)
        self.max_face_px = float(max_face_px)
        self.min_shrunk_px = float(min_shrunk_px)
        self.min_visible = float(min_visible)
        self.mirror = bool(mirror)
        self.scale_jitter = float(scale_jitter)
        self.min_jitter_px = float(min_jitter_px)

    def crop_window(self, annotation: ImageAnnotation) -> tuple[float, float, float, float]:
        """``(x0, y0, side, scale)``: the crop's top-left corner and side in frame pixels and the
        factor from frame to crop pixels (draws from the dataset's random generator)."""
        rng = self._rng
        scale = 1.0
        if annotation.faces:
            face = annotation.faces[int(rng.integers(len(annotation.faces)))]
            width = float(max(face.box[2] - face.box[0], face.box[3] - face.box[1]))
            if width > self.max_face_px:
                scale = float(rng.uniform(self.min_shrunk_px, self.max_face_px)) / width
            if self.scale_jitter > 0.0:
                bound = float(np.log1p(self.scale_jitter))
                jittered = width * scale * float(np.exp(rng.uniform(-bound, bound)))
                lowest = min(self.min_jitter_px, width * scale)
                scale = float(np.clip(jittered, lowest, max(self.max_face_px, lowest))) / width
            side = self.crop_px / scale
            # The face lies wholly inside the crop where the crop is larger than the face.
            slack_x = max(side - float(face.box[2] - face.box[0]), 0.0) / 2.0
            slack_y = max(side - float(face.box[3] - face.box[1]), 0.0) / 2.0
            cx = float(face.box[0] + face.box[2]) / 2.0 + float(rng.uniform(-slack_x, slack_x))
            cy = float(face.box[1] + face.box[3]) / 2.0 + float(rng.uniform(-slack_y, slack_y))
        else:
            side = float(self.crop_px)
            cx = float(rng.uniform(0, annotation.width))
            cy = float(rng.uniform(0, annotation.height))
        x0 = min(max(cx - side / 2.0, 0.0), max(annotation.width - side, 0.0))
        y0 = min(max(cy - side / 2.0, 0.0), max(annotation.height - side, 0.0))
        return float(np.floor(x0)), float(np.floor(y0)), side, scale

    def __getitem__(self, index: int) -> Sample:
        annotation = self.annotation(index)
        image = read_image(annotation.resolve_image())
        if image.shape[:2] != (annotation.height, annotation.width):
            raise InputError(
                f"{self.files[index]}: the annotation is for {annotation.width}x{annotation.height} "
                f"but the image {annotation.resolve_image()} is {image.shape[1]}x{image.shape[0]}"
            )
        x0, y0, side, scale = self.crop_window(annotation)
        x1 = int(min(np.ceil(x0 + side), annotation.width))
        y1 = int(min(np.ceil(y0 + side), annotation.height))
        window = image[int(y0) : y1, int(x0) : x1]
        height = max(1, min(self.crop_px, round(window.shape[0] * scale)))
        width = max(1, min(self.crop_px, round(window.shape[1] * scale)))
        if scale != 1.0:
            shrink = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
            window = cv2.resize(window, (width, height), interpolation=shrink)
        else:
            window = window[:height, :width]
            height, width = window.shape[:2]
        # cv2.resize maps pixel centres: x -> (x + 0.5) * scale - 0.5 (x from the window's corner).
        offset = ((0.5 - x0) * scale - 0.5, (0.5 - y0) * scale - 0.5)
        flipped = self.mirror and bool(self._rng.random() < 0.5)
        if flipped:
            window = window[:, ::-1]
        faces = []
        for face in annotation.faces:
            moved = transform_face(face, scale, offset)
            if flipped:
                moved = mirror_face(moved, width)
            box = np.asarray(moved.box, np.float64)
            area = max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)
            inside = np.clip(box, 0, [width, height, width, height])
            visible = max(inside[2] - inside[0], 0.0) * max(inside[3] - inside[1], 0.0)
            if area > 0 and visible >= self.min_visible * area:
                faces.append(moved)
        cropped = replace(annotation, height=height, width=width, faces=tuple(faces))
        tensor = image_tensor(np.ascontiguousarray(window))
        if self.jitter:
            gain = float(self._rng.uniform(0.75, 1.25))
            bias = float(self._rng.uniform(-0.08, 0.08))
            tensor = (tensor * gain + bias).clamp_(0.0, 1.0)
        return Sample(tensor, target_of_annotation(cropped), cropped)


def collate(samples: list[Sample]) -> tuple[list[Tensor], list[dict[str, Tensor]]]:
    """Batch of samples -> ``(images, targets)`` lists as torchvision's detectors take them."""
    return [s.image for s in samples], [s.target for s in samples]
