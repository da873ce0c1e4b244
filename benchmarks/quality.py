"""Quality of facepaint against its peers on the same clips (issue 7).

For each clip, every method stylizes the same first ``--frames`` frames at native resolution and
:func:`facepaint.metrics.evaluate_frames` measures, in one streaming pass shared by all methods:

* the temporal warping error (Lai et al. 2018, Farneback flow of the input, occlusion mask)
  next to the input's own, and their ratio (target: <= 1.5);
* recognizability: dlib embedding distance of each source face (HOG detector on the source
  frame) to the same face in the output, aligned with the source's landmarks; share under 0.6 per
  face-width bucket (target: >= 95 % on faces >= 40 px), and the 68-point NME on the output;
* SSIM to the input outside the faces, i.e. how much the method actually paints.

Methods:

* ``identity``: the input itself, the reference that shows why strength is measured (it has
  warp ratio 1 and every face recognizable, and paints nothing);
* ``facepaint``: the full method (:class:`facepaint.pipeline.Stylizer`, default config);
* ``facepaint_sharp``: the full method with nearest-texel brush textures (``--sharp-textures``;
  bilinear ones are the default since issue 17);
* ``facepaint_noface``: no face model, every pixel painted as region 3 (the paper's baseline);
* ``facepaint_repaint``: every frame painted from scratch (no temporal coherence);
* ``oil_painting``: OpenCV ``xphoto.oilPainting`` per frame, size 1/60 of the shorter side
  (at least 3; 5 px at 288p, 12 px at 720p), dynRatio 1;
* ``oil_painting_strong``: the same with size 1/30 (at least 5);
* ``stylization``: OpenCV ``stylization`` per frame (edge-preserving smoothing and edges),
  sigma_s 60 px per 288 px of the shorter side (at most 200), sigma_r 0.45.

The peers' sizes scale with the frame so that they paint every clip about as strongly.

A method that cannot run (e.g. the pipeline or its face model is not installed) is reported as
skipped with the reason, and the others go on.

Usage::

    /work/venv/bin/python benchmarks/quality.py [--frames 80] [--clips a.mp4,b.mp4]
        [--methods facepaint,oil_painting] [--face-every 8] [--flow farneback|tvl1] [--crf 18]

Writes under ``benchmarks/results/``: ``quality.json`` (every figure), ``quality.md`` (the
summary table for the README), ``quality_warping.png``, ``quality_recognizability.png``,
``quality_tradeoff.png`` and ``quality_still_<clip>.jpg`` (every method on the same frame, with
a zoom on the largest face). With ``--crf N`` every output is first round-tripped through H.264
(what a user gets; the codec smooths flicker) and the files are called ``quality_crfN*``;
with ``--flow tvl1`` they are called ``quality_tvl1*``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT / ".." / "shared" / "media" / "video"
RESULTS = ROOT / "benchmarks" / "results"
#: prefix of every result file; ``quality_tvl1`` / ``quality_crf<N>`` for the other flow / H.264
STEM = "quality"

#: Small faces (salesman, ~27 px), a moving small face (carphone, 26-72 px), a near-static anchor
#: (akiyo, ~80 px) and a large face with a hand passing in front (lp_d12, 512x512, ~250 px).
#: lp_s32 (720p) was dropped: its bokeh background keeps SSIM near 0.94 for every method, so it
#: cannot tell strengths apart, and it alone took 10 minutes.
DEFAULT_CLIPS = ("salesman_qcif.mp4", "carphone_qcif.mp4", "akiyo.mp4", "lp_d12.mp4")

Method = Callable[[np.ndarray], np.ndarray]


def _bgr_filter(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[], Method]:
    def make() -> Method:
        def run(image: np.ndarray) -> np.ndarray:
            return cv2.cvtColor(fn(cv2.cvtColor(image, cv2.COLOR_RGB2BGR)), cv2.COLOR_BGR2RGB)

        return run

    return make


def _scaled(image: np.ndarray, share: float, least: int) -> int:
    """A filter size in pixels that is ``share`` of the frame's shorter side (at least ``least``):
    fixed sizes paint a QCIF frame heavily and leave a 720p frame almost untouched, which would
    compare the peers at very different stylization strengths."""
    return max(least, round(share * min(image.shape[:2])))


def _stylizer(**options) -> Callable[[], Method]:
    def make() -> Method:
        from facepaint.pipeline import PipelineConfig, Stylizer

        return Stylizer(PipelineConfig(**options), seed=0).process

    return make


METHODS: dict[str, Callable[[], Method]] = {
    "identity": lambda: np.copy,
    "facepaint": _stylizer(),
    "facepaint_sharp": _stylizer(bilinear_textures=False),
    "facepaint_noface": _stylizer(face_model="none"),
    "facepaint_repaint": _stylizer(repaint_every_frame=True),
    "oil_painting": _bgr_filter(lambda bgr: cv2.xphoto.oilPainting(bgr, _scaled(bgr, 1 / 60, 3), 1)),
    "oil_painting_strong": _bgr_filter(lambda bgr: cv2.xphoto.oilPainting(bgr, _scaled(bgr, 1 / 30, 5), 1)),
    "stylization": _bgr_filter(
        lambda bgr: cv2.stylization(bgr, sigma_s=min(200, _scaled(bgr, 60 / 288, 10)), sigma_r=0.45)
    ),
}

LABELS = {
    "identity": "input unchanged (reference)",
    "facepaint": "facepaint",
    "facepaint_sharp": "facepaint --sharp-textures",
    "facepaint_noface": "facepaint, no face model",
    "facepaint_repaint": "facepaint, repaint every frame",
    "oil_painting": "OpenCV oilPainting (size 1/60)",
    "oil_painting_strong": "OpenCV oilPainting (size 1/30)",
    "stylization": "OpenCV stylization",
}


@dataclass
class Timed:
    """Wraps a method's output stream: times it and keeps the still frame."""

    seconds: float = 0.0
    frames: int = 0
    still: np.ndarray | None = None


