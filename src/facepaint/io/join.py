"""Joining H.264 files of one encoding end to end by stream copy, with an input's audio added once.

The shots of a video painted apart (:mod:`facepaint.scale`) are encoded with the same settings,
size and rate, so their packets can follow one another in one file without re-encoding: each
part's timestamps are shifted by the frames before it. The audio is copied from the source over
the whole joined video (remuxed or re-encoded to AAC, as :class:`~facepaint.io.VideoWriter` does),
so it is cut nowhere and stays in sync.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from facepaint._atomic import disk_error, temporary_file
from facepaint.errors import InputError, OutputError
from facepaint.io.writer import VIDEO_SUFFIXES, _AudioCopy, check_output_path, output_kind


@dataclass(frozen=True)
class JoinResult:
    """What :func:`join_videos` wrote."""

    output: Path  #: absolute path of the output
    frames: int
    audio_remuxed: bool | None  #: True: copied as it was, False: re-encoded to AAC, None: no audio


def join_videos(
    parts: Sequence[str | os.PathLike],
    frames: Sequence[int],
    output: str | os.PathLike,
    *,
    fps: float,
    audio_from: str | os.PathLike | None = None,
    audio_start_s: float = 0.0,
) -> JoinResult:
    """Write ``parts`` one after the other into ``output`` without re-encoding.

    Parameters
    ----------
    parts : sequence of paths
        Video files with one H.264 stream each, of the same size, rate and encoder settings
        (written by :class:`~facepaint.io.VideoWriter` with the same ``crf`` and ``preset``).
    frames : sequence of int
        The number of frames of each part (each part starts ``sum(frames[:k]) / fps`` seconds in).
    output : path
        ``.mp4``/``.mov``/``.mkv``; written under a temporary name and renamed when complete.
    fps : float
        The parts' frame rate.
    audio_from : path, optional
        Input whose first audio stream is copied over the whole output, in sync with its frames.
    audio_start_s : float
        Input time (s) of the first frame (an input trimmed with ``--start``).

    Returns
    -------
    JoinResult
    """
    import av

    if not parts or len(parts) != len(frames):
        raise InputError(f"join_videos needs one frame count per part, got {len(parts)} parts and {len(frames)} counts")
    if output_kind(output) != "video":
        raise InputError(f"cannot join shots into '{output}': give an .mp4, .mov or .mkv output")
    target = check_output_path(output, (audio_from,) if audio_from is not None else ())
    container_format = VIDEO_SUFFIXES[target.suffix.lower()]
    rate = Fraction(float(fps)).limit_denominator(1001)
    tmp = temporary_file(target, suffix=f".part{target.suffix}")
    try:
        with av.open(str(tmp), mode="w", format=container_format) as sink:
            with av.open(os.fspath(parts[0])) as first:
                stream = sink.add_stream_from_template(first.streams.video[0])
            audio = _AudioCopy(sink, os.fspath(audio_from), audio_start_s, container_format) if audio_from is not None else None
            before = 0
            for part, count in zip(parts, frames):
                with av.open(os.fspath(part)) as source:
                    video = source.streams.video[0]
                    # The shift of this part, in its own time base (exact for rates like 30000/1001,
                    # whose frame duration is a whole number of ticks of the muxer's time base).
                    shift = round(Fraction(before) / rate / video.time_base)
                    packets = 0
                    for packet in source.demux(video):
                        if packet.size == 0:  # the demuxer's empty flush packet
                            continue
                        if packet.pts is not None:
                            packet.pts += shift
                        if packet.dts is not None:
                            packet.dts += shift
                        packet.stream = stream
                        sink.mux(packet)
                        packets += 1
                        if audio is not None:
                            audio.advance_to((before + packets) / float(rate))
                before += int(count)
            remuxed = None
            if audio is not None:
                audio.close(before / float(rate))
                remuxed = audio.remux
        os.replace(tmp, target)
    except (av.error.FFmpegError, OSError) as error:
        tmp.unlink(missing_ok=True)
        disk = disk_error(error, target)
        if disk is not None:
            raise disk from error
        if isinstance(error, av.error.FFmpegError):
            raise OutputError(f"cannot join the shots into '{target}': {error}") from error
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return JoinResult(output=target, frames=before, audio_remuxed=remuxed)
