"""``facepaint batch``, and ``facepaint stylize --workers N``: videos painted shot by shot on a
pool of workers (:mod:`facepaint.scale`), with resume, progress and a summary."""

from __future__ import annotations

import glob
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from facepaint.cli import app
from facepaint.cli._options import EndOption, FaceModelOption, FpsOption, MaxFramesOption, QuietOption, SeedOption, StartOption, StrokeScaleOption, WeightsOption
from facepaint.cli.video import CrfOption, FlowChoice, FlowOption, PresetOption, StyleChoice, StyleOption, build_pipeline_config
from facepaint.errors import InputError
from facepaint.io.writer import DEFAULT_CRF, DEFAULT_PRESET

#: What a folder given to ``batch`` is searched for.
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".h264", ".264", ".h265", ".265", ".hevc")
LIST_SUFFIXES = (".txt", ".list")

WorkersOption = Annotated[
    Optional[int], typer.Option("--workers", "-j", min=1, help="Worker processes painting shots in parallel (default: the local cores).")
]
SchedulerOption = Annotated[
    Optional[str],
    typer.Option("--scheduler", help="Address of a running Dask scheduler (tcp://host:8786) to paint on; needs the extra 'scale'."),
]
ResumeOption = Annotated[
    bool, typer.Option("--resume", help="Only resume an interrupted run (fail if there is none); re-running the same command resumes too.")
]
RestartOption = Annotated[bool, typer.Option("--restart", help="Discard an interrupted run's finished shots and start over.")]


