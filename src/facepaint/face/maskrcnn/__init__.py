"""The paper's extended Mask R-CNN: facial-feature masks and 36 contour landmarks in one network.

An optional extra: ``pip install 'facepaint[train]'`` installs torch and torchvision. Importing this
package does not import torch; the names below load their module (and torch) on first use, and
raise :class:`facepaint.errors.MissingDependencyError` naming the extra when torch is missing.

Modules
-------
labels
    Class labels (torch-free).
heads
    The landmark branch (:class:`LandmarkHead`, :class:`LandmarkPredictor`), its loss
    (:func:`landmark_loss`) and :class:`LandmarkRoIHeads`, which attaches it to torchvision.
model
    :func:`facepaint_maskrcnn` builder (ResNet-50-FPN or MobileNetV3-FPN) and :func:`total_loss`.
data
    Annotations -> torchvision samples (the only place target dicts are made).
train
    :func:`train`, checkpoints (:func:`load_model`, :func:`export_weights`).
evaluate
    :func:`evaluate_model`: landmark RMSE/NME, mask IoU per class, detection rate by face size.
backend
    :class:`MaskRCNNFaceModel`, the ``maskrcnn`` face backend.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "LandmarkHead": "heads",
    "LandmarkPredictor": "heads",
    "LandmarkRoIHeads": "heads",
    "landmark_loss": "heads",
    "landmark_inference": "heads",
    "ModelConfig": "model",
    "facepaint_maskrcnn": "model",
    "total_loss": "model",
    "AnnotatedFrames": "data",
    "TrainConfig": "train",
    "TrainResult": "train",
    "train": "train",
    "load_model": "train",
    "export_weights": "train",
    "EvalConfig": "evaluate",
    "evaluate_model": "evaluate",
    "MaskRCNNFaceModel": "backend",
    "BackendConfig": "backend",
}

__all__ = sorted([*_LAZY, "create_face_model", "register"])


def _load(module: str):
    from facepaint.face.maskrcnn._deps import import_torch

    import_torch()  # the clear MissingDependencyError, before any torch import below
    return importlib.import_module(f"facepaint.face.maskrcnn.{module}")


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'facepaint.face.maskrcnn' has no attribute {name!r}")
    return getattr(_load(module), name)


def create_face_model(**options: Any):
    """Factory of the ``maskrcnn`` face backend (``weights=PATH`` required; ``device``,
    ``threads``, ``face_threshold``, ``feature_threshold``, ``mask_threshold``, ``track_iou``).
    Imports torch only when called."""
    return _load("backend").create_maskrcnn_face_model(**options)


def register() -> None:
    """Register :func:`create_face_model` as ``"maskrcnn"`` in facepaint's face-model registry
    (called by :func:`facepaint.face.create_face_model`; torch stays unimported until used)."""
    from facepaint.face.base import register_face_model

    register_face_model("maskrcnn", create_face_model, replace=True)
