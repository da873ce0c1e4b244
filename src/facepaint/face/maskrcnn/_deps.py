"""Import torch and torchvision on demand, with an error that names the extra when missing.

Every module of this package that needs torch imports it through :func:`import_torch` at
call time or at the top of a module that is itself only imported lazily, so that
``import facepaint.face.maskrcnn`` costs nothing and works without the ``train`` extra.
"""

from __future__ import annotations

from types import ModuleType

from facepaint.errors import MissingDependencyError


def import_torch() -> tuple[ModuleType, ModuleType]:
    """Return ``(torch, torchvision)``.

    Raises
    ------
    MissingDependencyError
        When either package is not installed; the message names ``facepaint[train]``.
    """
    try:
        import torch
        import torchvision
    except ImportError as error:  # pragma: no cover - exercised only without the extra
        raise MissingDependencyError(
            f"the extended Mask R-CNN face model ({error.name or 'torch'} is missing)", "train"
        ) from error
    return torch, torchvision
