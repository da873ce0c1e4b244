"""Face annotations on disk: LabelMe JSON (read/write) and iBUG ``.pts`` (read/write). Torch-free.

The paper annotated its training frames with LabelMe. facepaint uses LabelMe's JSON as it is, with
one convention for what the shapes mean:

* a ``polygon`` labelled ``face`` with exactly 36 points is the face contour, in the order of
  :attr:`facepaint.types.Face.contour` (mediapipe FACE_OVAL: top of the forehead first, then
  towards the image right). Its inside is the face mask. A ``face`` polygon with another number of
  points, or a ``rectangle`` labelled ``face``, gives a box without landmarks;
* ``polygon`` shapes labelled ``brow_l``, ``brow_r``, ``eye_l``, ``eye_r``, ``nose``, ``mouth``
  (:data:`facepaint.types.FEATURE_NAMES`; left/right are the subject's) are the feature masks;
* ``group_id`` ties the features to their face (one id per face). Shapes without a group id are
  given to the face whose box contains their centre;
* the file-level ``flags`` hold ``pseudo_label: true`` when the labels come from a model rather
  than a person, and ``teacher`` / ``augmentation`` say which.

Coordinates are ``(x, y)`` float pixels in facepaint's convention (origin at the centre of the
top-left pixel). iBUG ``.pts`` files (300-W, 300-VW) are 1-based: :func:`read_pts` subtracts 1 and
:func:`write_pts` adds it back.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from facepaint._atomic import write_bytes_atomic
from facepaint.errors import InputError
from facepaint.types import CONTOUR_POINTS, FEATURE_NAMES, Face, FeatureClass

#: LabelMe version written in the files (the format has been stable since 4.x).
LABELME_VERSION = "5.4.1"
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


@dataclass(frozen=True)
class FaceAnnotation:
    """One annotated face.

    ``box`` is ``(4,) float32 x0, y0, x1, y1`` pixels; ``contour`` the ``(36, 2) float32`` ring or
    ``None`` when the face has no landmarks; ``polygons`` one ``(K, 2) float32`` polygon per
    feature class present (a missing class is not annotated, e.g. hidden).
    """

    box: np.ndarray
    contour: np.ndarray | None = None
    polygons: dict[FeatureClass, np.ndarray] = field(default_factory=dict)

    @property
    def has_landmarks(self) -> bool:
        return self.contour is not None


@dataclass(frozen=True)
class ImageAnnotation:
    """The faces of one image and where the image is.

    ``image_path`` is as written in the file (LabelMe: relative to the JSON file);
    :meth:`resolve_image` gives the path to open. ``pseudo_label`` is True when the labels were
    produced by a model (``teacher`` names it).
    """

    image_path: str
    height: int
    width: int
    faces: tuple[FaceAnnotation, ...] = ()
    pseudo_label: bool = False
    teacher: str | None = None
    augmentation: str | None = None
    source: str | None = None  #: the annotation file this was read from, if any

    def resolve_image(self) -> Path:
        """Absolute path of the image (relative paths are taken from the annotation's folder)."""
        path = Path(self.image_path)
        if not path.is_absolute() and self.source is not None:
            path = Path(self.source).parent / path
        return path


def _as_points(value, what: str, where: str) -> np.ndarray:
    try:
        points = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise InputError(f"{where}: {what} must be a list of [x, y] pairs; got {value!r:.80}") from error
    if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] == 0:
        raise InputError(f"{where}: {what} must be a list of [x, y] pairs; got shape {points.shape}")
    if not np.all(np.isfinite(points)):
        raise InputError(f"{where}: {what} holds a non-finite coordinate")
    return points


def box_of_points(points: np.ndarray) -> np.ndarray:
    """Tight ``(4,) float32`` box ``x0, y0, x1, y1`` of ``(K, 2)`` points."""
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    return np.concatenate([pts.min(axis=0), pts.max(axis=0)]).astype(np.float32)


# --------------------------------------------------------------------------------------- LabelMe


