"""Reading video as a stream of constant-rate RGB frames.

Three kinds of input are accepted:

* any file PyAV (FFmpeg) can demux and decode: mp4, mov, mkv, webm, avi, ... with H.264, HEVC,
  VP9, ... in 8 or 10 bits, YUV or RGB;
* raw Annex-B elementary streams with no container (``.h264``, ``.264``, ``.h265``, ``.hevc``):
  they carry no frame rate, so the rate is the caller's ``fps`` or :data:`DEFAULT_FPS`, and
  :attr:`VideoInfo.fps_assumed` says so;
* a directory of PNG/JPEG frames, or a glob pattern of them (``'shots/*.png'``), in name order.

Frames come out on a constant-rate time line (the output's): a variable-frame-rate input is mapped
by presentation time, duplicating a frame to fill a gap and dropping frames that fall in the same
slot. Rotation metadata is applied. Memory does not grow with the video's length: one decoded frame
is held at a time.
"""

from __future__ import annotations

import glob
import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facepaint.errors import InputError
from facepaint.types import Frame, VideoInfo

#: Frame rate assumed for inputs that carry none (raw streams, frame folders).
DEFAULT_FPS = 25.0

RAW_STREAM_SUFFIXES = {".h264": "h264", ".264": "h264", ".h265": "hevc", ".265": "hevc", ".hevc": "hevc"}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


class DecodeWarning(UserWarning):
    """Part of an input could not be decoded; what decoded is kept."""


@dataclass
class DecodeStats:
    """What happened while decoding, filled in as the reader is iterated."""

    decoded: int = 0  #: frames the decoder produced
    emitted: int = 0  #: frames handed to the caller (after rate mapping and trimming)
    duplicated: int = 0  #: frames repeated to fill gaps of a variable-rate input
    dropped: int = 0  #: frames dropped because two fell in one output slot
    corrupt_packets: int = 0  #: packets the decoder rejected
    lost_frames: int = 0  #: frames the container announced that never decoded


def _is_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def _check_fps(fps: float | None) -> None:
    if fps is not None and not (math.isfinite(fps) and 0 < fps <= 1000):
        raise InputError(f"--fps must be a number in (0, 1000], got {fps}")


def _check_range(start_s: float | None, end_s: float | None, max_frames: int | None) -> None:
    if start_s is not None and (not math.isfinite(start_s) or start_s < 0):
        raise InputError(f"--start must be a time >= 0 in seconds, got {start_s}")
    if end_s is not None and (not math.isfinite(end_s) or end_s <= 0):
        raise InputError(f"--end must be a time > 0 in seconds, got {end_s}")
    if start_s is not None and end_s is not None and end_s <= start_s:
        raise InputError(f"--end ({end_s}s) must come after --start ({start_s}s)")
    if max_frames is not None and max_frames < 1:
        raise InputError(f"--max-frames must be at least 1, got {max_frames}")