def _stream(method: Method, frames: list[np.ndarray], timed: Timed, still_index: int) -> Iterator[np.ndarray]:
    for index, image in enumerate(frames):
        start = time.perf_counter()
        out = method(image)
        timed.seconds += time.perf_counter() - start
        timed.frames += 1
        if index == still_index:
            timed.still = out.copy()
        yield out


def read_clip(name: str, count: int) -> tuple[list[np.ndarray], float]:
    from facepaint.io import open_video

    reader = open_video(MEDIA / name, max_frames=count)
    return [frame.image for frame in reader], reader.info.fps


def usable_methods(names: list[str], probe: np.ndarray) -> tuple[list[str], dict[str, str]]:
    """Run each method once on ``probe``; those that raise are skipped with the reason."""
    ok, skipped = [], {}
    for name in names:
        try:
            out = METHODS[name]()(probe)
            if out.shape != probe.shape or out.dtype != np.uint8:
                raise TypeError(f"returned {out.shape} {out.dtype}, expected {probe.shape} uint8")
            ok.append(name)
        except Exception as error:  # noqa: BLE001 - the benchmark reports it and goes on
            skipped[name] = f"{type(error).__name__}: {error}"
            traceback.print_exc(limit=3, file=sys.stderr)
    return ok, skipped


def _encoded(stream: Iterator[np.ndarray], path: Path, fps: float, crf: int) -> list[np.ndarray]:
    """Write a method's whole output with libx264 at ``crf``, then decode it back."""
    from facepaint.io import VideoWriter, open_video

    with VideoWriter(path, fps=fps, crf=crf) as writer:
        for image in stream:
            writer.write(image)
    return [frame.image for frame in open_video(path)]


