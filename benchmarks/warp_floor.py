"""How low the warping ratio can go on the stress clips whose scene motion is known (issue 17).

The warping ratio (``facepaint.metrics``, Lai et al. 2018) divides the output's error after
warping along the INPUT's optical flow by the input's own error. Where the input is flat (a sky,
a plain wall) the flow is unconstrained and often wrong, but the input's error there is ~0
whatever the flow; a painting has brush texture there, so the same wrong flow gives it an error.
A painting that moves exactly with the scene therefore does not reach a ratio of 1.

This script measures that floor where the motion is known by construction: the stress clips
whose background is a still picture, panned (``small_face_pan``) or static (``zoom``,
``enter_leave``, ``title_sky``; recipes in ``stress_clips.py``). The background picture is painted
once by facepaint (its first-frame painting, nothing to track) and every frame of the "ideal"
output is that painting, cropped where the camera looks, with the input's own pixels wherever
the frame is not the background (the inset, the hand, the letters: dilated by 2 px). That output
is perfectly coherent on the background and as good as the input elsewhere, so its ratio is a
floor for any painting of the background with facepaint's brushes (not for the whole output:
where the rest dominates, as the appearing letters of ``title_sky`` do, a painting that changes
more smoothly than the input there can go under it). The input is the encoded clip, as the
robustness benchmark reads it.

    python benchmarks/warp_floor.py [--clips small_face_pan,zoom] [--max-frames N]
    python benchmarks/warp_floor.py --table --measured robustness_<tag>.json   # the table only

Writes ``benchmarks/results/warp_floor.md`` and ``.json``, beside facepaint's measured ratio from
the robustness run named by ``--measured`` (a ``robustness_<tag>.json``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import stress_clips  # noqa: E402

from facepaint.io import open_video  # noqa: E402
from facepaint.metrics import warping_errors  # noqa: E402
from facepaint.pipeline import PipelineConfig, Stylizer  # noqa: E402


def _backgrounds() -> dict:
    """clip -> (background picture, x offset of frame t into it)."""
    site = stress_clips._site()
    still = np.ascontiguousarray(site[:, 240:1520])
    return {
        "small_face_pan": (np.ascontiguousarray(site), lambda t: t),
        "zoom": (still, lambda t: 0),
        "enter_leave": (still, lambda t: 0),
        "title_sky": (stress_clips._sky(), lambda t: 0),
    }


def floor(name: str, max_frames: int | None) -> dict:
    background, offset = _backgrounds()[name]
    make, count = stress_clips.CLIPS[name]
    count = min(count, max_frames or count)
    painted = Stylizer(PipelineConfig()).process(background)
    kernel = np.ones((5, 5), np.uint8)
    foreign, last = [], []

    def pairs():
        """(decoded input, ideal output) frame by frame."""
        for t, frame in zip(range(count), open_video(stress_clips.clip_path(name))):
            decoded = frame.image
            x = offset(t)
            crop = background[:, x:x + decoded.shape[1]]
            # where the generated frame is not the background picture: the input's own pixels
            other = cv2.dilate((np.abs(make(t).astype(np.int16) - crop).max(axis=2) > 0).astype(np.uint8), kernel) > 0
            ideal = np.ascontiguousarray(painted[:, x:x + decoded.shape[1]]).copy()
            ideal[other] = decoded[other]
            foreign.append(float(other.mean()))
            last[:] = [ideal]
            yield decoded, ideal

    inputs, ideals = itertools.tee(pairs())
    error = warping_errors((p[0] for p in inputs), {"ideal": (p[1] for p in ideals)})["ideal"]
    cv2.imwrite(str(RESULTS / f"warp_floor_{name}.jpg"), cv2.cvtColor(last[0], cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 85])
    return {"clip": f"stress:{name}", "frames": error.pairs + 1, "input_error": error.input,
            "ideal_error": error.output, "floor_ratio": error.ratio, "foreign_share": float(np.mean(foreign))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", default=",".join(_backgrounds()))
    parser.add_argument("--max-frames", type=int, default=None)
    parser.add_argument("--measured", default="robustness_s14_stress.json",
                        help="robustness result whose whole-clip warping ratios are shown beside the floor")
    parser.add_argument("--table", action="store_true",
                        help="only write the table again from warp_floor.json (e.g. beside a newer --measured)")
    args = parser.parse_args()
    if args.table:
        saved = json.loads((RESULTS / "warp_floor.json").read_text())
        rows, command = saved["rows"], saved["command"]
    else:
        rows = []
        for name in args.clips.split(","):
            rows.append(floor(name, args.max_frames))
            print(rows[-1], flush=True)
        command = "python benchmarks/warp_floor.py " + " ".join(sys.argv[1:])
    measured = {}
    source = RESULTS / args.measured
    if source.exists():  # read last: the robustness run may finish while the floors are measured
        measured = {c["clip"]: c["whole"]["warping_ratio"] for c in json.loads(source.read_text())["clips"]}
    for row in rows:
        row["facepaint_ratio"] = measured.get(row["clip"])
    lines = ["# Warping-ratio floor of a perfectly coherent painting (issue 17)", "", f"`{command.strip()}`", "",
             "Ideal output: facepaint's painting of the clip's background picture, moved exactly as the "
             "scene moves, with the input's own pixels where the frame is not that background "
             "(share of such pixels in the table). Input: the encoded clip. facepaint: whole-clip ratio of "
             f"`{args.measured}`, over its full length.", "",
             "| clip | frames | input error | ideal error | floor ratio | facepaint ratio | facepaint / floor | not background |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        fp = r["facepaint_ratio"]
        fp_text = f"{fp:.2f} | {fp / r['floor_ratio']:.2f}" if fp else "- | -"
        lines.append(f"| {r['clip']} | {r['frames']} | {r['input_error']:.2e} | {r['ideal_error']:.2e} | "
                     f"{r['floor_ratio']:.2f} | {fp_text} | {100 * r['foreign_share']:.1f} % |")
    (RESULTS / "warp_floor.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "warp_floor.json").write_text(json.dumps({"command": command, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
