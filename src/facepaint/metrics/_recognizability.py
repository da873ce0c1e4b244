"""Recognizability of faces after stylization, with dlib's face embedding.

Faces are found in the SOURCE frame (dlib's HOG frontal detector, upsampled so that small faces
are found, then its 68-point shape predictor). Both the source and the stylized frame are cut into
aligned 150x150 chips with the SOURCE's landmarks, so a painted face need not be detected again,
and each chip goes through dlib's ResNet embedding (128-d, the model of ``face_recognition``).
The Euclidean distance between the two embeddings is the score: dlib calls two faces the same
person under 0.6 (99.38% on LFW). We also run the 68-point predictor on the stylized frame in the
source's box and report its normalised mean error (NME, by the outer-eye-corner distance) against
the source's landmarks: a painting that keeps the facial geometry keeps the landmarks in place.

dlib and its models come from the optional ``metrics`` extra (dlib-bin, face_recognition_models);
nothing is downloaded.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from facepaint.errors import InputError, MissingDependencyError
from facepaint.metrics._frames import as_rgb_image, check_same_size

#: dlib's same-person threshold on the embedding distance.
SAME_PERSON_DISTANCE = 0.6

#: Face-width buckets (name, lower bound inclusive, upper bound exclusive), in pixels.
WIDTH_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("<40", 0.0, 40.0),
    ("40-80", 40.0, 80.0),
    ("80-160", 80.0, 160.0),
    (">160", 160.0, float("inf")),
)

# Outer eye corners of the iBUG 68-point layout (0-based), the usual NME normaliser.
_OUTER_EYE_CORNERS = (36, 45)


@functools.lru_cache(maxsize=1)
def _models() -> SimpleNamespace:
    """Load dlib's detector, 68-point predictor and embedding network once per process."""
    try:
        import dlib
        with warnings.catch_warnings():
            # face_recognition_models imports pkg_resources, which warns about its own deprecation
            warnings.simplefilter("ignore")
            import face_recognition_models
    except ImportError as error:
        raise MissingDependencyError(
            f"recognizability ({error.name or 'dlib'} is missing)", "metrics"
        ) from error
    return SimpleNamespace(
        dlib=dlib,
        detector=dlib.get_frontal_face_detector(),
        predictor=dlib.shape_predictor(face_recognition_models.pose_predictor_model_location()),
        encoder=dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location()),
    )


def require_dlib() -> None:
    """Raise :class:`MissingDependencyError` now if the ``metrics`` extra is not installed."""
    _models()


@dataclass(frozen=True)
class DetectedFace:
    """A face found in a source frame.

    Attributes
    ----------
    box : (4,) float32
        ``x0, y0, x1, y1`` of dlib's detection rectangle, pixels (inclusive corners).
    landmarks : (68, 2) float32
        iBUG 68-point ``(x, y)`` landmarks, pixels.
    """

    box: np.ndarray
    landmarks: np.ndarray

    @property
    def width_px(self) -> float:
        """Width of the detection box (dlib's box spans roughly cheek to cheek)."""
        return float(self.box[2] - self.box[0] + 1.0)


@dataclass(frozen=True)
class FaceScore:
    """How one face fared in the stylized frame.

    Attributes
    ----------
    width_px : float
        Source face width (see :attr:`DetectedFace.width_px`).
    distance : float
        Embedding distance source vs. stylized, >= 0 (0: identical chips).
    nme : float
        68-point NME of the landmarks re-estimated on the stylized frame, by inter-ocular distance.
    """

    width_px: float
    distance: float
    nme: float

    @property
    def recognizable(self) -> bool:
        return self.distance < SAME_PERSON_DISTANCE


@dataclass(frozen=True)
class BucketStats:
    """Recognizability of the faces of one width bucket.

    Attributes
    ----------
    name : str
        ``"<40"``, ``"40-80"``, ``"80-160"``, ``">160"``, ``">=40"`` or ``"all"``.
    count : int
        Faces (face-frames) in the bucket.
    recognizable_share : float
        Share of faces with distance < 0.6, in [0, 1] (NaN when empty).
    median_distance : float
        Median embedding distance (NaN when empty).
    median_nme : float
        Median 68-point NME on the output (NaN when empty).
    """

    name: str
    count: int
    recognizable_share: float
    median_distance: float
    median_nme: float


