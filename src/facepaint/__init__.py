"""facepaint: painterly brush-stroke animation of portrait videos that keeps small faces recognizable.

Public API::

    facepaint.stylize_video(source, output, ...)  -> StylizeReport
    facepaint.paint_image(image, ...)             -> (H, W, 3) uint8
    facepaint.open_video / read_image / write_image / VideoWriter
"""

from facepaint import _runtime  # noqa: F401  (process settings: OpenMP wait policy, malloc reuse)
from facepaint.errors import FacepaintError, InputError, MissingDependencyError, OutputError
from facepaint.io import VideoWriter, open_video, probe, read_image, write_image
from facepaint.stylize import StylizeReport, stylize_video

__version__ = "0.1.0"

__all__ = [
    "FacepaintError",
    "InputError",
    "MissingDependencyError",
    "OutputError",
    "StylizeReport",
    "VideoWriter",
    "open_video",
    "paint_image",
    "probe",
    "read_image",
    "stylize_video",
    "write_image",
]


def __getattr__(name: str):
    # paint_image pulls in the face model and the painter: imported on first use.
    if name == "paint_image":
        from facepaint.paint import paint_image

        return paint_image
    raise AttributeError(f"module 'facepaint' has no attribute '{name}'")
