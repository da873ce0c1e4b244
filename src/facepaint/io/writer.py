"""Writing frames as an H.264 mp4 (with the input's audio) or as a PNG sequence.

Nothing is ever left half-written: frames go to a temporary file (or folder) in the target
directory, which is renamed to the requested name only when the writer closes without error, and
removed otherwise. The input's audio is copied into the output in sync with the frames: remuxed
without re-encoding when the container accepts the codec, otherwise encoded to AAC.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from facepaint._atomic import default_mode, disk_error, temporary_file, write_bytes_atomic
from facepaint.errors import InputError, OutputError

VIDEO_SUFFIXES = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
#: Audio codecs each container takes as they are (anything else is re-encoded to AAC).
REMUXABLE_AUDIO = {
    "mp4": {"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"},
    "mov": {"aac", "mp3", "alac", "ac3", "eac3", "pcm_s16le", "pcm_s24le"},
    "matroska": {"aac", "mp3", "opus", "vorbis", "flac", "ac3", "eac3", "pcm_s16le", "alac"},
}
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
#: Default x264 preset and quality. Painted frames are all brush texture: at CRF 18 veryfast,
#: x264 took 132 ms of CPU per 1080p frame (a third of the painter's), superfast at CRF 20 63 ms
#: for about the same size and PSNR (16.7 vs 17.6 Mbit/s, 37.3 vs 37.1 dB on crowd_1080p; 1.4 vs
#: 3.3 Mbit/s, 42.9 vs 43.2 dB on lp_s32): ``benchmarks/results/encode_presets.md``.
DEFAULT_PRESET = "superfast"
DEFAULT_CRF = 20


def output_kind(path: str | os.PathLike) -> str:
    """``"video"`` for .mp4/.m4v/.mov/.mkv, ``"png"`` for a directory (no suffix or a trailing
    slash) or a ``.png`` pattern; raises :class:`InputError` for anything else."""
    text = os.fspath(path)
    suffix = Path(text).suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if text.endswith(("/", os.sep)) or suffix == "" or os.path.isdir(text):
        return "png"
    raise InputError(
        f"cannot write '{text}': expected an .mp4, .mov or .mkv file, or a directory for a PNG sequence"
    )


def check_output_path(output: str | os.PathLike, inputs: tuple[str | os.PathLike, ...] = ()) -> Path:
    """Validate an output path before any work is done; returns it as an absolute Path."""
    out = Path(os.fspath(output)).expanduser().absolute()
    parent = out.parent
    if not parent.is_dir():
        raise OutputError(f"output directory '{parent}' does not exist; create it first (mkdir -p '{parent}')")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"output directory '{parent}' is not writable; choose another output path")
    for source in inputs:
        src = Path(os.fspath(source)).expanduser().absolute()
        if src.exists() and out.exists() and os.path.samefile(src, out) or src == out:
            raise OutputError(f"output '{output}' is the input; give another output path so the input is not overwritten")
    return out


def write_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write an ``(H, W, 3) uint8`` RGB image (PNG, JPEG, ...) atomically."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"write_image expects an (H, W, 3) uint8 RGB array, got {image.shape} {image.dtype}")
    out = check_output_path(path)
    suffix = out.suffix.lower() or ".png"
    ok, data = cv2.imencode(suffix, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OutputError(f"cannot encode an image as '{suffix}'; use .png or .jpg")
    write_bytes_atomic(out, data.tobytes())


def _hold(path: Path):
    """Keep a shared lock on a temporary output while it is written, so that
    :func:`remove_stale_parts` can tell it from one a killed writer left (None where there are no
    file locks)."""
    try:
        import fcntl

        fd = os.open(path, os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_SH)
        return fd
    except (ImportError, OSError):
        return None


def remove_stale_parts(target: str | os.PathLike) -> list[Path]:
    """Delete the temporary files (``.NAME.*.part*``) that killed writers of ``target`` left
    beside it; those that a live writer holds (:func:`_hold`) are kept.

    Returns
    -------
    list of Path
        The files and folders removed.
    """
    target = Path(os.fspath(target)).expanduser().absolute()
    if not target.parent.is_dir():
        return []
    return remove_unheld(target.parent.glob(f".{glob_escape(target.name)}.*.part*"))


def remove_unheld(parts: Iterable[Path]) -> list[Path]:
    """Delete those of ``parts`` (temporary files or folders) that no live writer holds."""
    try:
        import fcntl
    except ImportError:  # no file locks: a live writer's file cannot be told apart
        return []
    removed = []
    for part in parts:
        try:
            fd = os.open(part, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: a writer is alive
            os.close(fd)
            continue
        try:
            shutil.rmtree(part) if part.is_dir() else part.unlink()
            removed.append(part)
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


def glob_escape(name: str) -> str:
    """``name`` with the glob characters ``*?[`` matched literally."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


class _AudioCopy:
    """Copies the input's first audio stream into the output, interleaved with the video.

    Audio time 0 is the input time of the first kept video frame (``origin_s``), so the output
    stays in sync whatever the input's start offsets. :meth:`advance_to` writes the audio up to a
    time; the writer calls it as frames arrive, so memory does not grow with the video's length.
    """

    def __init__(self, output, source: str, origin_s: float, container_format: str) -> None:
        import av

        self._input = av.open(source)
        self._in_stream = self._input.streams.audio[0]
        self._origin_s = origin_s
        self._output = output
        codec = self._in_stream.codec_context
        self.remux = codec.name in REMUXABLE_AUDIO.get(container_format, set())
        if self.remux:
            self._out_stream = output.add_stream_from_template(self._in_stream)
        else:
            rate = codec.sample_rate or 48000
            layout = "stereo" if (codec.channels or 2) >= 2 else "mono"
            self._out_stream = output.add_stream("aac", rate=rate, layout=layout)
            self._resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
            self._samples_out = 0
        if origin_s > 1.0:
            self._input.seek(int((origin_s - 1.0) * 1_000_000), backward=True)
        self._packets = self._input.demux(self._in_stream)
        self._pending = None

    def advance_to(self, until_s: float) -> None:
        """Write every input audio packet that starts before ``until_s`` (output seconds)."""
        import av

        while True:
            packet = self._pending if self._pending is not None else next(self._packets, None)
            self._pending = None
            if packet is None:
                return
            if packet.pts is None:  # the demuxer's empty flush packet
                continue
            time_s = float(packet.pts * packet.time_base) - self._origin_s
            if time_s >= until_s:
                self._pending = packet
                return
            if time_s < -1e-3:  # before the first kept frame (trimmed with --start)
                continue
            if self.remux:
                shift = int(round(self._origin_s / packet.time_base))
                packet.pts -= shift
                if packet.dts is not None:
                    packet.dts -= shift
                packet.stream = self._out_stream
                self._output.mux(packet)
                continue
            try:
                frames = packet.decode()
            except av.error.FFmpegError:  # a damaged audio packet: leave a gap, keep going
                continue
            for frame in frames:
                self._encode(self._resampler.resample(frame))

    def _encode(self, frames) -> None:
        for frame in frames:
            frame.pts = self._samples_out
            frame.time_base = Fraction(1, self._out_stream.codec_context.sample_rate)
            self._samples_out += frame.samples
            self._output.mux(self._out_stream.encode(frame))

    def close(self, end_s: float) -> None:
        """Write the audio up to ``end_s`` (the video's end), flush the encoder, close the input."""
        self.advance_to(end_s)
        if not self.remux:
            self._encode(self._resampler.resample(None))
            self._output.mux(self._out_stream.encode(None))
        self._input.close()


class VideoWriter:
    """Stream ``(H, W, 3) uint8`` RGB frames into an H.264 video or a PNG sequence.

    Use as a context manager; the output appears under its name only if the block completes::

        with VideoWriter("out.mp4", fps=reader.info.fps, audio_from="in.mp4") as writer:
            for image in images:
                writer.write(image)

    Parameters
    ----------
    path : str or path-like
        ``.mp4``/``.mov``/``.mkv`` for H.264 video (yuv420p, plays everywhere), or a directory
        for ``frame_000000.png``, ``frame_000001.png``, ...
    fps : float
        Constant output frame rate.
    crf : int
        x264 constant rate factor, 0 (lossless) to 51 (worst); 18-20 look lossless.
    preset : str
        x264 speed preset (:data:`X264_PRESETS`).
    audio_from : str, optional
        Input whose first audio stream is copied (remuxed or re-encoded to AAC) into the output.
    audio_start_s : float
        Input time (seconds) of the first frame, when the input was trimmed with ``--start``;
        the audio is cut to the frames written.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        fps: float,
        crf: int = DEFAULT_CRF,
        preset: str = DEFAULT_PRESET,
        audio_from: str | os.PathLike | None = None,
        audio_start_s: float = 0.0,
    ) -> None:
        if not (0 < fps <= 1000):
            raise InputError(f"fps must be in (0, 1000], got {fps}")
        if not (0 <= int(crf) <= 51):
            raise InputError(f"--crf must be an integer from 0 (lossless) to 51, got {crf}")
        if preset not in X264_PRESETS:
            raise InputError(f"--preset must be one of {', '.join(X264_PRESETS)}, got '{preset}'")
        self.kind = output_kind(path)
        inputs = (audio_from,) if audio_from is not None else ()
        self.path = check_output_path(path, inputs)
        # What killed writers of this output left behind goes (a live writer's file is kept).
        remove_stale_parts(self.path)
        self.fps = float(fps)
        self.rate = Fraction(self.fps).limit_denominator(1001)
        self.crf = int(crf)
        self.preset = preset
        self.audio_from = os.fspath(audio_from) if audio_from is not None else None
        self.audio_start_s = audio_start_s
        self.frames_written = 0
        self._container = None
        self._stream = None
        self._audio: _AudioCopy | None = None
        self._size: tuple[int, int] | None = None
        self._tmp: Path | None = None
        self._closed = False
        self._held = None  # fd of the shared lock on the temporary output (see _hold)

    @property
    def audio_remuxed(self) -> bool | None:
        """True if the input's audio is copied as it is, False if re-encoded to AAC, None if the
        output carries no audio (set once the first frame has opened the output)."""
        return None if self._audio is None else self._audio.remux

    # -- context manager --------------------------------------------------------------------
    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    # -- writing ----------------------------------------------------------------------------
    def write(self, image: np.ndarray) -> None:
        """Append one ``(H, W, 3) uint8`` RGB frame; every frame must have the first one's size."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InputError(f"frames must be (H, W, 3) uint8 RGB arrays, got {image.shape} {image.dtype}")
        if self._size is None:
            self._open(image.shape[1], image.shape[0])
        elif image.shape[:2] != self._size[::-1]:
            raise InputError(f"frame {self.frames_written} is {image.shape[1]}x{image.shape[0]}, expected {self._size[0]}x{self._size[1]}")
        if self.kind == "png":
            name = self._tmp / f"frame_{self.frames_written:06d}.png"
            if not cv2.imwrite(str(name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
                raise OutputError(f"cannot write '{name}'; is the disk full?")
        else:
            try:
                self._write_video_frame(image)
            except OSError as error:
                disk = disk_error(error, self.path)
                if disk is None:
                    raise
                raise disk from error
        self.frames_written += 1

    def _open(self, width: int, height: int) -> None:
        self._size = (width, height)
        if self.kind == "png":
            self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent))
            os.chmod(self._tmp, default_mode(directory=True))
            self._held = _hold(self._tmp)
            return
        import av

        # the real suffix last, so that FFmpeg and players recognise a kept temporary file
        self._tmp = temporary_file(self.path, suffix=f".part{self.path.suffix}")
        self._held = _hold(self._tmp)
        container_format = VIDEO_SUFFIXES[self.path.suffix.lower()]
        try:
            self._container = av.open(str(self._tmp), mode="w", format=container_format)
            # yuv420p needs even sizes: odd ones are padded by repeating the last row/column.
            stream = self._container.add_stream("libx264", rate=self.rate)
            stream.width = width + (width % 2)
            stream.height = height + (height % 2)
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": str(self.crf), "preset": self.preset}
            stream.codec_context.time_base = 1 / self.rate
            self._stream = stream
            if self.audio_from is not None:
                self._audio = _AudioCopy(self._container, self.audio_from, self.audio_start_s, container_format)
        except av.error.FFmpegError as error:
            self.abort()
            raise OutputError(f"cannot write '{self.path}': {error}") from error

    def _write_video_frame(self, image: np.ndarray) -> None:
        import av

        if image.shape[1] % 2 or image.shape[0] % 2:
            image = np.pad(image, ((0, image.shape[0] % 2), (0, image.shape[1] % 2), (0, 0)), mode="edge")
        # RGB -> YUV 4:2:0 (BT.601, limited range, as FFmpeg's default) by OpenCV: at 1080p 1.0 ms
        # where the encoder's own swscale conversion from rgb24 took 3.7 (the same planes but for
        # rounding: a mean difference of 0.04-0.11 levels; benchmarks/encode_presets.py).
        yuv = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2YUV_I420)
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = self.frames_written
        frame.time_base = 1 / self.rate
        self._container.mux(self._stream.encode(frame))
        if self._audio is not None:
            self._audio.advance_to((self.frames_written + 1) / self.fps)

    def close(self) -> None:
        """Finish the file and move it to its name. Raises if no frame was written."""
        if self._closed:
            return
        if self.frames_written == 0:
            self.abort()
            raise InputError("no frames to write: the input gave zero frames in the chosen range")
        try:
            if self.kind == "video":
                self._container.mux(self._stream.encode(None))
                if self._audio is not None:
                    self._audio.close(self.frames_written / self.fps)
                self._container.close()
                os.replace(self._tmp, self.path)
            else:
                if self.path.exists():
                    shutil.rmtree(self.path) if self.path.is_dir() else self.path.unlink()
                os.replace(self._tmp, self.path)
        except OSError as error:
            self.abort()
            disk = disk_error(error, self.path)
            if disk is None:
                raise
            raise disk from error
        except BaseException:
            self.abort()
            raise
        self._release()
        self._closed = True

    def _release(self) -> None:
        if self._held is not None:
            os.close(self._held)
            self._held = None

    def abort(self) -> None:
        """Drop everything written so far; the target path is left as it was."""
        self._closed = True
        if self._audio is not None:
            try:
                self._audio._input.close()
            except Exception:
                pass
        if self._container is not None:
            try:
                self._container.close()
            except Exception:
                pass
        if self._tmp is not None and self._tmp.exists():
            shutil.rmtree(self._tmp) if self._tmp.is_dir() else self._tmp.unlink()
        self._release()
