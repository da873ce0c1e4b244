"""``facepaint.stylize_video`` end to end on synthetic clips with known content: frames, rate,
audio kept in sync with the picture through painting, what the report says about the audio."""

from __future__ import annotations

import numpy as np
import pytest

from facepaint.io import open_video, probe
from facepaint.pipeline import PipelineConfig
from facepaint.stylize import stylize_video
from videoclips import beep_onset_s, make_clip

NO_FACE = PipelineConfig(face_model="none")  # the clips hold no face; keeps these tests fast


def _flash_s(path) -> float:
    """Time of the brightest frame (the all-white flash) on the output's frame grid."""
    frames = list(open_video(path))
    return int(np.argmax([f.image.mean() for f in frames])) / probe(path).fps


def test_painted_clip_keeps_frames_rate_and_the_beep_on_the_flash(clip, tmp_path):
    out = tmp_path / "painted.mp4"
    report = stylize_video(clip, out, config=NO_FACE, seed=0)
    assert report.frames == 50 and report.fps == pytest.approx(25.0) and report.audio == "copied"
    info = probe(out)
    assert info.frame_count == 50 and info.fps == pytest.approx(25.0) and info.has_audio and info.audio_codec == "aac"
    flash_s = _flash_s(out)
    assert flash_s == pytest.approx(20 / 25), "the flash stays at frame 20 through painting"
    assert abs(beep_onset_s(out) - flash_s) < 1 / 25, "the beep starts with the flash, within a frame"


def test_trimmed_painting_keeps_the_beep_on_the_flash(clip, tmp_path):
    out = tmp_path / "trimmed.mp4"
    report = stylize_video(clip, out, config=NO_FACE, start_s=0.4, max_frames=30)
    assert report.frames == 30 and probe(out).frame_count == 30 and report.audio == "copied"
    flash_s = _flash_s(out)
    assert flash_s == pytest.approx(0.4), "the flash (0.8 s in the input) comes 0.4 s after the start"
    assert abs(beep_onset_s(out) - flash_s) < 1 / 25


def test_report_says_what_became_of_the_audio(tmp_path):
    pcm = make_clip(tmp_path / "pcm.mkv", frames=12, flash_frame=6, audio_codec="pcm_s16le", container="matroska")
    report = stylize_video(pcm, tmp_path / "pcm.mp4", config=NO_FACE)
    assert report.audio == "re-encoded to AAC" and probe(tmp_path / "pcm.mp4").audio_codec == "aac"
    assert abs(beep_onset_s(tmp_path / "pcm.mp4") - 6 / 25) < 1 / 25

    report = stylize_video(pcm, tmp_path / "silent.mp4", config=NO_FACE, audio=False)
    assert report.audio == "dropped" and not probe(tmp_path / "silent.mp4").has_audio

    report = stylize_video(pcm, tmp_path / "frames", config=NO_FACE)
    assert report.audio == "dropped" and len(list((tmp_path / "frames").glob("frame_*.png"))) == 12

    mute = make_clip(tmp_path / "mute.mp4", frames=12, audio_codec=None)
    report = stylize_video(mute, tmp_path / "mute_painted.mp4", config=NO_FACE)
    assert report.audio == "none in input" and not probe(tmp_path / "mute_painted.mp4").has_audio


def test_the_floor_is_measured_only_when_asked_and_leaves_no_file(clip, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    report = stylize_video(clip, tmp_path / "plain.mp4", config=NO_FACE, max_frames=10)
    assert report.floor_seconds is None and report.floor_ratio is None

    report = stylize_video(clip, tmp_path / "timed.mp4", config=NO_FACE, max_frames=10, measure_floor=True)
    assert 0 < report.floor_seconds < report.seconds, "decoding and encoding alone cost less than painting too"
    assert report.floor_ratio == pytest.approx(report.seconds / report.floor_seconds)
    assert not list((tmp_path / "tmp").iterdir()), "the floor's temporary video is removed"
    assert probe(tmp_path / "timed.mp4").frame_count == 10

    report = stylize_video(clip, tmp_path / "frames", config=NO_FACE, max_frames=4, measure_floor=True)
    assert report.floor_seconds is None, "no x264 settings to compare with when writing PNG frames"
