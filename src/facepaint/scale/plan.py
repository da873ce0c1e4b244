"""A run's plan and its work folder: what resume after an interruption rests on.

A video painted shot by shot keeps, in a work folder beside its output
(``OUT.mp4.facepaint-work/``), the plan of the run (``plan.json``: the input's fingerprint, the
settings, the frame count, the cuts and the shots), each finished shot's video
(``shot_00003.mp4``) and its record (``shot_00003.json``, written after the video: a shot counts
as finished only with both). Every file is written under a temporary name and renamed, so a
killed run leaves finished shots or nothing of a shot. Running the same command again reads the
plan, checks that the input and the settings are those of the plan (and refuses otherwise, with
what differs), and paints only the shots without a record. The folder goes when the output is
complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from facepaint._atomic import disk_error, write_bytes_atomic
from facepaint.errors import InputError, OutputError
from facepaint.io.writer import remove_unheld
from facepaint.scale.shots import Shot

PLAN_VERSION = 1
WORK_SUFFIX = ".facepaint-work"


@dataclass(frozen=True)
class RunSettings:
    """Everything besides the input that decides a run's frames (what a resumed run must match).

    Attributes
    ----------
    config : facepaint.pipeline.PipelineConfig
    seed : int
    fps, start_s, end_s, max_frames :
        The reader's options (:func:`facepaint.io.open_video`).
    crf : int
    preset : str
        x264 settings of every shot (the joined file is their packets, copied).
    audio : bool
        Copy the input's audio into the output.
    """

    config: Any
    seed: int = 0
    fps: float | None = None
    start_s: float | None = None
    end_s: float | None = None
    max_frames: int | None = None
    crf: int = 20
    preset: str = "superfast"
    audio: bool = True

    def described(self) -> dict[str, str]:
        """The settings as text, compared field by field when a run is resumed."""
        return {
            "seed": str(self.seed),
            "fps": str(self.fps),
            "start": str(self.start_s),
            "end": str(self.end_s),
            "max_frames": str(self.max_frames),
            "crf": str(self.crf),
            "preset": self.preset,
            "audio": str(self.audio),
            # the dataclass repr lists every field of every stage config, enums by name
            "painting": repr(self.config),
        }


def fingerprint(source: str | os.PathLike) -> str:
    """What identifies an input's content cheaply: size, modification time and a hash of the first
    and last MiB of a file; names, sizes and times of the frames of a folder or glob."""
    path = Path(os.fspath(source))
    h = hashlib.blake2b(digest_size=16)
    if path.is_file():
        st = path.stat()
        h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
        with open(path, "rb") as f:
            h.update(f.read(1 << 20))
            if st.st_size > 1 << 20:
                f.seek(max(1 << 20, st.st_size - (1 << 20)))
                h.update(f.read(1 << 20))
        return h.hexdigest()
    from facepaint.io.reader import _image_files  # the frames of a folder or glob, as read

    for name in _image_files(os.fspath(source)) or []:
        st = os.stat(name)
        h.update(f"{os.path.basename(name)}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class VideoPlan:
    """The plan of one video's run, as ``plan.json`` holds it.

    Attributes
    ----------
    source, output : str
        Absolute paths.
    fingerprint : str
        :func:`fingerprint` of the input when the plan was made.
    settings : dict of str to str
        :meth:`RunSettings.described`.
    fps : float
        Frame rate of the output.
    frames : int
        Frames in the chosen range.
    cuts : tuple of int
        Frames that start a new shot.
    shots : tuple of Shot
        The tasks, in order; together they cover frames ``0 .. frames - 1``.
    """

    source: str
    output: str
    fingerprint: str
    settings: dict[str, str] = field(hash=False)
    fps: float
    frames: int
    cuts: tuple[int, ...]
    shots: tuple[Shot, ...]

    def to_json(self) -> bytes:
        data = asdict(self)
        data["version"] = PLAN_VERSION
        return json.dumps(data, indent=1).encode()

    @staticmethod
    def from_json(data: bytes) -> "VideoPlan":
        raw = json.loads(data)
        if raw.pop("version", None) != PLAN_VERSION:
            raise ValueError("plan of another version")
        raw["cuts"] = tuple(raw["cuts"])
        raw["shots"] = tuple(Shot(**s) for s in raw["shots"])
        return VideoPlan(**raw)


class WorkFolder:
    """The work folder of one output: its lock, plan, finished shots and clean-up.

    Parameters
    ----------
    output : path
        The final output; the folder is ``OUTPUT.facepaint-work`` beside it.
    """

    def __init__(self, output: str | os.PathLike) -> None:
        self.output = Path(os.fspath(output)).expanduser().absolute()
        self.path = self.output.with_name(self.output.name + WORK_SUFFIX)
        self._lock_fd: int | None = None

    # -- lifetime ---------------------------------------------------------------------------
    def open(self) -> "WorkFolder":
        """Create the folder if needed and take its lock (one run per output); removes the
        temporary files that killed runs left in it."""
        try:
            self.path.mkdir(exist_ok=True)
        except OSError as error:
            raise OutputError(f"cannot create the work folder '{self.path}': {error.strerror}") from error
        try:
            import fcntl

            fd = os.open(self.path / "lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise OutputError(f"another facepaint run is writing '{self.output}' (its work folder '{self.path}' is locked); wait for it to end") from None
            self._lock_fd = fd
        except ImportError:  # no file locks here: one run per output is up to the user
            pass
        self.discard_partial()  # a killed run's half-written shots
        return self

    def discard_partial(self) -> None:
        """Delete half-written shot files that no live writer holds (a worker killed before it
        could remove its own)."""
        remove_unheld(self.path.glob("*.part*"))

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def remove(self) -> None:
        """Delete the folder (the output is complete)."""
        self.close()
        shutil.rmtree(self.path, ignore_errors=True)

    # -- the plan ---------------------------------------------------------------------------
    @property
    def plan_path(self) -> Path:
        return self.path / "plan.json"

    def load_plan(self) -> VideoPlan | None:
        """The recorded plan, or None when there is none (or it is unreadable: planned again)."""
        try:
            return VideoPlan.from_json(self.plan_path.read_bytes())
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def save_plan(self, plan: VideoPlan) -> None:
        write_record(self.plan_path, plan.to_json())

    # -- shots ------------------------------------------------------------------------------
    def shot_video(self, shot: Shot) -> Path:
        return self.path / f"shot_{shot.index:05d}{self.output.suffix}"

    def shot_record(self, shot: Shot) -> Path:
        return self.path / f"shot_{shot.index:05d}.json"

    def finished(self, plan: VideoPlan) -> dict[int, dict]:
        """The records of the shots of ``plan`` that are finished (record and video present,
        for the planned frames)."""
        done = {}
        for shot in plan.shots:
            try:
                record = json.loads(self.shot_record(shot).read_bytes())
            except (OSError, ValueError):
                continue
            if record.get("frames") == shot.frames and record.get("start") == shot.start and self.shot_video(shot).is_file():
                done[shot.index] = record
        return done


def check_resumable(plan: VideoPlan, fingerprint_now: str, settings: dict[str, str], work: WorkFolder) -> None:
    """Refuse to resume a plan made for another input or other settings, saying what differs."""
    if plan.fingerprint != fingerprint_now:
        raise InputError(
            f"'{plan.source}' changed since the interrupted run that left '{work.path}'; "
            f"delete that folder to start over, or restore the input"
        )
    changed = [k for k in sorted(set(plan.settings) | set(settings)) if plan.settings.get(k) != settings.get(k)]
    if changed:
        shown = ", ".join(
            f"{k} {plan.settings.get(k)} -> {settings.get(k)}" if k != "painting" else "painting options"
            for k in changed
        )
        raise InputError(
            f"the interrupted run that left '{work.path}' used other settings ({shown}); "
            "run it again with the same options to resume, or delete that folder to start over"
        )


def write_record(path: str | os.PathLike, data: bytes) -> None:
    """Write a plan or a shot's record atomically; a full disk is an :class:`OutputError`."""
    try:
        write_bytes_atomic(path, data)
    except OSError as error:
        disk = disk_error(error, path)
        if disk is None:
            raise
        raise disk from error
