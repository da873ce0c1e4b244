"""Robustness on unseen video (issue 17): every clip at full length, the worst clip and third first.

For every clip of ``../shared/media/video`` (at full length) and every stress clip of
``benchmarks/stress_clips.py`` (recipes there), facepaint (``Stylizer.process`` with the next
frame passed along, as ``facepaint stylize`` does; default config unless told) paints the clip
while the output is measured on the fly, frame by frame, against the input:

* the warping error of each frame pair (Lai et al. 2018; Farneback flow of the input with its
  occlusion mask, :func:`facepaint.metrics.correspondence`) of the output and of the input;
* on every ``--face-every``-th frame: the faces dlib finds in the source (HOG, upsampled twice
  where the frame's long side is at most 720 px so that ~20 px faces are found, else once: faces
  from ~40 px, the size the targets are set for), the embedding
  distance of each to the same face in the output (recognizable below 0.6), and the SSIM to the
  input outside the faces (margin 0.3); the source detections and embeddings are cached in
  ``benchmarks/.cache/faces`` (they depend on the source alone);
* the stroke churn (strokes added and deleted per frame over strokes alive).

Per clip and per third of the clip: warping ratio (sum of the output's pair errors over the
input's), recognizable share by face width (<40, 40-80, 80-160, >160, >=40), SSIM outside faces,
churn. The report leads with the worst clip and the worst third (lowest recognizable share of
faces >= 40 px; then highest warping ratio), not a mean.

Usage::

    python benchmarks/robustness.py [--clips a,b] [--max-frames N] [--face-every 5] [--tag after]
        [--stroke-scale S] [--src PATH]   # PATH: another checkout's src/ (the "before" code)
    python benchmarks/robustness.py --part tradeoff [--clips small_face_pan,zoom,enter_leave]
    python benchmarks/robustness.py --part soak [--frames 10000]

Writes ``benchmarks/results/robustness_<tag>.json`` and ``.md``, ``robustness_<tag>_recognizable.png``
(recognizable share over time per clip), ``robustness_<tag>_last_<clip>.jpg`` (the last frame, source
| painting, with the smallest measured face at 100 % and 300 % zoom); the trade-off part writes
``robustness_tradeoff.json/.md/.png``, the soak ``robustness_soak.json/.md/.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import resource
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FACE_CACHE = ROOT / "benchmarks" / ".cache" / "faces"
MEDIA = ROOT / ".." / "shared" / "media" / "video"

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stress_clips  # noqa: E402
from stress_clips import clip_source  # noqa: E402


def _use_src(src: str | None) -> None:
    """Import facepaint from ``src`` (another checkout) instead of this one."""
    path = Path(src).resolve() if src else ROOT / "src"
    sys.path.insert(0, str(path))
    import facepaint

    if not Path(facepaint.__file__).resolve().is_relative_to(path):
        raise SystemExit(f"facepaint was imported from {facepaint.__file__}, not {path}")


def all_clips() -> list[str]:
    real = sorted(p.name for p in MEDIA.iterdir() if p.suffix in (".mp4", ".h264"))
    return real + [f"stress:{name}" for name in stress_clips.CLIPS]


# -- faces of the source, cached ----------------------------------------------------------------
def _upsample_for(image: np.ndarray) -> int:
    return 2 if max(image.shape[:2]) <= 720 else 1


class SourceFaces:
    """dlib detections and embeddings of the source frames, cached on disk per clip."""

    def __init__(self, clip: str, every: int) -> None:
        FACE_CACHE.mkdir(parents=True, exist_ok=True)
        self.path = FACE_CACHE / f"{clip.replace(':', '_')}_every{every}.pkl"
        self.data: dict[int, tuple] = {}
        if self.path.exists():
            with open(self.path, "rb") as fh:
                self.data = pickle.load(fh)
        self.dirty = False

    def get(self, index: int, image: np.ndarray):
        from facepaint.metrics import detect_faces, face_embeddings

        if index not in self.data:
            faces = detect_faces(image, upsample=_upsample_for(image))
            self.data[index] = (faces, face_embeddings(image, faces))
            self.dirty = True
        return self.data[index]

    def save(self) -> None:
        if self.dirty:
            tmp = self.path.with_suffix(".tmp")
            with open(tmp, "wb") as fh:
                pickle.dump(self.data, fh)
            os.replace(tmp, self.path)


# -- one clip -------------------------------------------------------------------------------------
@dataclass
class ClipRecord:
    """Per-frame measurements of one clip."""

    name: str
    width: int = 0
    height: int = 0
    frames: int = 0
    pair_in: list = field(default_factory=list)  # (frame index, error)
    pair_out: list = field(default_factory=list)
    faces: list = field(default_factory=list)  # (frame index, width px, distance)
    ssim: list = field(default_factory=list)  # (frame index, ssim outside faces)
    churn: list = field(default_factory=list)  # (frame index, added, deleted, alive, repainted)
    seconds: float = 0.0


def _painters(kind: str, config, stroke_scale: float):
    """A per-frame painter ``paint(image, upcoming) -> image`` for a method name."""
    from dataclasses import replace

    if kind == "facepaint":
        from facepaint.pipeline import Stylizer

        if stroke_scale != 1.0:
            config = replace(config, strokes=replace(config.strokes, stroke_scale=stroke_scale))
        stylizer = Stylizer(config, seed=0)

        def paint(image, upcoming):
            return stylizer.process(image, upcoming=upcoming)

        paint.stylizer = stylizer
        return paint
    # OpenCV per-frame filters at a strength (see --part tradeoff)
    name, strength = kind.split("@")
    level = float(strength)

    def filt(image, upcoming):
        side = min(image.shape[:2])
        if name == "oil":
            size = max(3, int(round(side * level / 60)))
            return cv2.xphoto.oilPainting(image, size, 1, cv2.COLOR_RGB2Lab)
        if name == "stylization":
            return cv2.stylization(image, sigma_s=min(200.0, 60.0 * level * side / 288), sigma_r=min(0.95, 0.3 + 0.15 * level))
        if name == "pencil":
            _, colour = cv2.pencilSketch(image, sigma_s=min(200.0, 30.0 * level * side / 288), sigma_r=0.08, shade_factor=0.05)
            return colour
        raise ValueError(kind)

    filt.stylizer = None
    return filt


def run_clip(name: str, *, method: str = "facepaint", max_frames: int | None, face_every: int, stroke_scale: float = 1.0,
             stills: Path | None = None, config=None, warp: bool = True) -> ClipRecord:
    """Paint clip ``name`` with ``method`` and measure it frame by frame (see the module
    docstring). ``warp=False`` skips the warping error, and a per-frame filter then paints only
    the frames whose faces are measured (it has no state between frames)."""
    from facepaint.io import open_video
    from facepaint.metrics import face_mask, ssim_outside
    from facepaint.metrics._recognizability import scores_against
    from facepaint.metrics._warping import WarpConfig, correspondence, pair_warping_error
    from facepaint.pipeline import PipelineConfig

    path, fps = clip_source(name)
    reader = open_video(path, fps=fps, max_frames=max_frames)
    paint = _painters(method, config if config is not None else PipelineConfig(), stroke_scale)
    faces_cache = SourceFaces(name, face_every)
    warp = WarpConfig()
    rec = ClipRecord(name=name)
    prev_src = prev_out = None
    started = time.perf_counter()
    frames = iter(reader)
    current = next(frames, None)
    smallest = None  # (width, box) of the smallest face measured on the last face frame
    while current is not None:
        upcoming = next(frames, None)
        src = current.image
        index = current.index
        measured = index % face_every == 0
        if not warp and paint.stylizer is None and not measured:
            current = upcoming
            rec.frames += 1
            continue
        t0 = time.perf_counter()
        out = paint(src, None if upcoming is None else upcoming.image)
        rec.seconds += time.perf_counter() - t0
        st = getattr(paint, "stylizer", None)
        if st is not None and st.stats.last is not None:
            last = st.stats.last
            rec.churn.append((index, last.added, last.deleted_total, last.background_strokes + last.face_strokes, last.repainted))
        if warp and prev_src is not None and prev_src.shape == src.shape:
            corr = correspondence(prev_src, src, warp)
            rec.pair_in.append((index, pair_warping_error(prev_src, src, corr)))
            rec.pair_out.append((index, pair_warping_error(prev_out, out, corr)))
        if measured:
            faces, embeddings = faces_cache.get(index, src)
            exclude = face_mask(src.shape, faces, margin=0.3)
            rec.ssim.append((index, ssim_outside(src, out, exclude)))
            for face, score in zip(faces, scores_against(faces, embeddings, out)):
                rec.faces.append((index, score.width_px, score.distance))
            if faces:
                f = min(faces, key=lambda f: f.width_px)
                smallest = (index, f.box.copy())
        prev_src, prev_out = src, out
        rec.frames += 1
        rec.height, rec.width = src.shape[:2]
        current = upcoming
    faces_cache.save()
    if stills is not None and prev_src is not None:
        _save_last(stills, prev_src, prev_out, smallest)
    return rec


def _save_last(path: Path, src: np.ndarray, out: np.ndarray, smallest) -> None:
    """Source | painting of the last frame (at most 1280 px wide each), and below them the
    smallest face of the last measured frame at 100 % and 300 %."""
    h, w = src.shape[:2]
    scale = min(1.0, 960 / w)
    top = np.concatenate([cv2.resize(src, None, fx=scale, fy=scale), cv2.resize(out, None, fx=scale, fy=scale)], axis=1)
    rows = [top]
    if smallest is not None:
        _, box = smallest
        x0, y0, x1, y1 = box
        cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, max(24.0, 0.9 * (x1 - x0))
        xa, ya = int(max(0, cx - r)), int(max(0, cy - r))
        xb, yb = int(min(w, cx + r)), int(min(h, cy + r))
        crops = [img[ya:yb, xa:xb] for img in (src, out)]
        zoom = [np.concatenate([c, np.zeros_like(c[:, :4])], 1) for c in crops]
        one = np.concatenate(zoom, axis=1)
        three = cv2.resize(one, None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST)
        pad = lambda a: np.pad(a, ((0, 0), (0, max(0, top.shape[1] - a.shape[1])), (0, 0)))[:, : top.shape[1]]
        rows += [pad(one), pad(three)]
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))


# -- summaries ------------------------------------------------------------------------------------
BUCKETS = (("<40", 0, 40), ("40-80", 40, 80), ("80-160", 80, 160), (">160", 160, 1e9), (">=40", 40, 1e9))


def _share(faces, lo, hi) -> tuple[float | None, int]:
    d = [dist for _, width, dist in faces if lo <= width < hi]
    return (float(np.mean(np.array(d) < 0.6)) if d else None), len(d)


def summarize(rec: ClipRecord) -> dict:
    def part(lo: int, hi: int) -> dict:
        pin = sum(e for i, e in rec.pair_in if lo <= i < hi and np.isfinite(e))
        pout = sum(e for i, e in rec.pair_out if lo <= i < hi and np.isfinite(e))
        faces = [f for f in rec.faces if lo <= f[0] < hi]
        ssim = [s for i, s in rec.ssim if lo <= i < hi and np.isfinite(s)]
        churn = [(a + d) / max(alive, 1) for i, a, d, alive, fresh in rec.churn if lo <= i < hi and not fresh]
        out = {
            "frames": [lo, hi],
            "warping_ratio": (pout / pin) if pin > 0 else None,
            "ssim_outside_faces": float(np.mean(ssim)) if ssim else None,
            "churn": float(np.median(churn)) if churn else None,
            "repaints": int(sum(1 for i, *_, fresh in rec.churn if lo <= i < hi and fresh)),
        }
        for bname, blo, bhi in BUCKETS:
            share, count = _share(faces, blo, bhi)
            out[f"recognizable_{bname}"] = share
            out[f"faces_{bname}"] = count
        return out

    n = rec.frames
    thirds = [part(k * n // 3, (k + 1) * n // 3) for k in range(3)]
    whole = part(0, n)
    return {
        "clip": rec.name, "size": [rec.width, rec.height], "frames": n, "whole": whole, "thirds": thirds,
        "paint_fps": (n / rec.seconds) if rec.seconds else None,
    }


def _worst_key(summary: dict, part: dict) -> tuple:
    share = part["recognizable_>=40"]
    return (share if share is not None else 2.0, -(part["warping_ratio"] or 0.0))


def _fmt(v, spec="{:.2f}"):
    return "-" if v is None else spec.format(v)


def _pct(v):
    return "-" if v is None else f"{100 * v:.0f} %"


def write_report(tag: str, summaries: list[dict], records: list[ClipRecord], meta: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"robustness_{tag}.json").write_text(json.dumps({"meta": meta, "clips": summaries}, indent=1))
    lines = [f"# Robustness ({tag})", "", f"{meta['command']}", "",
             f"Machine: {meta['machine']}; {meta['date']}; code: {meta['code']}", ""]
    thirds = [(s, k, t) for s in summaries for k, t in enumerate(s["thirds"])]
    by_ratio = max(summaries, key=lambda s: s["whole"]["warping_ratio"] or 0)
    rec_third = min(thirds, key=lambda x: _worst_key(x[0], x[2]))
    ratio_third = max(thirds, key=lambda x: x[2]["warping_ratio"] or 0)
    with_faces = [s for s in summaries if s["whole"]["faces_>=40"]]
    by_rec = min(with_faces, key=lambda s: s["whole"]["recognizable_>=40"]) if with_faces else None
    lines += ["## Worst", ""]
    if by_rec is not None:
        lines.append(f"- worst clip by recognizable faces >= 40 px: **{by_rec['clip']}** "
                     f"{_pct(by_rec['whole']['recognizable_>=40'])} of {by_rec['whole']['faces_>=40']}")
    s, k, t = rec_third
    lines.append(f"- worst third by recognizable faces >= 40 px: **{s['clip']}**, third {k + 1} (frames {t['frames'][0]}-{t['frames'][1] - 1}): "
                 f"{_pct(t['recognizable_>=40'])} of {t['faces_>=40']}")
    lines.append(f"- worst clip by warping ratio: **{by_ratio['clip']}** {_fmt(by_ratio['whole']['warping_ratio'])}")
    s, k, t = ratio_third
    lines.append(f"- worst third by warping ratio: **{s['clip']}**, third {k + 1}: {_fmt(t['warping_ratio'])}")
    drops = []
    for s in summaries:
        first = s["thirds"][0]["recognizable_>=40"]
        for k in (1, 2):
            later = s["thirds"][k]["recognizable_>=40"]
            if first is not None and later is not None:
                drops.append((first - later, s["clip"], k))
    if drops:
        d, c, k = max(drops)
        lines.append(f"- largest drop of recognizable share from the first third: **{c}**, third {k + 1}: {100 * d:+.0f} points")
    n_ok = sum(1 for s in summaries if (s["whole"]["warping_ratio"] or 0) <= 1.5)
    lines.append(f"- clips with warping ratio <= 1.5: {n_ok} of {len(summaries)}")
    lines += ["", "## Per clip and third (ordered worst first: recognizable share >= 40 px, then warping ratio)", "",
              "| clip | size | frames | third | warp ratio | recog. <40 | 40-80 | 80-160 | >160 | >=40 (n) | SSIM out | churn | repaints |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in sorted(summaries, key=lambda s: min(_worst_key(s, t) for t in s["thirds"])):
        for k, t in enumerate([s["whole"], *s["thirds"]]):
            label = "all" if k == 0 else f"{k}"
            lines.append(
                f"| {s['clip'] if k == 0 else ''} | {'x'.join(map(str, s['size'])) if k == 0 else ''} | "
                f"{s['frames'] if k == 0 else ''} | {label} | {_fmt(t['warping_ratio'])} | {_pct(t['recognizable_<40'])} | "
                f"{_pct(t['recognizable_40-80'])} | {_pct(t['recognizable_80-160'])} | {_pct(t['recognizable_>160'])} | "
                f"{_pct(t['recognizable_>=40'])} ({t['faces_>=40']}) | {_fmt(t['ssim_outside_faces'], '{:.3f}')} | "
                f"{_fmt(t['churn'], '{:.3f}')} | {t['repaints']} |"
            )
    (RESULTS / f"robustness_{tag}.md").write_text("\n".join(lines) + "\n")
    _plot_over_time(tag, records)


def _plot_over_time(tag: str, records: list[ClipRecord]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with_faces = [r for r in records if any(w >= 40 for _, w, _ in r.faces)]
    if not with_faces:
        return
    cols = 4
    rows = -(-len(with_faces) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.4 * rows), squeeze=False)
    for ax, r in zip(axes.ravel(), with_faces):
        by_frame: dict[int, list] = {}
        for i, w, d in r.faces:
            if w >= 40:
                by_frame.setdefault(i, []).append(d < 0.6)
        idx = sorted(by_frame)
        share = [np.mean(by_frame[i]) for i in idx]
        # a running share over 5 sampled frames
        k = 5
        smooth = [np.mean(share[max(0, j - k + 1): j + 1]) for j in range(len(share))]
        ax.plot(idx, smooth, lw=1.5)
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(r.name.replace("stress:", "S:"), fontsize=9)
        for third in (r.frames / 3, 2 * r.frames / 3):
            ax.axvline(third, color="0.7", lw=0.8)
    for ax in axes.ravel()[len(with_faces):]:
        ax.axis("off")
    fig.suptitle(f"recognizable share of faces >= 40 px over time (running mean of 5 samples), {tag}")
    fig.tight_layout()
    fig.savefig(RESULTS / f"robustness_{tag}_recognizable.png", dpi=80)
    plt.close(fig)


def _meta(args) -> dict:
    import subprocess

    try:
        rev = subprocess.run(["git", "-C", str(Path(args.src).resolve() if args.src else ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(Path(args.src).resolve() if args.src else ROOT), "status", "--porcelain", "src"],
                               capture_output=True, text=True).stdout.strip()
    except OSError:
        rev, dirty = "?", ""
    return {
        "command": "python benchmarks/robustness.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "code": rev + (" + uncommitted changes" if dirty else ""),
    }


def with_field(config, dotted: str, value: str):
    """``config`` with the dotted field set (``render.filtered_edges``; the value parsed as JSON,
    else kept as a string): an experiment's change, named on the command line by ``--set``."""
    head, _, rest = dotted.partition(".")
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    if rest:
        return replace(config, **{head: with_field(getattr(config, head), rest, value)})
    return replace(config, **{head: parsed})


