"""Figures of the default face model (issue 3), on the real media in ../shared/media.

    /work/venv/bin/python benchmarks/face_model.py            # all five figures (~5 min on 2 cores)
    /work/venv/bin/python benchmarks/face_model.py --only 1 3 # some of them
    /work/venv/bin/python benchmarks/face_model.py --fit-ibug # refit the mesh -> iBUG-68 indices

1. detection rate and contour error against face width (120 ... 24 px) in a 1920x1080 frame;
2. 68-point NME on the 300-W faces (normalised by the outer-eye-corner distance);
3. milliseconds per frame at 720p and 1080p with tracking (and the crowd clip);
4. faces found per frame on crowd_1080p.mp4 against counts made by eye;
5. turned heads (AFLW2000-3D): share found and NME by head yaw.

Writes benchmarks/results/face_model.{json,md,png}. Timings are medians over runs taken on a
shared 2-core machine and are noisy; they are wall-clock times of ``FaceModel.process``.
"""

from __future__ import annotations

import argparse
import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np

from facepaint.annotations import read_pts
from facepaint.face import create_face_model
from facepaint.face.ibug import ibug68_from_mesh
from facepaint.face.topology import IBUG68_FROM_MESH
from facepaint.io import open_video, read_image

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT / ".." / "shared" / "media"
RESULTS = ROOT / "benchmarks" / "results"
WIDTHS = (120, 80, 60, 40, 30, 24)

#: Faces counted by eye on crowd_1080p.mp4 (frontal or profile faces whose eyes can be seen, at
#: least partly; backs of heads not counted). Made by looking at the frames; about +-1.
CROWD_BY_EYE = {0: 8, 25: 8, 50: 7, 75: 8, 100: 8}

#: Options given to every face model built here (set from --detector).
DETECTOR_OPTIONS: dict = {}


def _nearest_face(faces, centre):
    if not faces:
        return None
    dist = [np.hypot(*(f.contour.mean(0) - centre)) for f in faces]
    return faces[int(np.argmin(dist))], float(min(dist))


def _nme(points: np.ndarray, truth: np.ndarray) -> float:
    return float(np.linalg.norm(points - truth, axis=1).mean() / np.linalg.norm(truth[36] - truth[45]))


def _300w():
    for pts in sorted((MEDIA / "landmarks" / "300w").glob("*.pts")):
        yield pts.stem, read_image(pts.with_suffix(".jpg")), read_pts(pts).astype(np.float64)


def _background() -> np.ndarray:
    """A 1920x1080 real background with no face: the top half of crowd_1080p frame 0 (the
    arcade's roof and columns) mirrored into the bottom half."""
    frame = next(iter(open_video(MEDIA / "video" / "crowd_1080p.mp4", max_frames=1))).image
    top = frame[:540]
    return np.ascontiguousarray(np.vstack([top, top[::-1]]))