def read_labelme(path: str | os.PathLike) -> ImageAnnotation:
    """Read one LabelMe JSON file.

    Parameters
    ----------
    path : path-like
        A ``.json`` file written by LabelMe or by :func:`write_labelme`.

    Returns
    -------
    ImageAnnotation
        Faces in the order of their ``group_id`` (then of appearance).

    Raises
    ------
    InputError
        When the file is missing, is not JSON, or a shape is malformed (the message names it).
    """
    where = str(path)
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError as error:
        raise InputError(f"annotation file {where} does not exist") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{where} is not a LabelMe JSON file: {error}") from error
    if not isinstance(data, dict) or "shapes" not in data:
        raise InputError(f"{where} is not a LabelMe JSON file: it has no 'shapes' list")
    try:
        height, width = int(data["imageHeight"]), int(data["imageWidth"])
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"{where}: imageHeight and imageWidth must be integers") from error

    groups: dict[object, dict] = {}
    loose: list[tuple[FeatureClass, np.ndarray]] = []
    for number, shape in enumerate(data["shapes"]):
        label = str(shape.get("label", "")).strip().lower()
        kind = shape.get("shape_type") or "polygon"
        what = f"shape {number} ({label!r})"
        if label == "face":
            points = _as_points(shape.get("points"), what, where)
            key = shape.get("group_id")
            key = ("auto", number) if key is None else key
            entry = groups.setdefault(key, {"polygons": {}})
            if kind == "rectangle":
                entry["box"] = box_of_points(points)
            elif kind == "polygon":
                entry["box"] = box_of_points(points)
                if points.shape[0] == CONTOUR_POINTS:
                    entry["contour"] = points
            else:
                raise InputError(f"{where}: {what} must be a polygon or rectangle; got {kind!r}")
        elif label in FEATURE_NAMES:
            if kind != "polygon":
                raise InputError(f"{where}: {what} must be a polygon; got {kind!r}")
            points = _as_points(shape.get("points"), what, where)
            if points.shape[0] < 3:
                raise InputError(f"{where}: {what} needs at least 3 points; got {points.shape[0]}")
            feature = FeatureClass[label.upper()]
            key = shape.get("group_id")
            if key is None:
                loose.append((feature, points))
            else:
                groups.setdefault(key, {"polygons": {}})["polygons"][feature] = points
        # Other labels (LabelMe users add their own) are ignored on purpose.

    faces: list[FaceAnnotation] = []
    for key, entry in groups.items():
        if "box" not in entry:
            if not entry["polygons"]:
                continue
            raise InputError(f"{where}: group_id {key!r} has features but no 'face' shape")
        faces.append(FaceAnnotation(box=entry["box"], contour=entry.get("contour"), polygons=dict(entry["polygons"])))
    for feature, points in loose:
        centre = points.mean(axis=0)
        owner = next(
            (f for f in faces if f.box[0] <= centre[0] <= f.box[2] and f.box[1] <= centre[1] <= f.box[3]),
            None,
        )
        if owner is not None:
            owner.polygons[feature] = points
    flags = data.get("flags") or {}
    return ImageAnnotation(
        image_path=str(data.get("imagePath") or ""),
        height=height,
        width=width,
        faces=tuple(faces),
        pseudo_label=bool(flags.get("pseudo_label", False)),
        teacher=flags.get("teacher"),
        augmentation=flags.get("augmentation"),
        source=str(path),
    )


def labelme_dict(annotation: ImageAnnotation) -> dict:
    """The LabelMe JSON object of an annotation (see the module docstring for the convention)."""
    shapes = []
    for group, face in enumerate(annotation.faces):
        if face.contour is not None:
            points, kind = face.contour, "polygon"
        else:
            x0, y0, x1, y1 = (float(v) for v in face.box)
            points, kind = np.array([[x0, y0], [x1, y1]], np.float32), "rectangle"
        shapes.append(_shape("face", points, group, kind))
        for feature in sorted(face.polygons):
            shapes.append(_shape(feature.name.lower(), face.polygons[feature], group, "polygon"))
    flags: dict[str, object] = {"pseudo_label": bool(annotation.pseudo_label)}
    if annotation.teacher is not None:
        flags["teacher"] = annotation.teacher
    if annotation.augmentation is not None:
        flags["augmentation"] = annotation.augmentation
    return {
        "version": LABELME_VERSION,
        "flags": flags,
        "shapes": shapes,
        "imagePath": annotation.image_path,
        "imageData": None,
        "imageHeight": int(annotation.height),
        "imageWidth": int(annotation.width),
    }


