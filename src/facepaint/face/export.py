"""Faces as plain JSON-ready records, for people who want the landmarks themselves."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from facepaint._atomic import write_bytes_atomic
from facepaint.types import FEATURE_NAMES, Face, FeatureClass

#: Stated in every export so the file explains itself.
CONTOUR_ORDER = (
    "36 points, mediapipe FACE_OVAL: point 0 is the top of the forehead (mesh point 10), then "
    "clockwise as seen in the image (towards the image right = the subject's left), round the "
    "chin and back up; closed ring, the last point joins the first"
)


def _points(array: np.ndarray, decimals: int) -> list[list[float]]:
    return np.round(np.asarray(array, np.float64), decimals).tolist()


def face_record(face: Face, *, mesh: bool = False, decimals: int = 2) -> dict:
    """One face as a dict of lists: ``track_id, score, box [x0, y0, x1, y1], contour [[x, y] x 36],
    features {name: [[x, y], ...]}`` (pixels, origin at the centre of the top-left pixel), plus
    ``mesh`` (468 points) when asked and the backend has one."""
    record = {
        "track_id": int(face.track_id),
        "score": round(float(face.score), 4),
        "box": _points(face.box, decimals),
        "contour": _points(face.contour, decimals),
        "features": {
            FeatureClass(cls).name.lower(): _points(poly, decimals)
            for cls, poly in sorted(face.feature_polygons.items())
        },
    }
    if mesh and face.mesh is not None:
        record["mesh"] = _points(face.mesh, decimals)
    return record


def write_json_atomic(path: str | os.PathLike, document: dict) -> Path:
    """Write ``document`` as JSON to ``path`` through a temporary file renamed when complete."""
    return write_bytes_atomic(path, json.dumps(document, separators=(",", ":")).encode())


def export_header(source: str, width: int, height: int, fps: float | None, model: str) -> dict:
    """The fields at the top of a ``facepaint faces`` export."""
    return {
        "format": "facepaint.faces/1",
        "source": source,
        "width": int(width),
        "height": int(height),
        "fps": fps,
        "model": model,
        "coordinates": "(x, y) float pixels, origin at the centre of the top-left pixel",
        "contour_order": CONTOUR_ORDER,
        "feature_classes": list(FEATURE_NAMES),
        "left_right": "the subject's left and right",
    }
