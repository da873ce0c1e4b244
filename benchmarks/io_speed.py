"""Video I/O throughput: decode, encode and decode+encode (with audio copy) at 720p and 1080p.

Usage: python benchmarks/io_speed.py [--repeats 3] [--preset veryfast]
Writes benchmarks/results/io_speed.json and prints a table. Medians over the repeats.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from facepaint.io import VideoWriter, open_video

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "video"
CLIPS = {"720p": MEDIA / "lp_s32.mp4", "1080p": MEDIA / "crowd_1080p.mp4"}
RESULTS = Path(__file__).resolve().parent / "results"


def _decode(path: Path) -> tuple[int, float]:
    start = time.perf_counter()
    count = sum(1 for _ in open_video(path))
    return count, time.perf_counter() - start


def _encode(frames, path: Path, fps: float, preset: str) -> float:
    start = time.perf_counter()
    with VideoWriter(path, fps=fps, preset=preset) as writer:
        for image in frames:
            writer.write(image)
    return time.perf_counter() - start


def _decode_encode(source: Path, path: Path, preset: str) -> tuple[int, float]:
    start = time.perf_counter()
    reader = open_video(source)
    with VideoWriter(path, fps=reader.fps, preset=preset, audio_from=source) as writer:
        for frame in reader:
            writer.write(frame.image)
    return writer.frames_written, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--preset", default="veryfast")
    args = parser.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, clip in CLIPS.items():
            frames = [f.image for f in open_video(clip)]
            fps = open_video(clip).fps
            decode, encode, both = [], [], []
            for _ in range(args.repeats):
                n, seconds = _decode(clip)
                decode.append(n / seconds)
                encode.append(len(frames) / _encode(frames, Path(tmp) / "e.mp4", fps, args.preset))
                n, seconds = _decode_encode(clip, Path(tmp) / "de.mp4", args.preset)
                both.append(n / seconds)
            rows[label] = {
                "clip": clip.name,
                "frames": len(frames),
                "decode_fps": statistics.median(decode),
                "encode_fps": statistics.median(encode),
                "decode_encode_fps": statistics.median(both),
            }
            del frames
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "io_speed.json").write_text(json.dumps({"preset": args.preset, "repeats": args.repeats, "results": rows}, indent=2))
    print(f"x264 preset {args.preset}, median of {args.repeats} runs (frames/s)")
    print(f"{'size':6} {'clip':18} {'decode':>8} {'encode':>8} {'dec+enc+audio':>14}")
    for label, row in rows.items():
        print(f"{label:6} {row['clip']:18} {row['decode_fps']:8.1f} {row['encode_fps']:8.1f} {row['decode_encode_fps']:14.1f}")


if __name__ == "__main__":
    main()
