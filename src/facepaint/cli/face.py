"""``facepaint regions`` and ``facepaint faces``: what the face model sees."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from facepaint.cli import app
from facepaint.cli._options import (
    EndOption,
    FaceModelOption,
    FpsOption,
    MaxFramesOption,
    QuietOption,
    StartOption,
    WeightsOption,
    face_model_options,
)
from facepaint.errors import InputError
from facepaint.regions_video import is_image_file


MinFaceOption = Annotated[
    float, typer.Option("--min-face", min=8, max=4096, help="Smallest face width to look for, pixels (mediapipe model).")
]
TilesOption = Annotated[
    Optional[int],
    typer.Option("--tiles-per-frame", min=0, max=1000, help="Detector tiles scanned per video frame (mediapipe model; default 3 short-range, 1 full-range); more finds new small faces sooner."),
]


class Detector(str, Enum):
    short = "short"
    full = "full"


DetectorOption = Annotated[Detector, typer.Option("--detector", help="mediapipe model's detector: short-range (default) or full-range.")]


def _model(
    name: str, weights: Path | None, min_face: float, tiles_per_frame: int | None, detector: Detector, fps: float | None = None
):
    from facepaint.face import create_face_model

    options = face_model_options(name, weights)
    if name == "mediapipe":
        options = {"min_face_px": min_face, "tiles_per_frame": tiles_per_frame, "detector": detector.value}
        if fps:
            options["fps"] = fps
    return create_face_model(name, **options)


def _frames(source: str, fps, start, end, max_frames):
    """(reader or None, iterator of (index, time_s, image)) for a still or a video."""
    from facepaint.io import open_video, read_image

    if is_image_file(source):
        return None, iter([(0, 0.0, read_image(source))])
    reader = open_video(source, fps=fps, start_s=start, end_s=end, max_frames=max_frames)
    return reader, ((f.index, f.time_s, f.image) for f in reader)


@app.command("regions")
def regions(
    source: Annotated[str, typer.Argument(metavar="IN", help="Image, video, raw .h264 stream, folder or glob of frames.")],
    output: Annotated[str, typer.Argument(metavar="OUT", help="Image (.png/.jpg) for an image input; .mp4/.mov/.mkv or a folder for a video.")],
    model: FaceModelOption = "mediapipe",
    weights: WeightsOption = None,
    min_face: MinFaceOption = 24.0,
    tiles_per_frame: TilesOption = None,
    detector: DetectorOption = Detector.short,
    fps: FpsOption = None,
    start: StartOption = None,
    end: EndOption = None,
    max_frames: MaxFramesOption = None,
    quiet: QuietOption = False,
) -> None:
    """Draw the three regions (blue: inner face, orange: features, dark: the rest) and the 36
    contour points (white: point 0, yellow: point 1) over an image or a video."""
    from facepaint.regions_video import write_regions

    counts = write_regions(
        source,
        output,
        make_face_model=lambda rate: _model(model, weights, min_face, tiles_per_frame, detector, rate),
        fps=fps,
        start_s=start,
        end_s=end,
        max_frames=max_frames,
    )
    if not quiet:
        print(f"wrote {output}: {len(counts)} frame(s), {sum(counts) / len(counts):.1f} faces per frame", file=sys.stderr)


@app.command("faces")
def faces(
    source: Annotated[str, typer.Argument(metavar="IN", help="Image, video, raw .h264 stream, folder or glob of frames.")],
    json_out: Annotated[str, typer.Option("--json", metavar="OUT.json", help="Where to write the landmarks (JSON).")],
    mesh: Annotated[bool, typer.Option("--mesh", help="Also export the backend's dense landmarks (468 for mediapipe).")] = False,
    model: FaceModelOption = "mediapipe",
    weights: WeightsOption = None,
    min_face: MinFaceOption = 24.0,
    tiles_per_frame: TilesOption = None,
    detector: DetectorOption = Detector.short,
    fps: FpsOption = None,
    start: StartOption = None,
    end: EndOption = None,
    max_frames: MaxFramesOption = None,
    quiet: QuietOption = False,
) -> None:
    """Export, per frame, each face's box, score, track id, 36 contour points and feature polygons."""
    from facepaint.face.export import export_header, face_record, write_json_atomic
    from facepaint.io import check_output_path

    if not json_out.lower().endswith(".json"):
        raise InputError(f"--json expects a file name ending in .json, got '{json_out}'")
    check_output_path(json_out, (source,))
    still = is_image_file(source)
    reader, frames = _frames(source, fps, start, end, max_frames)
    face_model = _model(model, weights, min_face, tiles_per_frame, detector, reader.fps if reader is not None else None)
    records = []
    size = None
    for index, time_s, image in frames:
        size = image.shape[:2]
        found = face_model.detect(image) if still else face_model.process(image)
        records.append({"index": index, "time_s": round(time_s, 6), "faces": [face_record(f, mesh=mesh) for f in found]})
    if size is None:
        raise InputError(f"'{source}' gave no frames in the requested range; check --start/--end")
    document = export_header(source, size[1], size[0], None if reader is None else reader.fps, model)
    document["frames"] = records
    write_json_atomic(json_out, document)
    if not quiet:
        total = sum(len(r["faces"]) for r in records)
        print(f"wrote {json_out}: {len(records)} frame(s), {total} face(s)", file=sys.stderr)