def _shape(label: str, points: np.ndarray, group: int, kind: str) -> dict:
    return {
        "label": label,
        "points": [[round(float(x), 3), round(float(y), 3)] for x, y in np.asarray(points).reshape(-1, 2)],
        "group_id": group,
        "description": "",
        "shape_type": kind,
        "flags": {},
        "mask": None,
    }


def write_labelme(path: str | os.PathLike, annotation: ImageAnnotation) -> None:
    """Write ``annotation`` as a LabelMe JSON file (atomically: a temporary file is renamed)."""
    write_bytes_atomic(path, json.dumps(labelme_dict(annotation), indent=1).encode("utf-8"))


# ------------------------------------------------------------------------------------ iBUG .pts


def read_pts(path: str | os.PathLike) -> np.ndarray:
    """Read an iBUG ``.pts`` landmark file (300-W, 300-VW).

    Returns
    -------
    (N, 2) float32 ndarray
        ``(x, y)`` pixels, 0-based (the file's 1-based values minus 1).

    Raises
    ------
    InputError
        When the file is missing or not in the ``version / n_points / { ... }`` layout.
    """
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8", errors="strict")
    except FileNotFoundError as error:
        raise InputError(f"landmark file {where} does not exist") from error
    except UnicodeDecodeError as error:
        raise InputError(f"{where} is not a text .pts file") from error
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    count = None
    for line in lines:
        if line.lower().startswith("n_points"):
            try:
                count = int(line.split(":", 1)[1])
            except (IndexError, ValueError) as error:
                raise InputError(f"{where}: bad 'n_points' line {line!r}") from error
    if count is None or "{" not in lines or "}" not in lines:
        raise InputError(f"{where} is not an iBUG .pts file: expected 'n_points: N' and a {{ ... }} block")
    body = lines[lines.index("{") + 1 : lines.index("}")]
    try:
        points = np.array([[float(v) for v in line.split()] for line in body], dtype=np.float32)
    except ValueError as error:
        raise InputError(f"{where}: a point line is not two numbers") from error
    if points.shape != (count, 2):
        raise InputError(f"{where}: n_points says {count} but the block holds {points.shape[0]} points of 2 values")
    return points - 1.0


def write_pts(path: str | os.PathLike, points: np.ndarray) -> None:
    """Write ``(N, 2)`` 0-based ``(x, y)`` pixels as an iBUG ``.pts`` file (1-based)."""
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise InputError(f"write_pts expects (N, 2) points; got shape {pts.shape}")
    rows = "\n".join(f"{x + 1.0:.3f} {y + 1.0:.3f}" for x, y in pts)
    write_bytes_atomic(path, f"version: 1\nn_points: {len(pts)}\n{{\n{rows}\n}}\n".encode("utf-8"))


def _brow_polygon(points: np.ndarray, thickness: float) -> np.ndarray:
    # 68-point brows are a line of 5 points: give them the band below the line.
    below = points + np.array([0.0, thickness], np.float32)
    return np.concatenate([points, below[::-1]]).astype(np.float32)


def face_from_ibug68(points: np.ndarray) -> FaceAnnotation:
    """Feature polygons of a face from its 68 iBUG landmarks (no 36-point contour).

    The 68-point layout has no forehead, so the face gets a box (the landmarks' box extended up
    by the brow-to-eye distance to cover the forehead) and feature polygons, but no contour:
    such faces train the box and mask branches and are ignored by the landmark loss.

    Parameters
    ----------
    points : (68, 2) float array
        0-based ``(x, y)`` pixels in iBUG order (point 37-42, 1-based, is the eye on the image
        left, i.e. the subject's right eye).
    """
    pts = np.asarray(points, dtype=np.float32)
    if pts.shape != (68, 2):
        raise InputError(f"face_from_ibug68 expects (68, 2) points; got shape {pts.shape}")
    import cv2

    eye_width = float(np.linalg.norm(pts[39] - pts[36]))
    band = max(1.0, 0.25 * eye_width)
    nose = pts[[27, 31, 32, 33, 34, 35]]
    hull = cv2.convexHull(np.concatenate([nose, pts[[39, 42]] * 0.5 + pts[[31, 35]] * 0.5]).astype(np.float32))
    polygons = {
        FeatureClass.BROW_R: _brow_polygon(pts[17:22], band),
        FeatureClass.BROW_L: _brow_polygon(pts[22:27], band),
        FeatureClass.EYE_R: pts[36:42].copy(),
        FeatureClass.EYE_L: pts[42:48].copy(),
        FeatureClass.NOSE: hull.reshape(-1, 2).astype(np.float32),
        FeatureClass.MOUTH: pts[48:60].copy(),
    }
    box = box_of_points(pts)
    brow_to_eye = float(np.mean(pts[36:48, 1]) - np.mean(pts[17:27, 1]))
    box[1] = max(0.0, box[1] - 1.5 * max(brow_to_eye, 0.0))
    return FaceAnnotation(box=box, contour=None, polygons=polygons)


