"""Faces of a frame: the :class:`FaceModel` interface, its registry and the default backend.

>>> model = create_face_model()          # mediapipe's shipped networks, tiled, tracked
>>> faces = model.process(frame_rgb)     # one call per video frame; model.reset() at a cut
>>> still = model.detect(photo_rgb)      # single image, full effort, no tracking

Other backends (the paper's extended Mask R-CNN) plug in with :func:`register_face_model`.
"""

from facepaint.face.base import FaceModel, available_face_models, create_face_model, register_face_model
from facepaint.face.features import contour_from_mesh, feature_mask, polygons_from_mesh
from facepaint.face.motion import mesh_motion, mesh_triangles, piecewise_affine
from facepaint.face.smoothing import OneEuroConfig, OneEuroFilter

__all__ = [
    "FaceModel",
    "MediapipeConfig",
    "MediapipeFaceModel",
    "OneEuroConfig",
    "OneEuroFilter",
    "available_face_models",
    "contour_from_mesh",
    "create_face_model",
    "feature_mask",
    "mesh_motion",
    "mesh_triangles",
    "piecewise_affine",
    "polygons_from_mesh",
    "register_face_model",
]


def __getattr__(name: str):
    # the backend loads its networks' module only when asked for (keeps `import facepaint.face` light)
    if name in ("MediapipeConfig", "MediapipeFaceModel"):
        from facepaint.face import mediapipe_model

        return getattr(mediapipe_model, name)
    raise AttributeError(f"module 'facepaint.face' has no attribute {name!r}")
