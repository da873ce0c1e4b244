"""Incremental rendering (issue 21): how much of each frame is redrawn, how far the result is
from a full redraw, and what it does to the render time and the warping error.

For each clip (talking heads, moving cameras, and the static wide ``stress:title_sky``; full
length, or ``--max-frames``), :class:`facepaint.pipeline.Stylizer` runs
twice on the same frames: with ``RenderConfig.incremental`` (the default) and without it. In the
incremental run each output frame is compared with a full render of the very painting it shows
(``Stylizer.painting`` after the frame, rendered with every stroke drawn, region 2 composited):
the error that reusing the cells of the last frame adds, per frame (max per-pixel difference,
PSNR); and the share of the 32-pixel cells redrawn (``FrameStats.redrawn_share``); the warping-error
ratios of both runs (``facepaint.metrics.warping_errors``, the input's own as 1). ``--timing``
runs the two settings again, each alone (reference renders would overlap the work the pipeline
starts ahead for the next frame and skew its stage times), and reports the render-stage, frame and
CPU times.

Writes ``benchmarks/results/incremental_render.{json,md}``. Run on a quiet machine::

    python benchmarks/incremental_render.py [--clips akiyo.mp4,...] [--max-frames N] [--timing]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

sys.path.insert(0, str(HERE))
import stress_clips  # noqa: E402

TALKING = ("akiyo.mp4", "anchor_man_700.mp4", "anchor_woman_700.mp4", "speech_512.mp4")
MOVING = ("foreman_cif.h264", "crowd_1080p.mp4", "lp_s32.mp4")
STATIC_WIDE = ("stress:title_sky",)  # a static 720p frame with a small speaker: the paper's case


def frames_of(name: str, max_frames: int | None) -> list[np.ndarray]:
    """A shared clip's frames, or a generated one's (``stress:<name>``, see stress_clips.py)."""
    from facepaint.io import open_video

    path, fps = stress_clips.clip_source(name)
    return [f.image for f in open_video(path, fps=fps, max_frames=max_frames)]


def run(frames: list[np.ndarray], incremental: bool, cell: int = 32, reference: bool = True) -> dict:
    from facepaint.pipeline import PipelineConfig, Stylizer
    from facepaint.render import composite_canvas, render_layers

    base = PipelineConfig()
    config = replace(base, render=replace(base.render, incremental=incremental, redraw_cell_px=cell))
    stylizer = Stylizer(config)
    full = replace(stylizer._render_config, incremental=False)
    outputs, shares, max_diff, psnr = [], [], [], []
    for k, frame in enumerate(frames):
        out = stylizer.process(frame, upcoming=frames[k + 1] if k + 1 < len(frames) else None)
        outputs.append(out)
        if incremental and k > 0:
            shares.append(stylizer.stats.last.redrawn_share)
        if incremental and k > 0 and reference:
            layers = render_layers(stylizer.painting, frame, config=full, regions=stylizer.regions)
            ref = composite_canvas(layers.canvas, frame, np.asarray(stylizer.regions.feature_alpha, np.float32))
            diff = np.abs(out.astype(np.int16) - ref.astype(np.int16))
            max_diff.append(int(diff.max()))
            mse = float(np.mean(diff.astype(np.float64) ** 2))
            psnr.append(99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse))
    stages = stylizer.stage_milliseconds()
    return {"outputs": outputs, "shares": shares, "max_diff": max_diff, "psnr": psnr, "stages": stages}


def measure(name: str, max_frames: int | None, cell: int = 32) -> dict:
    from facepaint.metrics import warping_errors

    frames = frames_of(name, max_frames)
    inc = run(frames, True, cell)
    full = run(frames, False)
    warp = warping_errors(frames, {"incremental": inc["outputs"], "full": full["outputs"]})
    shares = np.asarray(inc["shares"])
    return {
        "clip": name, "frames": len(frames), "size": f"{frames[0].shape[1]}x{frames[0].shape[0]}",
        "redrawn_share": {"median": float(np.median(shares)), "p90": float(np.percentile(shares, 90)), "mean": float(shares.mean())},
        "max_pixel_diff": {"median": float(np.median(inc["max_diff"])), "max": int(max(inc["max_diff"]))},
        "psnr_db": {"median": float(np.median(inc["psnr"])), "min": float(min(inc["psnr"]))},
        "warping_ratio": {"incremental": warp["incremental"].ratio, "full": warp["full"].ratio},
    }


def timing(name: str, max_frames: int | None, cell: int = 32) -> dict:
    """Render-stage and frame times of the two settings, each run alone (no reference renders,
    which would overlap the work started ahead for the next frame), the full one first."""
    frames = frames_of(name, max_frames)
    full = run(frames, False, reference=False)
    inc = run(frames, True, cell, reference=False)
    return {
        "clip": name, "frames": len(frames), "redrawn_share_median": float(np.median(inc["shares"])),
        "render_ms": {"incremental": inc["stages"].get("render", 0.0), "full": full["stages"].get("render", 0.0)},
        "total_ms": {"incremental": inc["stages"].get("total", 0.0), "full": full["stages"].get("total", 0.0)},
        "cpu_ms": {"incremental": inc["stages"].get("cpu_total", 0.0), "full": full["stages"].get("cpu_total", 0.0)},
    }


def write_markdown(rows: list[dict], head: str, timings: list[dict] | None = None) -> None:
    lines = [
        "# Incremental rendering", "",
        f"`python benchmarks/incremental_render.py`, commit {head}, {os.cpu_count()} cores. Each clip run twice "
        "(incremental, full redraw); the error is the incremental output against a full render of the same painting, "
        "frame by frame; warping ratios of the two runs.", "",
        "| clip | size | frames | cells redrawn median (p90) | max pixel diff median / worst | PSNR dB median / worst "
        "| warping ratio inc / full |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['clip']} | {r['size']} | {r['frames']} | {100 * r['redrawn_share']['median']:.0f} % ({100 * r['redrawn_share']['p90']:.0f} %) "
            f"| {r['max_pixel_diff']['median']:.0f} / {r['max_pixel_diff']['max']} | {r['psnr_db']['median']:.1f} / {r['psnr_db']['min']:.1f} "
            f"| {r['warping_ratio']['incremental']:.2f} / {r['warping_ratio']['full']:.2f} |"
        )
    if timings:
        lines += [
            "", "Times (`--timing`): each setting run alone on the same frames, full redraw first; medians per frame "
            "(the first excluded) of the render stage, of the frame's wall time on the main thread and of its CPU time "
            "(all threads).", "",
            "| clip | frames | cells redrawn median | render ms full / incremental | frame ms full / incremental | CPU ms full / incremental |",
            "|---|---|---|---|---|---|",
        ]
        for t in timings:
            lines.append(
                f"| {t['clip']} | {t['frames']} | {100 * t['redrawn_share_median']:.0f} % | {t['render_ms']['full']:.0f} / {t['render_ms']['incremental']:.0f} "
                f"| {t['total_ms']['full']:.0f} / {t['total_ms']['incremental']:.0f} | {t['cpu_ms']['full']:.0f} / {t['cpu_ms']['incremental']:.0f} |"
            )
    (RESULTS / "incremental_render.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", default=",".join(TALKING + MOVING + STATIC_WIDE))
    parser.add_argument("--max-frames", type=int, default=0, help="frames of each clip (0: all)")
    parser.add_argument("--cell", type=int, default=32, help="RenderConfig.redraw_cell_px")
    parser.add_argument("--timing", action="store_true", help="only the times, each setting run alone")
    parser.add_argument("--report-only", action="store_true", help="rewrite the .md from the .json")
    args = parser.parse_args()
    path = RESULTS / "incremental_render.json"
    saved = json.loads(path.read_text()) if path.exists() else {"commit": "", "rows": []}
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True).stdout.strip()
    if not args.report_only:
        key = "timings" if args.timing else "rows"
        saved[key] = []
        saved["timing_commit" if args.timing else "commit"] = head
        for name in args.clips.split(","):
            row = (timing if args.timing else measure)(name, args.max_frames or None, args.cell)
            saved[key].append(row)
            print(json.dumps(row), flush=True)
            path.write_text(json.dumps(saved, indent=1))
            write_markdown(saved["rows"], saved["commit"], saved.get("timings"))
    write_markdown(saved["rows"], saved["commit"], saved.get("timings"))


if __name__ == "__main__":
    sys.exit(main())