def _auto_upsample(image: np.ndarray) -> int:
    # dlib's HOG window is 80x80: upsampling once finds faces from ~40 px, twice from ~20 px.
    # Twice costs 16x the pixels of none, affordable up to about VGA; beyond, once.
    return 2 if image.shape[0] * image.shape[1] <= 640 * 480 else 1


def _to_shape(models: SimpleNamespace, face: DetectedFace):
    dlib = models.dlib
    x0, y0, x1, y1 = (int(round(v)) for v in face.box)
    rect = dlib.rectangle(x0, y0, x1, y1)
    points = dlib.points([dlib.point(int(round(x)), int(round(y))) for x, y in face.landmarks])
    return dlib.full_object_detection(rect, points)


def _shape_points(shape) -> np.ndarray:
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def detect_faces(image: np.ndarray, *, upsample: int | None = None) -> tuple[DetectedFace, ...]:
    """Find frontal faces and their 68 landmarks with dlib (HOG detector + shape predictor).

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB
    upsample : int, optional
        Times the detector doubles the image; ``None`` chooses 2 up to VGA size, else 1.

    Returns
    -------
    tuple of DetectedFace
        In the detector's order; empty when there is no face.
    """
    # dlib's bindings take only C-contiguous arrays (decoded frames of odd widths are padded views)
    image = np.ascontiguousarray(as_rgb_image(image))
    if upsample is not None and upsample < 0:
        raise InputError(f"upsample must be >= 0, got {upsample}")
    models = _models()
    rects = models.detector(image, _auto_upsample(image) if upsample is None else upsample)
    faces = []
    for rect in rects:  # a handful of faces per frame, not a per-pixel loop
        shape = models.predictor(image, rect)
        box = np.array([rect.left(), rect.top(), rect.right(), rect.bottom()], dtype=np.float32)
        faces.append(DetectedFace(box=box, landmarks=_shape_points(shape)))
    return tuple(faces)


def face_mask(shape: tuple[int, int], faces: Sequence[DetectedFace], *, margin: float = 0.3) -> np.ndarray:
    """Boolean mask of the faces: each detection box grown by ``margin`` of its size per side.

    dlib's box stops at the brows, so the margin takes in the forehead and hairline.

    Parameters
    ----------
    shape : (H, W)
    faces : sequence of DetectedFace
    margin : float
        Growth per side as a share of the box's width/height.

    Returns
    -------
    (H, W) bool
    """
    height, width = shape[:2]
    mask = np.zeros((height, width), dtype=bool)
    for face in faces:
        x0, y0, x1, y1 = face.box.astype(np.float64)
        dx, dy = margin * (x1 - x0), margin * (y1 - y0)
        c0, r0 = max(0, int(np.floor(x0 - dx))), max(0, int(np.floor(y0 - dy)))
        c1, r1 = min(width, int(np.ceil(x1 + dx)) + 1), min(height, int(np.ceil(y1 + dy)) + 1)
        mask[r0:r1, c0:c1] = True
    return mask


def face_embeddings(image: np.ndarray, faces: Sequence[DetectedFace]) -> np.ndarray:
    """dlib embeddings of ``faces`` in ``image``, aligned with the faces' OWN landmarks.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB
        Any frame of the size the landmarks refer to (the source or a stylized version of it).
    faces : sequence of DetectedFace
        Faces found in the source; their landmarks choose the chips.

    Returns
    -------
    (N, 128) float64
    """
    # dlib's bindings take only C-contiguous arrays (decoded frames of odd widths are padded views)
    image = np.ascontiguousarray(as_rgb_image(image))
    if not faces:
        return np.zeros((0, 128), dtype=np.float64)
    models = _models()
    shapes = models.dlib.full_object_detections()
    for face in faces:
        shapes.append(_to_shape(models, face))
    # padding 0.25 is dlib's default chip margin; no jitter so the score is deterministic
    vectors = models.encoder.compute_face_descriptor(image, shapes, 0, 0.25)
    return np.array([np.array(v) for v in vectors], dtype=np.float64).reshape(len(faces), 128)


