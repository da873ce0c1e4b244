"""Where a painting's warping error comes from (issue 17): the error split by kind of pixel.

The warping ratio of a clip (``benchmarks/robustness.py``) says how much the output flickers
against the input, not why. This script paints a clip with the default ``Stylizer`` and, on every
``--every``-th frame pair, splits the output's and the input's squared warping error
(:mod:`facepaint.metrics._warping`: Farneback flow of the input, its occlusion and
motion-boundary mask) over pixel classes, each pixel in the first that applies:

* ``face``: the face regions (1 and 2) of either frame, grown by 4 px;
* ``churn``: the footprint of strokes born, fading in or out, or removed between the two frames;
* ``recolour``: the footprint of kept strokes whose colour changed by more than 2 levels;
* ``edge``: within 8 px of a pixel the metric masked (motion boundary or occlusion);
* ``static``: the input's flow is under 0.3 px;
* ``moving``: the rest.

Per class: share of the measured pixels, of the output's error and of the input's, and the
class's own ratio (output error over input error there). Also the background strokes' motion
against the metric's flow at their centres (median and 90th percentile of the difference, in
pixels), the tracking error the metric sees.

Usage::

    python benchmarks/warp_anatomy.py CLIP [CLIP ...] [--max-frames N] [--every 2] [--tag NAME]
        [--set temporal.colour_rate=0]   # any PipelineConfig field, dotted, for an experiment

Writes ``benchmarks/results/warp_anatomy_<tag>.md`` and ``.json``, and for the pair of largest
output error of each clip a JPEG, at most 1600 px wide (source | output | output error | input
error: RMS difference x8).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from robustness import with_field  # noqa: E402
from stress_clips import clip_source  # noqa: E402

from facepaint.strokes.models import particle_means  # noqa: E402

CLASSES = ("face", "churn", "recolour", "edge", "static", "moving")


def _footprint(strokes, shape) -> np.ndarray:
    """Where ``strokes`` paint (bool), drawn alone at full opacity."""
    from facepaint.render import render_strokes

    mask = np.zeros(shape, np.float32)
    if len(strokes):
        strokes = replace(strokes, opacity=np.ones(len(strokes), np.float32))
        render_strokes(strokes, np.zeros((*shape, 3), np.float32), mask)
    return mask > 0.05


def _classes(prev, cur, prev_regions, cur_regions, corr, shape) -> np.ndarray:
    """(H, W) uint8 class index into CLASSES (see the module docstring)."""
    h, w = shape
    face = (cur_regions.labels != 3) | (prev_regions.labels != 3)
    face = cv2.dilate(face.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    changed_prev, changed_cur, recoloured = [], [], []
    for a, b in ((prev.background, cur.background), (prev.face, cur.face)):
        common, ia, ib = np.intersect1d(a.ids, b.ids, return_indices=True)
        gone = np.ones(len(a), bool)
        gone[ia] = False
        born = np.ones(len(b), bool)
        born[ib] = False
        fading = (b.opacity < 1.0) | b.fading_out
        fading[ib] |= (a.opacity[ia] < 1.0) | a.fading_out[ia]
        changed_prev.append(a.take(np.flatnonzero(gone)))
        changed_cur.append(b.take(np.flatnonzero(born | fading)))
        steady = ~fading[ib]
        dcol = np.abs(b.colors[ib] - a.colors[ia]).max(axis=1) * 255.0  # colours are RGB in [0, 1]
        recoloured.append(b.take(ib[steady & (dcol > 2.0)]))
    churn = np.zeros(shape, bool)
    for s in changed_prev + changed_cur:
        churn |= _footprint(s, shape)
    recolour = np.zeros(shape, bool)
    for s in recoloured:
        recolour |= _footprint(s, shape)
    masked = ~corr.valid
    edge = cv2.dilate(masked.astype(np.uint8), np.ones((17, 17), np.uint8)) > 0
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    speed = np.hypot(corr.map_x - gx, corr.map_y - gy)
    static = speed < 0.3
    out = np.full(shape, CLASSES.index("moving"), np.uint8)
    for name, where in reversed(list(zip(CLASSES[:-1], (face, churn, recolour, edge, static)))):
        out[where] = CLASSES.index(name)
    return out


def _tracking(prev, cur, corr) -> np.ndarray:
    """|stroke centre motion - metric flow| for background strokes in both frames (pixels)."""
    common, ia, ib = np.intersect1d(prev.background.ids, cur.background.ids, return_indices=True)
    if not len(common):
        return np.zeros(0)
    c0 = particle_means(prev.background.positions[ia])
    c1 = particle_means(cur.background.positions[ib])
    h, w = corr.map_x.shape
    x = np.clip(np.rint(c1[:, 0]).astype(int), 0, w - 1)
    y = np.clip(np.rint(c1[:, 1]).astype(int), 0, h - 1)
    ok = corr.valid[y, x]
    back = np.stack([corr.map_x[y, x] - x, corr.map_y[y, x] - y], axis=1)  # t -> t-1
    stroke_back = c0 - c1
    return np.hypot(*(stroke_back - back)[ok].T)


def run(name: str, args, config) -> dict:
    from facepaint.io import open_video
    from facepaint.metrics._warping import WarpConfig, correspondence
    from facepaint.pipeline import Stylizer

    path, fps = clip_source(name)
    stylizer = Stylizer(config, seed=0)
    warp = WarpConfig()
    sums_out = np.zeros(len(CLASSES))
    sums_in = np.zeros(len(CLASSES))
    counts = np.zeros(len(CLASSES))
    total_out = total_in = 0.0
    track: list[np.ndarray] = []
    worst = (-1.0, None)
    prev = None
    frames = iter(open_video(path, fps=fps, max_frames=args.max_frames))
    current = next(frames, None)
    started = time.perf_counter()
    n = 0
    while current is not None:
        upcoming = next(frames, None)
        src = current.image
        out = stylizer.process(src, upcoming=None if upcoming is None else upcoming.image)
        state = (src, out, stylizer.painting, stylizer.regions)
        if prev is not None and prev[0].shape == src.shape and stylizer.stats.last is not None and not stylizer.stats.last.repainted and n % args.every == 0:
            corr = correspondence(prev[0], src, warp)
            warped_out = cv2.remap(prev[1], corr.map_x, corr.map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            warped_in = cv2.remap(prev[0], corr.map_x, corr.map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            e_out = (((out.astype(np.float32) - warped_out) / 255.0) ** 2).sum(axis=2)
            e_in = (((src.astype(np.float32) - warped_in) / 255.0) ** 2).sum(axis=2)
            classes = _classes(prev[2], stylizer.painting, prev[3], stylizer.regions, corr, src.shape[:2])
            valid = corr.valid
            nv = max(1, int(valid.sum()))
            for k in range(len(CLASSES)):
                sel = valid & (classes == k)
                sums_out[k] += e_out[sel].sum() / nv
                sums_in[k] += e_in[sel].sum() / nv
                counts[k] += sel.sum() / nv
            pair_out = float(e_out[valid].sum() / nv)
            total_out += pair_out
            total_in += float(e_in[valid].sum() / nv)
            track.append(_tracking(prev[2], stylizer.painting, corr))
            if pair_out > worst[0]:
                worst = (pair_out, (current.index, src, out, np.where(valid, e_out, 0), np.where(valid, e_in, 0)))
        prev = state
        n += 1
        current = upcoming
    seconds = time.perf_counter() - started
    moves = np.concatenate(track) if track else np.zeros(0)
    row = {
        "clip": name, "frames": n, "seconds": seconds,
        "ratio": total_out / total_in if total_in else float("nan"),
        "classes": {
            c: {
                "pixels": counts[k] / max(1, counts.sum()),
                "out_share": sums_out[k] / total_out if total_out else float("nan"),
                "in_share": sums_in[k] / total_in if total_in else float("nan"),
                "ratio": sums_out[k] / sums_in[k] if sums_in[k] else float("nan"),
                "excess_share": (sums_out[k] - sums_in[k]) / (total_out - total_in) if total_out > total_in else float("nan"),
            }
            for k, c in enumerate(CLASSES)
        },
        "tracking_px": {"median": float(np.median(moves)) if len(moves) else None,
                        "p90": float(np.percentile(moves, 90)) if len(moves) else None},
    }
    if worst[1] is not None:
        index, src, out, e_out, e_in = worst[1]
        vis = lambda e: cv2.cvtColor(np.clip(np.sqrt(e / 3.0) * 8.0 * 255.0, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2RGB)  # noqa: E731
        top = np.hstack([src, out])
        bottom = np.hstack([vis(e_out), vis(e_in)])
        still = np.vstack([top, bottom])
        still = cv2.resize(still, None, fx=min(1.0, 1600 / still.shape[1]), fy=min(1.0, 1600 / still.shape[1]), interpolation=cv2.INTER_AREA)
        file = RESULTS / f"warp_anatomy_{args.tag}_{name.replace(':', '_').replace('.', '_')}_{index:04d}.jpg"
        cv2.imwrite(str(file), cv2.cvtColor(still, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
        row["worst_pair"] = {"frame": index, "file": file.name}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clips", nargs="+")
    parser.add_argument("--max-frames", type=int)
    parser.add_argument("--every", type=int, default=2)
    parser.add_argument("--tag", default="default")
    parser.add_argument("--set", action="append", default=[], help="dotted PipelineConfig field=value")
    args = parser.parse_args()
    from facepaint.pipeline import PipelineConfig

    config = PipelineConfig()
    for item in args.set:
        key, _, value = item.partition("=")
        config = with_field(config, key, value)
    rows = []
    for name in args.clips:
        row = run(name, args, config)
        rows.append(row)
        print(json.dumps(row, indent=1), flush=True)
    lines = [f"# Warping error by pixel class ({args.tag})", "",
             f"`python benchmarks/warp_anatomy.py {' '.join(sys.argv[1:])}`", "",
             "Per class: share of measured pixels / of the output's error / of the input's error; the class's own ratio; "
             "share of the excess (output minus input error).", ""]
    for row in rows:
        lines += [f"## {row['clip']} ({row['frames']} frames, ratio {row['ratio']:.2f}; background strokes vs the metric's flow: "
                  f"median {row['tracking_px']['median']} px, p90 {row['tracking_px']['p90']} px)", "",
                  "| class | pixels | output error | input error | ratio | share of excess |", "|---|---|---|---|---|---|"]
        for c, v in row["classes"].items():
            lines.append(f"| {c} | {v['pixels']:.1%} | {v['out_share']:.1%} | {v['in_share']:.1%} | {v['ratio']:.2f} | {v['excess_share']:.1%} |")
        lines.append("")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"warp_anatomy_{args.tag}.md").write_text("\n".join(lines) + "\n")
    (RESULTS / f"warp_anatomy_{args.tag}.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