# ----------------------------------------------------------------------------- datasets, faces


def annotation_of_faces(
    faces: list[Face] | tuple[Face, ...],
    image_path: str,
    height: int,
    width: int,
    *,
    teacher: str | None = None,
    augmentation: str | None = None,
) -> ImageAnnotation:
    """Turn a face model's output into an annotation (``pseudo_label`` when ``teacher`` is set).

    Feature polygons come from :attr:`Face.feature_polygons`, or are traced from
    :attr:`Face.feature_mask` when the backend gives none.
    """
    result = []
    for face in faces:
        polygons = {FeatureClass(k): np.asarray(v, np.float32).reshape(-1, 2) for k, v in face.feature_polygons.items()}
        if not polygons:
            polygons = polygons_of_mask(face.feature_mask, face.mask_offset)
        polygons = {k: v for k, v in polygons.items() if v.shape[0] >= 3}
        contour = np.asarray(face.contour, np.float32).reshape(-1, 2)
        result.append(
            FaceAnnotation(
                box=np.asarray(face.box, np.float32).copy(),
                contour=contour.copy() if contour.shape == (CONTOUR_POINTS, 2) else None,
                polygons=polygons,
            )
        )
    return ImageAnnotation(
        image_path=image_path,
        height=int(height),
        width=int(width),
        faces=tuple(result),
        pseudo_label=teacher is not None,
        teacher=teacher,
        augmentation=augmentation,
    )


def polygons_of_mask(mask: np.ndarray, offset: tuple[int, int] = (0, 0)) -> dict[FeatureClass, np.ndarray]:
    """Outer polygon of the largest blob of each feature class in a label mask.

    Parameters
    ----------
    mask : (h, w) uint8 ndarray
        :class:`FeatureClass` labels, 0 = none.
    offset : (x, y)
        Added to the polygon coordinates (the crop's position in the frame).
    """
    import cv2

    result: dict[FeatureClass, np.ndarray] = {}
    labels = np.asarray(mask)
    if labels.size == 0:
        return result
    for feature in FeatureClass:
        binary = (labels == int(feature)).astype(np.uint8)
        if not binary.any():
            continue
        contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        largest = max(contours, key=cv2.contourArea)
        if len(largest) >= 3:
            result[feature] = largest.reshape(-1, 2).astype(np.float32) + np.asarray(offset, np.float32)
    return result


