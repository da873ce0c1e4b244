"""``facepaint regions`` and ``facepaint faces`` driven through the CLI entry point."""

from __future__ import annotations

import json

import numpy as np

from facepaint.cli import main


def test_regions_on_a_photo(media, tmp_path):
    out = tmp_path / "regions.png"
    assert main(["regions", str(media / "photos" / "two_people.jpg"), str(out), "--quiet"]) == 0
    from facepaint.io import read_image

    image = read_image(out)
    source = read_image(media / "photos" / "two_people.jpg")
    assert image.shape == source.shape
    assert not np.array_equal(image, source)


def test_regions_on_a_video(media, tmp_path):
    out = tmp_path / "regions.mp4"
    assert main(["regions", str(media / "video" / "akiyo.mp4"), str(out), "--max-frames", "4", "--quiet"]) == 0
    import av

    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 4


def test_faces_json_export(media, tmp_path):
    out = tmp_path / "faces.json"
    assert main(["faces", str(media / "video" / "carphone_qcif.mp4"), "--json", str(out), "--max-frames", "5", "--quiet"]) == 0
    doc = json.loads(out.read_text())
    assert doc["width"] == 176 and doc["height"] == 144
    assert doc["feature_classes"] == ["brow_l", "brow_r", "eye_l", "eye_r", "nose", "mouth"]
    assert [f["index"] for f in doc["frames"]] == [0, 1, 2, 3, 4]
    faces = [face for frame in doc["frames"] for face in frame["faces"]]
    assert len(faces) == 5 and len({f["track_id"] for f in faces}) == 1
    face = faces[0]
    assert np.array(face["contour"]).shape == (36, 2)
    assert set(face["features"]) == set(doc["feature_classes"])
    assert "mesh" not in face


def test_faces_json_on_an_image_with_mesh(media, tmp_path):
    out = tmp_path / "faces.json"
    assert main(["faces", str(media / "photos" / "two_people.jpg"), "--json", str(out), "--mesh", "-q"]) == 0
    doc = json.loads(out.read_text())
    assert len(doc["frames"]) == 1 and len(doc["frames"][0]["faces"]) == 2
    assert np.array(doc["frames"][0]["faces"][0]["mesh"]).shape == (468, 2)


def test_user_errors_exit_2(media, tmp_path, capsys):
    photo = str(media / "photos" / "two_people.jpg")
    assert main(["regions", photo, str(tmp_path / "x.mp4")]) == 2
    assert "must be an image" in capsys.readouterr().err
    assert main(["faces", photo, "--json", str(tmp_path / "x.txt")]) == 2
    assert main(["regions", str(tmp_path / "missing.mp4"), str(tmp_path / "y.mp4")]) == 2
    assert main(["faces", photo, "--json", str(tmp_path / "f.json"), "--model", "nope"]) == 2
    assert not (tmp_path / "f.json").exists()
