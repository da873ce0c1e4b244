"""End-to-end speed of the animation pipeline, stroke churn, and memory on long videos.

Figures 1 and 3 of issue 5:

* ``speed``: frames/s of :class:`facepaint.pipeline.Stylizer` on lp_s32.mp4 (1280x720) and
  crowd_1080p.mp4 (1920x1080), the first frame excluded, with the median time of every stage.
  Decoding is done before timing starts (frames are held in memory) so only the stylizer counts.
* ``churn``: strokes alive, deleted (by reason) and added per frame over a 300-frame clip.
* ``memory``: resident memory (RSS) while stylizing more than 1,000 frames (foreman_cif, shaky
  and with the face leaving, played forwards and backwards until the count is reached; the
  decoded clip itself, ~90 MB, is held in memory by the benchmark), sampled every 50 frames.

Usage::

    .venv/bin/python benchmarks/animation_speed.py [--part speed|churn|memory|all|end-to-end|repeated|threads]
        [--frames N] [--face-model mediapipe|none] [--compare-to REV [--rounds K | --interleave [--run-frames N]]]

``--compare-to REV`` times git revision REV (checked out in a temporary worktree) and this
checkout alternately, clip by clip, in one run, and writes ``animation_speed_compare.{json,md}``;
with ``--interleave`` one process per revision stylizes the clip frame by frame in turn (the
fairest comparison on a machine whose speed drifts), ``animation_speed_interleaved.{json,md}``;
``--run-frames N`` makes each turn a run of N frames, so that the work a frame starts for the
next one overlaps it as in a real video (``animation_speed_interleaved_runsN.{json,md}``);
``--part repeated --rounds K --pause S`` runs ``speed`` K times S seconds apart, each clip in a fresh
interpreter that also times :func:`facepaint.stylize_video` end to end, and reports the medians
and ranges (``animation_speed_repeated.{json,md}``): on a machine whose speed drifts, what a
target is judged on; ``--part end-to-end --compare-to REV`` runs :func:`facepaint.stylize_video` (decode, paint,
encode, audio) for each revision in turn, ``stylize_video_pairs.{json,md}``; ``--part threads``:
where a frame's CPU goes, by thread (the workers, numba's and OpenCV's pools, and the x264 encoder
end to end), ``animation_threads.{json,md}``.

Writes ``benchmarks/results/animation_speed.json``/``.md``, ``animation_churn.json``/``.png``,
``animation_memory.json``/``.png`` and a few stylized frames ``animation_frame_*.png``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see facepaint.pipeline

import argparse
import contextlib
import functools
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT / ".." / "shared" / "media" / "video"
RESULTS = ROOT / "benchmarks" / "results"


def _frames(name: str, count: int) -> list[np.ndarray]:
    from facepaint.io import open_video

    return [f.image for f in open_video(MEDIA / name, max_frames=count)]


@functools.cache
def _takes_upcoming() -> bool:
    """Whether the imported revision's ``Stylizer.process`` has ``upcoming`` (asked once)."""
    import inspect

    from facepaint.pipeline import Stylizer

    return "upcoming" in inspect.signature(Stylizer.process).parameters


def _upcoming(frames: list, k: int) -> dict:
    """``process``'s ``upcoming=frames[k]`` (the next frame, as :func:`facepaint.stylize_video`
    passes it), or nothing past the end or for a revision whose ``Stylizer.process`` lacks it."""
    return {"upcoming": frames[k]} if k < len(frames) and _takes_upcoming() else {}


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


SPEED_CLIPS = ("lp_s32.mp4", "crowd_1080p.mp4")


def speed(frames: int, face_model: str, clips: tuple[str, ...] = SPEED_CLIPS, write_frames: bool = True) -> dict:
    from facepaint.io import write_image
    from facepaint.pipeline import PipelineConfig, Stylizer

    rows = {}
    for name in clips:
        clip = _frames(name, frames)
        stylizer = Stylizer(PipelineConfig(face_model=face_model), seed=0)
        out0 = stylizer.process(clip[0])  # first frame: excluded (warm-up, full painting)
        started = time.perf_counter()
        cpu_started = time.process_time()
        load_before = os.getloadavg()[0]
        per_frame = []
        for k in range(1, len(clip)):
            t0 = time.perf_counter()
            out = stylizer.process(clip[k], **_upcoming(clip, k + 1))
            per_frame.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        load_after = os.getloadavg()[0]
        stem = name.split(".")[0]
        if write_frames:
            write_image(RESULTS / f"animation_frame_{stem}_000.png", out0)
            write_image(RESULTS / f"animation_frame_{stem}_{len(clip) - 1:03d}.png", out)
        h, w = clip[0].shape[:2]
        rows[name] = {
            "size": f"{w}x{h}",
            "frames_timed": len(clip) - 1,
            "fps": (len(clip) - 1) / elapsed,
            "median_frame_ms": 1000 * float(np.median(per_frame)),
            "cpu_ms_per_frame": 1000 * cpu / (len(clip) - 1),
            "load_average_1min": [load_before, load_after],
            "stage_median_ms": stylizer.stage_milliseconds(),
            "strokes_last": len(stylizer.painting.background) + len(stylizer.painting.face),
        }
        print(f"{name}: {rows[name]['fps']:.2f} fps over {len(clip) - 1} frames, {rows[name]['size']}, "
              f"CPU {rows[name]['cpu_ms_per_frame']:.0f} ms/frame, load {load_before:.1f}->{load_after:.1f}")
    return rows


