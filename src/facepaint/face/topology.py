"""Index sets on mediapipe's 468-point face mesh: the 36-point contour and the six features.

All rings are ordered and closed implicitly (the last point joins the first). Left/right are the
subject's: mediapipe's "left eye" (points 263, 362, ...) appears on the image right in a
non-mirrored photo of a frontal face.
"""

from __future__ import annotations

import numpy as np

from facepaint.types import FeatureClass

#: Number of points of mediapipe's face mesh (the model without the attention/iris refinement).
MESH_POINTS = 468

#: FACE_OVAL as one ring: starts at the top of the forehead (point 10) and runs clockwise as seen
#: in the image (first towards the image right = the subject's left), round the chin (152) and
#: back up the subject's right cheek. 36 points.
FACE_OVAL = np.array(
    [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
     152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109],
    dtype=np.int32,
)  # fmt: skip

#: Ordered polygon per feature class, as mesh indices.
FEATURE_RINGS: dict[FeatureClass, np.ndarray] = {
    # brow: upper edge inner->outer... closed through the lower edge (mediapipe's two brow lines)
    FeatureClass.BROW_L: np.array([300, 293, 334, 296, 336, 285, 295, 282, 283, 276], np.int32),
    FeatureClass.BROW_R: np.array([70, 63, 105, 66, 107, 55, 65, 52, 53, 46], np.int32),
    # eye: the 16-point lid ring of FACEMESH_LEFT_EYE / FACEMESH_RIGHT_EYE
    FeatureClass.EYE_L: np.array(
        [263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249], np.int32
    ),
    FeatureClass.EYE_R: np.array(
        [33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7], np.int32
    ),
    # nose: the convex hull of these points (bridge between the eyes down to the nostrils);
    # the order is fixed by the hull at run time, see `nose_polygon`.
    FeatureClass.NOSE: np.array(
        [168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 97, 98, 64, 48, 115, 326, 327, 294, 278, 344,
         129, 358, 209, 429, 49, 279, 131, 360],
        np.int32,
    ),  # fmt: skip
    # mouth: the outer lip ring (FACEMESH_LIPS outer contour)
    FeatureClass.MOUTH: np.array(
        [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146],
        np.int32,
    ),
}

#: Mesh points whose line sets the in-plane rotation of the crop: the subject's right and left
#: outer eye corners (mediapipe's own choice for its face-landmark ROI).
EYE_CORNER_R, EYE_CORNER_L = 33, 263

#: mediapipe mesh point standing in for each of the iBUG 68 points (0-based iBUG order: jaw 0-16,
#: brows 17-26, nose 27-35, eyes 36-47, mouth 48-67). Each is the mesh vertex nearest, on average,
#: to that iBUG point on the 42 faces of ../shared/media/landmarks/ibug68_dlib (dlib's 68-point
#: model output; ``python benchmarks/face_model.py --fit-ibug`` refits it). The 300-W faces used
#: to score the mapping were not used to fit it. The mesh has no points on the silhouette, so
#: the jaw points (0-16) are then slid out to it: see :func:`facepaint.face.ibug.ibug68_from_mesh`.
IBUG68_FROM_MESH = np.array(
    [127, 227, 177, 215, 172, 136, 149, 148, 152, 377, 378, 365, 397, 435, 401, 454, 356,
     70, 63, 105, 66, 55, 336, 296, 334, 293, 300,
     168, 197, 5, 4, 75, 97, 2, 326, 460,
     7, 160, 158, 155, 153, 144, 382, 385, 387, 249, 373, 380,
     61, 74, 72, 11, 267, 304, 291, 335, 314, 17, 84, 106,
     62, 38, 13, 268, 306, 316, 15, 86],
    dtype=np.int32,
)  # fmt: skip
