"""The web app's jobs (:mod:`facepaint.web.jobs`) without a browser, and the app's wiring."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

from facepaint.errors import InputError, MissingDependencyError
from facepaint.web import jobs


def test_workspace_keeps_a_sessions_latest_job_only(tmp_path):
    workspace = jobs.Workspace(tmp_path / "ws")
    first = workspace.job_dir("a", "run")
    (first / "out.mp4").write_bytes(b"x")
    other = workspace.job_dir("b", "run")
    second = workspace.job_dir("a", "run")
    assert not first.exists() and other.is_dir() and second.is_dir()
    workspace.remove()
    assert not (tmp_path / "ws").exists()


def test_check_upload_says_what_is_wrong(tmp_path):
    with pytest.raises(InputError, match="no video uploaded"):
        jobs.check_upload(None, max_bytes=None, what="video")
    with pytest.raises(InputError, match="is gone"):
        jobs.check_upload(tmp_path / "missing.mp4", max_bytes=None, what="video")
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (3 * 2**20))
    with pytest.raises(InputError, match=r"3 MB, more than this app's limit of 2 MB; .*--max-upload-mb"):
        jobs.check_upload(big, max_bytes=2 * 2**20, what="video")
    assert jobs.check_upload(big, max_bytes=None, what="video") == big


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [(None, None, (None, None)), (0, 0, (None, None)), ("", "", (None, None)), (1.5, 0, (1.5, None)), (0, 2, (None, 2.0))],
)
def test_range_fields(start, end, expected):
    assert jobs._check_range(start, end) == expected


def test_range_errors():
    with pytest.raises(InputError, match="must come after start"):
        jobs._check_range(3, 2)
    with pytest.raises(InputError, match="start must be 0 s or later"):
        jobs._check_range(-1, None)


def test_unknown_style_is_an_input_error():
    with pytest.raises(InputError, match="style must be one of oil, watercolor, pencil"):
        jobs.pipeline_config("crayon")


def test_paint_photo_writes_the_painting(tmp_path):
    from facepaint import read_image, write_image

    image = np.zeros((48, 64, 3), np.uint8)
    image[:, 32:] = (200, 120, 40)
    write_image(tmp_path / "in.png", image)
    result = jobs.paint_photo(tmp_path / "in.png", tmp_path, style="pencil", stroke_scale=2.0, seed=3)
    assert result.source.shape == result.painted.shape == (48, 64, 3)
    assert np.array_equal(read_image(result.path), result.painted)
    assert not np.array_equal(result.painted, image)


def test_not_an_image_is_an_input_error(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(InputError):
        jobs.paint_photo(text, tmp_path)


def test_run_progress_text_and_cancel():
    seen = []
    cancel = threading.Event()
    progress = jobs.RunProgress(lambda done, total, text: seen.append((done, total, text)), cancel)
    progress(3, 10)
    assert seen[-1][:2] == (3, 10) and seen[-1][2].startswith("3/10 frames, ") and "s left" in seen[-1][2]
    progress(4, None)
    assert seen[-1][2].startswith("4 frames, ") and "left" not in seen[-1][2]
    cancel.set()
    with pytest.raises(jobs.JobCancelled):
        progress(5, 10)


@pytest.mark.slow
def test_cancelled_run_leaves_nothing(clip, tmp_path):
    folder = tmp_path / "job"
    folder.mkdir()
    cancel = threading.Event()

    def stop_after_two(done, total, text):
        if done == 2:
            cancel.set()

    with pytest.raises(jobs.JobCancelled):
        jobs.paint_video(clip, folder, end_s=0.6, progress=jobs.RunProgress(stop_after_two, cancel))
    assert list(folder.iterdir()) == []


@pytest.mark.slow
def test_preview_then_run_on_a_clip(clip, tmp_path):
    import av

    stages = list(jobs.preview_video(clip, tmp_path, start_s=0.2, end_s=0.6, regions=True))
    assert [type(s).__name__ for s in stages] == ["PreviewFrame", "PreviewSegment", "RegionsView"]
    first, segment, regions = stages
    assert first.source.shape == first.painted.shape == (64, 96, 3)
    assert segment.frames == 10  # 0.2-0.6 s at 25 fps
    for path in (segment.source, segment.painted, regions.path):
        with av.open(str(path)) as container:
            assert sum(1 for _ in container.decode(video=0)) == 10
    with av.open(str(segment.source)) as container:
        assert len(container.streams.audio) == 1

    report = jobs.paint_video(clip, tmp_path, start_s=0.2, end_s=0.6)
    assert report.frames == 10 and report.audio in ("copied", "re-encoded to AAC")
    # the preview's first frame is the full run's first frame: the same call paints both
    with av.open(report.output) as container:
        run_first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert np.abs(run_first.astype(int) - first.painted.astype(int)).mean() < 3  # H.264 at CRF 20


def test_serve_without_gradio_names_the_extra(monkeypatch):
    from facepaint import web

    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"facepaint\[web\]"):
        web._import_gradio()


def test_painting_events_share_one_queue_slot(tmp_path):
    pytest.importorskip("gradio", reason="the web app needs the 'web' extra")
    from facepaint.web.app import PAINT_GROUP, build_app

    workspace = jobs.Workspace(tmp_path / "ws")
    app = build_app(workspace)
    by_name = {}
    for fn in app.fns.values():
        by_name.setdefault(fn.name, []).append(fn)
    painting = [fn for name in ("preview", "run", "paint_photo") for fn in by_name[name]]
    assert len(painting) == 4  # preview on upload and on its button, the full run, the photo
    assert {fn.concurrency_id for fn in painting} == {PAINT_GROUP}
    assert {fn.concurrency_limit for fn in painting} == {1}
    # cancel must not wait behind the job it cancels
    assert [fn.queue for fn in by_name["cancel_run"]] == [False]


def test_a_range_without_frames_is_an_input_error(clip, tmp_path):
    folder = tmp_path / "job"
    folder.mkdir()
    with pytest.raises(InputError, match="no frames"):
        next(jobs.preview_video(clip, folder, start_s=100))
    assert list(folder.iterdir()) == []


def test_serve_is_a_command(capsys):
    from facepaint.cli import main

    assert main(["serve", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--host" in text and "--port" in text and "--max-upload-mb" in text


def test_memory_settings_of_the_app_process():
    from facepaint import _runtime

    assert _runtime.release_freed_memory() in (True, False)
    if sys.platform.startswith("linux"):
        # a freed 200 MB block goes back to the kernel at once
        def resident_mib():
            with open("/proc/self/status") as status:
                return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmRSS"))

        block = np.ones(50 * 2**20, np.float32)
        before = resident_mib()
        del block
        assert _runtime.release_freed_memory()
        assert resident_mib() < before - 150
