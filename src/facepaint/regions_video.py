"""The regions view of an image or a video: what ``facepaint regions`` writes, as a function.

The command line (``facepaint regions``) and the web app (its "faces found" view) both call
:func:`write_regions`, so the two show the same drawing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from facepaint.errors import InputError
from facepaint.io.reader import IMAGE_SUFFIXES

#: ``make_face_model(fps)``: builds the face model for an input of this frame rate (None: a still).
FaceModelFactory = Callable[["float | None"], object]


def is_image_file(path: str | os.PathLike) -> bool:
    """True if ``path`` is an existing file with an image suffix (``facepaint.io.reader.IMAGE_SUFFIXES``)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES and Path(path).is_file()


def _default_face_model(fps: float | None):
    from facepaint.face import create_face_model

    return create_face_model("mediapipe", **({"fps": fps} if fps else {}))


def write_regions(
    source: str | os.PathLike,
    output: str | os.PathLike,
    *,
    make_face_model: FaceModelFactory | None = None,
    fps: float | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
    max_frames: int | None = None,
) -> list[int]:
    """Draw the three regions and the 36 contour points of every face over an image or a video.

    Blue is the inner face (region 1), orange the features (region 2), dark the rest (region 3);
    the contour's point 0 is white and point 1 yellow (:func:`facepaint.regions.draw_regions`).

    Parameters
    ----------
    source : str or path-like
        Image (``facepaint.io.reader.IMAGE_SUFFIXES``), video, raw ``.h264`` stream, folder or glob of frames.
    output : str or path-like
        An image (.png/.jpg) for an image input; ``.mp4``/``.mov``/``.mkv`` or a folder for a video.
        Written under a temporary name and renamed when complete.
    make_face_model : callable, optional
        ``make_face_model(fps)`` returns the face model (``fps`` is None for a still). Default: the
        mediapipe backend at the input's rate.
    fps, start_s, end_s, max_frames
        See :func:`facepaint.io.open_video` (ignored for a still).

    Returns
    -------
    list of int
        The number of faces found in each frame (one entry for a still).
    """
    from facepaint.io import VideoWriter, check_output_path, open_video, read_image, write_image
    from facepaint.regions import build_region_map, draw_regions

    make_face_model = make_face_model if make_face_model is not None else _default_face_model
    still = is_image_file(source)
    if still and Path(output).suffix.lower() not in IMAGE_SUFFIXES:
        raise InputError(f"'{source}' is an image, so OUT must be an image too (.png or .jpg), got '{output}'")
    check_output_path(output, (source,))
    if still:
        image = read_image(source)
        faces = make_face_model(None).detect(image)  # a still: the detector's full effort
        write_image(output, draw_regions(image, build_region_map(faces, image.shape[:2]), faces))
        return [len(faces)]
    reader = open_video(source, fps=fps, start_s=start_s, end_s=end_s, max_frames=max_frames)
    face_model = make_face_model(reader.fps)
    counts = []
    with VideoWriter(output, fps=reader.fps) as writer:
        for frame in reader:
            faces = face_model.process(frame.image)  # a video: tracked from frame to frame
            writer.write(draw_regions(frame.image, build_region_map(faces, frame.image.shape[:2]), faces))
            counts.append(len(faces))
    if not counts:  # (the writer refuses to close empty first; kept for a writer that does not)
        raise InputError(f"'{source}' gave no frames in the requested range; check --start/--end")
    return counts
