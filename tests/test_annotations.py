"""LabelMe JSON and iBUG .pts input/output (torch-free)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dataclasses import replace

import numpy as np
import pytest

from facepaint.annotations import (
    FaceAnnotation,
    ImageAnnotation,
    box_of_points,
    face_from_ibug68,
    find_annotations,
    rasterize,
    read_annotation,
    read_labelme,
    mirror_face,
    read_pts,
    transform_face,
    write_labelme,
    write_pts,
)
from facepaint.errors import InputError
from facepaint.types import FeatureClass


def ring(cx: float, cy: float, rx: float, ry: float, n: int = 36) -> np.ndarray:
    angle = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + rx * np.sin(angle), cy - ry * np.cos(angle)], axis=1).astype(np.float32)


def sample_annotation() -> ImageAnnotation:
    contour = ring(60.0, 50.0, 20.0, 26.0)
    eye = np.array([[48, 44], [54, 41], [58, 45], [53, 47]], np.float32)
    mouth = np.array([[52, 62], [60, 60], [68, 62], [60, 66]], np.float32)
    face = FaceAnnotation(box_of_points(contour), contour, {FeatureClass.EYE_R: eye, FeatureClass.MOUTH: mouth})
    box_only = FaceAnnotation(np.array([5, 5, 20, 24], np.float32))
    return ImageAnnotation("frame.png", 100, 120, (face, box_only), pseudo_label=True, teacher="mediapipe")


def test_labelme_round_trip(tmp_path: Path) -> None:
    original = sample_annotation()
    path = tmp_path / "frame.json"
    write_labelme(path, original)
    back = read_labelme(path)
    assert (back.height, back.width, back.image_path) == (100, 120, "frame.png")
    assert back.pseudo_label and back.teacher == "mediapipe"
    assert len(back.faces) == 2
    np.testing.assert_allclose(back.faces[0].contour, original.faces[0].contour, atol=1e-3)
    np.testing.assert_allclose(back.faces[0].box, original.faces[0].box, atol=1e-3)
    assert set(back.faces[0].polygons) == {FeatureClass.EYE_R, FeatureClass.MOUTH}
    np.testing.assert_allclose(back.faces[0].polygons[FeatureClass.MOUTH], original.faces[0].polygons[FeatureClass.MOUTH])
    assert back.faces[1].contour is None
    np.testing.assert_allclose(back.faces[1].box, [5, 5, 20, 24])
    assert back.resolve_image() == tmp_path / "frame.png"
    # The file is plain LabelMe: polygon shapes with labels and group ids.
    data = json.loads(path.read_text())
    assert data["shapes"][0]["label"] == "face" and len(data["shapes"][0]["points"]) == 36
    assert {s["shape_type"] for s in data["shapes"]} == {"polygon", "rectangle"}
    assert not list(tmp_path.glob(".*tmp")), "the temporary file was left behind"


def test_labelme_features_without_group_go_to_the_face_that_holds_them(tmp_path: Path) -> None:
    contour = ring(60, 50, 20, 26)
    data = {
        "shapes": [
            {"label": "face", "points": contour.tolist(), "shape_type": "polygon", "group_id": None},
            {"label": "nose", "points": [[58, 48], [62, 48], [60, 56]], "shape_type": "polygon", "group_id": None},
            {"label": "hat", "points": [[0, 0], [3, 3]], "shape_type": "rectangle"},
        ],
        "imagePath": "x.png",
        "imageHeight": 100,
        "imageWidth": 120,
    }
    path = tmp_path / "x.json"
    path.write_text(json.dumps(data))
    ann = read_labelme(path)
    assert len(ann.faces) == 1 and list(ann.faces[0].polygons) == [FeatureClass.NOSE]
    assert not ann.pseudo_label


@pytest.mark.parametrize(
    "payload, message",
    [
        ("not json", "not a LabelMe JSON"),
        ('{"imageHeight": 1, "imageWidth": 1}', "no 'shapes'"),
        ('{"shapes": [{"label": "eye_l", "points": [[1, 2]]}], "imageHeight": 4, "imageWidth": 4}', "at least 3 points"),
        ('{"shapes": [{"label": "face", "points": "x"}], "imageHeight": 4, "imageWidth": 4}', r"\[x, y\] pairs"),
        ('{"shapes": [], "imageHeight": "a", "imageWidth": 4}', "integers"),
    ],
)
def test_labelme_bad_input(tmp_path: Path, payload: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(payload)
    with pytest.raises(InputError, match=message):
        read_labelme(path)


def test_missing_files_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_labelme(tmp_path / "nope.json")
    with pytest.raises(InputError, match="does not exist"):
        read_pts(tmp_path / "nope.pts")
    with pytest.raises(InputError, match="no annotation found"):
        find_annotations(tmp_path)


def test_pts_round_trip_is_one_based(tmp_path: Path) -> None:
    points = np.array([[0.0, 0.0], [10.5, 3.25], [99.0, 7.0]], np.float32)
    path = tmp_path / "a.pts"
    write_pts(path, points)
    text = path.read_text()
    assert text.startswith("version: 1\nn_points: 3\n{\n1.000 1.000\n")
    np.testing.assert_allclose(read_pts(path), points, atol=1e-3)


def test_pts_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "b.pts"
    path.write_text("version: 1\nn_points: 3\n{\n1 2\n3 4\n}\n")
    with pytest.raises(InputError, match="n_points says 3"):
        read_pts(path)
    path.write_text("hello")
    with pytest.raises(InputError, match="not an iBUG"):
        read_pts(path)
    with pytest.raises(InputError, match=r"\(N, 2\)"):
        write_pts(path, np.zeros((3, 3)))


def test_real_300w_pts(media: Path) -> None:
    files = sorted((media / "landmarks" / "300w").glob("*.pts"))
    assert files, "the 300w folder holds .pts files"
    ann = read_annotation(files[0])
    assert len(ann.faces) == 1 and ann.faces[0].contour is None
    face = ann.faces[0]
    assert set(face.polygons) == set(FeatureClass)
    # Subject's right eye (iBUG 37-42) is on the image left of the left eye.
    assert face.polygons[FeatureClass.EYE_R][:, 0].mean() < face.polygons[FeatureClass.EYE_L][:, 0].mean()
    # Brows above eyes above mouth, everything inside the box.
    assert face.polygons[FeatureClass.BROW_L][:, 1].mean() < face.polygons[FeatureClass.EYE_L][:, 1].mean()
    assert face.polygons[FeatureClass.EYE_L][:, 1].mean() < face.polygons[FeatureClass.MOUTH][:, 1].mean()
    for polygon in face.polygons.values():
        assert np.all(polygon >= face.box[:2] - 1) and np.all(polygon <= face.box[2:] + 1)
    points = read_pts(files[0])
    assert points.shape == (68, 2) and ann.resolve_image().suffix == ".jpg"


def test_face_from_ibug68_rejects_other_layouts() -> None:
    with pytest.raises(InputError, match=r"\(68, 2\)"):
        face_from_ibug68(np.zeros((36, 2)))


def test_rasterize_and_transform() -> None:
    ann = sample_annotation()
    inside, labels = rasterize(ann, 0)
    assert inside.shape == (100, 120) and inside.dtype == np.uint8
    assert inside[50, 60] == 1 and inside[5, 5] == 0
    assert labels[44, 53] == FeatureClass.EYE_R and labels[63, 60] == FeatureClass.MOUTH
    assert set(np.unique(labels)) == {0, int(FeatureClass.EYE_R), int(FeatureClass.MOUTH)}
    box_mask, no_labels = rasterize(ann, 1)
    assert box_mask[10, 10] == 1 and not no_labels.any()
    moved = transform_face(ann.faces[0], 0.5, (10.0, 20.0))
    np.testing.assert_allclose(moved.contour, ann.faces[0].contour * 0.5 + [10, 20], atol=1e-5)
    np.testing.assert_allclose(moved.box, ann.faces[0].box * 0.5 + [10, 20, 10, 20], atol=1e-5)


def test_mirror_face_swaps_sides_and_keeps_the_ring_clockwise() -> None:
    ann = sample_annotation()
    face = replace(ann.faces[0], contour=ring(50.0, 50.0, 20.0, 26.0) + np.float32([[3.0, 0.0]]) * (np.arange(36) == 5)[:, None])
    mirrored = mirror_face(face, 120)
    np.testing.assert_allclose(mirrored.box, [119 - face.box[2], face.box[1], 119 - face.box[0], face.box[3]])
    # Point i goes to point -i: the forehead point stays first, the bumped point 5 becomes point 31.
    np.testing.assert_allclose(mirrored.contour[0], [119 - 50.0, 24.0], atol=1e-4)
    np.testing.assert_allclose(mirrored.contour[31], [119 - face.contour[5, 0], face.contour[5, 1]], atol=1e-4)

    def signed_area(points: np.ndarray) -> float:
        x, y = points[:, 0], points[:, 1]
        return float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))

    assert np.sign(signed_area(mirrored.contour)) == np.sign(signed_area(face.contour))
    assert set(mirrored.polygons) == {FeatureClass.EYE_L, FeatureClass.MOUTH}  # the right eye is the left one now
    np.testing.assert_allclose(mirrored.polygons[FeatureClass.EYE_L][:, 0], 119 - face.polygons[FeatureClass.EYE_R][:, 0])
    twice = mirror_face(mirrored, 120)
    np.testing.assert_allclose(twice.contour, face.contour, atol=1e-4)
    np.testing.assert_allclose(twice.polygons[FeatureClass.EYE_R], face.polygons[FeatureClass.EYE_R], atol=1e-4)


def test_annotations_do_not_import_torch() -> None:
    import subprocess

    code = "import sys, facepaint.annotations, facepaint.face.maskrcnn; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
