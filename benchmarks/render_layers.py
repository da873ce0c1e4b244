"""How many layers of paint a frame draws, and how many of them could not be seen (issue 21).

Runs the default pipeline on the first ``--frames`` frames of each clip, then replays the
background layer of the last frame with a counting copy of the rasterizer's span loop, strokes
taken front to back: at each pixel it multiplies the transmittance of the strokes above, and a
pixel draw is *hidden* when that product is already under ``eps`` (whatever the stroke adds
there changes the pixel by less than ``eps`` of full scale). Front-to-back drawing with early
termination could skip exactly the hidden draws; this measures how many that would be before
building it. The strokes' footprints, texels and alphas are the renderer's own
(:func:`facepaint.render._raster._draw_bands`' arguments, captured from a real render).

Usage::

    .venv/bin/python benchmarks/render_layers.py [--clips lp_s32.mp4,crowd_1080p.mp4] [--frames 31]

Writes ``benchmarks/results/render_layers.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
from numba import njit, prange

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
MEDIA = ROOT.parent / "shared" / "media" / "video"
RESULTS = ROOT / "benchmarks" / "results"
EPSILONS = (1 / 256, 1 / 1024, 1 / 4096)


@njit(parallel=True, cache=False)
def _count_hidden(setup, texture_at, level, detail, texels, tex_h, tex_w, filtered, n_tri, opacity, row0, row1, counts,
                  items, band_rows, width, height, eps, trans, out):  # pragma: no cover - numba
    """Per band: ``out[b, 0]`` pixel draws made, ``out[b, 1]`` those under transmittance < eps;
    the same spans, texel addressing and alpha as ``_draw_bands`` with bilinear texels, triangles
    taken last to first."""
    one = np.float32(1.0)
    zero = np.float32(0.0)
    half = np.float32(0.5)
    u1 = np.uint64(1)
    u3 = np.uint64(3)
    for b in prange(counts.shape[0] - 1):
        band_lo = b * band_rows
        band_hi = min(height, band_lo + band_rows)
        for e in range(counts[b + 1] - 1, counts[b] - 1, -1):
            m = items[e]
            n = m // n_tri
            ax, ay, bx, by = setup[m, 0], setup[m, 1], setup[m, 2], setup[m, 3]
            s_ac, s_ab, s_bc = setup[m, 4], setup[m, 5], setup[m, 6]
            uc, dudx, dudy = setup[m, 7], setup[m, 8], setup[m, 9]
            vc, dvdx, dvdy = setup[m, 10], setup[m, 11], setup[m, 12]
            du = np.float32(dudx)
            dv = np.float32(dvdx)
            tex0 = texture_at[n]
            lw = tex_w >> level[n]
            lh = tex_h >> level[n]
            if filtered:
                su, ou, sv, ov = np.float32(lw), half, np.float32(lh + 1), zero
            else:
                su, ou, sv, ov = np.float32(lw - 1), one, np.float32(lh - 1), one
            row_texels = np.uint64(3 * (lw + 2))
            g = detail[n]
            op = opacity[n]
            for y in range(max(row0[m], band_lo), min(row1[m], band_hi)):
                fy = np.float64(y)
                xl = ax + (fy - ay) * s_ac
                xs = ax + (fy - ay) * s_ab if fy < by else bx + (fy - by) * s_bc
                if xs < xl:
                    xl, xs = xs, xl
                xa = max(0, int(np.ceil(xl)))
                xb = min(width, int(np.ceil(xs)))
                u = np.float32(uc + dudx * xa + dudy * fy)
                v = np.float32(vc + dvdx * xa + dvdy * fy)
                for x in range(xa, xb):
                    fu = min(max(u, zero), one) * su + ou
                    fv = min(max(v, zero), one) * sv + ov
                    u += du
                    v += dv
                    ju = min(np.int32(fu), np.int32(lw))
                    jv = min(np.int32(fv), np.int32(lh))
                    wu = fu - np.float32(ju)
                    wv = fv - np.float32(jv)
                    t00 = tex0 + np.uint64(jv) * row_texels + np.uint64(ju) * u3
                    t10 = t00 + row_texels
                    w00 = (one - wu) * (one - wv)
                    w01 = wu * (one - wv)
                    w10 = (one - wu) * wv
                    w11 = wu * wv
                    foot = w00 * texels[t00] + w01 * texels[t00 + u3] + w10 * texels[t10] + w11 * texels[t10 + u3]
                    alpha = (w00 * texels[t00 + u1] + w01 * texels[t00 + u3 + u1]
                             + w10 * texels[t10 + u1] + w11 * texels[t10 + u3 + u1])
                    base = op * foot
                    a = base + g * (op * alpha - base)
                    pix = y * width + x
                    if trans[pix] < eps:
                        out[b, 1] += 1
                    else:
                        out[b, 0] += 1
                        trans[pix] *= one - a


def _captured_draws(clip: str, frames: int) -> tuple[list[tuple], tuple[int, int], int]:
    """Run the pipeline on ``frames`` frames of ``clip``; the arguments of every ``_draw_bands``
    call of a full render of the last frame, the frame size and the background stroke count."""
    import facepaint.render.render as render_module
    from facepaint.io import open_video
    from facepaint.pipeline import PipelineConfig, Stylizer
    from facepaint.render import render_layers

    images = [f.image for f in open_video(MEDIA / clip, max_frames=frames)]
    stylizer = Stylizer(PipelineConfig(), seed=0)
    for k, image in enumerate(images):
        stylizer.process(image, upcoming=images[k + 1] if k + 1 < len(images) else None)
    stylizer.wait_idle()
    calls: list[tuple] = []
    original = render_module.draw_strokes.__globals__["_draw_bands"]

    def capture(*args):
        calls.append(args)
        return original(*args)

    render_module.draw_strokes.__globals__["_draw_bands"] = capture
    try:
        render_layers(stylizer.painting, images[-1], config=stylizer.config.render, regions=stylizer.regions)
    finally:
        render_module.draw_strokes.__globals__["_draw_bands"] = original
    return calls, images[-1].shape[:2], len(stylizer.painting.background)


def measure(clip: str, frames: int) -> dict:
    calls, (height, width), strokes = _captured_draws(clip, frames)
    a = calls[0]  # the background layer: the first draw of a full render
    (setup, _colors, texture_at, level, detail, texels, tex_h, tex_w, filtered, n_tri, opacity, _cover, row0, row1,
     counts, items, band_rows) = a[:17]
    rows = []
    for eps in EPSILONS:
        trans = np.ones(height * width, np.float32)
        out = np.zeros((counts.shape[0] - 1, 2), np.int64)
        _count_hidden(setup, texture_at, level, detail, texels, tex_h, tex_w, filtered, n_tri, opacity, row0, row1,
                      counts, items, band_rows, width, height, np.float32(eps), trans, out)
        made, hidden = int(out[:, 0].sum()), int(out[:, 1].sum())
        rows.append({"eps": eps, "draws_per_pixel": (made + hidden) / (height * width),
                     "hidden_per_pixel": hidden / (height * width), "hidden_share": hidden / max(made + hidden, 1),
                     "pixels_under_eps": float(np.mean(trans < eps))})
    return {"clip": clip, "frame": frames - 1, "size": f"{width}x{height}", "background_strokes": strokes, "rows": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", default="lp_s32.mp4,crowd_1080p.mp4")
    parser.add_argument("--frames", type=int, default=31)
    args = parser.parse_args()
    import subprocess

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    results = [measure(clip, args.frames) for clip in args.clips.split(",")]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "render_layers.json").write_text(json.dumps({"commit": commit, "results": results}, indent=1))
    lines = [
        "# Layers of paint a frame draws, and how many cannot be seen",
        "",
        f"`python benchmarks/render_layers.py --clips {args.clips} --frames {args.frames}`, commit {commit}, "
        f"{platform.machine()}, {datetime.now():%Y-%m-%d %H:%M}. The background layer of the last frame, "
        "replayed front to back: a draw is hidden when the strokes above it already let less than eps "
        "of it through (early termination could skip exactly those).",
        "",
        "| clip | size | strokes | eps | pixel draws a pixel | hidden a pixel | hidden share | pixels under eps |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for row in r["rows"]:
            lines.append(
                f"| {r['clip']} (frame {r['frame']}) | {r['size']} | {r['background_strokes']} | 1/{round(1 / row['eps'])} | "
                f"{row['draws_per_pixel']:.2f} | {row['hidden_per_pixel']:.2f} | {row['hidden_share']:.0%} | {row['pixels_under_eps']:.0%} |"
            )
    (RESULTS / "render_layers.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