def run_clip(name: str, count: int, methods: list[str], face_every: int, flow: str, crf: int | None) -> dict:
    import tempfile

    from facepaint.metrics import EvaluationConfig, WarpConfig, detect_faces, evaluate_frames

    frames, fps = read_clip(name, count)
    still_index = len(frames) // 2
    timers = {m: Timed() for m in methods}
    outputs = {m: _stream(METHODS[m](), frames, timers[m], still_index) for m in methods}
    start = time.perf_counter()
    if crf is not None:
        # what a user gets: each output round-tripped through H.264 before it is measured
        with tempfile.TemporaryDirectory(prefix="facepaint_quality_") as scratch:
            outputs = {m: _encoded(s, Path(scratch) / f"{m}.mp4", fps, crf) for m, s in outputs.items()}
    config = EvaluationConfig(warp=WarpConfig(flow=flow), face_every_n_frames=face_every)
    reports = evaluate_frames(frames, outputs, config)
    total = time.perf_counter() - start
    metric_seconds = total - sum(t.seconds for t in timers.values())  # includes any encoding
    height, width = frames[0].shape[:2]
    still_faces = detect_faces(frames[still_index])
    return {
        "clip": name,
        "size": [width, height],
        "fps": fps,
        "frames": len(frames),
        "metric_seconds": metric_seconds,
        "reports": reports,
        "seconds_per_frame": {m: timers[m].seconds / max(timers[m].frames, 1) for m in methods},
        "stills": {"input": frames[still_index], **{m: timers[m].still for m in methods}},
        "still_index": still_index,
        "still_faces": still_faces,
    }


# -- output -------------------------------------------------------------------------------------


def _pct(value: float) -> str:
    return "-" if value != value else f"{100 * value:.0f} %"


def _num(value: float, spec: str = ".2f") -> str:
    return "-" if value != value else format(value, spec)


def gmean_ratio(clips: list[dict], method: str) -> float:
    """Geometric mean over clips of the warping ratio: ratios multiply, and a near-static clip
    (tiny input error, huge ratios) must not drown the others as it would in an arithmetic mean."""
    ratios = np.array([c["reports"][method].warping_ratio for c in clips], dtype=np.float64)
    ratios = ratios[np.isfinite(ratios) & (ratios > 0)]
    return float(np.exp(np.mean(np.log(ratios)))) if ratios.size else float("nan")


def pooled_buckets(clips: list[dict], method: str):
    """Face statistics of ``method`` over all clips together."""
    from facepaint.metrics import FaceScore, summarize_faces

    scores = []
    for clip in clips:
        report = clip["reports"][method]
        scores.extend(
            FaceScore(width_px=w, distance=d, nme=e)
            for w, d, e in zip(report.face_widths_px, report.face_distances, report.face_nme)
        )
    return {b.name: b for b in summarize_faces(scores)}


def write_json(clips: list[dict], methods: list[str], skipped: dict[str, str], args) -> dict:
    data = {
        "frames_per_clip": args.frames,
        "face_every_n_frames": args.face_every,
        "flow": args.flow,
        "crf": args.crf,
        "methods": methods,
        "skipped": skipped,
        "clips": [
            {
                "clip": c["clip"],
                "size": c["size"],
                "frames": c["frames"],
                "metric_seconds": c["metric_seconds"],
                "seconds_per_frame": c["seconds_per_frame"],
                "reports": {m: c["reports"][m].to_dict() for m in methods},
            }
            for c in clips
        ],
        "pooled": {
            m: {
                name: {"count": b.count, "recognizable_share": None if b.count == 0 else b.recognizable_share,
                       "median_distance": None if b.count == 0 else b.median_distance}
                for name, b in pooled_buckets(clips, m).items()
            }
            for m in methods
        },
    }
    (RESULTS / f"{STEM}.json").write_text(json.dumps(data, indent=2))
    return data


def target_lines(clips: list[dict], methods: list[str]) -> list[str]:
    if "facepaint" not in methods:
        return ["- facepaint did not run, so the targets could not be checked."]
    lines = []
    fp = pooled_buckets(clips, "facepaint")[">=40"]
    lines.append(
        f"- Recognizable faces >= 40 px: {_pct(fp.recognizable_share)} of {fp.count} face-frames "
        f"(target >= 95 %): **{'met' if fp.count and fp.recognizable_share >= 0.95 else 'not met'}**."
    )
    ratios = {c["clip"]: c["reports"]["facepaint"].warping_ratio for c in clips}
    worst = max(ratios.values())
    lines.append(
        f"- Warping error / input's own: worst clip {_num(worst)} (target <= 1.5): "
        f"**{'met' if worst <= 1.5 else 'not met'}** ("
        + ", ".join(f"{k} {_num(v)}" for k, v in ratios.items()) + ")."
    )
    strength = {m: np.mean([c["reports"][m].stylization_strength for c in clips]) for m in methods}
    fp_warp = gmean_ratio(clips, "facepaint")
    for m in methods:
        if m in ("facepaint", "identity"):
            continue
        other = pooled_buckets(clips, m)[">=40"]
        rec_better = fp.recognizable_share > other.recognizable_share or (
            fp.recognizable_share == other.recognizable_share and fp.median_distance < other.median_distance
        )
        warp_better = fp_warp < gmean_ratio(clips, m)
        lines.append(
            f"- vs {LABELS[m]}: recognizable {_pct(fp.recognizable_share)} vs {_pct(other.recognizable_share)} "
            f"(median distance {_num(fp.median_distance)} vs {_num(other.median_distance)}): "
            f"{'better' if rec_better else 'not better'}; warp ratio {_num(fp_warp)} vs {_num(gmean_ratio(clips, m))}: "
            f"{'better' if warp_better else 'not better'}; strength {_num(strength['facepaint'])} vs {_num(strength[m])}."
        )
    lines.append(
        "- Strength is 1 - SSIM outside the faces (mean over clips); a method may only claim a win "
        "over a peer that paints about as strongly."
    )
    return lines