def end_to_end(name: str, frames: int, face_model: str) -> float:
    """Frames/s of :func:`facepaint.stylize_video` (decode, paint, encode to H.264 with the
    audio; the first frame excluded, as its report gives it) on the first ``frames`` of a clip."""
    return end_to_end_timed(name, frames, face_model)["fps"]


def end_to_end_timed(name: str, frames: int, face_model: str) -> dict:
    """:func:`end_to_end`'s frames/s, and the wall seconds of the whole call (every frame)."""
    import tempfile

    import facepaint
    from facepaint.pipeline import PipelineConfig

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        report = facepaint.stylize_video(
            MEDIA / name, Path(tmp) / "out.mp4", config=PipelineConfig(face_model=face_model), max_frames=frames
        )
        seconds = time.perf_counter() - t
    return {"fps": float(report.frames_per_second), "seconds": seconds, "frames": int(report.frames)}


def floor_seconds(name: str, frames: int) -> float:
    """The cost floor of :func:`end_to_end` on the same frames: decoding them to RGB arrays and
    encoding them, unpainted, with the same x264 settings (``stylize_video``'s defaults), in one
    thread each as ``stylize_video`` does (a reader ahead of the writer), wall seconds: what
    ``stylize_video(..., measure_floor=True)`` reports as ``floor_seconds``."""
    from facepaint.io.writer import DEFAULT_CRF, DEFAULT_PRESET
    from facepaint.stylize import _floor_seconds

    return _floor_seconds(MEDIA / name, fps=None, start_s=None, end_s=None, max_frames=frames, crf=DEFAULT_CRF, preset=DEFAULT_PRESET)