def landmark_nme(image: np.ndarray, faces: Sequence[DetectedFace]) -> np.ndarray:
    """68-point NME of landmarks re-estimated on ``image`` in each source box.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB
    faces : sequence of DetectedFace
        Source faces: their boxes seed the predictor, their landmarks are the reference.

    Returns
    -------
    (N,) float64
        Mean point error divided by the source's outer-eye-corner distance.
    """
    # dlib's bindings take only C-contiguous arrays (decoded frames of odd widths are padded views)
    image = np.ascontiguousarray(as_rgb_image(image))
    models = _models()
    out = np.empty(len(faces), dtype=np.float64)
    for i, face in enumerate(faces):
        rect = models.dlib.rectangle(*(int(round(v)) for v in face.box))
        found = _shape_points(models.predictor(image, rect))
        a, b = _OUTER_EYE_CORNERS
        iod = max(float(np.linalg.norm(face.landmarks[a] - face.landmarks[b])), 1.0)
        out[i] = float(np.mean(np.linalg.norm(found - face.landmarks, axis=1))) / iod
    return out


def face_recognizability(
    src_image: np.ndarray,
    out_image: np.ndarray,
    faces: Sequence[DetectedFace] | None = None,
    *,
    upsample: int | None = None,
) -> tuple[FaceScore, ...]:
    """Score every source face in the stylized frame.

    Parameters
    ----------
    src_image, out_image : (H, W, 3) uint8 RGB
        Source frame and its stylized version, same size.
    faces : sequence of DetectedFace, optional
        Faces of the source; detected with :func:`detect_faces` when ``None``.
    upsample : int, optional
        Passed to :func:`detect_faces` when the faces are detected here.

    Returns
    -------
    tuple of FaceScore
        One per face, in the order of ``faces``.
    """
    src_image = as_rgb_image(src_image, name="src_image")
    out_image = as_rgb_image(out_image, name="out_image")
    check_same_size(src_image, out_image, what="recognizability")
    if faces is None:
        faces = detect_faces(src_image, upsample=upsample)
    faces = tuple(faces)
    return scores_against(faces, face_embeddings(src_image, faces), out_image)


def scores_against(
    faces: Sequence[DetectedFace], src_embeddings: np.ndarray, out_image: np.ndarray
) -> tuple[FaceScore, ...]:
    """:func:`face_recognizability` with the source embeddings already computed.

    Parameters
    ----------
    faces : sequence of DetectedFace
    src_embeddings : (N, 128) float64
        :func:`face_embeddings` of the source frame.
    out_image : (H, W, 3) uint8 RGB
    """
    if not faces:
        return ()
    distances = np.linalg.norm(face_embeddings(out_image, faces) - src_embeddings, axis=1)
    nme = landmark_nme(out_image, faces)
    return tuple(
        FaceScore(width_px=face.width_px, distance=float(d), nme=float(e))
        for face, d, e in zip(faces, distances, nme)
    )


def _stats(name: str, scores: Sequence[FaceScore]) -> BucketStats:
    if not scores:
        nan = float("nan")
        return BucketStats(name=name, count=0, recognizable_share=nan, median_distance=nan, median_nme=nan)
    distances = np.array([s.distance for s in scores])
    return BucketStats(
        name=name,
        count=len(scores),
        recognizable_share=float(np.mean(distances < SAME_PERSON_DISTANCE)),
        median_distance=float(np.median(distances)),
        median_nme=float(np.median([s.nme for s in scores])),
    )


def summarize_faces(scores: Sequence[FaceScore]) -> tuple[BucketStats, ...]:
    """Per-width-bucket statistics, then ``">=40"`` (the target's faces) and ``"all"``.

    Parameters
    ----------
    scores : sequence of FaceScore

    Returns
    -------
    tuple of BucketStats
        Buckets in the order of :data:`WIDTH_BUCKETS`, then ``">=40"``, then ``"all"``.
    """
    out = [_stats(name, [s for s in scores if lo <= s.width_px < hi]) for name, lo, hi in WIDTH_BUCKETS]
    out.append(_stats(">=40", [s for s in scores if s.width_px >= 40.0]))
    out.append(_stats("all", list(scores)))
    return tuple(out)
