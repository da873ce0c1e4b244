"""Video and image input/output. PyAV is used here and nowhere else."""

from facepaint.io.reader import DEFAULT_FPS, DecodeStats, DecodeWarning, VideoReader, open_video, probe, read_image
from facepaint.io.join import join_videos
from facepaint.io.writer import VideoWriter, check_output_path, output_kind, remove_stale_parts, write_image

__all__ = [
    "DEFAULT_FPS",
    "DecodeStats",
    "DecodeWarning",
    "VideoReader",
    "VideoWriter",
    "check_output_path",
    "join_videos",
    "open_video",
    "output_kind",
    "probe",
    "read_image",
    "remove_stale_parts",
    "write_image",
]
