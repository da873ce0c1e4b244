"""``facepaint evaluate-video``: warping error, recognizability and stylization strength."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from facepaint.cli import app
from facepaint.metrics import EvaluationConfig, FlowMethod, VideoReport, WarpConfig, evaluate_video


def _fmt(value: float, spec: str) -> str:
    return "-" if value != value else format(value, spec)  # NaN -> "-"


def format_report(report: VideoReport) -> str:
    """Human-readable summary of a :class:`VideoReport`, one figure per line."""
    lines = [
        f"frames compared            {report.frames} (faces and SSIM on {report.face_frames})",
        f"warping error, output      {_fmt(report.warping_error, '.6f')}",
        f"warping error, input       {_fmt(report.warping_error_input, '.6f')}",
        f"ratio output / input       {_fmt(report.warping_ratio, '.2f')}   (target <= 1.5)",
        f"SSIM outside faces         {_fmt(report.ssim_outside_faces, '.3f')}"
        f"   (stylization strength {_fmt(report.stylization_strength, '.3f')})",
    ]
    if not report.faces_measured:
        lines.append("recognizability            not measured (--no-faces)")
        return "\n".join(lines)
    lines.append("face width   faces   recognizable (d < 0.6)   median distance   median NME")
    for b in report.buckets:
        share = "-" if b.count == 0 else f"{100 * b.recognizable_share:5.1f} %"
        lines.append(
            f"{b.name:>10}   {b.count:5d}   {share:>22}   {_fmt(b.median_distance, '15.3f'):>15}"
            f"   {_fmt(b.median_nme, '10.3f'):>10}"
        )
    return "\n".join(lines)


@app.command("evaluate-video")
def evaluate_video_command(
    input_video: Annotated[str, typer.Argument(metavar="IN", help="The source video.")],
    output_video: Annotated[str, typer.Argument(metavar="OUT", help="Its stylized version (same size and length).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    max_frames: Annotated[Optional[int], typer.Option("--max-frames", min=2, help="Compare only the first N frames.")] = None,
    face_every: Annotated[int, typer.Option("--face-every", min=1, help="Measure faces and SSIM on every N-th frame.")] = 10,
    faces: Annotated[bool, typer.Option("--faces/--no-faces", help="Measure recognizability (needs the 'metrics' extra).")] = True,
    flow: Annotated[FlowMethod, typer.Option("--flow", help="Optical flow of the warping error.")] = FlowMethod.FARNEBACK,
    fps: Annotated[Optional[float], typer.Option("--fps", min=0.001, help="Frame rate for raw .h264 streams.")] = None,
) -> None:
    """Measure a stylized video against its source: temporal warping error (Lai et al. 2018)
    next to the source's own, face recognizability per face-width bucket (dlib embeddings,
    68-point NME), and SSIM outside the faces."""
    config = EvaluationConfig(warp=WarpConfig(flow=flow), face_every_n_frames=face_every, faces=faces)
    report = evaluate_video(input_video, output_video, config, max_frames=max_frames, fps=fps)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        typer.echo(format_report(report))