def _thread_cpu_seconds() -> dict[int, float]:
    """CPU seconds (user + system) of each thread of this process so far, by native id (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # the thread ended
            continue
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def thread_cpu(frames: int, face_model: str) -> dict:
    """Where a frame's CPU goes, by thread: :class:`facepaint.pipeline.Stylizer` paints each speed
    clip's first ``frames`` (decoded first; the first three frames untimed) and each thread's CPU
    time over the timed frames is read from ``/proc`` (Linux): the main thread, the workers
    (faces, flow, fields) and the helper threads of numba's and OpenCV's pools, which Python
    profilers do not see. Then :func:`facepaint.stylize_video` on the same frames: its process CPU
    per frame, of which decoding and the x264 encoder are the difference."""
    import threading

    from facepaint.pipeline import PipelineConfig, Stylizer

    if not Path("/proc/self/task").is_dir():
        raise SystemExit("--part threads reads per-thread CPU times from /proc: Linux only")
    rows = {}
    for name in SPEED_CLIPS:
        clip = _frames(name, frames)
        stylizer = Stylizer(PipelineConfig(face_model=face_model), seed=0)
        for k in range(3):
            stylizer.process(clip[k], upcoming=clip[k + 1])
        before = _thread_cpu_seconds()
        cpu0 = time.process_time()
        for k in range(3, len(clip)):
            stylizer.process(clip[k], upcoming=clip[k + 1] if k + 1 < len(clip) else None)
        stylizer.wait_idle()
        cpu = time.process_time() - cpu0
        after = _thread_cpu_seconds()
        names = {t.native_id: t.name.split("_")[0] for t in threading.enumerate() if t.native_id is not None}
        by: dict[str, float] = {}
        for tid, seconds in after.items():
            label = names.get(tid, "helpers (numba, OpenCV)")
            by[label] = by.get(label, 0.0) + seconds - before.get(tid, 0.0)
        timed = len(clip) - 3
        e2e = end_to_end_cpu(name, frames, face_model)
        rows[name] = {
            "frames_timed": timed,
            "cpu_ms_per_frame": 1000 * cpu / timed,
            "threads_ms_per_frame": {k: 1000 * v / timed for k, v in sorted(by.items(), key=lambda kv: -kv[1])},
            "stage_median_ms": stylizer.stage_milliseconds(),
            "stylize_video_cpu_ms_per_frame": e2e,
        }
        del stylizer
        print(f"{name}: {rows[name]['cpu_ms_per_frame']:.0f} ms of CPU a frame, "
              + ", ".join(f"{k} {v:.0f}" for k, v in rows[name]["threads_ms_per_frame"].items())
              + f"; stylize_video {e2e:.0f}", flush=True)
    return rows


def end_to_end_cpu(name: str, frames: int, face_model: str) -> float:
    """Process CPU milliseconds per frame of :func:`facepaint.stylize_video` on the first ``frames``
    of a clip (decode, paint, encode), from the end of the third frame to the end of the job (the
    models' loading and the first painting excluded, as from the frame loop's figures)."""
    import tempfile

    import facepaint
    from facepaint.pipeline import PipelineConfig

    marks = {}

    def progress(done, total):
        if done == 3:
            marks["cpu"] = time.process_time()

    with tempfile.TemporaryDirectory() as tmp:
        report = facepaint.stylize_video(
            MEDIA / name, Path(tmp) / "out.mp4", config=PipelineConfig(face_model=face_model), max_frames=frames,
            progress=progress,
        )
        return 1000 * (time.process_time() - marks["cpu"]) / max(1, report.frames - 3)


def churn(frames: int, face_model: str, name: str = "foreman_cif.h264") -> dict:
    from facepaint.pipeline import PipelineConfig, Stylizer

    clip = _frames(name, frames)
    stylizer = Stylizer(PipelineConfig(face_model=face_model, keep_history=True), seed=0)
    for image in clip:
        stylizer.process(image)
    hist = stylizer.stats.history
    rows = [
        {
            "frame": s.index,
            "background": s.background_strokes,
            "face": s.face_strokes,
            "added": s.added,
            "deleted": s.deleted_total,
            "deleted_by": s.deleted,
            "repainted": s.repainted,
            "faces": s.faces,
        }
        for s in hist
    ]
    alive = np.array([r["background"] + r["face"] for r in rows])
    cont = [r for r in rows if not r["repainted"]]
    churn_frac = np.array([(r["added"] + r["deleted"]) / max(1, r["background"] + r["face"]) for r in cont])
    summary = {
        "clip": name,
        "frames": len(rows),
        "strokes_first": int(alive[0]),
        "strokes_min": int(alive.min()),
        "strokes_max": int(alive.max()),
        "strokes_last": int(alive[-1]),
        "added_per_frame_median": float(np.median([r["added"] for r in cont])) if cont else 0.0,
        "deleted_per_frame_median": float(np.median([r["deleted"] for r in cont])) if cont else 0.0,
        "churn_fraction_median": float(np.median(churn_frac)) if cont else 0.0,
        "repaints": int(sum(r["repainted"] for r in rows)),
        "deleted_by_reason_total": {
            k: int(sum(r["deleted_by"].get(k, 0) for r in cont))
            for k in sorted({k for r in cont for k in r["deleted_by"]})
        },
    }
    _plot_churn(rows, RESULTS / "animation_churn.png", name)
    print(f"churn on {name}: {json.dumps(summary)}")
    return {"summary": summary, "per_frame": rows}


def _plot_churn(rows: list[dict], path: Path, name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f = [r["frame"] for r in rows]
    fig, (a, b) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    a.plot(f, [r["background"] for r in rows], label="background strokes")
    a.plot(f, [r["face"] for r in rows], label="face strokes")
    a.set_ylabel("strokes alive")
    a.legend()
    a.set_title(f"stroke count and churn per frame, {name}")
    b.plot(f, [r["added"] if not r["repainted"] else np.nan for r in rows], label="added")
    b.plot(f, [r["deleted"] if not r["repainted"] else np.nan for r in rows], label="deleted")
    b.set_ylabel("strokes / frame")
    b.set_xlabel("frame")
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def memory(frames: int, face_model: str, name: str = "foreman_cif.h264") -> dict:
    from facepaint.pipeline import PipelineConfig, Stylizer

    clip = _frames(name, 10_000)
    order = list(range(len(clip))) + list(range(len(clip) - 2, 0, -1))  # ping-pong, no repeated frame
    stylizer = Stylizer(PipelineConfig(face_model=face_model), seed=0)
    samples = []
    start = time.perf_counter()
    for i in range(frames):
        stylizer.process(clip[order[i % len(order)]])
        if i % 50 == 0 or i == frames - 1:
            samples.append({"frame": i, "rss_mib": _rss_mib(), "strokes": len(stylizer.painting.background) + len(stylizer.painting.face)})
    elapsed = time.perf_counter() - start
    rss = np.array([s["rss_mib"] for s in samples])
    after_warmup = rss[len(rss) // 5 :]
    summary = {
        "clip": f"{name} played forwards and backwards",
        "frames": frames,
        "seconds": elapsed,
        "rss_mib_at_frame_100": float(rss[min(2, len(rss) - 1)]),
        "rss_mib_peak": float(rss.max()),
        "rss_mib_last": float(rss[-1]),
        "rss_growth_mib_after_first_fifth": float(after_warmup.max() - after_warmup[0]),
    }
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot([s["frame"] for s in samples], rss)
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.set_ylim(0, rss.max() * 1.1)
    ax2 = ax.twinx()
    ax2.plot([s["frame"] for s in samples], [s["strokes"] for s in samples], color="tab:orange", alpha=0.6)
    ax2.set_ylabel("strokes", color="tab:orange")
    ax.set_xlabel("frame")
    ax.set_ylabel("RSS (MiB)")
    ax.set_title(f"resident memory, {frames} frames of {name} (ping-pong)")
    fig.tight_layout()
    fig.savefig(RESULTS / "animation_memory.png", dpi=100)
    plt.close(fig)
    print(f"memory: {json.dumps(summary)}")
    return {"summary": summary, "samples": samples}


def _speed_in_subprocess(src: Path | None, clip: str, frames: int, face_model: str) -> dict:
    """One clip's speed row measured by a fresh interpreter importing facepaint from ``src``
    (another revision's ``src`` folder; None: this checkout)."""
    import subprocess
    import tempfile

    env = dict(os.environ)
    env["PYTHONPATH"] = str(src if src is not None else ROOT / "src")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "row.json"
        subprocess.run(
            [sys.executable, __file__, "--part", "speed-one", "--clip", clip, "--frames", str(frames),
             "--face-model", face_model, "--row-out", str(out)],
            env=env, check=True,
        )
        return json.loads(out.read_text())


def frame_worker(clip: str, frames: int, face_model: str) -> None:
    """Internal (``--part frame-worker``): stylize ``clip`` one frame per ``next`` line on stdin,
    answering each with the frame's wall and CPU seconds; ``done`` answers with the stage medians."""
    from facepaint.pipeline import PipelineConfig, Stylizer

    images = _frames(clip, frames + 1)
    # An untimed pass over the whole clip first (both processes at once, before either is
    # timed): it compiles every numba kernel that the clip reaches, however late, into this
    # revision's cache, so that no timed frame compiles (a baseline checked out afresh starts
    # with an empty cache, and a kernel first met in frame 60 cost that frame seconds).
    warm = Stylizer(PipelineConfig(face_model=face_model), seed=0)
    for k, image in enumerate(images):
        warm.process(image, **_upcoming(images, k + 1))
    del warm
    stylizer = Stylizer(PipelineConfig(face_model=face_model), seed=0)
    for image in images[:2]:  # the first frame, and the animation's first
        stylizer.process(image)
    print(f"ready {len(images) - 2}", flush=True)  # frames left to time
    k = 2
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["done"] or k >= len(images):
            break
        count = int(words[1]) if len(words) > 1 else 1  # "next N": N frames in a row
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(min(count, len(images) - k)):
            stylizer.process(images[k], **_upcoming(images, k + 1))
            k += 1
        if hasattr(stylizer, "wait_idle"):
            # The work started ahead for the next frame counts in this run's time: it must not
            # run while the other process is being timed.
            stylizer.wait_idle()
        print(json.dumps([time.perf_counter() - t0, time.process_time() - c0]), flush=True)
    print(json.dumps(stylizer.stage_milliseconds()), flush=True)


@contextlib.contextmanager
def _baseline_tree(baseline: str):
    """A temporary git worktree of revision ``baseline``, removed afterwards; yields its path."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), baseline], check=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)


def _short(rev: str) -> str:
    """The abbreviated commit of ``rev``."""
    import subprocess

    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev], capture_output=True, text=True).stdout.strip()


def compare_interleaved(baseline: str, frames: int, face_model: str, run_frames: int = 1) -> dict:
    """Frames/s of this checkout and of ``baseline``, two processes stylizing the same clip frame
    by frame in turn (which one goes first alternates): every frame of one is timed within a
    second of the same frame of the other, so the machine's drift over minutes, which swamps
    run-by-run comparisons, cancels in the per-frame ratios. With ``run_frames`` > 1 each turn is
    a run of that many frames, waited for only at its end: the work a frame starts for the next
    one then overlaps the next frame as in a real video (with one frame a turn it is waited for
    and counted in the frame's own time); the ratios are then per run."""
    import subprocess

    results = {}
    with _baseline_tree(baseline) as tree:
        for clip in SPEED_CLIPS:
            procs = {}
            for label, src in (("baseline", tree / "src"), ("current", ROOT / "src")):
                env = dict(os.environ, PYTHONPATH=str(src))
                procs[label] = subprocess.Popen(
                    [sys.executable, __file__, "--part", "frame-worker", "--clip", clip, "--frames", str(frames),
                     "--face-model", face_model],
                    env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
                )
            left = []
            for p in procs.values():  # decoding, the first frames, numba compilation
                line = p.stdout.readline().split()
                while line[:1] != ["ready"]:
                    line = p.stdout.readline().split()
                left.append(int(line[1]))
            times = {k: [] for k in procs}
            for i in range(min(left) // run_frames):  # frames 2, 3, ... of the clip
                order = ("baseline", "current") if i % 2 == 0 else ("current", "baseline")
                for label in order:
                    procs[label].stdin.write(f"next {run_frames}\n")
                    procs[label].stdin.flush()
                    times[label].append(json.loads(procs[label].stdout.readline()))
            stages = {}
            for label, p in procs.items():
                p.stdin.write("done\n")
                p.stdin.flush()
                stages[label] = json.loads(p.stdout.readline())
                p.wait()
            wall = {k: np.array([t[0] for t in v]) for k, v in times.items()}
            cpu = {k: np.array([t[1] for t in v]) for k, v in times.items()}
            ratio = wall["baseline"] / wall["current"]
            results[clip] = {
                "frames_timed": len(times["baseline"]) * run_frames,
                "frames_per_turn": run_frames,
                "fps": {k: float(len(v) * run_frames / v.sum()) for k, v in wall.items()},
                "median_frame_ms": {k: 1000 * float(np.median(v)) / run_frames for k, v in wall.items()},
                "cpu_ms_per_frame": {k: 1000 * float(v.mean()) / run_frames for k, v in cpu.items()},
                "speedup_total": float(wall["baseline"].sum() / wall["current"].sum()),
                "speedup_median_pair": float(np.median(ratio)),
                "speedup_pair_quartiles": [float(np.quantile(ratio, 0.25)), float(np.quantile(ratio, 0.75))],
                "speedup_cpu": float(cpu["baseline"].sum() / cpu["current"].sum()),
                "stage_median_ms": stages,
            }
            r = results[clip]
            print(f"{clip}: baseline {r['fps']['baseline']:.2f} fps, current {r['fps']['current']:.2f} fps, "
                  f"{r['speedup_total']:.2f}x (per-frame median {r['speedup_median_pair']:.2f}x)", flush=True)
    commit = _short(baseline)
    return {"baseline": f"{baseline} ({commit})", "frames": frames, "results": results}


def compare_end_to_end(baseline: str, frames: int, face_model: str, pairs: int) -> dict:
    """:func:`end_to_end_timed` of ``baseline`` and of this checkout, each run in a fresh
    interpreter, and the decode+encode floor (:func:`floor_seconds`) of the same frames, the three
    taking turns (``pairs`` rounds per clip, the baseline first, after one untimed run of each
    revision that fills its numba cache)."""
    import subprocess

    def run(src: Path, clip: str, part: str = "end-to-end-one") -> dict:
        done = subprocess.run(
            [sys.executable, __file__, "--part", part, "--clip", clip, "--frames", str(frames),
             "--face-model", face_model],
            env=dict(os.environ, PYTHONPATH=str(src)), check=True, capture_output=True, text=True,
        )
        return json.loads(done.stdout.strip().splitlines()[-1])

    rows = []
    with _baseline_tree(baseline) as tree:
        for clip in SPEED_CLIPS:
            for src in (tree / "src", ROOT / "src"):  # untimed: fills each revision's numba cache
                run(src, clip)
            for _ in range(pairs):
                row = {"clip": clip, "baseline": run(tree / "src", clip), "current": run(ROOT / "src", clip),
                       "floor_s": run(ROOT / "src", clip, "floor-one")["seconds"]}
                rows.append(row)
                print(f"end to end, {clip}: {row['baseline']['seconds']:.1f} / {row['current']['seconds']:.1f} s, "
                      f"floor {row['floor_s']:.1f} s", flush=True)
    return {"baseline": f"{baseline} ({_short(baseline)})", "frames": frames, "pairs": rows}


def compare_speed(baseline: str, frames: int, face_model: str, rounds: int) -> dict:
    """Frames/s of this checkout and of the ``baseline`` revision, alternating clip by clip and
    revision by revision in one run (the machine is shared and its speed drifts by tens of
    percent over minutes: only ratios measured side by side mean much)."""

    with _baseline_tree(baseline) as tree:
        runs: dict[str, dict[str, list[dict]]] = {c: {"baseline": [], "current": []} for c in SPEED_CLIPS}
        # Warm-up runs fill each revision's numba cache, so that no timed run compiles.
        for clip in SPEED_CLIPS:
            for src in (tree / "src", None):
                _speed_in_subprocess(src, clip, 6, face_model)
        for _ in range(rounds):
            for clip in SPEED_CLIPS:
                for label, src in (("baseline", tree / "src"), ("current", None)):
                    row = _speed_in_subprocess(src, clip, frames, face_model)
                    runs[clip][label].append(row)
                    print(f"{label} {clip}: {row['fps']:.2f} fps, CPU {row['cpu_ms_per_frame']:.0f} ms/frame", flush=True)
    commit = _short(baseline)
    summary = {}
    for clip, by in runs.items():
        fps = {k: [r["fps"] for r in v] for k, v in by.items()}
        cpu = {k: [r["cpu_ms_per_frame"] for r in v] for k, v in by.items()}
        summary[clip] = {
            "size": by["current"][0]["size"],
            "fps": fps,
            "cpu_ms_per_frame": cpu,
            "fps_median": {k: float(np.median(v)) for k, v in fps.items()},
            "median_frame_ms": {k: [r["median_frame_ms"] for r in v] for k, v in by.items()},
            "stylize_fps": {k: [r["stylize_fps"] for r in v] for k, v in by.items()},
            "speedup_fps": float(np.median(fps["current"]) / np.median(fps["baseline"])),
            "speedup_cpu": float(np.median(cpu["baseline"]) / np.median(cpu["current"])),
            "stage_median_ms": {k: v[-1]["stage_median_ms"] for k, v in by.items()},
        }
    return {"baseline": f"{baseline} ({commit})", "rounds": rounds, "frames": frames, "results": summary}


def repeated_speed(rounds: int, pause_s: float, frames: int, face_model: str) -> dict:
    """``speed`` of this checkout ``rounds`` times, each clip in a fresh interpreter (which also
    times :func:`facepaint.stylize_video` end to end on the same frames), ``pause_s`` seconds
    apart: the machine's speed drifts by tens of percent over minutes, so one run says little
    about whether a target is met; the medians and the range over the rounds do."""
    runs = {clip: [] for clip in SPEED_CLIPS}
    for r in range(rounds):
        if r:
            time.sleep(pause_s)
        for clip in SPEED_CLIPS:
            started = time.strftime("%H:%M:%S")
            row = _speed_in_subprocess(None, clip, frames, face_model)
            row["started"] = started
            runs[clip].append(row)
            print(f"round {r + 1}/{rounds} {clip}: {row['fps']:.2f} fps, stylize_video {row['stylize_fps']:.2f} fps, "
                  f"CPU {row['cpu_ms_per_frame']:.0f} ms/frame", flush=True)
    summary = {}
    for clip, rows in runs.items():
        fps = np.array([r["fps"] for r in rows])
        e2e = np.array([r["stylize_fps"] for r in rows])
        middle = rows[int(np.argsort(fps)[len(fps) // 2])]  # the median run, for its stage times
        summary[clip] = {
            "size": rows[0]["size"],
            "frames_timed": rows[0]["frames_timed"],
            "fps": fps.tolist(),
            "stylize_fps": e2e.tolist(),
            "cpu_ms_per_frame": [r["cpu_ms_per_frame"] for r in rows],
            "load_average_1min": [r["load_average_1min"] for r in rows],
            "started": [r["started"] for r in rows],
            "fps_median": float(np.median(fps)),
            "stylize_fps_median": float(np.median(e2e)),
            "stage_median_ms": middle["stage_median_ms"],
        }
    return {"rounds": rounds, "pause_s": pause_s, "frames": frames, "results": summary}


def _stage_table(results: dict, title: str) -> list[str]:
    """Markdown lines of the stage medians of a comparison, baseline / current, a column per clip."""
    stages = sorted({k for r in results.values() for v in r["stage_median_ms"].values() for k in v})
    lines = ["", title, "", "| stage | " + " | ".join(results) + " |", "|---|" + "---|" * len(results)]
    for k in stages:
        cells = [f"{r['stage_median_ms']['baseline'].get(k, 0):.1f} / {r['stage_median_ms']['current'].get(k, 0):.1f}"
                 for r in results.values()]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return lines


def _clip_stage_table(rows: dict, title: list[str]) -> list[str]:
    """Markdown lines of one revision's stage medians, a column per clip (``rows[clip]["stage_median_ms"]``)."""
    stages = sorted({k for r in rows.values() for k in r["stage_median_ms"]})
    lines = ["", *title, "", "| stage | " + " | ".join(rows) + " |", "|---|" + "---|" * len(rows)]
    for k in stages:
        lines.append(f"| {k} | " + " | ".join(f"{r['stage_median_ms'].get(k, 0):.1f}" for r in rows.values()) + " |")
    return lines


def _write_json(name: str, res: dict, machine: str) -> None:
    """``res`` with the machine's description, as ``benchmarks/results/name``."""
    (RESULTS / name).write_text(json.dumps({**res, "machine": machine}, indent=2))


def _write_report(name: str, lines: list[str]) -> None:
    (RESULTS / name).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["speed", "churn", "memory", "all", "end-to-end", "speed-one", "frame-worker",
                                           "end-to-end-one", "floor-one", "repeated", "threads"], default="all")
    parser.add_argument("--compare-to", metavar="REV", default=None,
                        help="speed: also time git revision REV, alternating with this checkout in one run")
    parser.add_argument("--rounds", type=int, default=2,
                        help="--compare-to: runs of each revision and clip (end-to-end: rounds + 1 pairs); "
                             "--part repeated: runs of this checkout")
    parser.add_argument("--pause", type=float, default=60.0, help="--part repeated: seconds between rounds")
    parser.add_argument("--interleave", action="store_true",
                        help="--compare-to: one process per revision, stylizing the clip frame by frame in turn")
    parser.add_argument("--run-frames", type=int, default=1,
                        help="--interleave: frames per turn (work started for the next frame overlaps it within a turn)")
    parser.add_argument("--clip", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--row-out", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--frames", type=int, default=None, help="frames per clip (speed: 61, churn: 300, memory: 1100)")
    parser.add_argument("--face-model", default="mediapipe")
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {sys.version.split()[0]}"
    if args.part == "speed-one":  # internal: one clip, one revision (see compare_speed)
        row = speed(args.frames or 61, args.face_model, clips=(args.clip,), write_frames=False)[args.clip]
        row["stylize_fps"] = end_to_end(args.clip, args.frames or 61, args.face_model)
        Path(args.row_out).write_text(json.dumps(row))
        return 0
    if args.part == "end-to-end-one":  # internal: see compare_end_to_end
        print(json.dumps(end_to_end_timed(args.clip, args.frames or 61, args.face_model)))
        return 0
    if args.part == "floor-one":  # internal: see compare_end_to_end
        print(json.dumps({"seconds": floor_seconds(args.clip, args.frames or 61)}))
        return 0
    if args.part == "end-to-end":
        if args.compare_to is None:
            parser.error("--part end-to-end needs --compare-to REV")
        res = compare_end_to_end(args.compare_to, args.frames or 61, args.face_model, args.rounds + 1)
        _write_json("stylize_video_pairs.json", res, machine)
        lines = [
            f"# `facepaint.stylize_video` end to end, {res['baseline']} vs this checkout, over the decode+encode floor",
            "",
            f"Machine: {machine}. Decode, paint, H.264 encode (each revision's default x264 settings), audio; the first {res['frames']} frames",
            "of each clip; each round is a run of the baseline, one of this checkout and one of the floor (the same frames",
            "decoded to RGB arrays and encoded with the same x264 settings, nothing painted), each in a fresh interpreter, after",
            "one untimed run of each revision (`--part end-to-end --compare-to REV`). Times: wall seconds of the whole call;",
            "frames/s: the report's (first frame excluded). Medians over the rounds; the ratios are of the medians.",
            "",
            "| clip | frames | floor s | baseline s (x floor) | current s (x floor) | baseline / current frames/s | speed-up |",
            "|---|---|---|---|---|---|---|",
        ]
        for clip in dict.fromkeys(r["clip"] for r in res["pairs"]):
            rs = [r for r in res["pairs"] if r["clip"] == clip]
            fl = float(np.median([r["floor_s"] for r in rs]))
            b = float(np.median([r["baseline"]["seconds"] for r in rs]))
            c = float(np.median([r["current"]["seconds"] for r in rs]))
            bf = float(np.median([r["baseline"]["fps"] for r in rs]))
            cf = float(np.median([r["current"]["fps"] for r in rs]))
            lines.append(f"| {clip} | {rs[0]['current']['frames']} | {fl:.1f} | {b:.1f} ({b / fl:.1f}x) | {c:.1f} ({c / fl:.1f}x) "
                         f"| {bf:.2f} / {cf:.2f} | {b / c:.2f}x |")
        lines += ["", "Rounds (baseline / current / floor seconds):", ""]
        lines += [f"- {r['clip']}: {r['baseline']['seconds']:.1f} / {r['current']['seconds']:.1f} / {r['floor_s']:.1f}" for r in res["pairs"]]
        _write_report("stylize_video_pairs.md", lines)
        return 0
    if args.part == "threads":
        res = thread_cpu(args.frames or 61, args.face_model)
        _write_json("animation_threads.json", {"results": res}, machine)
        lines = [
            "# Where a frame's CPU goes, by thread",
            "",
            f"Machine: {machine}. `python benchmarks/animation_speed.py --part threads`: `Stylizer.process` on decoded",
            "frames (the first three untimed), each thread's CPU from /proc; helpers: numba's and OpenCV's pools.",
            "`stylize_video`: the process's CPU a frame end to end (decoding and the x264 encoder are the difference).",
            "",
            "| clip | frames | CPU ms/frame | main | faces | flow | fields | helpers | stylize_video ms/frame |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for clip, r in res.items():
            t = r["threads_ms_per_frame"]
            lines.append(
                f"| {clip} | {r['frames_timed']} | {r['cpu_ms_per_frame']:.0f} | {t.get('MainThread', 0):.0f} | "
                f"{t.get('facepaint-faces', 0):.0f} | {t.get('facepaint-flow', 0):.0f} | {t.get('facepaint-fields', 0):.0f} | "
                f"{t.get('helpers (numba, OpenCV)', 0):.0f} | {r['stylize_video_cpu_ms_per_frame']:.0f} |"
            )
        lines += _clip_stage_table(res, ["Median wall ms per frame by stage (main thread):"])
        _write_report("animation_threads.md", lines)
        return 0
    if args.part == "repeated":
        res = repeated_speed(args.rounds, args.pause, args.frames or 61, args.face_model)
        _write_json("animation_speed_repeated.json", res, machine)
        lines = [
            f"# Animation speed, {res['rounds']} runs {res['pause_s']:.0f} s apart (first frame excluded)",
            "",
            f"Machine: {machine}; shared with other jobs, whose load drifts over minutes.",
            f"Stylizer: frames/s of `Stylizer.process` on decoded frames ({res['frames'] - 1} timed per run);",
            "stylize_video: the same frames end to end (decode, paint, H.264 encode, audio), in the same",
            "interpreter right after (`--part repeated --rounds K --pause S`).",
            "",
            "| clip | size | Stylizer fps: median (min-max) | per run | stylize_video fps: median (min-max) | CPU ms/frame (median) |",
            "|---|---|---|---|---|---|",
        ]
        for clip, r in res["results"].items():
            fps, e2e = r["fps"], r["stylize_fps"]
            lines.append(
                f"| {clip} | {r['size']} | {r['fps_median']:.2f} ({min(fps):.2f}-{max(fps):.2f}) | "
                f"{', '.join(f'{v:.2f}' for v in fps)} | {r['stylize_fps_median']:.2f} ({min(e2e):.2f}-{max(e2e):.2f}) | "
                f"{np.median(r['cpu_ms_per_frame']):.0f} |"
            )
        lines += _clip_stage_table(res["results"], ["Median wall ms per frame by stage, in the run of median frames/s:"])
        _write_report("animation_speed_repeated.md", lines)
        return 0
    if args.part == "frame-worker":  # internal: see compare_interleaved
        frame_worker(args.clip, args.frames or 61, args.face_model)
        return 0
    if args.compare_to is not None and args.interleave:
        run = args.run_frames
        res = compare_interleaved(args.compare_to, args.frames or 121, args.face_model, run)
        name = "animation_speed_interleaved" if run == 1 else f"animation_speed_interleaved_runs{run}"
        _write_json(f"{name}.json", res, machine)
        turn = "one frame each" if run == 1 else f"runs of {run} frames each (waited for at the run's end only)"
        lines = [
            f"# Animation speed: this checkout vs {res['baseline']}, {turn} in turn",
            "",
            f"Machine: {machine}. Two processes stylize the same frames, {turn} in turn (which goes",
            "first alternates), each after an untimed pass over the clip that compiles its numba kernels;",
            "the first two frames of the clip (the painting, and the first animated frame) are not timed. Speed-up: total time of the baseline over the current one;",
            f"per-{'frame' if run == 1 else 'run'}: median (quartiles) of the ratio of the two times of each {'frame' if run == 1 else 'run'}.",
            "",
            f"| clip | frames timed | baseline fps | current fps | speed-up | per-{'frame' if run == 1 else 'run'} speed-up | CPU ms/frame, baseline / current |",
            "|---|---|---|---|---|---|---|",
        ]
        for clip, r in res["results"].items():
            q = r["speedup_pair_quartiles"]
            lines.append(
                f"| {clip} | {r['frames_timed']} | {r['fps']['baseline']:.2f} | {r['fps']['current']:.2f} | {r['speedup_total']:.2f}x | "
                f"{r['speedup_median_pair']:.2f}x ({q[0]:.2f}-{q[1]:.2f}) | "
                f"{r['cpu_ms_per_frame']['baseline']:.0f} / {r['cpu_ms_per_frame']['current']:.0f} |"
            )
        lines += _stage_table(res["results"], "Median wall ms per frame by stage (baseline / current):")
        _write_report(f"{name}.md", lines)
        return 0
    if args.compare_to is not None:
        res = compare_speed(args.compare_to, args.frames or 61, args.face_model, args.rounds)
        _write_json("animation_speed_compare.json", res, machine)
        lines = [
            f"# Animation speed: this checkout vs {res['baseline']}, alternating in one run",
            "",
            f"Machine: {machine}. {res['rounds']} runs of each revision per clip, {res['frames'] - 1} frames timed per run",
            "(first excluded); medians. Speed-up: ratio of the median frames/s, and of the median CPU time per frame.",
            "stylize_video: the same frames end to end (decode, paint, H.264 encode, audio), in the same runs.",
            "",
            "| clip | size | baseline fps (runs) | current fps (runs) | speed-up (fps) | speed-up (CPU time) | stylize_video fps, baseline / current (medians) |",
            "|---|---|---|---|---|---|---|",
        ]
        for clip, r in res["results"].items():
            runs_b = ", ".join(f"{v:.2f}" for v in r["fps"]["baseline"])
            runs_c = ", ".join(f"{v:.2f}" for v in r["fps"]["current"])
            lines.append(
                f"| {clip} | {r['size']} | {r['fps_median']['baseline']:.2f} ({runs_b}) | {r['fps_median']['current']:.2f} ({runs_c}) | "
                f"{r['speedup_fps']:.2f}x | {r['speedup_cpu']:.2f}x | "
                f"{np.median(r['stylize_fps']['baseline']):.2f} / {np.median(r['stylize_fps']['current']):.2f} |"
            )
        lines += _stage_table(res["results"], "Median wall ms per frame by stage, last run of each (baseline / current):")
        _write_report("animation_speed_compare.md", lines)
        return 0
    if args.part in ("speed", "all"):
        rows = speed(args.frames or 61, args.face_model)
        (RESULTS / "animation_speed.json").write_text(json.dumps({"machine": machine, "results": rows}, indent=2))
        lines = [
            "# Animation speed (first frame excluded)",
            "",
            f"Machine: {machine}; shared with other jobs while measured.",
            "",
            "| clip | size | frames timed | fps | median ms/frame | CPU ms/frame (all threads) | 1-min load avg (before, after) |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, r in rows.items():
            la = r["load_average_1min"]
            lines.append(
                f"| {name} | {r['size']} | {r['frames_timed']} | {r['fps']:.2f} | {r['median_frame_ms']:.0f} | "
                f"{r['cpu_ms_per_frame']:.0f} | {la[0]:.1f}, {la[1]:.1f} |"
            )
        lines += _clip_stage_table(rows, [
            "Median wall ms per frame by stage (inflated by the other jobs on the machine; cpu_total is",
            "the median CPU time of a frame, all threads of the process, which that load inflates least):",
        ])
        (RESULTS / "animation_speed.md").write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
    if args.part in ("churn", "all"):
        res = churn(args.frames or 300, args.face_model)
        (RESULTS / "animation_churn.json").write_text(json.dumps(res, indent=1))
    if args.part in ("memory", "all"):
        res = memory(args.frames or 1100, args.face_model)
        (RESULTS / "animation_memory.json").write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