def _config(args):
    """The pipeline's config: the default, or with ``--face-model`` (and its ``--weights``), and
    every ``--set field=value``."""
    from facepaint.pipeline import PipelineConfig

    config = PipelineConfig()
    if args.face_model != "mediapipe":
        options = {"weights": args.weights} if args.weights else {}
        config = PipelineConfig(face_model=args.face_model, face_options=options)
    for item in args.set:
        key, _, value = item.partition("=")
        config = with_field(config, key, value)
    return config


def part_clips(args) -> None:
    clips = args.clips.split(",") if args.clips else all_clips()
    summaries, records = [], []
    for name in clips:
        t0 = time.perf_counter()
        safe = name.replace("stress:", "stress_").replace(".", "_")
        rec = run_clip(name, max_frames=args.max_frames, face_every=args.face_every, stroke_scale=args.stroke_scale,
                       stills=RESULTS / f"robustness_{args.tag}_last_{safe}.jpg", config=_config(args))
        s = summarize(rec)
        summaries.append(s)
        records.append(rec)
        w = s["whole"]
        print(f"{name}: {rec.frames} frames in {time.perf_counter() - t0:.0f} s, warp ratio {_fmt(w['warping_ratio'])}, "
              f"recognizable >=40 {_pct(w['recognizable_>=40'])} ({w['faces_>=40']}), thirds "
              + " / ".join(_pct(t["recognizable_>=40"]) for t in s["thirds"])
              + ", ratios " + " / ".join(_fmt(t["warping_ratio"]) for t in s["thirds"]), flush=True)
        write_report(args.tag, summaries, records, _meta(args))


