"""Does a painting moved by a fraction of a pixel render as its render moved? (issue 17)

The warping error compares each output frame with the previous one warped (bilinearly) along the
input's flow. A stroke that moves with its content should render, at its new sub-pixel place,
as its old render shifted; what a rasterizer changes beyond that (pixels switched on or off
along an edge, texels read differently) counts as error however well the strokes move.

This paints the construction site of the stress clips (1280x720, no face) once, shifts every
stroke by ``dx`` px, renders it again, and compares that with the first render shifted by ``dx``
with bilinear interpolation (the metric's warp), over the interior; for each renderer setting:

* ``corner, 2 texels/px``: each mip level read corner texel to corner texel, the finest level
  with at most two texel rows per pixel (the renderer before the fourth session of issue 17);
* ``filtered, 2 texels/px``: texels centred, a transparent border the mesh is widened to reach
  (``RenderConfig.filtered_edges``, see ``brushes.filter_widen``);
* ``filtered, 1 texel/px``: the same with a texel per pixel (``brushes.TEXELS_PER_PIXEL``, now
  the default);
* ``corner, 2x supersampled``: the first setting rendered at twice the size and area-averaged
  down, as a reference for what rasterizer aliasing accounts for.

Also the picture's gradient energy (mean squared Sobel of its grey levels: how much detail is
left) and the render's median milliseconds (10 renders each, interleaved).

    python benchmarks/render_shift.py

Writes ``benchmarks/results/render_shift.md``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import stress_clips  # noqa: E402

import facepaint.render.brushes as brushes  # noqa: E402
from facepaint.pipeline import PipelineConfig, Stylizer  # noqa: E402
from facepaint.render import brush_textures, render_strokes  # noqa: E402

SHIFTS = (0.5, 0.25, 0.03)
SETTINGS = {  # name: (filtered edges, texels per pixel, supersampling)
    "corner, 2 texels/px": (False, 2.0, 1),
    "filtered, 2 texels/px": (True, 2.0, 1),
    "filtered, 1 texel/px": (True, 1.0, 1),
    "corner, 2x supersampled": (False, 2.0, 2),
}


def render(strokes, shape, filtered: bool, texels: float, scale: int = 1) -> np.ndarray:
    brushes.TEXELS_PER_PIXEL = texels  # the module constant mip_level reads (restored by main)
    height, width = shape
    if scale > 1:
        strokes = replace(strokes, positions=(strokes.positions + 0.5) * scale - 0.5, thickness=strokes.thickness * scale)
    canvas = np.full((height * scale, width * scale, 3), 0.5, np.float32)
    render_strokes(strokes, canvas, textures=brush_textures("oil"), bilinear=True, filtered_edges=filtered)
    return cv2.resize(canvas, (width, height), interpolation=cv2.INTER_AREA) if scale > 1 else canvas


def main() -> None:
    default = brushes.TEXELS_PER_PIXEL
    site = np.ascontiguousarray(stress_clips._site()[:, 200:1480])
    stylizer = Stylizer(PipelineConfig())
    stylizer.process(site)
    strokes = stylizer.painting.background
    shape = site.shape[:2]
    rows = []
    try:
        for name, (filtered, texels, scale) in SETTINGS.items():
            base = render(strokes, shape, filtered, texels, scale)
            errors = []
            for dx in SHIFTS:
                moved = render(replace(strokes, positions=strokes.positions + np.float32([dx, 0.0])), shape, filtered, texels, scale)
                gx, gy = np.meshgrid(np.arange(shape[1], dtype=np.float32) - dx, np.arange(shape[0], dtype=np.float32))
                warped = cv2.remap(base, gx, gy, cv2.INTER_LINEAR)
                errors.append(float(np.mean((moved - warped)[20:-20, 20:-20] ** 2)))
            grey = cv2.cvtColor(base, cv2.COLOR_RGB2GRAY)
            energy = float(np.mean(cv2.Sobel(grey, cv2.CV_32F, 1, 0) ** 2 + cv2.Sobel(grey, cv2.CV_32F, 0, 1) ** 2))
            rows.append([name, errors, energy, []])
            print(name, errors, energy, flush=True)
        for _ in range(10):
            for row in rows:
                filtered, texels, scale = SETTINGS[row[0]]
                if scale == 1:
                    t0 = time.perf_counter()
                    render(strokes, shape, filtered, texels)
                    row[3].append(time.perf_counter() - t0)
    finally:
        brushes.TEXELS_PER_PIXEL = default
    ref = rows[0][1]
    lines = ["# Sub-pixel shifts through the renderer (issue 17)", "", "`python benchmarks/render_shift.py`", "",
             f"{len(strokes)} background strokes of the construction site (1280x720); mean squared RGB difference "
             "between the render of the strokes moved by dx and the render moved by dx (bilinear), and its "
             "ratio to the first row's; gradient energy of the render; median render time (10 interleaved "
             "renders, the machine's other work beside them).", "",
             "| renderer | " + " | ".join(f"dx {dx} px" for dx in SHIFTS) + " | gradient energy | render ms |",
             "|---|" + "---|" * len(SHIFTS) + "---|---|"]
    for name, errors, energy, times in rows:
        cells = " | ".join(f"{e:.2e} ({r / e:.1f}x lower)" if e != r else f"{e:.2e}" for e, r in zip(errors, ref))
        ms = f"{1000 * np.median(times):.0f}" if times else "-"
        lines.append(f"| {name} | {cells} | {energy:.4f} | {ms} |")
    (ROOT / "benchmarks" / "results" / "render_shift.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
