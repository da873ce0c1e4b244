"""The interface every face model implements, and the registry that names them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from facepaint.errors import InputError
from facepaint.types import Face


@runtime_checkable
class FaceModel(Protocol):
    """Finds the faces of a frame: box, score, track id, 36-point contour, feature mask.

    ``process`` treats consecutive calls as consecutive frames of one video: faces keep their
    ``track_id`` and landmarks are smoothed over time. ``reset`` forgets every track (call it at
    a scene cut or before another video). ``detect`` is for single stills: full-effort detection,
    no tracking or smoothing, and it leaves the tracking state untouched.

    Images are ``(H, W, 3) uint8`` RGB or ``(H, W) uint8`` grayscale.
    """

    def process(self, image: np.ndarray) -> list[Face]: ...

    def detect(self, image: np.ndarray) -> list[Face]: ...

    def reset(self) -> None: ...


FaceModelFactory = Callable[..., FaceModel]

_REGISTRY: dict[str, FaceModelFactory] = {}


def register_face_model(name: str, factory: FaceModelFactory, *, replace: bool = False) -> None:
    """Make ``create_face_model(name, **options)`` call ``factory(**options)``.

    Raises :class:`ValueError` if ``name`` is taken and ``replace`` is False.
    """
    if not name or not isinstance(name, str):
        raise ValueError(f"a face model needs a non-empty string name, got {name!r}")
    if name in _REGISTRY and not replace:
        raise ValueError(f"a face model named {name!r} is already registered; pass replace=True to override it")
    _REGISTRY[name] = factory


def available_face_models() -> tuple[str, ...]:
    """Names accepted by :func:`create_face_model`, sorted."""
    _load_builtin()
    return tuple(sorted(_REGISTRY))


def create_face_model(name: str = "mediapipe", **options) -> FaceModel:
    """Build a face model by name: ``"mediapipe"`` (the default backend) or any registered one.

    ``options`` go to the backend's factory (for ``"mediapipe"``: the fields of
    :class:`facepaint.face.mediapipe_model.MediapipeConfig`, or ``config=MediapipeConfig(...)``).
    """
    _load_builtin()
    factory = _REGISTRY.get(name)
    if factory is None:
        raise InputError(
            f"unknown face model {name!r}; choose one of {', '.join(sorted(_REGISTRY))}"
        )
    return factory(**options)


def _load_builtin() -> None:
    # The default backend registers itself on import; importing it here keeps `base` free of it.
    import facepaint.face.mediapipe_model  # noqa: F401

    try:  # the paper's model registers itself when its package provides `register`
        import facepaint.face.maskrcnn as maskrcnn
    except ImportError:  # pragma: no cover - the package is optional
        return
    register = getattr(maskrcnn, "register", None)
    if callable(register) and "maskrcnn" not in _REGISTRY:
        register()