def collect_inputs(items: list[str]) -> list[str]:
    """The videos that ``IN...`` names: files, folders (the videos in them), glob patterns, and
    text files of paths (one a line, ``#`` comments, relative to the list's folder). A path that
    does not exist is kept, to be reported by name with the other results."""
    found: list[str] = []
    for item in items:
        path = Path(item)
        if path.is_file() and path.suffix.lower() in LIST_SUFFIXES:
            for line in path.read_text().splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    found.extend(collect_inputs([str((path.parent / line) if not os.path.isabs(line) else Path(line))]))
        elif path.is_dir():
            inside = sorted(str(p) for p in path.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
            if not inside:
                raise InputError(f"the folder '{item}' holds no videos ({', '.join(VIDEO_SUFFIXES)})")
            found.extend(inside)
        elif any(c in item for c in "*?[") and not path.exists():
            matched = sorted(p for p in glob.glob(item) if os.path.isfile(p))
            if not matched:
                raise InputError(f"the pattern '{item}' matches no files; check it and quote it")
            found.extend(matched)
        else:
            found.append(item)
    seen: set[str] = set()
    return [p for p in found if not (os.path.abspath(p) in seen or seen.add(os.path.abspath(p)))]


def output_names(inputs: list[str], out_dir: Path, suffix: str = ".mp4") -> list[Path]:
    """``OUTDIR/NAME.mp4`` for each input, ``NAME-2.mp4``... where two inputs share a name."""
    taken: set[str] = set()
    names = []
    for source in inputs:
        stem = Path(source).stem or "video"
        name, n = f"{stem}{suffix}", 1
        while name in taken:
            n += 1
            name = f"{stem}-{n}{suffix}"
        taken.add(name)
        names.append(out_dir / name)
    return names


class BatchView:
    """Rich progress over all videos (frames) and one line per video (shots), then a table."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self._progress = None
        self._total = None
        self._rows: dict[str, int] = {}
        self._shots: dict[str, list[int]] = {}

    def __enter__(self) -> "BatchView":
        if not self.quiet:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[note]}"),
                TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
            )
            self._progress.start()
            self._total = self._progress.add_task("all videos (frames)", total=0, note="")
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()

    def planned(self, source: str, frames: int, shots: int, frames_done: int) -> None:
        if self._progress is None:
            return
        p = self._progress
        p.update(self._total, total=(p.tasks[self._total].total or 0) + frames, advance=frames_done)
        self._shots[source] = [0, shots]
        self._rows[source] = p.add_task(Path(source).name, total=frames, completed=frames_done, note=f"0/{shots} shots")

    def shot_done(self, source: str, frames: int) -> None:
        if self._progress is None:
            return
        self._shots[source][0] += 1
        done, total = self._shots[source]
        self._progress.update(self._rows[source], advance=frames, note=f"{done}/{total} shots")
        self._progress.update(self._total, advance=frames)

    def finished(self, result) -> None:
        if self._progress is None or result.source not in self._rows:
            return
        self._progress.update(self._rows[result.source], note="done" if result.ok else "[red]failed")


def print_summary(report, quiet: bool) -> None:
    """The table of results (unless quiet) and one ``error:`` line per failed video."""
    if not quiet:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"facepaint batch: {len(report.videos)} video(s) in {report.seconds:.1f} s on {report.pool}")
        numbers = ("frames", "shots", "resumed", "painting", "done at")
        for name in ("video", *numbers, "result"):
            table.add_column(name, justify="right" if name in numbers else "left")
        for v in report.videos:
            result = f"{v.output} (audio {v.audio})" if v.ok else f"[red]{v.error}"
            table.add_row(
                Path(v.source).name, str(v.frames), str(v.shots), str(v.resumed_shots), f"{v.paint_seconds:.1f} s", f"{v.seconds:.1f} s", result
            )
        Console(stderr=True).print(table)
    for v in report.videos:
        if not v.ok:
            print(f"error: {Path(v.source).name}: {v.error}", file=sys.stderr)


def run_in_shots(jobs, settings, *, workers, scheduler, resume, restart, quiet) -> int:
    """Paint ``jobs`` shot by shot; returns the exit code (0: every video written, 2: not)."""
    from facepaint.scale import stylize_videos

    if resume and restart:
        raise InputError("--resume and --restart contradict each other; give one")
    with BatchView(quiet) as view:
        report = stylize_videos(
            jobs, settings, workers=workers, scheduler=scheduler, restart=restart, require_resume=resume, progress=view,
        )
    print_summary(report, quiet)
    return 0 if report.ok else 2


@app.command("batch")
def batch(
    inputs: Annotated[list[str], typer.Argument(metavar="IN... OUTDIR", help="Videos, folders, glob patterns or text files of paths, then the output folder.")],
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    resume: ResumeOption = False,
    restart: RestartOption = False,
    fps: FpsOption = None,
    start: StartOption = None,
    end: EndOption = None,
    max_frames: MaxFramesOption = None,
    seed: SeedOption = 0,
    crf: CrfOption = DEFAULT_CRF,
    preset: PresetOption = DEFAULT_PRESET,
    no_audio: Annotated[bool, typer.Option("--no-audio", help="Drop the inputs' audio.")] = False,
    style: StyleOption = StyleChoice.oil,
    flow: FlowOption = FlowChoice.fast,
    face_model: FaceModelOption = "mediapipe",
    weights: WeightsOption = None,
    stroke_scale: StrokeScaleOption = 1.0,
    quiet: QuietOption = False,
) -> None:
    """Paint many videos into OUTDIR (OUTDIR/NAME.mp4), shot by shot on parallel workers; an
    interrupted run resumes where it stopped."""
    if len(inputs) < 2:
        raise InputError("batch needs at least one input and the output folder: facepaint batch IN... OUTDIR")
    *sources, out_dir = inputs
    videos = collect_inputs(sources)
    target = Path(out_dir)
    if target.exists() and not target.is_dir():
        raise InputError(f"OUTDIR '{out_dir}' is a file; the last argument of batch is the output folder")
    target.mkdir(parents=True, exist_ok=True)
    from facepaint.scale import RunSettings

    config = build_pipeline_config(style=style, flow=flow, face_model=face_model, weights=weights, stroke_scale=stroke_scale)
    settings = RunSettings(
        config=config, seed=seed, fps=fps, start_s=start, end_s=end, max_frames=max_frames, crf=crf, preset=preset, audio=not no_audio,
    )
    jobs = list(zip(videos, [str(p) for p in output_names(videos, target)]))
    raise typer.Exit(run_in_shots(jobs, settings, workers=workers, scheduler=scheduler, resume=resume, restart=restart, quiet=quiet))
