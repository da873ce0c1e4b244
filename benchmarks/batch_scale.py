"""Figures of batch runs and shot-parallel painting (facepaint.scale), written to
benchmarks/results/batch_scale.{json,md}.

Parts (``--part``, several allowed):

- ``parallel``: multi-shot clips (``--clip``, several allowed; default stage_scene_cuts_360p and
  the generated ``multi_shot``, 703 frames of six shots, recipe in ``stress_clips.py``) painted
  sequentially (``stylize_video``) and shot by shot with 1 and 2 local workers and on a Dask
  LocalCluster reached by its scheduler address; frames compared on lossless intermediates
  (crf 0), wall times and the shots' CPU time.
- ``resume``: ``facepaint stylize --workers 2`` on ``multi_shot`` killed with SIGKILL after its
  first finished shot, then run again: frames painted again, total time against an
  uninterrupted run, output compared frame for frame.
- ``batch``: ``facepaint batch`` of every clip in ../shared/media/video at full length (or
  ``--max-frames`` each): total time, a row per video, peak memory per worker.

Run on a quiet machine: ``python benchmarks/batch_scale.py --part parallel --part resume --part batch``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stress_clips  # noqa: E402

HERE = Path(__file__).resolve().parent
MEDIA = HERE.parents[1] / "shared" / "media" / "video"
RESULTS = HERE / "results"
SRC = HERE.parent / "src"


def frames_of(path):
    from facepaint.io import open_video

    return [f.image for f in open_video(path)]


def same_frames(a: Path, b: Path) -> bool:
    x, y = frames_of(a), frames_of(b)
    return len(x) == len(y) and all(np.array_equal(p, q) for p, q in zip(x, y))


def part_parallel(clip: Path, max_frames: int | None, work: Path) -> dict:
    import distributed

    work.mkdir(parents=True)
    from facepaint import stylize_video
    from facepaint.pipeline import PipelineConfig
    from facepaint.scale import RunSettings, find_shots, stylize_videos

    config = PipelineConfig()
    settings = RunSettings(config=config, seed=0, max_frames=max_frames, crf=0, preset="ultrafast")
    scan = find_shots(clip, threshold=config.temporal.scene_cut_threshold, max_frames=max_frames)
    # Warm-up, untimed: numba's kernels compiled into its caches (this process's and the
    # workers'), so that no timed run pays for compiling them.
    stylize_video(clip, work / "warm.mp4", config=config, seed=0, max_frames=3, crf=0, preset="ultrafast")
    stylize_videos([(clip, work / "warm_pool.mp4")], replace(settings, max_frames=3), workers=1)
    t = time.perf_counter()
    stylize_video(clip, work / "seq.mp4", config=config, seed=0, max_frames=max_frames, crf=0, preset="ultrafast")
    rows = {"sequential stylize_video": time.perf_counter() - t}
    equal, cpu = {}, {}
    for label, kw in (("1 local worker", {"workers": 1}), ("2 local workers", {"workers": 2})):
        out = work / f"{label.replace(' ', '_')}.mp4"
        t = time.perf_counter()
        report = stylize_videos([(clip, out)], settings, min_task_frames=1, **kw)
        rows[label] = time.perf_counter() - t
        assert report.ok, report.videos[0].error
        equal[label] = same_frames(out, work / "seq.mp4")
        cpu[label] = sum(shot.cpu_seconds for shot in report.shots)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None, silence_logs=50)
    try:
        out = work / "dask.mp4"
        t = time.perf_counter()
        report = stylize_videos([(clip, out)], settings, scheduler=cluster.scheduler_address, min_task_frames=1)
        label = "Dask LocalCluster (2 workers, by address)"
        rows[label] = time.perf_counter() - t
        assert report.ok, report.videos[0].error
        equal[label] = same_frames(out, work / "seq.mp4")
        cpu[label] = sum(shot.cpu_seconds for shot in report.shots)
    finally:
        cluster.close()
    return {
        "clip": clip.name, "frames": scan.frames, "shots": [(s.start, s.stop) for s in scan.shots],
        "seconds": rows, "shot_cpu_seconds": cpu, "frames_identical": equal,
    }


def cli(*args) -> list[str]:
    return [sys.executable, "-c", "import sys; from facepaint.cli import main; sys.exit(main())", *map(str, args)]


def part_resume(clip: Path, max_frames: int | None, work: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    limit = ("--max-frames", max_frames) if max_frames else ()
    args = ("stylize", clip, None, "--workers", "2", *limit, "--quiet")
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
    total = json.loads((workdir / "plan.json").read_text())["frames"]
    t = time.perf_counter()
    subprocess.run(cli(*[a if a is not None else out for a in args]), env=env, check=True)
    second = time.perf_counter() - t
    return {
        "clip": clip.name, "frames": total, "uninterrupted_s": whole, "killed_after_s": first, "resumed_s": second,
        "frames_kept": finished, "frames_painted_again": total - finished,
        "total_s": first + second, "same_frames": same_frames(out, work / "whole.mp4"),
    }


def part_batch(max_frames: int | None, work: Path, workers: int) -> dict:
    from facepaint.pipeline import PipelineConfig
    from facepaint.scale import RunSettings, stylize_videos

    clips = sorted(MEDIA.iterdir())
    settings = RunSettings(config=PipelineConfig(), max_frames=max_frames)
    jobs = [(c, work / "batch" / f"{c.stem}.mp4") for c in clips]
    (work / "batch").mkdir(exist_ok=True)
    report = stylize_videos(jobs, settings, workers=workers)
    return {
        "workers": report.pool, "total_s": report.seconds,
        "videos": [
            {"video": Path(v.source).name, "frames": v.frames, "shots": v.shots, "paint_seconds": v.paint_seconds, "done_at_s": v.seconds,
             "ok": v.ok, "error": v.error}
            for v in report.videos
        ],
        "peak_rss_mib": report.peak_rss_mib,
    }


def write_markdown(results: dict, path: Path) -> None:
    """The figures of ``results`` as tables (``batch_scale.md``)."""
    lines = ["# Batch runs and shot-parallel painting", "", f"`python benchmarks/batch_scale.py`, {results.get('machine', '')}", ""]
    for row in results.get("parallel", {}).values():
        seq = row["seconds"]["sequential stylize_video"]
        lines += [f"## Shot-parallel: {row['clip']}, {row['frames']} frames, {len(row['shots'])} tasks {row['shots']}", "",
                  "| run | wall s | vs sequential | CPU s of the shots | frames identical |", "|---|---|---|---|---|"]
        for label, sec in row["seconds"].items():
            cpu = row.get("shot_cpu_seconds", {}).get(label)
            same = row["frames_identical"].get(label, "(reference)")
            lines.append(f"| {label} | {sec:.1f} | {seq / sec:.2f}x | {'' if cpu is None else f'{cpu:.1f}'} | {same} |")
        lines.append("")
    if "resume" in results:
        r = results["resume"]
        lines += [f"## Kill -9 after the first shot, then resume: {r['clip']}, {r['frames']} frames", "",
                  f"- uninterrupted `stylize --workers 2`: {r['uninterrupted_s']:.1f} s",
                  f"- killed after {r['killed_after_s']:.1f} s with {r['frames_kept']} frames finished; the rerun took {r['resumed_s']:.1f} s "
                  f"and painted {r['frames_painted_again']} frames; total {r['total_s']:.1f} s ({r['total_s'] / r['uninterrupted_s']:.2f}x the uninterrupted run)",
                  f"- output identical frame for frame to the uninterrupted run: {r['same_frames']}", ""]
    if "batch" in results:
        b = results["batch"]
        lines += [f"## Batch of every clip in ../shared/media/video: {b['workers']}", "",
                  f"Total {b['total_s']:.1f} s for {sum(v['frames'] for v in b['videos'])} frames; peak memory per worker (MiB): "
                  + ", ".join(f"{k} {v:.0f}" for k, v in sorted(b["peak_rss_mib"].items())), "",
                  "| video | frames | shots | painting s (its shots' tasks) | frames/s | done at s | result |", "|---|---|---|---|---|---|---|"]
        for v in b["videos"]:
            rate = v["frames"] / v["paint_seconds"] if v.get("paint_seconds") else 0.0
            lines.append(f"| {v['video']} | {v['frames']} | {v['shots']} | {v.get('paint_seconds', 0.0):.1f} | {rate:.1f} | {v['done_at_s']:.1f} "
                         f"| {'ok' if v['ok'] else v['error']} |")
        lines.append("")
    path.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", action="append", choices=["parallel", "resume", "batch"])
    parser.add_argument("--clip", action="append", help="a clip of ../shared/media/video or stress:<name> (several allowed)")
    parser.add_argument("--resume-clip", default="stress:multi_shot")
    parser.add_argument("--max-frames", type=int, default=0, help="frames of each clip (0: all)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", default="/tmp/facepaint_batch_scale")
    args = parser.parse_args()
    work = Path(args.work)
    RESULTS.mkdir(exist_ok=True)
    results_path = RESULTS / "batch_scale.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    if "clip" in results.get("parallel", {}):  # the single-clip layout of earlier runs
        results["parallel"] = {results["parallel"]["clip"]: results["parallel"]}
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True).stdout.strip()
    results["machine"] = f"{os.cpu_count()} cores, commit {head}"
    max_frames = args.max_frames or None
    for part in args.part or ["parallel"]:
        folder = work / part  # fresh: nothing of an earlier run to resume
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        if part == "parallel":
            results.setdefault("parallel", {})
            for name in args.clip or ["stage_scene_cuts_360p.mp4", "stress:multi_shot"]:
                clip = stress_clips.clip_source(name)[0]
                results["parallel"][clip.name] = row = part_parallel(clip, max_frames, folder / clip.stem)
                print(json.dumps(row, indent=1))
        elif part == "resume":
            results["resume"] = part_resume(stress_clips.clip_source(args.resume_clip)[0], max_frames, folder)
            print(json.dumps(results["resume"], indent=1))
        else:
            results["batch"] = part_batch(max_frames, folder, args.workers)
            print(json.dumps(results["batch"], indent=1))
        results_path.write_text(json.dumps(results, indent=1))
        write_markdown(results, RESULTS / "batch_scale.md")


if __name__ == "__main__":
    main()