def write_markdown(clips: list[dict], methods: list[str], skipped: dict[str, str], args) -> str:
    out = [
        "# Quality: facepaint and its peers on the same clips",
        "",
        f"First {args.frames} frames of each clip at native resolution; faces and SSIM measured on "
        f"every {args.face_every}th frame; outputs measured "
        + ("as rendered (before any codec)" if args.crf is None else f"after an H.264 round trip at CRF {args.crf}")
        + f". Produced by `{' '.join(['python benchmarks/quality.py', *sys.argv[1:]])}` "
        f"({time.strftime('%Y-%m-%d', time.gmtime())}); every figure is in `{STEM}.json`.",
        "",
        f"- **warp ratio**: temporal warping error (Lai et al. 2018; {args.flow} flow of the input, "
        "occlusion-masked mean squared RGB difference between O_t and the warped O_t-1) divided "
        "by the input's own. 1 = as stable as the input. Geometric mean over clips.",
        "- **recognizable**: share of face-frames whose dlib embedding (aligned with the source's "
        "landmarks) stays within 0.6 of the source face's (dlib's same-person threshold), by face "
        "width (dlib HOG box) over all clips; in brackets the median distance.",
        "- **NME**: 68-point landmark error on the output vs. the source, by inter-ocular distance "
        "(median, faces >= 40 px).",
        "- **SSIM out**: SSIM to the input outside the faces (lower = painted more; the identity "
        "would score 1 and win the other columns).",
        "",
        "| method | warp ratio | recognizable < 40 px | 40-80 px | 80-160 px | > 160 px | all >= 40 px | NME >= 40 | SSIM out | s / frame |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in methods:
        pooled = pooled_buckets(clips, m)
        ratio = gmean_ratio(clips, m)
        ssim = np.mean([c["reports"][m].ssim_outside_faces for c in clips])
        speed = np.mean([c["seconds_per_frame"][m] for c in clips])

        def cell(name: str) -> str:
            b = pooled[name]
            return "-" if b.count == 0 else f"{_pct(b.recognizable_share)} ({b.median_distance:.2f}, n={b.count})"

        out.append(
            f"| {LABELS[m]} | {_num(ratio)} | {cell('<40')} | {cell('40-80')} | {cell('80-160')} | "
            f"{cell('>160')} | {cell('>=40')} | {_num(pooled['>=40'].median_nme, '.3f')} | {_num(ssim, '.2f')} | "
            f"{_num(speed, '.2f')} |"
        )
    out += ["", "## Targets", "", *target_lines(clips, methods), "", "## Per clip", ""]
    out += [
        "| clip | size | method | warping error (input's own) | ratio | recognizable >= 40 px | SSIM out |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in clips:
        for m in methods:
            r = c["reports"][m]
            b = r.bucket(">=40")
            rec = "-" if b.count == 0 else f"{_pct(b.recognizable_share)} of {b.count}"
            out.append(
                f"| {c['clip']} | {c['size'][0]}x{c['size'][1]} | {LABELS[m]} | "
                f"{r.warping_error:.5f} ({r.warping_error_input:.5f}) | {_num(r.warping_ratio)} | {rec} | "
                f"{_num(r.ssim_outside_faces)} |"
            )
    if skipped:
        out += ["", "## Skipped methods", ""]
        out += [f"- {LABELS.get(m, m)}: {why}" for m, why in skipped.items()]
    out += [
        "",
        "Timings were taken on a 2-core machine shared with other jobs: compare them with each other, "
        "not with other machines.",
        "",
        f"![warping]({STEM}_warping.png) ![recognizability]({STEM}_recognizability.png) "
        f"![trade-off]({STEM}_tradeoff.png)",
        "",
    ]
    text = "\n".join(out)
    (RESULTS / f"{STEM}.md").write_text(text)
    return text


def write_plots(clips: list[dict], methods: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {m: plt.cm.tab10(i) for i, m in enumerate(METHODS)}
    # warping ratio per clip
    fig, ax = plt.subplots(figsize=(11, 4))
    width = 0.8 / len(methods)
    for i, m in enumerate(methods):
        ratios = [c["reports"][m].warping_ratio for c in clips]
        ax.bar(np.arange(len(clips)) + i * width, ratios, width, label=LABELS[m], color=colors[m])
    ax.axhline(1.5, color="k", ls="--", lw=1, label="target 1.5")
    ax.axhline(1.0, color="gray", ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(clips)) + 0.4 - width / 2, [c["clip"] for c in clips])
    ax.set_ylabel("warping error / input's own")
    ax.set_title("Temporal coherence (lower is better)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(RESULTS / f"{STEM}_warping.png", dpi=110)
    plt.close(fig)

    # recognizability per bucket: share under the threshold, and the median distance itself
    buckets = ["<40", "40-80", "80-160", ">160"]
    counts = pooled_buckets(clips, methods[0])
    fig, axes = plt.subplots(1, 2, figsize=(15, 4.2))
    for i, m in enumerate(methods):
        pooled = pooled_buckets(clips, m)
        shares = [pooled[b].recognizable_share if pooled[b].count else np.nan for b in buckets]
        medians = [pooled[b].median_distance if pooled[b].count else np.nan for b in buckets]
        x = np.arange(len(buckets)) + i * width
        axes[0].bar(x, shares, width, label=LABELS[m], color=colors[m])
        axes[1].bar(x, medians, width, label=LABELS[m], color=colors[m])
    for ax in axes:
        ax.set_xticks(np.arange(len(buckets)) + 0.4 - width / 2, [f"{b} px (n={counts[b].count})" for b in buckets])
    axes[0].axhline(0.95, color="k", ls="--", lw=1, label="target 95 %")
    axes[0].set_ylim(0, 1.05)
    axes[0].set_ylabel("share of faces with distance < 0.6")
    axes[0].set_title("Recognizable faces by face width (higher is better)")
    axes[1].axhline(0.6, color="k", ls="--", lw=1, label="same person < 0.6")
    axes[1].set_ylabel("median embedding distance to the source face")
    axes[1].set_title("Median distance (lower is better)")
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(RESULTS / f"{STEM}_recognizability.png", dpi=110)
    plt.close(fig)

    # trade-off: strength vs recognizability and coherence
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for m in methods:
        strength = np.mean([c["reports"][m].stylization_strength for c in clips])
        rec = pooled_buckets(clips, m)[">=40"].recognizable_share
        ratio = gmean_ratio(clips, m)
        axes[0].scatter(strength, rec, color=colors[m], s=60, label=LABELS[m])
        axes[1].scatter(strength, ratio, color=colors[m], s=60, label=LABELS[m])
    axes[0].set_xlabel("stylization strength (1 - SSIM outside faces)")
    axes[0].set_ylabel("recognizable, faces >= 40 px")
    axes[0].axhline(0.95, color="k", ls="--", lw=1)
    axes[1].set_xlabel("stylization strength (1 - SSIM outside faces)")
    axes[1].set_ylabel("warping error / input's own")
    axes[1].set_yscale("log")
    axes[1].axhline(1.5, color="k", ls="--", lw=1)
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle("Better = up-right (left), down-right (right)")
    fig.tight_layout()
    fig.savefig(RESULTS / f"{STEM}_tradeoff.png", dpi=110)
    plt.close(fig)


def write_stills(clip: dict, methods: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["input", *methods]
    faces = clip["still_faces"]
    zoom = None
    if faces:
        face = max(faces, key=lambda f: f.width_px)
        x0, y0, x1, y1 = face.box.astype(int)
        pad = int(0.6 * (x1 - x0))
        height, width = clip["stills"]["input"].shape[:2]
        zoom = (max(0, y0 - pad), min(height, y1 + pad), max(0, x0 - pad), min(width, x1 + pad))
    rows = 2 if zoom else 1
    height, width = clip["stills"]["input"].shape[:2]
    row_heights = [height / width] + ([(zoom[1] - zoom[0]) / (zoom[3] - zoom[2])] if zoom else [])
    fig, axes = plt.subplots(
        rows, len(names), figsize=(2.6 * len(names), 2.6 * sum(row_heights) + 0.8), squeeze=False,
        gridspec_kw={"height_ratios": row_heights},
    )
    for j, name in enumerate(names):
        image = clip["stills"][name]
        axes[0, j].imshow(image)
        axes[0, j].set_title(LABELS.get(name, name), fontsize=8)
        if zoom:
            r0, r1, c0, c1 = zoom
            axes[1, j].imshow(image[r0:r1, c0:c1], interpolation="nearest")
        for ax in axes[:, j]:
            ax.set_axis_off()
    fig.suptitle(f"{clip['clip']}, frame {clip['still_index']}" + (" (bottom: largest face)" if zoom else ""), fontsize=9)
    fig.tight_layout()
    # JPEG: a still is photographic, and PNG would weigh ~1 MB per clip in the repository
    fig.savefig(RESULTS / f"{STEM}_still_{Path(clip['clip']).stem}.jpg", dpi=110, pil_kwargs={"quality": 88})
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=80, help="frames per clip (from the start)")
    parser.add_argument("--clips", default=",".join(DEFAULT_CLIPS), help="comma-separated files of ../shared/media/video")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, among {', '.join(METHODS)}")
    parser.add_argument("--face-every", type=int, default=8, help="measure faces and SSIM every N frames")
    parser.add_argument(
        "--crf", type=int, default=None,
        help="round-trip every output through libx264 at this CRF before measuring (default: raw frames)",
    )
    parser.add_argument("--flow", default="farneback", choices=["farneback", "tvl1"], help="flow of the warping error")
    args = parser.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        parser.error(f"unknown methods {unknown}; choose among {list(METHODS)}")
    clips_names = [c for c in args.clips.split(",") if c]
    missing = [c for c in clips_names if not (MEDIA / c).is_file()]
    if missing:
        parser.error(f"clips not found in {MEDIA.resolve()}: {missing}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    global STEM
    STEM = "quality" + ("" if args.flow == "farneback" else f"_{args.flow}") + (
        "" if args.crf is None else f"_crf{args.crf}"
    )

    probe_frames, _ = read_clip(clips_names[0], 1)
    methods, skipped = usable_methods(methods, probe_frames[0])
    for name, why in skipped.items():
        print(f"skipped {name}: {why}", file=sys.stderr)
    if not methods:
        sys.exit("no method could run")

    clips = []
    for name in clips_names:
        start = time.perf_counter()
        clip = run_clip(name, args.frames, methods, args.face_every, args.flow, args.crf)
        clips.append(clip)
        write_stills(clip, methods)
        print(
            f"{name}: {clip['frames']} frames in {time.perf_counter() - start:.0f} s "
            f"(metrics {clip['metric_seconds']:.0f} s)",
            file=sys.stderr,
        )
        for m in methods:
            r = clip["reports"][m]
            print(
                f"  {m:20s} warp {r.warping_error:.5f} (input {r.warping_error_input:.5f}, ratio {r.warping_ratio:6.2f})"
                f"  rec>=40 {_pct(r.bucket('>=40').recognizable_share):>5} all {_pct(r.bucket('all').recognizable_share):>5}"
                f"  ssim {r.ssim_outside_faces:.2f}  {clip['seconds_per_frame'][m]:.2f} s/frame",
                file=sys.stderr,
            )
    write_json(clips, methods, skipped, args)
    write_plots(clips, methods)
    print(write_markdown(clips, methods, skipped, args))


if __name__ == "__main__":
    main()
