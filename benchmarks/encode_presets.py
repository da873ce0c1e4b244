"""H.264 encoding of painted frames: CPU time, size and fidelity by x264 preset and CRF.

Painted frames are brush texture from edge to edge, which costs x264 far more than camera
footage: this measures what the output's defaults (``facepaint.io.writer.DEFAULT_PRESET`` /
``DEFAULT_CRF``) cost. The first ``--frames`` frames of lp_s32 (720p) and crowd_1080p (1080p)
are stylized once, held in memory, then encoded with each ``preset:crf`` in turn, ``--rounds``
times (rounds interleaved, so that the machine's drift spreads over all settings); medians.
Fidelity: PSNR of the decoded video against the painted frames (RGB, median over frames). Also
times the RGB -> YUV 4:2:0 conversion the writer does by OpenCV against FFmpeg's swscale.

Usage: python benchmarks/encode_presets.py [--frames 30] [--rounds 2] [--settings veryfast:18,superfast:20,...]
Writes benchmarks/results/encode_presets.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT / ".." / "shared" / "media" / "video"
RESULTS = ROOT / "benchmarks" / "results"
CLIPS = ("lp_s32.mp4", "crowd_1080p.mp4")
SETTINGS = "veryfast:18,superfast:18,superfast:20,superfast:22,ultrafast:20"


def _painted(name: str, frames: int) -> tuple[list[np.ndarray], float]:
    from facepaint.io import open_video
    from facepaint.pipeline import PipelineConfig, Stylizer

    reader = open_video(MEDIA / name, max_frames=frames)
    stylizer = Stylizer(PipelineConfig(), seed=0)
    return [stylizer.process(f.image) for f in reader], reader.fps


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return 10.0 * np.log10(255.0**2 / max(mse, 1e-9))


def _encode(images: list[np.ndarray], fps: float, preset: str, crf: int, tmp: Path) -> dict:
    from facepaint.io import VideoWriter, open_video

    out = tmp / f"{preset}_{crf}.mp4"
    t0, c0 = time.perf_counter(), time.process_time()
    with VideoWriter(out, fps=fps, preset=preset, crf=crf) as writer:
        for image in images:
            writer.write(image)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    decoded = [f.image for f in open_video(out)]
    return {
        "cpu_ms_per_frame": 1000.0 * cpu / len(images),
        "wall_ms_per_frame": 1000.0 * wall / len(images),
        "mbit_per_s": os.path.getsize(out) * 8e-6 / (len(images) / fps),
        "psnr_db": float(np.median([_psnr(a, b) for a, b in zip(decoded, images)])),
    }


def _conversion(image: np.ndarray) -> dict:
    """Median ms of RGB -> YUV 4:2:0 by swscale (PyAV reformat) and by OpenCV, and how the planes differ."""
    import av

    frame = av.VideoFrame.from_ndarray(image, format="rgb24")

    def median_ms(fn, n: int = 15) -> float:
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return 1000.0 * float(np.median(times))

    ref = frame.reformat(format="yuv420p").to_ndarray().astype(np.int16)
    ours = cv2.cvtColor(image, cv2.COLOR_RGB2YUV_I420).astype(np.int16)
    return {
        "swscale_ms": median_ms(lambda: frame.reformat(format="yuv420p")),
        "opencv_ms": median_ms(lambda: cv2.cvtColor(image, cv2.COLOR_RGB2YUV_I420)),
        "mean_abs_difference": float(np.abs(ref - ours).mean()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--settings", default=SETTINGS, help="comma-separated preset:crf pairs")
    args = parser.parse_args()
    settings = [(s.split(":")[0], int(s.split(":")[1])) for s in args.settings.split(",")]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in CLIPS:
            images, fps = _painted(name, args.frames)
            runs = {f"{p}:{c}": [] for p, c in settings}
            for _ in range(args.rounds):
                for p, c in settings:
                    runs[f"{p}:{c}"].append(_encode(images, fps, p, c, Path(tmp)))
            results[name] = {
                "size": f"{images[0].shape[1]}x{images[0].shape[0]}",
                "settings": {k: {m: float(np.median([r[m] for r in v])) for m in v[0]} for k, v in runs.items()},
                "conversion": _conversion(images[-1]),
            }
            for k, v in results[name]["settings"].items():
                print(f"{name} {k}: {v['cpu_ms_per_frame']:.1f} ms CPU/frame, {v['mbit_per_s']:.1f} Mbit/s, "
                      f"PSNR {v['psnr_db']:.2f} dB", flush=True)
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {sys.version.split()[0]}"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "encode_presets.json").write_text(json.dumps({"machine": machine, "frames": args.frames,
                                                             "rounds": args.rounds, "results": results}, indent=2))
    lines = [
        "# H.264 encoding of painted frames by x264 preset and CRF",
        "",
        f"Machine: {machine}. The first {args.frames} frames of each clip, stylized, encoded by",
        f"`facepaint.io.VideoWriter` (yuv420p), medians of {args.rounds} interleaved rounds; PSNR of the decoded",
        "video against the painted frames (`python benchmarks/encode_presets.py`).",
        "",
        "| clip | preset:crf | CPU ms/frame | wall ms/frame | Mbit/s | PSNR dB |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        for k, v in r["settings"].items():
            lines.append(f"| {name} ({r['size']}) | {k} | {v['cpu_ms_per_frame']:.1f} | {v['wall_ms_per_frame']:.1f} | "
                         f"{v['mbit_per_s']:.1f} | {v['psnr_db']:.2f} |")
    lines += ["", "RGB -> YUV 4:2:0 of one painted frame (the writer converts by OpenCV):", "",
              "| clip | swscale ms | OpenCV ms | mean abs difference (levels) |", "|---|---|---|---|"]
    for name, r in results.items():
        c = r["conversion"]
        lines.append(f"| {name} | {c['swscale_ms']:.2f} | {c['opencv_ms']:.2f} | {c['mean_abs_difference']:.3f} |")
    (RESULTS / "encode_presets.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
