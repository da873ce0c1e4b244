"""The video commands of the CLI: info, and one-line errors with exit code 2 for bad input."""

from __future__ import annotations

import json

import pytest

from facepaint.cli import main


def _run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_info_reports_streams(clip, capsys):
    code, out, _ = _run(capsys, "info", str(clip))
    assert code == 0
    assert "96x64" in out and "25.000 fps" in out and "frames:    50" in out and "aac" in out
    code, out, _ = _run(capsys, "info", str(clip), "--json")
    details = json.loads(out)
    assert details["frame_count"] == 50 and details["has_audio"] is True


@pytest.mark.parametrize(
    "argv, message",
    [
        (["info", "/no/such/file.mp4"], "does not exist"),
        (["stylize", "/no/such/file.mp4", "{tmp}/out.mp4"], "does not exist"),
        (["stylize", "{clip}", "{tmp}/missing/out.mp4"], "does not exist; create it first"),
        (["stylize", "{clip}", "{clip}"], "is the input"),
        (["stylize", "{clip}", "{tmp}/out.gif"], "expected an .mp4"),
        (["stylize", "{clip}", "{tmp}/out.mp4", "--start", "3", "--end", "1"], "must come after"),
    ],
)
def test_bad_input_is_one_line_with_exit_code_2(clip, tmp_path, capsys, argv, message):
    before = clip.read_bytes()
    argv = [a.format(tmp=tmp_path, clip=clip) for a in argv]
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert "Traceback" not in err
    assert clip.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]  # nothing half-written


def test_bad_option_values_are_rejected_by_the_parser(clip, tmp_path, capsys):
    code, _, err = _run(capsys, "stylize", str(clip), str(tmp_path / "o.mp4"), "--crf", "99")
    assert code == 2 and "--crf" in err
    code, _, err = _run(capsys, "stylize", str(clip), str(tmp_path / "o.mp4"), "--max-frames", "0")
    assert code == 2 and "--max-frames" in err


def test_full_redraw_turns_incremental_rendering_off(capsys):
    from facepaint.cli.video import build_pipeline_config

    assert build_pipeline_config().render.incremental
    assert not build_pipeline_config(incremental=False).render.incremental
    code, out, _ = _run(capsys, "stylize", "--help")
    assert code == 0 and "--full-redraw" in out
