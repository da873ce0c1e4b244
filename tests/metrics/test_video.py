"""Video-level evaluation: in memory, from files, and through the command line."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from facepaint.errors import InputError
from facepaint.metrics import EvaluationConfig, VideoReport, evaluate_frames, evaluate_video
from videoclips import make_clip


def akiyo_frames(media, count: int) -> list[np.ndarray]:
    from facepaint.io import open_video

    return [frame.image for frame in open_video(media / "video" / "akiyo.mp4", max_frames=count)]


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma)


@pytest.fixture(scope="module")
def akiyo_reports(media):
    pytest.importorskip("dlib", reason="recognizability needs the 'metrics' extra (dlib-bin)")
    frames = akiyo_frames(media, 6)
    outputs = {"same": frames, "blurred": [blur(f, 8.0) for f in frames]}
    return evaluate_frames(frames, outputs, EvaluationConfig(face_every_n_frames=3))


def test_identical_video_scores_like_its_input(akiyo_reports):
    report = akiyo_reports["same"]
    assert isinstance(report, VideoReport)
    assert report.frames == 6 and report.face_frames == 2
    assert report.warping_error == report.warping_error_input and report.warping_ratio == pytest.approx(1.0)
    assert report.ssim_outside_faces == pytest.approx(1.0, abs=1e-6)
    assert report.stylization_strength == pytest.approx(0.0, abs=1e-6)
    face = report.bucket(">=40")
    assert face.count == 2  # the anchor, on 2 sampled frames
    assert face.recognizable_share == 1.0 and face.median_distance == pytest.approx(0.0, abs=1e-6)
    assert report.face_distances.shape == report.face_widths_px.shape == report.face_nme.shape == (2,)


def test_blurred_video_loses_the_face_and_gains_strength(akiyo_reports):
    report = akiyo_reports["blurred"]
    assert report.bucket(">=40").recognizable_share == 0.0
    assert report.bucket(">=40").median_distance > 0.6
    assert report.stylization_strength > 0.2
    # a blur is temporally stable: it smooths the frame differences rather than adding any
    assert report.warping_error <= report.warping_error_input
    with pytest.raises(KeyError, match="known"):
        report.bucket("tiny")


def test_report_to_json(akiyo_reports):
    data = json.loads(json.dumps(akiyo_reports["same"].to_dict()))
    assert data["warping_ratio"] == pytest.approx(1.0)
    assert data["buckets"]["<40"]["recognizable_share"] is None  # empty bucket: NaN -> null
    assert data["buckets"]["all"]["count"] == 2


def test_without_faces_no_dlib_is_needed():
    rng = np.random.default_rng(0)
    frames = [cv2.GaussianBlur(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8), (0, 0), 2)] * 4
    report = evaluate_frames(frames, {"out": frames}, EvaluationConfig(faces=False))["out"]
    assert not report.faces_measured and report.buckets == ()
    assert report.ssim_outside_faces == pytest.approx(1.0, abs=1e-6)
    assert report.face_distances.shape == (0,)


def test_bad_calls():
    frames = [np.zeros((16, 16, 3), np.uint8)] * 3
    no_faces = EvaluationConfig(faces=False)
    with pytest.raises(InputError, match="at least one output"):
        evaluate_frames(frames, {}, no_faces)
    with pytest.raises(InputError, match="at least 2"):
        evaluate_frames(frames[:1], {"out": frames[:1]}, no_faces)
    with pytest.raises(InputError, match="ended after"):
        evaluate_frames(frames, {"out": frames[:2]}, no_faces)
    with pytest.raises(InputError, match="face_every_n_frames"):
        EvaluationConfig(face_every_n_frames=0)


@pytest.fixture()
def clip_pair(tmp_path):
    from facepaint.io import VideoWriter, open_video

    source = make_clip(tmp_path / "in.mp4", frames=12, audio_codec=None, flash_frame=None)
    noisy = tmp_path / "noisy.mp4"
    rng = np.random.default_rng(0)
    with VideoWriter(noisy, fps=25, crf=0) as writer:
        for frame in open_video(source):
            writer.write(np.clip(frame.image + rng.normal(0, 20, frame.image.shape), 0, 255).astype(np.uint8))
    return source, noisy


def test_evaluate_video_files(clip_pair):
    source, noisy = clip_pair
    config = EvaluationConfig(faces=False)
    same = evaluate_video(source, source, config)
    assert same.frames == 12 and same.warping_ratio == pytest.approx(1.0)
    assert same.input_path == str(source) and same.output_path == str(source)
    worse = evaluate_video(source, noisy, config, max_frames=8)
    assert worse.frames == 8 and worse.warping_ratio > 5


def test_command_line(clip_pair, capsys):
    from facepaint.cli import main

    source, noisy = clip_pair
    assert main(["evaluate-video", str(source), str(noisy), "--json", "--no-faces", "--max-frames", "6"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["frames"] == 6 and data["warping_ratio"] > 5 and data["faces_measured"] is False
    assert main(["evaluate-video", str(source), str(source), "--no-faces"]) == 0
    text = capsys.readouterr().out
    assert "ratio output / input       1.00" in text and "not measured" in text


def test_command_line_errors(clip_pair, tmp_path, capsys):
    from facepaint.cli import main
    from facepaint.io import VideoWriter

    source, _ = clip_pair
    small = tmp_path / "small.mp4"
    with VideoWriter(small, fps=25) as writer:
        for _ in range(12):
            writer.write(np.zeros((32, 48, 3), np.uint8))
    assert main(["evaluate-video", str(source), str(small), "--no-faces"]) == 2
    assert "resize the output" in capsys.readouterr().err
    assert main(["evaluate-video", str(source), str(tmp_path / "missing.mp4")]) == 2
    assert "error:" in capsys.readouterr().err
