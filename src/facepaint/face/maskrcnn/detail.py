"""Pixel detail for the mask branch: the image itself, RoIAligned at the mask's resolution (torch).

An eye or a brow of a 40-px face is 4-8 px tall: one or two cells of the finest feature map the
mask branch reads (stride 4). Upsampling those cells cannot put a mask edge within a pixel, and on
such a feature one pixel costs half the IoU (the teacher's own labels, shifted by one pixel,
overlap themselves 0.53-0.56). The shipped model's eye and brow masks reach IoU 0.58-0.65 on the
real frames of its own training videos (``benchmarks/maskrcnn_eval.py --part labels``): the branch
lacks the resolution as much as the data.

With ``ModelConfig.mask_detail`` the mask branch also sees the pixels: the image is RoIAligned over
each box at the 28x28 resolution of the mask (the same sampling as the mask targets, so cell
``j`` of the pixels and of the mask are the same point), and the predictor fuses them with its
upsampled features (after two 3x3 convolutions of their own, on the pixels less the box's mean
colour) by a 3x3 convolution before the per-class logits. The fusion starts as the identity on
the features and zero on the pixels' features, so a model extended this way predicts exactly
what it did before and learns from there.

torchvision's ``RoIHeads`` pass one tensor from the mask pool through the mask head to the
predictor; the pixels ride along as extra channels, packed 2x2 into the pool's 14x14 grid
(``pixel_unshuffle``) and unpacked in the predictor. The pool gets the batch's image tensor from a
forward pre-hook on the backbone (:func:`attach_detail`), in training and inference alike.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.ops import MultiScaleRoIAlign, roi_align

#: Channels of the pixel detail (RGB) and their packing factor into the pooled grid (2x2).
DETAIL_CHANNELS = 3
_PACKED = DETAIL_CHANNELS * 4


class DetailRoIPool(MultiScaleRoIAlign):
    """:class:`~torchvision.ops.MultiScaleRoIAlign` of the feature maps, plus the image's pixels
    over each box at twice the output side, packed as ``4 * DETAIL_CHANNELS`` extra channels.

    ``images`` (the batch's ``(N, 3, H, W)`` tensor, in the boxes' coordinates) is set by
    :func:`attach_detail`'s hook before each forward pass.
    """

    images: Tensor | None = None

    def forward(self, x: dict[str, Tensor], boxes: list[Tensor], image_shapes: list[tuple[int, int]]) -> Tensor:  # type: ignore[override]
        pooled = super().forward(x, boxes, image_shapes)
        if self.images is None:
            raise RuntimeError("DetailRoIPool needs the images: build the model with facepaint_maskrcnn(mask_detail=True)")
        side = 2 * pooled.shape[-1]
        # aligned=False as torchvision's mask targets: cell j samples x0 + (j + 0.5) * w / side.
        pixels = roi_align(self.images.to(pooled.dtype), boxes, (side, side), 1.0, sampling_ratio=2, aligned=False)
        return torch.cat([pooled, F.pixel_unshuffle(pixels, 2)], dim=1)


class DetailMaskHead(MaskRCNNHeads):
    """torchvision's mask head on the feature channels; the packed pixels pass through."""

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        features = x.shape[1] - _PACKED
        return torch.cat([super().forward(x[:, :features]), x[:, features:]], dim=1)


#: Channels of the pixel path's local features.
PIXEL_FEATURES = 16


def normalized_pixels(pixels: Tensor, eps: float = 0.05) -> Tensor:
    """Each region's pixels less their mean colour, over their spread (one number per region):
    what is darker or redder than the rest of the box, whatever the lighting."""
    mean = pixels.mean(dim=(1, 2, 3), keepdim=True)
    spread = pixels.std(dim=(1, 2, 3), keepdim=True)
    return (pixels - mean) / (spread + eps)


class DetailMaskPredictor(MaskRCNNPredictor):
    """torchvision's predictor (2x transposed convolution, ReLU, 1x1 logits) with a pixel path:
    ``pixel``, two 3x3 convolutions on the region's normalised pixels (:func:`normalized_pixels`),
    and ``fuse``, a 3x3 convolution over the upsampled features and the pixel features, between
    the ReLU and the logits. ``fuse`` starts as the identity on the features and zero on the pixel
    features."""

    def __init__(self, in_channels: int, dim_reduced: int, num_classes: int) -> None:
        super().__init__(in_channels, dim_reduced, num_classes)
        self.pixel = nn.Sequential(
            nn.Conv2d(DETAIL_CHANNELS, PIXEL_FEATURES, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(PIXEL_FEATURES, PIXEL_FEATURES, 3, padding=1),
            nn.ReLU(inplace=True),
        )
        self.fuse = nn.Conv2d(dim_reduced + PIXEL_FEATURES, dim_reduced, 3, padding=1)
        with torch.no_grad():
            self.fuse.weight.zero_()
            self.fuse.bias.zero_()
            index = torch.arange(dim_reduced)
            self.fuse.weight[index, index, 1, 1] = 1.0

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        features = x.shape[1] - _PACKED
        upsampled = F.relu(self.conv5_mask(x[:, :features]))
        pixels = self.pixel(normalized_pixels(F.pixel_shuffle(x[:, features:], 2)))
        return self.mask_fcn_logits(F.relu(self.fuse(torch.cat([upsampled, pixels], dim=1))))


def attach_detail(model: nn.Module, pool: DetailRoIPool) -> None:
    """Hand ``pool`` the image tensor of every batch the model's backbone sees."""

    def stash(_module: nn.Module, args: tuple) -> None:
        pool.images = args[0]

    model.backbone.register_forward_pre_hook(stash)
