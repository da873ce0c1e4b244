"""Synthetic clips with known content, for the video I/O tests (a module of its own, not in
conftest.py, so that its name cannot clash with the conftest modules of sub-folders)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np


def make_clip(
    path: Path,
    *,
    frames: int = 50,
    fps: Fraction = Fraction(25),
    size: tuple[int, int] = (96, 64),
    flash_frame: int | None = 20,
    audio_codec: str | None = "aac",
    sample_rate: int = 48000,
    container: str | None = None,
    keyframe_every: int | None = None,
) -> Path:
    """Encode a synthetic clip: a square moving right one pixel a frame on grey, one all-white
    frame at ``flash_frame``; the audio is silence with a 1 kHz beep starting exactly at the
    flash (so audio/video sync can be measured after a round trip). ``keyframe_every``: the GOP
    length (default x264's, 250: one key frame in a short clip)."""
    import av

    width, height = size
    with av.open(str(path), mode="w", format=container) as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": "10", "preset": "ultrafast", "bframes": "0"}
        if keyframe_every is not None:
            video.options = {**video.options, "g": str(keyframe_every), "keyint_min": str(keyframe_every)}
        audio = None
        if audio_codec is not None:
            audio = out.add_stream(audio_codec, rate=sample_rate, layout="mono")
        for i in range(frames):
            image = np.full((height, width, 3), 60, np.uint8)
            x = i % (width - 8)
            image[height // 2 - 4 : height // 2 + 4, x : x + 8] = (200, 40, 40)
            if i == flash_frame:
                image[:] = 255
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            frame.time_base = 1 / fps
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if audio is not None:
            duration = frames / float(fps)
            total = int(duration * sample_rate)
            t = np.arange(total) / sample_rate
            signal = np.zeros(total, np.float32)
            if flash_frame is not None:
                onset = flash_frame / float(fps)
                beep = (t >= onset) & (t < onset + 0.2)
                signal[beep] = 0.5 * np.sin(2 * np.pi * 1000 * t[beep])
            fmt = "fltp" if audio_codec == "aac" else "s16"
            block = 1024
            for start in range(0, total, block):
                chunk = signal[start : start + block]
                data = chunk[None, :] if fmt == "fltp" else (chunk * 32767).astype(np.int16)[None, :]
                frame = av.AudioFrame.from_ndarray(data, format=fmt, layout="mono")
                frame.sample_rate = sample_rate
                frame.pts = start
                frame.time_base = Fraction(1, sample_rate)
                out.mux(audio.encode(frame))
            out.mux(audio.encode(None))
    return path


def beep_onset_s(path: Path) -> float:
    """Time (seconds, on the file's time line) at which the first audio stream gets loud."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        for frame in container.decode(stream):
            samples = frame.to_ndarray().astype(np.float32)
            if samples.dtype.kind == "i":
                samples /= 32768
            loud = np.flatnonzero(np.abs(samples).max(axis=0) > 0.2)
            if loud.size:
                return float(frame.pts * frame.time_base) + loud[0] / frame.sample_rate
    raise AssertionError(f"no beep in {path}")


def make_multishot_clip(
    path: Path,
    *,
    shot_frames: tuple[int, ...] = (8, 6, 7),
    fps: Fraction = Fraction(25),
    size: tuple[int, int] = (96, 64),
    audio: bool = True,
    sample_rate: int = 48000,
) -> Path:
    """Encode a clip of several shots that the painter's scene-cut test separates: each shot
    has its own palette and layout (a textured background of its own colour and a square moving
    its own way). With ``audio``, a 440 Hz tone whose pitch steps up at each shot (so a shift of
    the audio against the frames can be heard and measured)."""
    import av

    width, height = size
    rng = np.random.default_rng(7)
    palettes = [((70, 90, 60), (220, 60, 40)), ((30, 40, 150), (250, 250, 210)), ((170, 150, 40), (20, 90, 30)), ((120, 40, 120), (90, 230, 230))]
    with av.open(str(path), mode="w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": "12", "preset": "ultrafast", "g": "4"}
        stream = out.add_stream("aac", rate=sample_rate, layout="mono") if audio else None
        n = 0
        for k, count in enumerate(shot_frames):
            ground, square = palettes[k % len(palettes)]
            texture = rng.integers(-25, 25, (height, width, 1))
            base = np.clip(np.array(ground)[None, None, :] + texture, 0, 255).astype(np.uint8)
            for i in range(count):
                image = base.copy()
                x = (5 + 2 * i * (1 if k % 2 == 0 else -1)) % (width - 16)
                y = height // 3 + (k * 7) % (height // 3)
                image[y : y + 14, x : x + 16] = square
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts = n
                frame.time_base = 1 / fps
                out.mux(video.encode(frame))
                n += 1
        out.mux(video.encode(None))
        if stream is not None:
            total = int(n / float(fps) * sample_rate)
            t = np.arange(total) / sample_rate
            bounds = np.cumsum((0,) + tuple(shot_frames)) / float(fps)
            pitch = 440.0 * (1 + np.searchsorted(bounds, t, side="right"))
            signal = (0.3 * np.sin(2 * np.pi * pitch * t)).astype(np.float32)
            for start in range(0, total, 1024):
                frame = av.AudioFrame.from_ndarray(signal[None, start : start + 1024], format="fltp", layout="mono")
                frame.sample_rate = sample_rate
                frame.pts = start
                frame.time_base = Fraction(1, sample_rate)
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
    return path