def _image_files(source: str) -> list[str] | None:
    """The frame files of a directory or glob input, or None if ``source`` is neither."""
    if _is_glob(source) and not os.path.exists(source):
        files = sorted(f for f in glob.glob(source) if f.lower().endswith(IMAGE_SUFFIXES))
        if not files:
            raise InputError(f"the pattern '{source}' matches no PNG/JPEG frames; check the path and quote the pattern")
        return files
    if os.path.isdir(source):
        files = sorted(str(p) for p in Path(source).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InputError(
                f"the directory '{source}' holds no frames ({', '.join(IMAGE_SUFFIXES)}); give a video file or a folder of images"
            )
        return files
    return None


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read a still image as RGB.

    Parameters
    ----------
    path : str or path-like
        PNG, JPEG, BMP, TIFF or WebP file; grayscale, 16-bit and alpha images are converted.

    Returns
    -------
    image : (H, W, 3) uint8 ndarray
        RGB pixels.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(f"image '{path}' does not exist or is not a file")
    data = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if data is None:
        raise InputError(f"'{path}' is not an image OpenCV can read (expected PNG, JPEG, BMP, TIFF or WebP)")
    if data.dtype == np.uint16:
        data = (data >> 8).astype(np.uint8)
    elif data.dtype != np.uint8:
        data = cv2.normalize(data, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if data.ndim == 2:
        return cv2.cvtColor(data, cv2.COLOR_GRAY2RGB)
    if data.shape[2] == 4:
        return cv2.cvtColor(data, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(data, cv2.COLOR_BGR2RGB)


class VideoReader:
    """Iterate the frames of a video, a raw stream or a frame folder at a constant rate.

    Use :func:`open_video` to make one. Iterating yields :class:`~facepaint.types.Frame` objects
    whose ``image`` is ``(H, W, 3) uint8`` RGB and whose ``index`` runs 0, 1, 2, ... on the output
    time line, starting at ``start_s``. :attr:`stats` fills in while iterating; decoding problems
    are reported once, at the end, as a :class:`DecodeWarning`.
    """

    def __init__(
        self,
        source: str | os.PathLike,
        *,
        fps: float | None = None,
        start_s: float | None = None,
        end_s: float | None = None,
        max_frames: int | None = None,
    ) -> None:
        source = os.fspath(source)
        _check_fps(fps)
        _check_range(start_s, end_s, max_frames)
        self.source = source
        self.start_s = start_s or 0.0
        self.end_s = end_s
        self.max_frames = max_frames
        self.stats = DecodeStats()
        self._files = _image_files(source)
        if self._files is None:
            if not os.path.exists(source):
                raise InputError(f"input '{source}' does not exist; check the path")
            if not os.path.isfile(source):
                raise InputError(f"input '{source}' is not a regular file, a directory of frames or a glob pattern")
            if not os.access(source, os.R_OK):
                raise InputError(f"input '{source}' is not readable; check its permissions")
            self.info = probe_container(source, fps=fps)
        else:
            self.info = _probe_images(source, self._files, fps)
        self.fps = self.info.fps

    # -- the frames -------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Frame]:
        raw = self._iter_images() if self._files is not None else self._iter_container()
        first_slot = math.ceil(self.start_s * self.fps - 1e-6)
        last_slot = None if self.end_s is None else math.ceil(self.end_s * self.fps - 1e-6) - 1
        if self.max_frames is not None:
            cap = first_slot + self.max_frames - 1
            last_slot = cap if last_slot is None else min(last_slot, cap)
        next_slot = 0
        previous: np.ndarray | None = None
        for time_s, image in raw:  # seconds from the input's first frame
            self.stats.decoded += 1
            slot = int(round(time_s * self.fps))
            if slot < next_slot:  # two frames in one slot: keep the first
                self.stats.dropped += 1
                continue
            while next_slot < slot:  # a gap of a variable-rate input: hold the previous frame
                if previous is not None and next_slot >= first_slot:
                    if last_slot is not None and next_slot > last_slot:
                        break
                    self.stats.duplicated += 1
                    yield self._frame(next_slot - first_slot, previous)
                next_slot += 1
            if last_slot is not None and slot > last_slot:
                break
            if slot >= first_slot:
                yield self._frame(slot - first_slot, image)
            previous = image
            next_slot = slot + 1
        self._report()

    def _frame(self, index: int, image: np.ndarray) -> Frame:
        self.stats.emitted += 1
        return Frame(index=index, time_s=index / self.fps, image=image)

    def _iter_images(self) -> Iterator[tuple[float, np.ndarray]]:
        height, width = self.info.height, self.info.width
        for n, path in enumerate(self._files or []):
            image = read_image(path)
            if image.shape[:2] != (height, width):
                raise InputError(
                    f"frame '{path}' is {image.shape[1]}x{image.shape[0]} but the first frame is {width}x{height}; "
                    "all frames of a folder must have one size"
                )
            yield n / self.fps, image

    def _iter_container(self) -> Iterator[tuple[float, np.ndarray]]:
        """Decoded frames with their times in seconds from the stream's first frame."""
        import av

        try:
            container = av.open(self.source, format=self._format())
        except av.error.FFmpegError as error:  # probed fine a moment ago: the file changed
            raise InputError(f"cannot reopen '{self.source}': {error}") from error
        with container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            origin: float | None = None  # time of the first frame (the stream's pts need not start at 0)
            if self.start_s > 1.0 and not self.info.fps_assumed:
                # Seek to the key frame before the start; frames before it are then skipped by time.
                # Times count from the first frame of the stream, not from that key frame: take
                # it from the first decoded frame before seeking.
                try:
                    for frame in container.decode(stream):
                        if frame.pts is not None:
                            origin = float(frame.pts * frame.time_base)
                        break
                except av.error.FFmpegError:  # a damaged start: count from the key frame instead
                    pass
                container.seek(int(max(self.start_s - 1.0, 0) / stream.time_base), stream=stream, backward=True)
            count = 0
            packets = container.demux(stream)
            while True:
                try:
                    packet = next(packets)
                except StopIteration:
                    break
                except av.error.FFmpegError:  # a broken container chunk: skip it and go on
                    self.stats.corrupt_packets += 1
                    continue
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    self.stats.corrupt_packets += 1
                    continue
                for frame in frames:
                    if self.info.fps_assumed or frame.pts is None:
                        time_s = count / self.fps
                    else:
                        time_s = float(frame.pts * frame.time_base)
                        if origin is None:
                            origin = time_s
                        time_s -= origin
                    count += 1
                    image = frame.to_ndarray(format="rgb24")
                    quarter_turns = int(round((getattr(frame, "rotation", 0) or 0) / 90.0)) % 4
                    if quarter_turns:
                        # The display matrix angle is counter-clockwise, as np.rot90 turns.
                        image = np.ascontiguousarray(np.rot90(image, k=quarter_turns))
                    yield time_s, image
            expected = self.info.frame_count
            if expected and self.end_s is None and self.max_frames is None and self.start_s == 0:
                shortfall = max(0, expected - count)
                # A count estimated from the duration is off by a frame or two on sound files.
                tolerance = 0 if self.info.frame_count_exact else max(2, int(0.02 * expected))
                self.stats.lost_frames = shortfall if shortfall > tolerance else 0

    def _format(self) -> str | None:
        return RAW_STREAM_SUFFIXES.get(Path(self.source).suffix.lower())

    def _report(self) -> None:
        stats = self.stats
        if stats.corrupt_packets or stats.lost_frames:
            warnings.warn(
                f"'{self.source}' is damaged: {stats.corrupt_packets} packet(s) failed to decode and "
                f"{stats.lost_frames} frame(s) were lost; the {stats.decoded} frames that decoded were kept",
                DecodeWarning,
                stacklevel=3,
            )


def _probe_images(source: str, files: list[str], fps: float | None) -> VideoInfo:
    first = read_image(files[0])
    rate = fps or DEFAULT_FPS
    return VideoInfo(
        path=source,
        container="images",
        width=int(first.shape[1]),
        height=int(first.shape[0]),
        fps=float(rate),
        fps_assumed=fps is None,
        frame_count=len(files),
        duration_s=len(files) / rate,
        codec=Path(files[0]).suffix.lower().lstrip("."),
        pix_fmt="rgb24",
        bit_depth=8,
        rotation_deg=0,
        has_audio=False,
    )


def probe_container(path: str, *, fps: float | None = None) -> VideoInfo:
    """Describe a video file or raw stream without decoding it all.

    Raises :class:`~facepaint.errors.InputError` when the file is not a video FFmpeg can read.
    For raw streams the frame count comes from counting packets (no decoding).
    """
    import av

    raw_format = RAW_STREAM_SUFFIXES.get(Path(path).suffix.lower())
    try:
        container = av.open(path, format=raw_format)
    except av.error.FFmpegError as error:
        raise InputError(
            f"'{path}' is not a video FFmpeg can read ({error.strerror or error}); "
            "expected a video file (mp4, mov, mkv, webm, avi, ...), a raw .h264/.hevc stream or a folder of frames"
        ) from error
    with container:
        if not container.streams.video:
            raise InputError(f"'{path}' is not a video: FFmpeg found no video stream in it; give a video file, a raw .h264 stream or a folder of frames")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        if ctx.width <= 0 or ctx.height <= 0:
            raise InputError(f"'{path}' has a video stream of unknown size; the file may be truncated or corrupt")
        fps_assumed = raw_format is not None or not stream.average_rate
        if fps is not None:
            rate = float(fps)
        elif fps_assumed:
            rate = DEFAULT_FPS
        else:
            rate = float(stream.average_rate)
        frame_count: int | None = stream.frames or None
        duration_s: float | None = None
        if stream.duration is not None and stream.time_base is not None:
            duration_s = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration_s = container.duration / 1_000_000
        if raw_format is not None:
            frame_count = sum(1 for packet in container.demux(stream) if packet.size)
            duration_s = frame_count / rate
        count_exact = frame_count is not None
        if frame_count is None and duration_s is not None:
            frame_count = int(round(duration_s * rate))
        rotation = 0 if raw_format else _rotation_of(container, stream)
        width, height = ctx.width, ctx.height
        if rotation in (90, 270):
            width, height = height, width
        audio = container.streams.audio[0] if container.streams.audio else None
        pix_fmt = ctx.pix_fmt or "unknown"
        return VideoInfo(
            path=path,
            container=raw_format or container.format.name.split(",")[0],
            width=int(width),
            height=int(height),
            fps=rate,
            fps_assumed=fps_assumed and fps is None,
            frame_count=frame_count,
            duration_s=duration_s,
            codec=ctx.name,
            pix_fmt=pix_fmt,
            bit_depth=10 if "10" in pix_fmt else 12 if "12" in pix_fmt else 8,
            rotation_deg=rotation,
            has_audio=audio is not None,
            audio_codec=audio.codec_context.name if audio is not None else None,
            audio_sample_rate=int(audio.codec_context.sample_rate) if audio is not None else None,
            audio_channels=int(audio.codec_context.channels) if audio is not None else None,
            frame_count_exact=count_exact,
        )


def _rotation_of(container, stream) -> int:
    """Rotation (degrees counter-clockwise, a multiple of 90) that the stream's display matrix
    asks for. FFmpeg exposes it on decoded frames, so the first frame is decoded (cheap, once)."""
    try:
        for frame in container.decode(stream):
            return int(round((getattr(frame, "rotation", 0) or 0) / 90.0)) % 4 * 90
    except Exception:  # an undecodable first frame is reported when the frames are read
        return 0
    return 0


def open_video(
    source: str | os.PathLike,
    *,
    fps: float | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
    max_frames: int | None = None,
) -> VideoReader:
    """Open a video file, raw stream, frame folder or glob for reading.

    Parameters
    ----------
    source : str or path-like
        The input.
    fps : float, optional
        Output frame rate. Default: the stream's average rate, or :data:`DEFAULT_FPS` for inputs
        that carry none (then ``reader.info.fps_assumed`` is True).
    start_s, end_s : float, optional
        Keep frames with ``start_s <= t < end_s`` (seconds from the first frame).
    max_frames : int, optional
        Stop after this many frames.

    Returns
    -------
    VideoReader
        ``reader.info`` describes the input; iterate it for :class:`~facepaint.types.Frame` s.
    """
    return VideoReader(source, fps=fps, start_s=start_s, end_s=end_s, max_frames=max_frames)


def probe(source: str | os.PathLike, *, fps: float | None = None) -> VideoInfo:
    """Describe an input (video file, raw stream, frame folder or glob) without decoding it."""
    return VideoReader(source, fps=fps).info