def rasterize(annotation: ImageAnnotation, face_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Full-image masks of one face: ``((H, W) uint8 face mask 0/1, (H, W) uint8 FeatureClass labels)``.

    The face mask is the inside of the contour, or of the box when the face has no contour.
    Feature polygons are drawn in class order, so a later class wins on overlaps.
    """
    import cv2

    face = annotation.faces[face_index]
    shape = (annotation.height, annotation.width)
    face_mask = np.zeros(shape, np.uint8)
    if face.contour is not None:
        cv2.fillPoly(face_mask, [np.round(face.contour).astype(np.int32)], 1)
    else:
        x0, y0, x1, y1 = np.round(face.box).astype(int)
        face_mask[max(y0, 0) : max(y1 + 1, 0), max(x0, 0) : max(x1 + 1, 0)] = 1
    labels = np.zeros(shape, np.uint8)
    for feature in sorted(face.polygons):
        cv2.fillPoly(labels, [np.round(face.polygons[feature]).astype(np.int32)], int(feature))
    return face_mask, labels


def find_annotations(root: str | os.PathLike) -> list[Path]:
    """Annotation files under ``root``, sorted: LabelMe ``*.json`` and iBUG ``*.pts``.

    Raises
    ------
    InputError
        When ``root`` does not exist or holds no annotation file.
    """
    base = Path(root)
    if not base.exists():
        raise InputError(f"annotation folder {base} does not exist")
    files = [base] if base.is_file() else sorted(
        p for p in base.rglob("*") if p.suffix.lower() in (".json", ".pts") and not p.name.startswith(".")
    )
    if not files:
        raise InputError(
            f"no annotation found under {base}: expected LabelMe *.json files (e.g. from "
            "`facepaint annotate`) or iBUG *.pts files next to their images"
        )
    return files


def read_annotation(path: str | os.PathLike) -> ImageAnnotation:
    """Read a LabelMe ``.json`` or an iBUG ``.pts`` (68 points, with its image next to it)."""
    file = Path(path)
    if file.suffix.lower() == ".json":
        return read_labelme(file)
    if file.suffix.lower() != ".pts":
        raise InputError(f"{file}: expected a LabelMe .json or an iBUG .pts file")
    points = read_pts(file)
    if points.shape[0] != 68:
        raise InputError(f"{file}: only 68-point .pts files are supported; got {points.shape[0]} points")
    image = next((file.with_suffix(s) for s in _IMAGE_SUFFIXES if file.with_suffix(s).exists()), None)
    if image is None:
        raise InputError(f"{file}: no image with the same name ({', '.join(_IMAGE_SUFFIXES)}) next to it")
    import cv2

    header = cv2.imread(str(image), cv2.IMREAD_UNCHANGED)
    if header is None:
        raise InputError(f"{image} cannot be read as an image")
    return ImageAnnotation(
        image_path=image.name,
        height=int(header.shape[0]),
        width=int(header.shape[1]),
        faces=(face_from_ibug68(points),),
        source=str(file),
    )


def iter_annotations(root: str | os.PathLike) -> Iterator[ImageAnnotation]:
    """Read every annotation under ``root`` (see :func:`find_annotations`)."""
    for path in find_annotations(root):
        yield read_annotation(path)


def transform_face(face: FaceAnnotation, scale: float, offset: tuple[float, float]) -> FaceAnnotation:
    """Scale a face's geometry about the origin, then shift it: ``p' = p * scale + offset``."""
    shift = np.asarray(offset, np.float32)

    def move(points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, np.float32) * np.float32(scale) + shift).astype(np.float32)

    box = np.concatenate([move(face.box[:2][None])[0], move(face.box[2:][None])[0]])
    return replace(
        face,
        box=box,
        contour=None if face.contour is None else move(face.contour),
        polygons={k: move(v) for k, v in face.polygons.items()},
    )


#: Feature classes that trade places when an image is mirrored left-right.
_MIRRORED_CLASS = {
    FeatureClass.BROW_L: FeatureClass.BROW_R,
    FeatureClass.BROW_R: FeatureClass.BROW_L,
    FeatureClass.EYE_L: FeatureClass.EYE_R,
    FeatureClass.EYE_R: FeatureClass.EYE_L,
}


def mirror_face(face: FaceAnnotation, width: int) -> FaceAnnotation:
    """The face of an image ``width`` pixels wide after mirroring the image left-right.

    Pixel ``x`` goes to ``width - 1 - x``; the subject's left brow and eye become the right ones;
    the contour ring keeps its start at the top of the forehead and its clockwise direction in the
    image (point ``i`` becomes point ``-i mod 36``: FACE_OVAL is symmetric about its first point).
    """
    edge = np.float32(width - 1)

    def flip(points: np.ndarray) -> np.ndarray:
        out = np.array(points, np.float32, copy=True)
        out[..., 0] = edge - out[..., 0]
        return out

    box = np.asarray(face.box, np.float32)
    return replace(
        face,
        box=np.array([edge - box[2], box[1], edge - box[0], box[3]], np.float32),
        contour=None if face.contour is None else flip(face.contour)[(-np.arange(CONTOUR_POINTS)) % CONTOUR_POINTS],
        polygons={_MIRRORED_CLASS.get(k, k): flip(v) for k, v in face.polygons.items()},
    )


def is_finite_box(box: np.ndarray) -> bool:
    """True for a finite box with positive width and height."""
    b = np.asarray(box, np.float64)
    return bool(np.all(np.isfinite(b)) and b[2] > b[0] and b[3] > b[1] and not math.isnan(b.sum()))
