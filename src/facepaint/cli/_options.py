"""Command-line options shared by several commands, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from facepaint.errors import InputError

FpsOption = Annotated[
    Optional[float],
    typer.Option("--fps", min=0.001, max=1000, help="Frame rate; needed for raw .h264 streams and frame folders (default 25)."),
]
StartOption = Annotated[Optional[float], typer.Option("--start", min=0, help="Start time in seconds.")]
EndOption = Annotated[Optional[float], typer.Option("--end", min=0, help="End time in seconds (exclusive).")]
MaxFramesOption = Annotated[Optional[int], typer.Option("--max-frames", min=1, help="Stop after this many frames.")]
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same painting.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")]
FaceModelOption = Annotated[
    str,
    typer.Option("--face-model", "--model", help="Face model: mediapipe (default), maskrcnn (needs --weights), or none."),
]
StrokeScaleOption = Annotated[
    float,
    typer.Option(
        "--stroke-scale", min=0.05, max=20,
        help="How strongly the background is painted: its strokes this many times larger (2: coarser, 0.5: finer); faces keep theirs.",
    ),
]
WeightsOption = Annotated[Optional[Path], typer.Option("--weights", help="Checkpoint of the maskrcnn face model (default: the one shipped with facepaint).")]


def face_model_options(face_model: str, weights: Path | None) -> dict:
    """The factory options that ``--face-model``/``--weights`` describe; checks they fit together."""
    if weights is not None and face_model != "maskrcnn":
        raise InputError(f"--weights is for --face-model maskrcnn, but the face model is '{face_model}'")
    # --face-model maskrcnn without --weights: the shipped checkpoint (the factory says so when it is missing)
    if weights is not None and not weights.is_file():
        raise InputError(f"--weights '{weights}' does not exist; give the path of a checkpoint file")
    return {"weights": str(weights)} if weights is not None else {}
