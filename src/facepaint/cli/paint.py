"""``facepaint paint``: paint a still image (a photo, a group photo)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from facepaint.cli import app
from facepaint.cli._options import FaceModelOption, QuietOption, StrokeScaleOption, WeightsOption, face_model_options
from facepaint.render.brushes import Style


@app.command("paint")
def paint_command(
    image: Annotated[Path, typer.Argument(help="Input image (PNG, JPEG, ...).", exists=True, dir_okay=False, readable=True)],
    output: Annotated[Path, typer.Argument(help="Output image, e.g. out.png.", dir_okay=False)],
    style: Annotated[Style, typer.Option("--style", case_sensitive=False, help="Brush look.")] = Style.OIL,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same painting.")] = 0,
    faces: Annotated[bool, typer.Option("--faces/--no-faces", help="Find faces and keep them recognizable.")] = True,
    face_model: FaceModelOption = "mediapipe",
    weights: WeightsOption = None,
    stroke_scale: StrokeScaleOption = 1.0,
    quiet: QuietOption = False,
) -> None:
    """Paint IMAGE with deformable brush strokes and write OUTPUT: small strokes on faces, the
    facial features kept."""
    from facepaint.io import check_output_path, read_image, write_image
    from facepaint.paint import PaintConfig, paint_frame, paint_image_result
    from facepaint.regions import build_region_map

    check_output_path(output, (image,))
    faces = faces and face_model != "none"
    model = None
    if faces:
        from facepaint.face import create_face_model

        model = create_face_model(face_model, **face_model_options(face_model, weights))
    rgb = read_image(image)
    start = time.perf_counter()
    config = PaintConfig(style=style, stroke_scale=stroke_scale)
    if faces:
        result = paint_image_result(rgb, face_model=model, config=config, seed=seed)
    else:
        result = paint_frame(rgb, build_region_map([], rgb.shape[:2]), config=config, seed=seed)
    write_image(output, result.image)
    if not quiet:
        ids = result.regions.face_ids
        n_faces = 0 if ids is None else int((np.unique(ids) >= 0).sum())
        typer.echo(
            f"{output}: {rgb.shape[1]}x{rgb.shape[0]} {style.value}, "
            f"{len(result.painting.background)} background + {len(result.painting.face)} face strokes, "
            f"~{n_faces} face(s), uncovered {100 * result.uncovered_share:.3f} %, "
            f"{time.perf_counter() - start:.2f} s"
        )
