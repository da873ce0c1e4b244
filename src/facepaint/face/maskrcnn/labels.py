"""Class labels of the extended Mask R-CNN (torch-free).

The detector has one class per instance kind the paper annotates: the face itself (whose mask
is the inside of the 36-point contour and whose proposals feed the landmark branch) and the six
facial features. Label 0 is the background, as torchvision expects.
"""

from __future__ import annotations

from facepaint.types import CONTOUR_POINTS, FEATURE_NAMES, FeatureClass

#: Class names in label order (label = index + 1); LabelMe polygons use these names.
CLASS_NAMES: tuple[str, ...] = ("face",) + FEATURE_NAMES
#: Label of the face class, the only class the landmark branch is applied to.
FACE_LABEL = 1
#: Number of classes including the background, as torchvision's ``num_classes``.
NUM_CLASSES = len(CLASS_NAMES) + 1
#: Number of landmarks the landmark branch predicts (72 outputs = 36 ``(x, y)`` pairs).
NUM_LANDMARKS = CONTOUR_POINTS


def label_of_feature(feature: FeatureClass) -> int:
    """Detector label of a facial feature (``FeatureClass.BROW_L`` -> 2 ... ``MOUTH`` -> 7)."""
    return int(feature) + 1


def feature_of_label(label: int) -> FeatureClass | None:
    """Inverse of :func:`label_of_feature`; ``None`` for the face label and the background."""
    if label <= FACE_LABEL or label >= NUM_CLASSES:
        return None
    return FeatureClass(label - 1)
