"""Figures of batch runs and shot-parallel painting (facepaint.scale), written to
benchmarks/results/batch_scale.{json,md}.

Parts (``--part``, several allowed):

- ``parallel``: a multi-shot clip painted sequentially (``stylize_video``) and shot by shot with
  1 and 2 local workers and on a Dask LocalCluster reached by its scheduler address; frames
  compared on lossless intermediates (crf 0), wall times.
- ``resume``: ``facepaint stylize --workers 2`` killed with SIGKILL after its first finished shot,
  then run again: frames painted again, total time against an uninterrupted run.
- ``batch``: ``facepaint batch`` of every clip in ../shared/media/video (``--max-frames`` each):
  total time, a row per video, peak memory per worker.

Run with ``nice -n 10 python benchmarks/batch_scale.py --part parallel --max-frames 90``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MEDIA = HERE.parents[1] / "shared" / "media" / "video"
RESULTS = HERE / "results"
SRC = HERE.parent / "src"


def frames_of(path):
    from facepaint.io import open_video

    return [f.image for f in open_video(path)]


def part_parallel(clip: Path, max_frames: int, work: Path) -> dict:
    import distributed

    from facepaint import stylize_video
    from facepaint.pipeline import PipelineConfig
    from facepaint.scale import RunSettings, find_shots, stylize_videos

    config = PipelineConfig()
    settings = RunSettings(config=config, seed=0, max_frames=max_frames, crf=0, preset="ultrafast")
    scan = find_shots(clip, threshold=config.temporal.scene_cut_threshold, max_frames=max_frames)
    t = time.perf_counter()
    stylize_video(clip, work / "seq.mp4", config=config, seed=0, max_frames=max_frames, crf=0, preset="ultrafast")
    rows = {"sequential stylize_video": time.perf_counter() - t}
    reference = frames_of(work / "seq.mp4")
    equal = {}
    for label, kw in (("1 local worker", {"workers": 1}), ("2 local workers", {"workers": 2})):
        out = work / f"{label.replace(' ', '_')}.mp4"
        t = time.perf_counter()
        report = stylize_videos([(clip, out)], settings, min_task_frames=1, **kw)
        rows[label] = time.perf_counter() - t
        assert report.ok, report.videos[0].error
        equal[label] = all(np.array_equal(a, b) for a, b in zip(frames_of(out), reference)) and len(frames_of(out)) == len(reference)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None, silence_logs=50)
    try:
        out = work / "dask.mp4"
        t = time.perf_counter()
        report = stylize_videos([(clip, out)], settings, scheduler=cluster.scheduler_address, min_task_frames=1)
        rows["Dask LocalCluster (2 workers, by address)"] = time.perf_counter() - t
        equal["Dask LocalCluster (2 workers, by address)"] = all(np.array_equal(a, b) for a, b in zip(frames_of(out), reference))
    finally:
        cluster.close()
    return {"clip": clip.name, "frames": scan.frames, "shots": [(s.start, s.stop) for s in scan.shots], "seconds": rows, "frames_identical": equal}


def cli(*args) -> list[str]:
    return [sys.executable, "-c", "import sys; from facepaint.cli import main; sys.exit(main())", *map(str, args)]


def part_resume(clip: Path, max_frames: int, work: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    args = ("stylize", clip, None, "--workers", "2", "--max-frames", max_frames, "--quiet")
    t = time.perf_counter()
    subprocess.run(cli(*[a if a is not None else work / "whole.mp4" for a in args]), env=env, check=True)
    whole = time.perf_counter() - t
    out = work / "killed.mp4"
    workdir = out.with_name(out.name + ".facepaint-work")
    t = time.perf_counter()
    run = subprocess.Popen(cli(*[a if a is not None else out for a in args]), env=env, start_new_session=True)
    while not (workdir.is_dir() and list(workdir.glob("shot_*.json"))):
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    first = time.perf_counter() - t
    finished = sum(json.loads(p.read_text())["frames"] for p in workdir.glob("shot_*.json"))
    t = time.perf_counter()
    subprocess.run(cli(*[a if a is not None else out for a in args]), env=env, check=True)
    second = time.perf_counter() - t
    return {
        "clip": clip.name, "frames": max_frames, "uninterrupted_s": whole, "killed_after_s": first, "resumed_s": second,
        "frames_kept": finished, "frames_painted_again": max_frames - finished,
        "total_s": first + second, "same_frames": all(np.array_equal(a, b) for a, b in zip(frames_of(out), frames_of(work / "whole.mp4"))),
    }


def part_batch(max_frames: int, work: Path, workers: int) -> dict:
    from facepaint.pipeline import PipelineConfig
    from facepaint.scale import RunSettings, stylize_videos

    clips = sorted(MEDIA.iterdir())
    settings = RunSettings(config=PipelineConfig(), max_frames=max_frames)
    jobs = [(c, work / "batch" / f"{c.stem}.mp4") for c in clips]
    (work / "batch").mkdir(exist_ok=True)
    report = stylize_videos(jobs, settings, workers=workers)
    return {
        "workers": report.pool, "total_s": report.seconds,
        "videos": [{"video": Path(v.source).name, "frames": v.frames, "shots": v.shots, "seconds": v.seconds, "ok": v.ok, "error": v.error} for v in report.videos],
        "peak_rss_mib": report.peak_rss_mib,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", action="append", choices=["parallel", "resume", "batch"])
    parser.add_argument("--clip", default=str(MEDIA / "stage_scene_cuts_360p.mp4"))
    parser.add_argument("--max-frames", type=int, default=90)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", default="/tmp/facepaint_batch_scale")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(exist_ok=True)
    results_path = RESULTS / "batch_scale.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    for part in args.part or ["parallel"]:
        if part == "parallel":
            results["parallel"] = part_parallel(Path(args.clip), args.max_frames, work)
        elif part == "resume":
            results["resume"] = part_resume(Path(args.clip), args.max_frames, work)
        else:
            results["batch"] = part_batch(args.max_frames, work, args.workers)
        print(json.dumps(results[part], indent=1))
        results_path.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