def part_tradeoff(args) -> None:
    clips = args.clips.split(",") if args.clips else ["stress:small_face_pan", "stress:zoom", "stress:enter_leave", "stress:title_sky"]
    methods = [("facepaint", s) for s in (0.5, 1.0, 2.0, 3.0)] + [
        (f"{f}@{lvl}", 1.0) for f in ("oil", "stylization", "pencil") for lvl in (1, 2, 3)]
    rows = []
    for method, scale in methods:
        faces, ssim = [], []
        for name in clips:
            rec = run_clip(name, method=method, max_frames=args.max_frames, face_every=args.face_every, stroke_scale=scale,
                           warp=False)
            faces += rec.faces
            ssim += [s for _, s in rec.ssim if np.isfinite(s)]
        share, count = _share(faces, 40, 1e9)
        row = {"method": method if method != "facepaint" else f"facepaint x{scale:g}", "recognizable_>=40": share,
               "faces": count, "ssim_outside_faces": float(np.mean(ssim))}
        rows.append(row)
        print(row, flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "robustness_tradeoff.json").write_text(json.dumps({"meta": _meta(args), "clips": clips, "rows": rows}, indent=1))
    lines = ["# Stroke scale trade-off", "", _meta(args)["command"], "", f"clips: {', '.join(clips)}", "",
             "| method | recognizable >= 40 px | faces | SSIM outside faces |", "|---|---|---|---|"]
    lines += [f"| {r['method']} | {_pct(r['recognizable_>=40'])} | {r['faces']} | {r['ssim_outside_faces']:.3f} |" for r in rows]
    (RESULTS / "robustness_tradeoff.md").write_text("\n".join(lines) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for family, marker in (("facepaint", "o"), ("oil", "s"), ("stylization", "^"), ("pencil", "v")):
        pts = [(r["ssim_outside_faces"], r["recognizable_>=40"] or 0, r["method"]) for r in rows if r["method"].startswith(family)]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=marker, label=family)
        for x, y, label in pts:
            ax.annotate(label.split(" ")[-1].replace(family + "@", ""), (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("SSIM to the source outside faces (lower: painted more strongly)")
    ax.set_ylabel("recognizable share, faces >= 40 px")
    ax.invert_xaxis()
    ax.legend()
    ax.set_title("painting strength vs recognizable faces (small-face clips)")
    fig.tight_layout()
    fig.savefig(RESULTS / "robustness_tradeoff.png", dpi=90)
    plt.close(fig)


def part_soak(args) -> None:
    """The soak: one long clip, the painting of its first 300 frames against that of its latest
    300 (written every 500 frames, so a run stopped early still reports how far it got)."""
    from collections import deque

    from facepaint.metrics import detect_faces, face_embeddings, ssim_map
    from facepaint.metrics._recognizability import scores_against
    from facepaint.pipeline import PipelineConfig, Stylizer

    n = args.frames
    window = 300
    stylizer = Stylizer(PipelineConfig(), seed=0)
    gen = stress_clips.soak_frames(n)
    current = next(gen)
    first: list[dict] = []
    recent: deque = deque(maxlen=window // 5)
    rss = []
    cache: dict[int, tuple] = {}
    t0 = time.perf_counter()
    RESULTS.mkdir(parents=True, exist_ok=True)
    for t in range(n):
        upcoming = next(gen, None)
        out = stylizer.process(current, upcoming=upcoming)
        if t % 100 == 0:
            rss.append((t, _rss_mib()))
        # Faces are scored every 5th frame of the first 300 and of the last 300 of every 1000
        # (the report compares the first window with the latest one; scoring every frame in
        # between cost as much as the painting).
        if t % 5 == 0 and (t < window or t % 1000 >= 1000 - window):
            # the soak source repeats with period 2 * 199: its faces are found once per source frame
            key = t % (2 * 199)
            if key not in cache:
                faces = detect_faces(current, upsample=1)
                cache[key] = (faces, face_embeddings(current, faces))
            faces, emb = cache[key]
            scores = scores_against(faces, emb, out)
            inside = []
            for f in faces:
                x0, y0, x1, y1 = [int(v) for v in f.box]
                inside.append(float(np.mean(ssim_map(current[max(0, y0):y1, max(0, x0):x1], out[max(0, y0):y1, max(0, x0):x1]))))
            sample = {"t": t, "recognizable": [s.distance < 0.6 for s in scores], "distance": [s.distance for s in scores],
                      "ssim_inside": inside}
            (first if t < window else recent).append(sample)
        if t == window - 1:
            cv2.imwrite(str(RESULTS / "robustness_soak_first.jpg"), cv2.cvtColor(np.concatenate([current, out], 1), cv2.COLOR_RGB2BGR))
        done = t + 1
        if done == n or (done >= 2 * window and done % 500 == 0):
            cv2.imwrite(str(RESULTS / "robustness_soak_last.jpg"), cv2.cvtColor(np.concatenate([current, out], 1), cv2.COLOR_RGB2BGR))
            _write_soak(args, n, done, window, first, list(recent), rss, time.perf_counter() - t0)
        current = upcoming


def _write_soak(args, n, done, window, first, recent, rss, seconds) -> None:
    def agg(rows):
        rec = [r for row in rows for r in row["recognizable"]]
        ssim = [s for row in rows for s in row["ssim_inside"]]
        dist = [d for row in rows for d in row["distance"]]
        return {"faces": len(rec), "recognizable": float(np.mean(rec)) if rec else None,
                "ssim_inside_faces": float(np.mean(ssim)) if ssim else None,
                "median_distance": float(np.median(dist)) if dist else None,
                "frames": [rows[0]["t"], rows[-1]["t"]] if rows else None}

    result = {"meta": _meta(args), "frames_planned": n, "frames_done": done, "first": agg(first), "last": agg(recent),
              "rss_mib": rss, "seconds": seconds}
    (RESULTS / "robustness_soak.json").write_text(json.dumps(result, indent=1))
    f, l = result["first"], result["last"]
    later = [r for t, r in rss if t >= done // 5]
    lines = ["# Soak", "", result["meta"]["command"], "",
             f"{done} of {n} frames of the soak clip (640x360, speech_512 played forwards and backwards), {seconds:.0f} s"
             + ("" if done == n else " (stopped early: the figures are those of the frames done)"), "",
             "| window | frames | faces | recognizable | SSIM inside faces | median distance |", "|---|---|---|---|---|---|",
             f"| first {window} | {f['frames']} | {f['faces']} | {_pct(f['recognizable'])} | {_fmt(f['ssim_inside_faces'], '{:.3f}')} | {_fmt(f['median_distance'], '{:.3f}')} |",
             f"| latest {window} | {l['frames']} | {l['faces']} | {_pct(l['recognizable'])} | {_fmt(l['ssim_inside_faces'], '{:.3f}')} | {_fmt(l['median_distance'], '{:.3f}')} |",
             "", f"Resident memory: {rss[0][1]:.0f} MiB at frame 0, {min(later):.0f}-{max(later):.0f} MiB after frame {done // 5}."]
    (RESULTS / "robustness_soak.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)


def _rss_mib() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("clips", "tradeoff", "soak"), default="clips")
    parser.add_argument("--clips", help="comma-separated clip names (files of shared/media/video, stress:<name>)")
    parser.add_argument("--max-frames", type=int)
    parser.add_argument("--face-every", type=int, default=5)
    parser.add_argument("--stroke-scale", type=float, default=1.0)
    parser.add_argument("--tag", default="after")
    parser.add_argument("--src", help="import facepaint from this src/ folder (e.g. a worktree of the previous release)")
    parser.add_argument("--frames", type=int, default=10_000, help="soak length")
    parser.add_argument("--face-model", default="mediapipe", help="face model of the pipeline (e.g. maskrcnn, with --weights)")
    parser.add_argument("--weights", help="checkpoint of --face-model maskrcnn")
    parser.add_argument("--set", action="append", default=[], help="dotted PipelineConfig field=value (an experiment)")
    args = parser.parse_args()
    _use_src(args.src)
    {"clips": part_clips, "tradeoff": part_tradeoff, "soak": part_soak}[args.part](args)


if __name__ == "__main__":
    main()
