"""Shot-parallel painting, resume, worker death, batches, SIGTERM and a full disk
(facepaint.scale and ``facepaint batch``). Tiny synthetic clips of three shots, no face model:
the painter's output depends on nothing but the frames, the seed and the shot starts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from facepaint import stylize_video
from facepaint.io import open_video
from facepaint.pipeline import PipelineConfig
from facepaint.scale import LocalPool, RunSettings, WorkFolder, find_shots, stylize_videos
from videoclips import beep_onset_s, make_clip, make_multishot_clip

SRC = Path(__file__).resolve().parents[2] / "src"
TESTS = Path(__file__).resolve().parents[1]
CONFIG = PipelineConfig(face_model="none")
# crf 0: lossless YUV, so decoded frames are equal exactly when the painted frames are
SETTINGS = RunSettings(config=CONFIG, seed=5, crf=0, preset="ultrafast")


def frames_of(path) -> list[np.ndarray]:
    return [f.image for f in open_video(path)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_multishot_clip(tmp_path_factory.mktemp("clip") / "shots.mp4")


@pytest.fixture(scope="module")
def sequential(clip, tmp_path_factory) -> list[np.ndarray]:
    out = tmp_path_factory.mktemp("seq") / "seq.mp4"
    stylize_video(clip, out, config=CONFIG, seed=5, crf=0, preset="ultrafast")
    return frames_of(out)


@pytest.fixture(scope="module")
def pool():
    pool = LocalPool(2)
    yield pool
    pool.shutdown()


def test_workers_share_the_cores_and_compile_kernels(pool):
    # Two workers on this machine's cores: numba in each is limited to its share, although the
    # package (and numba) is imported before the worker's set-up runs; and a kernel compiled in
    # the worker (a cache miss) does not fail on numba re-reading its settings.
    import scaletasks

    share = max(1, pool.threads)
    assert pool.submit(scaletasks.numba_threads, None).result(timeout=300) == (share, share, share)


def test_find_shots_uses_the_painters_cuts(clip):
    scan = find_shots(clip, threshold=CONFIG.temporal.scene_cut_threshold)
    assert scan.frames == 21 and scan.cuts == (8, 14)
    assert [(s.start, s.stop) for s in scan.shots] == [(0, 8), (8, 14), (14, 21)]
    grouped = find_shots(clip, threshold=CONFIG.temporal.scene_cut_threshold, min_task_frames=10)
    assert [(s.start, s.stop, s.cuts) for s in grouped.shots] == [(0, 14, 1), (14, 21, 0)]


def test_shots_in_parallel_equal_one_sequential_run(clip, sequential, pool, tmp_path):
    out = tmp_path / "out.mp4"
    report = stylize_videos([(clip, out)], SETTINGS, pool=pool, min_task_frames=1)
    (video,) = report.videos
    assert video.ok and video.shots == 3 and video.audio == "copied"
    painted = frames_of(out)
    assert len(painted) == len(sequential) == 21
    for k, (a, b) in enumerate(zip(painted, sequential)):
        assert np.array_equal(a, b), f"frame {k} differs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # the work folder is gone


def test_interrupted_run_resumes_without_repainting(clip, sequential, pool, tmp_path):
    out = tmp_path / "out.mp4"
    first = stylize_videos([(clip, out)], SETTINGS, pool=pool, min_task_frames=1, task=_task("stop_after_first"))
    assert not first.ok and "stopped on purpose" in first.videos[0].error and not out.exists()
    work = WorkFolder(out)
    record = work.path / "shot_00000.json"
    kept = record.read_bytes()
    second = stylize_videos([(clip, out)], SETTINGS, pool=pool, min_task_frames=1)
    (video,) = second.videos
    assert video.ok and video.resumed_shots == 1 and video.painted_frames == 21 - 8
    assert [r.index for r in second.shots] == sorted(r.index for r in second.shots) or {r.index for r in second.shots} == {1, 2}
    assert {r.index for r in second.shots} == {1, 2}  # shot 0 was not painted again
    assert all(np.array_equal(a, b) for a, b in zip(frames_of(out), sequential))
    assert kept and not work.path.exists()


def test_resume_refuses_other_settings(clip, pool, tmp_path):
    out = tmp_path / "out.mp4"
    stylize_videos([(clip, out)], SETTINGS, pool=pool, min_task_frames=1, task=_task("stop_after_first"))
    other = RunSettings(config=CONFIG, seed=6, crf=0, preset="ultrafast")
    report = stylize_videos([(clip, out)], other, pool=pool, min_task_frames=1)
    assert "other settings (seed 5 -> 6)" in report.videos[0].error
    assert (WorkFolder(out).path / "shot_00000.json").exists()  # nothing was thrown away


def test_a_worker_that_dies_mid_shot_is_retried(clip, sequential, pool, tmp_path):
    out = tmp_path / "out.mp4"
    report = stylize_videos([(clip, out)], SETTINGS, pool=pool, min_task_frames=1, task=_task("die_once"))
    assert report.ok, report.videos[0].error
    assert (tmp_path / "died-once").exists()
    assert all(np.array_equal(a, b) for a, b in zip(frames_of(out), sequential))


def _task(name):
    import scaletasks

    return getattr(scaletasks, name)


def _cli(*args, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), str(TESTS)]))
    code = "import sys; from facepaint.cli import main; sys.exit(main())"
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_batch_reports_a_corrupt_file_and_finishes_the_rest(clip, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    listing = tmp_path / "videos.txt"
    listing.write_text(f"{bad.name}\n{clip}\n")
    run = _cli("batch", listing, tmp_path / "out", "--workers", "2", "--face-model", "none", "--quiet")
    _, err = run.communicate(timeout=240)
    assert run.returncode == 2, err
    assert "error: broken.mp4:" in err
    good = tmp_path / "out" / "shots.mp4"
    assert len(frames_of(good)) == 21
    assert open_video(good).info.has_audio
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["shots.mp4"]


def _wait_for(predicate, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_sigterm_stops_stylize_without_leaving_a_part_file(tmp_path):
    source = make_clip(tmp_path / "long.mp4", frames=400, size=(160, 120), flash_frame=None, audio_codec=None)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    run = _cli("stylize", source, out_dir / "painted.mp4", "--face-model", "none", "--quiet")
    assert _wait_for(lambda: any(out_dir.iterdir()), 120), "no temporary output appeared"
    time.sleep(0.3)
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 143, err
    assert err.strip().splitlines()[-1].startswith("error: interrupted")
    assert list(out_dir.iterdir()) == []


def test_sigterm_stops_workers_and_keeps_only_the_work_folder(tmp_path):
    source = make_multishot_clip(tmp_path / "shots.mp4", shot_frames=(60, 60, 60, 60), size=(160, 120))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "painted.mp4"
    run = _cli("stylize", source, out, "--workers", "2", "--face-model", "none", "--quiet", start_new_session=True)
    work = WorkFolder(out).path
    assert _wait_for(lambda: work.is_dir() and any(p.name.endswith(".part.mp4") for p in work.iterdir()), 120)
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 143, err
    assert [p.name for p in out_dir.iterdir()] == [work.name]
    assert not [p for p in work.iterdir() if ".part" in p.name]
    assert (work / "plan.json").exists()
    # no worker outlives the run (they are in the run's session; multiprocessing's resource
    # tracker exits when it sees the run's end)
    def session_left():
        return subprocess.run(["pgrep", "-a", "-s", str(run.pid)], capture_output=True, text=True).stdout.strip()

    assert _wait_for(lambda: session_left() == "", 10), session_left()


def test_full_disk_gives_the_one_line_error_and_keeps_finished_shots(clip, tmp_path):
    if sys.platform != "linux" or subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs Linux user and mount namespaces to mount a small tmpfs")
    disk = tmp_path / "disk"
    disk.mkdir()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), str(TESTS)]))
    # room for the painted shot (one task: about 37 KB at crf 0) and its records, not for the joined copy
    script = (
        f"mount -t tmpfs -o size=56k tmpfs {disk} && "
        f"{sys.executable} -c 'import sys; from facepaint.cli import main; sys.exit(main())' "
        f"stylize {clip} {disk}/out.mp4 --workers 2 --face-model none --crf 0 --preset ultrafast --quiet; "
        f"echo rc=$?; ls -a {disk} {disk}/out.mp4.facepaint-work"
    )
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], env=env, capture_output=True, text=True, timeout=240)
    assert "rc=2" in done.stdout, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no space left" in errors[0], done.stderr
    listing = done.stdout
    assert "shot_00000.json" in listing and ".part" not in listing and "out.mp4\n" not in listing.split("rc=2")[1].split(":")[0]


def test_workers_of_a_killed_run_stop_and_take_no_further_task(tmp_path):
    # kill -9 of the parent: its worker unwinds the task it had and exits, instead of the pool's
    # worker loop handing it the next task it had queued (an orphan painting on).
    pids = tmp_path / "pids.txt"
    script = (
        "import os, sys, time\n"
        "from facepaint.scale import LocalPool\n"
        "import scaletasks\n"
        "if __name__ == '__main__':\n"
        "    pool = LocalPool(1)\n"
        "    first = pool.submit(scaletasks.spin, 0.1).result()\n"
        f"    open({str(pids)!r}, 'w').write(str(first))\n"
        "    for _ in range(3):\n"
        "        pool.submit(scaletasks.spin, 60)\n"
        "    time.sleep(600)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), str(TESTS)]))
    run = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=tmp_path)
    assert _wait_for(lambda: pids.exists() and pids.read_text().strip(), 120)
    worker = int(pids.read_text())
    time.sleep(1.0)
    run.kill()
    run.wait()

    def gone() -> bool:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return True
        # a zombie (reparented, not yet reaped) counts as gone
        return Path(f"/proc/{worker}/stat").read_text().split()[2] == "Z"

    assert _wait_for(gone, 30), "the orphaned worker kept running"
