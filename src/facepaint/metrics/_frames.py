"""Checks shared by the metrics: what an image or a stream of frames must look like."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from facepaint.errors import InputError
from facepaint.types import Frame


def as_rgb_image(image: np.ndarray | Frame, *, name: str = "image") -> np.ndarray:
    """Return ``image`` as an ``(H, W, 3) uint8`` RGB array, or raise :class:`InputError`.

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray or Frame
        An RGB image, or a decoded :class:`~facepaint.types.Frame` (its ``image`` is used).
    name : str
        How the error message calls the argument.
    """
    if isinstance(image, Frame):
        image = image.image
    if not isinstance(image, np.ndarray):
        raise InputError(f"{name} must be an (H, W, 3) uint8 RGB numpy array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(
            f"{name} must be an (H, W, 3) uint8 RGB array, got shape {image.shape} dtype {image.dtype}; "
            "convert with np.clip(x * 255, 0, 255).astype(np.uint8) for float images"
        )
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise InputError(f"{name} must be at least 2x2 pixels, got {image.shape[1]}x{image.shape[0]}")
    return image


def check_same_size(a: np.ndarray, b: np.ndarray, *, what: str) -> None:
    """Raise :class:`InputError` unless two images have the same height and width."""
    if a.shape[:2] != b.shape[:2]:
        raise InputError(
            f"{what}: the output frame is {b.shape[1]}x{b.shape[0]} but the input frame is "
            f"{a.shape[1]}x{a.shape[0]}; the metrics compare pixels, so resize the output to the "
            "input's size first"
        )


_END = object()


def lockstep(streams: dict[str, Iterable], *, what: str) -> Iterator[dict[str, np.ndarray]]:
    """Iterate several frame streams together, one dict of RGB images per step.

    Raises :class:`InputError` when the streams do not have the same number of frames (the error
    comes when the shortest one ends, since streams may be generators of unknown length).
    """
    iterators = {key: iter(stream) for key, stream in streams.items()}
    index = 0
    while True:
        step = {key: next(it, _END) for key, it in iterators.items()}
        ended = [key for key, value in step.items() if value is _END]
        if len(ended) == len(step):
            return
        if ended:
            going = [key for key in step if key not in ended]
            raise InputError(
                f"{what}: {', '.join(ended)} ended after {index} frames while {', '.join(going)} "
                "still had frames; compare videos of the same length (e.g. cut both with max_frames)"
            )
        yield {key: as_rgb_image(value, name=f"{key} frame {index}") for key, value in step.items()}
        index += 1
