"""The landmark branch of the extended Mask R-CNN and its loss (torch).

The paper extends Mask R-CNN with a CNN branch that regresses the 36 face-contour landmarks from
the RoIAlign feature of each face proposal: RoIAlign to 48x48, four convolutions (3x3, 3x3, 3x3,
2x2), each followed by ReLU and 2x2 max-pooling, then two fully connected layers with 72 outputs,
the ``(x, y)`` of 36 points normalised to the proposal box (0 = left/top edge, 1 = right/bottom
edge). The branch is attached to torchvision's :class:`~torchvision.models.detection.roi_heads.RoIHeads`
by subclassing and a hook on ``select_training_samples``, not by copying torchvision's code.

Shapes: ``N`` regions of interest, ``P = 36`` landmarks, ``C`` feature channels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.ops import MultiScaleRoIAlign

from facepaint.face.maskrcnn.labels import FACE_LABEL, NUM_LANDMARKS

#: Side of the RoIAlign feature fed to the landmark branch (the paper's 48x48).
LANDMARK_ROI_SIZE = 48


class LandmarkHead(nn.Sequential):
    """Four convolutions of the landmark branch: ``(N, C, 48, 48) -> (N, c4, 2, 2)``.

    Kernels are 3x3 (padding 1) for the first three and 2x2 (no padding) for the last, each
    followed by ReLU and 2x2 max-pooling: 48 -> 24 -> 12 -> 6 -> 5 -> 2.

    Parameters
    ----------
    in_channels : int
        Channels of the RoIAlign feature (the FPN's ``out_channels``, 256).
    channels : tuple of 4 int
        Output channels of the four convolutions.
    """

    def __init__(self, in_channels: int, channels: tuple[int, int, int, int] = (64, 64, 128, 128)) -> None:
        if len(channels) != 4:
            raise ValueError(f"the landmark head has 4 convolutions; got {len(channels)} channel counts")
        layers: list[nn.Module] = []
        previous = in_channels
        for index, out in enumerate(channels):
            kernel, padding = (2, 0) if index == 3 else (3, 1)
            layers += [
                nn.Conv2d(previous, out, kernel_size=kernel, padding=padding),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=2, stride=2),
            ]
            previous = out
        super().__init__(*layers)
        self.out_channels = previous
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)

    @staticmethod
    def output_side(roi_size: int = LANDMARK_ROI_SIZE) -> int:
        """Side of the head's output map for a ``roi_size`` input (2 for 48)."""
        side = roi_size
        for index in range(4):
            side = side if index < 3 else side - 1
            side //= 2
        return side


class LandmarkPredictor(nn.Module):
    """Two fully connected layers: ``(N, C, s, s) -> (N, 36, 2)`` box-normalised landmarks.

    Parameters
    ----------
    in_features : int
        ``C * s * s`` of the :class:`LandmarkHead` output (``128 * 2 * 2``).
    hidden : int
        Width of the first fully connected layer.
    num_landmarks : int
        Points per face; the last layer has ``2 * num_landmarks`` (72) outputs.
    """

    def __init__(self, in_features: int, hidden: int = 512, num_landmarks: int = NUM_LANDMARKS) -> None:
        super().__init__()
        self.num_landmarks = num_landmarks
        self.fc1 = nn.Linear(in_features, hidden)
        self.fc2 = nn.Linear(hidden, 2 * num_landmarks)
        # Start at the box centre with small outputs: the regression then begins from the mean
        # face instead of from random points far outside the box.
        nn.init.normal_(self.fc2.weight, std=1e-3)
        nn.init.constant_(self.fc2.bias, 0.5)

    @torch.no_grad()
    def set_prior(self, mean_shape: Tensor) -> None:
        """Start the regression at ``mean_shape (P, 2)``, box-normalised (the mean face of the
        training set): the output bias, as a detector's classifier bias starts at the class
        prior. From random weights the branch then begins at the error of the mean face in its
        box instead of learning the face's layout first."""
        if tuple(mean_shape.shape) != (self.num_landmarks, 2) or not torch.isfinite(mean_shape).all():
            raise ValueError(f"mean_shape must be a finite ({self.num_landmarks}, 2) tensor, got {tuple(mean_shape.shape)}")
        self.fc2.bias.copy_(mean_shape.reshape(-1).to(self.fc2.bias))

    def forward(self, x: Tensor) -> Tensor:
        x = torch.flatten(x, start_dim=1)
        x = F.relu(self.fc1(x))
        return self.fc2(x).view(-1, self.num_landmarks, 2)


def normalize_landmarks(landmarks: Tensor, boxes: Tensor) -> Tensor:
    """Express pixel landmarks relative to boxes.

    Parameters
    ----------
    landmarks : (N, P, 2) float Tensor
        ``(x, y)`` pixels.
    boxes : (N, 4) float Tensor
        ``x0, y0, x1, y1`` pixels.

    Returns
    -------
    (N, P, 2) float Tensor
        ``((x - x0) / (x1 - x0), (y - y0) / (y1 - y0))``; 0..1 inside the box.
    """
    origin = boxes[:, None, :2]
    size = (boxes[:, None, 2:] - boxes[:, None, :2]).clamp(min=1e-3)
    return (landmarks - origin) / size


def denormalize_landmarks(normalized: Tensor, boxes: Tensor) -> Tensor:
    """Inverse of :func:`normalize_landmarks`: ``(N, P, 2)`` box units -> ``(N, P, 2)`` pixels."""
    origin = boxes[:, None, :2]
    size = (boxes[:, None, 2:] - boxes[:, None, :2]).clamp(min=1e-3)
    return normalized * size + origin


def landmark_loss(
    predicted: Tensor,
    proposals: list[Tensor],
    gt_landmarks: list[Tensor],
    matched_idxs: list[Tensor],
) -> Tensor:
    """The paper's ``L_landmark``: sum of squared errors over the 36 points, box-normalised.

    For each face proposal the ground-truth landmarks of its matched face are normalised to the
    proposal box; the loss of one proposal is ``sum_p (dx_p^2 + dy_p^2)`` over its 36 points,
    and the loss returned is the mean over the proposals that have ground truth (so it does not
    grow with the number of sampled proposals). Faces whose landmarks are marked invalid (the
    third coordinate of ``gt_landmarks`` is 0) do not count.

    Parameters
    ----------
    predicted : (N, P, 2) float Tensor
        Branch output for the concatenated proposals of all images, box-normalised.
    proposals : list of (n_i, 4) float Tensor
        Face proposals of each image, ``sum n_i = N``, pixels.
    gt_landmarks : list of (G_i, P, 3) float Tensor
        ``(x, y, valid)`` of the ground-truth faces of each image, pixels.
    matched_idxs : list of (n_i,) int64 Tensor
        Index into ``gt_landmarks[i]`` of the face each proposal was matched to.

    Returns
    -------
    0-d Tensor
        ``0`` (still attached to ``predicted``'s graph) when no proposal has ground truth, e.g.
        when the images hold no face.
    """
    targets, valid = [], []
    for boxes, gt, idxs in zip(proposals, gt_landmarks, matched_idxs):
        if boxes.numel() == 0 or gt.numel() == 0:
            targets.append(predicted.new_zeros((boxes.shape[0], predicted.shape[1], 2)))
            valid.append(torch.zeros(boxes.shape[0], dtype=torch.bool, device=predicted.device))
            continue
        matched = gt[idxs]
        targets.append(normalize_landmarks(matched[..., :2], boxes))
        valid.append(matched[:, :, 2].min(dim=1).values > 0)
    if not targets:
        return predicted.sum() * 0.0
    target = torch.cat(targets, dim=0)
    keep = torch.cat(valid, dim=0)
    if predicted.shape[0] != target.shape[0]:
        raise ValueError(
            f"landmark_loss: {predicted.shape[0]} predictions for {target.shape[0]} proposals"
        )
    if not bool(keep.any()):
        return predicted.sum() * 0.0
    squared = (predicted[keep] - target[keep]) ** 2
    return squared.sum(dim=(1, 2)).mean()


def landmark_inference(predicted: Tensor, boxes: list[Tensor]) -> list[Tensor]:
    """Turn branch outputs into pixel landmarks, split per image.

    Parameters
    ----------
    predicted : (N, P, 2) float Tensor
        Box-normalised landmarks of the concatenated boxes of all images.
    boxes : list of (n_i, 4) float Tensor
        The boxes the branch was applied to, pixels.

    Returns
    -------
    list of (n_i, P, 2) float Tensor
        ``(x, y)`` pixels.
    """
    counts = [int(b.shape[0]) for b in boxes]
    return [denormalize_landmarks(p, b) for p, b in zip(predicted.split(counts, dim=0), boxes)]


class LandmarkRoIHeads(RoIHeads):
    """torchvision's RoIHeads (box + mask branches) with the paper's landmark branch.

    Targets carry the face landmarks under ``"keypoints"`` as ``(G, 36, 3)`` float32
    ``(x, y, valid)``, so that torchvision's transform resizes them with the image; rows of
    non-face instances are ignored. Outputs carry ``"landmarks"`` ``(n, 36, 2)`` pixels for every
    detection (NaN for non-face detections), and ``losses["loss_landmark"]`` in training.

    Parameters
    ----------
    landmark_roi_pool : MultiScaleRoIAlign
        Pooler to ``48 x 48``.
    landmark_head : LandmarkHead
    landmark_predictor : LandmarkPredictor
    face_label : int
        Class label of faces; the branch is applied to proposals of this class only.
    landmark_batch_size_per_image : int or None
        In training, at most this many face proposals per image (drawn at random among the
        positives) feed the branch. A 48x48 RoI costs about 0.3 GFLOP in the first convolution,
        and a face matches dozens of proposals; the cap keeps CPU training affordable. None: all.
    **roi_heads_kwargs
        Everything :class:`torchvision.models.detection.roi_heads.RoIHeads` takes.
    """

    def __init__(
        self,
        *,
        landmark_roi_pool: MultiScaleRoIAlign,
        landmark_head: LandmarkHead,
        landmark_predictor: LandmarkPredictor,
        face_label: int = FACE_LABEL,
        landmark_batch_size_per_image: int | None = None,
        **roi_heads_kwargs,
    ) -> None:
        super().__init__(**roi_heads_kwargs)
        self.landmark_roi_pool = landmark_roi_pool
        self.landmark_head = landmark_head
        self.landmark_predictor = landmark_predictor
        self.face_label = face_label
        self.landmark_batch_size_per_image = landmark_batch_size_per_image
        self._sampled: tuple[list[Tensor], list[Tensor], list[Tensor]] | None = None

    def select_training_samples(self, proposals, targets):  # type: ignore[override]
        # Hook: keep the sampled proposals and their matches so that the landmark branch trains
        # on the same face proposals as the box and mask branches.
        proposals, matched_idxs, labels, regression_targets = super().select_training_samples(proposals, targets)
        self._sampled = (proposals, matched_idxs, labels)
        return proposals, matched_idxs, labels, regression_targets

    def landmarks(self, features: dict[str, Tensor], boxes: list[Tensor], image_shapes: list[tuple[int, int]]) -> Tensor:
        """Run the branch: boxes (pixels) -> ``(sum n_i, 36, 2)`` box-normalised landmarks."""
        pooled = self.landmark_roi_pool(features, boxes, image_shapes)
        return self.landmark_predictor(self.landmark_head(pooled))

    def forward(self, features, proposals, image_shapes, targets=None):  # type: ignore[override]
        self._sampled = None
        result, losses = super().forward(features, proposals, image_shapes, targets)
        if self.training:
            if self._sampled is None or targets is None:
                raise RuntimeError("LandmarkRoIHeads: training needs targets")
            sampled, matched_idxs, labels = self._sampled
            self._sampled = None
            face_boxes, face_matches = [], []
            for boxes, idxs, lab in zip(sampled, matched_idxs, labels):
                pos = torch.where(lab == self.face_label)[0]
                cap = self.landmark_batch_size_per_image
                if cap is not None and pos.numel() > cap:
                    pos = pos[torch.randperm(pos.numel(), device=pos.device)[:cap]]
                face_boxes.append(boxes[pos])
                face_matches.append(idxs[pos])
            gt = [_target_landmarks(t, boxes) for t, boxes in zip(targets, face_boxes)]
            predicted = self.landmarks(features, face_boxes, image_shapes)
            losses["loss_landmark"] = landmark_loss(predicted, face_boxes, gt, face_matches)
            return result, losses
        boxes = [r["boxes"] for r in result]
        is_face = [r["labels"] == self.face_label for r in result]
        face_boxes = [b[f] for b, f in zip(boxes, is_face)]
        if sum(int(b.shape[0]) for b in face_boxes) > 0:
            pixels = landmark_inference(self.landmarks(features, face_boxes, image_shapes), face_boxes)
        else:
            pixels = [b.new_zeros((0, self.landmark_predictor.num_landmarks, 2)) for b in face_boxes]
        for r, f, p in zip(result, is_face, pixels):
            full = r["boxes"].new_full((r["boxes"].shape[0], self.landmark_predictor.num_landmarks, 2), float("nan"))
            full[f] = p
            # Stored under "keypoints" so that GeneralizedRCNNTransform.postprocess scales them
            # back to the input image; the model wrapper renames them to "landmarks".
            r["keypoints"] = full
        return result, losses


def _target_landmarks(target: dict[str, Tensor], boxes: Tensor) -> Tensor:
    """``(G, 36, 3)`` landmarks of one target; an empty tensor when it has none."""
    if "keypoints" in target:
        return target["keypoints"]
    return boxes.new_zeros((0, NUM_LANDMARKS, 3))