def figure_1(model) -> dict:
    """Each 300-W face is cut out with a margin, scaled so that its jaw (iBUG 0-16) is W px
    wide, and pasted at 3 random places of a face-free 1920x1080 background. Found: a face
    whose contour centre is within half a face width of the truth. Contour error: mean distance
    of the 36 contour points to those found on the full-size photo (scaled), over the width.
    NME: 68-point error against the 300-W truth (scaled), over the outer-eye-corner distance."""
    background = _background()
    assert not model.detect(background), "the background must hold no face"
    rng = np.random.default_rng(3)
    rows = {w: {"found": 0, "trials": 0, "contour_err": [], "nme": []} for w in WIDTHS}
    for name, image, truth in _300w():
        full = _nearest_face(model.detect(image), truth.mean(0))
        reference = full[0].contour.astype(np.float64)
        jaw = truth[:17]
        width0 = np.ptp(jaw[:, 0])
        x0, y0 = truth.min(0) - 0.6 * width0
        x1, y1 = truth.max(0) + 0.6 * width0
        x0, y0 = max(0, int(x0)), max(0, int(y0))
        x1, y1 = min(image.shape[1], int(x1)), min(image.shape[0], int(y1))
        crop = image[y0:y1, x0:x1]
        for w in WIDTHS:
            s = w / width0
            small = cv2.resize(crop, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
            h, ww = small.shape[:2]
            for _ in range(3):
                px = int(rng.integers(0, 1920 - ww))
                py = int(rng.integers(0, 1080 - h))
                frame = background.copy()
                frame[py : py + h, px : px + ww] = small
                offset = np.array([px, py], np.float64)
                # pixel-centre convention: x_small = (x + 0.5) * s - 0.5
                to_small = lambda p: (p - [x0, y0] + 0.5) * s - 0.5 + offset  # noqa: E731
                t_small = to_small(truth)
                row = rows[w]
                row["trials"] += 1
                hit = _nearest_face(model.detect(frame), t_small.mean(0))
                if hit is None or hit[1] > 0.5 * w:
                    continue
                row["found"] += 1
                face = hit[0]
                row["contour_err"].append(float(np.linalg.norm(face.contour - to_small(reference), axis=1).mean() / w))
                row["nme"].append(_nme(ibug68_from_mesh(face.mesh), t_small))
        print(f"  figure 1: {name} done", flush=True)
    out = {}
    for w, row in rows.items():
        out[w] = {
            "found_pct": 100.0 * row["found"] / row["trials"],
            "trials": row["trials"],
            "contour_err_pct_of_width": 100.0 * float(np.mean(row["contour_err"])) if row["contour_err"] else None,
            "nme_pct": 100.0 * float(np.mean(row["nme"])) if row["nme"] else None,
        }
    return out


def figure_2(model) -> dict:
    per_face, per_face_fixed, groups = {}, {}, {g: [] for g in ("jaw", "brows", "nose", "eyes", "mouth")}
    spans = {"jaw": slice(0, 17), "brows": slice(17, 27), "nose": slice(27, 36), "eyes": slice(36, 48), "mouth": slice(48, 68)}
    for name, image, truth in _300w():
        hit = _nearest_face(model.detect(image), truth.mean(0))
        if hit is None:
            per_face[name] = None
            continue
        points = ibug68_from_mesh(hit[0].mesh).astype(np.float64)
        per_face[name] = _nme(points, truth)
        per_face_fixed[name] = _nme(hit[0].mesh[IBUG68_FROM_MESH].astype(np.float64), truth)
        iod = np.linalg.norm(truth[36] - truth[45])
        for g, span in spans.items():
            groups[g].append(float(np.linalg.norm(points[span] - truth[span], axis=1).mean() / iod))
    found = [v for v in per_face.values() if v is not None]
    return {
        "faces": len(per_face),
        "found": len(found),
        "nme_mean_pct": 100 * float(np.mean(found)),
        "nme_median_pct": 100 * float(np.median(found)),
        "nme_fixed_vertices_mean_pct": 100 * float(np.mean(list(per_face_fixed.values()))),
        "by_group_pct": {g: 100 * float(np.mean(v)) for g, v in groups.items()},
        "per_face_pct": {k: (None if v is None else 100 * v) for k, v in per_face.items()},
        "mapping": "facepaint.face.ibug.ibug68_from_mesh: IBUG68_FROM_MESH vertices (fitted on ibug68_dlib), jaw slid to the silhouette",
    }


def _time_clip(frames, runs: int, **options) -> dict:
    per_run = []
    medians = []
    firsts = []
    faces = []
    for _ in range(runs):
        model = create_face_model(**DETECTOR_OPTIONS, **options)
        times = []
        for image in frames:
            t = time.perf_counter()
            found = model.process(image)
            times.append(time.perf_counter() - t)
            faces.append(len(found))
        times = np.array(times) * 1000
        firsts.append(times[0])
        per_run.append(times[1:].mean())
        medians.append(np.median(times[1:]))
    return {
        "frames": len(frames),
        "ms_per_frame_amortised": float(np.median(per_run)),
        "ms_per_frame_median": float(np.median(medians)),
        "ms_first_frame_full_scan": float(np.median(firsts)),
        "faces_per_frame": float(np.mean(faces)),
    }


def figure_3(runs: int = 3) -> dict:
    clip = [f.image for f in open_video(MEDIA / "video" / "lp_s32.mp4", max_frames=150)]
    out = {"720p lp_s32 (1 face)": _time_clip(clip, runs)}
    up = [cv2.resize(i, (1920, 1080), interpolation=cv2.INTER_LINEAR) for i in clip]
    out["1080p lp_s32 upscaled (1 face)"] = _time_clip(up, runs)
    del up
    crowd = [f.image for f in open_video(MEDIA / "video" / "crowd_1080p.mp4")]
    out["1080p crowd_1080p (many faces)"] = _time_clip(crowd, max(1, runs - 1))
    return out


def figure_4() -> dict:
    frames = {f.index: f.image for f in open_video(MEDIA / "video" / "crowd_1080p.mp4")}
    out = {"by_eye": CROWD_BY_EYE}
    for label, options in (("tracked, tiles_per_frame=3 (default)", {}), ("tracked, tiles_per_frame=12", {"tiles_per_frame": 12})):
        model = create_face_model(**DETECTOR_OPTIONS, **options)
        counts = {i: len(model.process(frames[i])) for i in sorted(frames)}
        out[label] = {str(i): counts[i] for i in CROWD_BY_EYE}
        out[label + " mean over all frames"] = float(np.mean(list(counts.values())))
    still = create_face_model(**DETECTOR_OPTIONS)
    out["detect() on the frame alone"] = {str(i): len(still.detect(frames[i])) for i in CROWD_BY_EYE}
    return out


def figure_5(model) -> dict:
    import scipy.io

    rows = []
    for mat in sorted((MEDIA / "landmarks" / "aflw2000_3d").glob("*.mat")):
        data = scipy.io.loadmat(str(mat))
        truth = data["pt3d_68"][:2].T.astype(np.float64)
        pitch, yaw, roll = np.degrees(data["Pose_Para"][0, :3])
        image = read_image(mat.with_suffix(".jpg"))
        hit = _nearest_face(model.detect(image), truth.mean(0))
        found = hit is not None and hit[1] < 0.5 * np.ptp(truth[:, 0])
        box_size = float(np.sqrt(np.ptp(truth[:, 0]) * np.ptp(truth[:, 1])))
        row = {"image": mat.stem, "yaw_deg": float(yaw), "pitch_deg": float(pitch), "found": bool(found)}
        if found:
            mesh = hit[0].mesh.astype(np.float64)
            fixed = mesh[IBUG68_FROM_MESH]
            row["nme_iod_pct"] = 100 * _nme(fixed, truth)
            row["nme_box_pct"] = 100 * float(np.linalg.norm(fixed - truth, axis=1).mean() / box_size)
        rows.append(row)
    bins = {"|yaw| <= 30": lambda y: abs(y) <= 30, "30 < |yaw| <= 60": lambda y: 30 < abs(y) <= 60, "|yaw| > 60": lambda y: abs(y) > 60, "all": lambda y: True}
    summary = {}
    for label, test in bins.items():
        sel = [r for r in rows if test(r["yaw_deg"])]
        hits = [r for r in sel if r["found"]]
        summary[label] = {
            "faces": len(sel),
            "found_pct": 100.0 * len(hits) / len(sel) if sel else None,
            "nme_box_pct": float(np.mean([r["nme_box_pct"] for r in hits])) if hits else None,
            "nme_iod_pct": float(np.mean([r["nme_iod_pct"] for r in hits])) if hits else None,
        }
    return {"summary": summary, "faces": rows, "mapping": "IBUG68_FROM_MESH vertices as they are (AFLW2000-3D's 68 points are 3-D-consistent, not silhouette points)"}


def smoothing_jitter() -> dict:
    """Mean contour-point motion per frame on akiyo (a still news anchor), raw vs smoothed."""
    frames = [f.image for f in open_video(MEDIA / "video" / "akiyo.mp4", max_frames=120)]
    out = {}
    for label, options in (("raw", {"smoothing": None}), ("one_euro", {})):
        model = create_face_model(**DETECTOR_OPTIONS, **options)
        contours = np.stack([model.process(i)[0].contour for i in frames])
        out[label + "_px_per_frame"] = float(np.abs(np.diff(contours, axis=0)).mean())
    return out


def fit_ibug() -> None:
    """Refit IBUG68_FROM_MESH: per iBUG point, the mesh vertex nearest on average (distance over
    the outer-eye-corner distance) on the ibug68_dlib faces. Prints the indices."""
    model = create_face_model()
    folder = MEDIA / "landmarks" / "ibug68_dlib"
    err = np.zeros((68, 468))
    n = 0
    for xml in ("training_with_face_landmarks.xml", "testing_with_face_landmarks.xml"):
        for im in ET.parse(folder / xml).getroot().iter("image"):
            faces = model.detect(read_image(folder / im.get("file")))
            for box in im.iter("box"):
                parts = sorted(box.iter("part"), key=lambda p: int(p.get("name")))
                if len(parts) != 68:
                    continue
                truth = np.array([[float(p.get("x")), float(p.get("y"))] for p in parts])
                iod = np.linalg.norm(truth[36] - truth[45])
                hit = _nearest_face(faces, truth.mean(0))
                if hit is None or hit[1] > iod:
                    continue
                err += np.linalg.norm(hit[0].mesh[None].astype(np.float64) - truth[:, None], axis=2) / iod
                n += 1
    print(f"fitted on {n} faces:")
    print(err.argmin(axis=1).tolist())


def _plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    if "1" in results:
        r = results["1"]
        widths = list(WIDTHS)
        axes[0].plot(widths, [r[w]["found_pct"] for w in widths], "o-", label="found (%)")
        axes[0].axhline(95, color="grey", ls=":", lw=1)
        axes[0].axvline(80, color="red", ls=":", lw=1, label="paper's limit (80 px)")
        ax2 = axes[0].twinx()
        ax2.plot(widths, [r[w]["contour_err_pct_of_width"] or np.nan for w in widths], "s--", color="C1", label="contour err (% width)")
        ax2.plot(widths, [r[w]["nme_pct"] or np.nan for w in widths], "^--", color="C2", label="68-pt NME (%)")
        axes[0].set_xlabel("face width in a 1920x1080 frame (px)")
        axes[0].set_ylabel("found (%)")
        ax2.set_ylabel("error (%)")
        axes[0].set_ylim(0, 105)
        axes[0].legend(loc="lower right", fontsize=8)
        ax2.legend(loc="center right", fontsize=8)
        axes[0].set_title("1. small faces")
    if "5" in results:
        rows = results["5"]["faces"]
        yaw = [abs(r["yaw_deg"]) for r in rows]
        nme = [r.get("nme_box_pct", np.nan) for r in rows]
        axes[1].scatter(yaw, nme, c=["C0" if r["found"] else "red" for r in rows])
        axes[1].set_xlabel("|yaw| (deg)")
        axes[1].set_ylabel("68-pt NME, box-normalised (%)")
        axes[1].set_title("5. turned heads (AFLW2000-3D); red = missed")
    if "4" in results:
        r = results["4"]
        idx = [str(i) for i in CROWD_BY_EYE]
        x = np.arange(len(idx))
        axes[2].bar(x - 0.3, [CROWD_BY_EYE[int(i)] for i in idx], 0.2, label="by eye")
        for k, key in enumerate([k for k in r if k.startswith(("tracked", "detect")) and "mean" not in k]):
            axes[2].bar(x - 0.1 + 0.2 * k, [r[key][i] for i in idx], 0.2, label=key)
        axes[2].set_xticks(x, idx)
        axes[2].set_xlabel("crowd_1080p frame")
        axes[2].set_ylabel("faces")
        axes[2].legend(fontsize=7)
        axes[2].set_title("4. faces per frame, crowd")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def _markdown(results: dict) -> str:
    lines = ["# Default face model (mediapipe networks, tiled + tracked)", ""]
    if "1" in results:
        lines += ["## 1. Small faces in a 1920x1080 frame (300-W faces, 3 places each)", "",
                  "Width = span of the 300-W jaw points; `detect()` (stills); contour error against the contour "
                  "found on the full-size photo; background: face-free part of crowd_1080p.", "",
                  "| face width px | found % | contour error % of width | 68-pt NME % |", "|---|---|---|---|"]
        for w in WIDTHS:
            r = results["1"][w]
            fmt = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
            lines.append(f"| {w} | {r['found_pct']:.0f} ({r['trials']} trials) | {fmt(r['contour_err_pct_of_width'])} | {fmt(r['nme_pct'])} |")
        lines.append("")
    if "2" in results:
        r = results["2"]
        lines += ["## 2. 300-W 68-point NME (outer-eye-corner normalised)", "",
                  f"{r['found']}/{r['faces']} faces; mean {r['nme_mean_pct']:.2f} %, median {r['nme_median_pct']:.2f} % "
                  f"(fixed vertices without the silhouette jaw: {r['nme_fixed_vertices_mean_pct']:.2f} %). By group: "
                  + ", ".join(f"{g} {v:.1f} %" for g, v in r["by_group_pct"].items()), "", f"Mapping: {r['mapping']}.", ""]
    if "3" in results:
        lines += ["## 3. Milliseconds per frame (FaceModel.process, shared 2-core machine, under load)", "",
                  "Median over runs of the per-run mean (amortised, first frame excluded) and median; the first "
                  "frame scans every tile. 1080p single face: lp_s32 upscaled from 720p.", "",
                  "| clip | frames | amortised ms/frame | median ms/frame | first frame (full scan) ms | faces/frame |", "|---|---|---|---|---|---|"]
        for k, r in results["3"].items():
            lines.append(f"| {k} | {r['frames']} | {r['ms_per_frame_amortised']:.1f} | {r['ms_per_frame_median']:.1f} | {r['ms_first_frame_full_scan']:.0f} | {r['faces_per_frame']:.2f} |")
        lines.append("")
    if "4" in results:
        r = results["4"]
        idx = [str(i) for i in CROWD_BY_EYE]
        lines += ["## 4. Faces per frame on crowd_1080p.mp4", "",
                  "By eye: frontal or profile faces whose eyes can be seen at least partly (backs of heads not "
                  "counted), about +-1. Missed faces are mostly ones looking down, blurred by motion or about "
                  "30 px wide: the detector misses them or the mesh network's presence score rejects them.", "", "| | " + " | ".join(idx) + " |", "|---" * (len(idx) + 1) + "|",
                  "| by eye | " + " | ".join(str(CROWD_BY_EYE[int(i)]) for i in idx) + " |"]
        for key, val in r.items():
            if isinstance(val, dict) and key != "by_eye":
                lines.append(f"| {key} | " + " | ".join(str(val[i]) for i in idx) + " |")
        lines.append("")
    if "5" in results:
        lines += ["## 5. Turned heads (AFLW2000-3D)", "", "| yaw | faces | found % | NME % (box) | NME % (eye corners) |", "|---|---|---|---|---|"]
        for k, r in results["5"]["summary"].items():
            fmt = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
            lines.append(f"| {k} | {r['faces']} | {fmt(r['found_pct'])} | {fmt(r['nme_box_pct'])} | {fmt(r['nme_iod_pct'])} |")
        lines.append("")
    if "jitter" in results:
        r = results["jitter"]
        lines += ["## Smoothing (akiyo, still anchor)", "",
                  f"mean contour-point motion: raw {r['raw_px_per_frame']:.3f} px/frame, One Euro {r['one_euro_px_per_frame']:.3f} px/frame", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=["1", "2", "3", "4", "5", "jitter"])
    parser.add_argument("--runs", type=int, default=3, help="timing runs per clip (figure 3)")
    parser.add_argument("--fit-ibug", action="store_true")
    parser.add_argument("--detector", default=None, choices=["full", "short"], help="MediapipeConfig.detector (default: the model's default)")
    args = parser.parse_args()
    if args.fit_ibug:
        fit_ibug()
        return
    if not MEDIA.is_dir():
        raise SystemExit(f"{MEDIA} is missing: the benchmark needs ../shared/media")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "face_model" if args.detector is None else f"face_model_{args.detector}"
    path = RESULTS / f"{stem}.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results = {k: v for k, v in results.items()}
    if "1" in results:  # json keys are strings
        results["1"] = {int(k): v for k, v in results["1"].items()}
    global DETECTOR_OPTIONS
    DETECTOR_OPTIONS = {} if args.detector is None else {"detector": args.detector}
    model = create_face_model(**DETECTOR_OPTIONS)
    steps = {"1": lambda: figure_1(model), "2": lambda: figure_2(model), "3": lambda: figure_3(args.runs),
             "4": figure_4, "5": lambda: figure_5(model), "jitter": smoothing_jitter}
    for key in args.only:
        t = time.perf_counter()
        results[key] = steps[key]()
        print(f"figure {key}: {time.perf_counter() - t:.0f} s", flush=True)
        path.write_text(json.dumps(results, indent=1, default=float))
    (RESULTS / f"{stem}.md").write_text(_markdown(results))
    _plot(results, RESULTS / f"{stem}.png")
    print(_markdown(results))


if __name__ == "__main__":
    main()
