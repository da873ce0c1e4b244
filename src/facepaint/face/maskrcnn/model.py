"""Builder of the extended Mask R-CNN (torch).

:func:`facepaint_maskrcnn` composes torchvision's :class:`~torchvision.models.detection.MaskRCNN`
(backbone, RPN, transform, box and mask branches) with :class:`LandmarkRoIHeads`, which adds the
paper's landmark branch. Nothing is downloaded: the backbones start from random weights
(``weights=None, weights_backbone=None``), except the ``"facemesh"`` backbone, whose trunk starts from
mediapipe's face-trained FaceMesh network read from the installed wheel (:mod:`.facemesh`); train
them with :mod:`facepaint.face.maskrcnn.train`.

The training loss is ``L = Lcls + Lbox + Lmask + Llandmark`` (:func:`total_loss`), where torchvision
supplies the RPN's objectness and box terms as part of ``Lcls``/``Lbox``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import torch
from torch import Tensor, nn
from torchvision.models import mobilenet_v3_large, resnet50
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import _mobilenet_extractor, _resnet_fpn_extractor
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.transform import GeneralizedRCNNTransform, resize_boxes, resize_keypoints
from torchvision.ops import MultiScaleRoIAlign

from facepaint.face.maskrcnn.detail import DetailMaskHead, DetailMaskPredictor, DetailRoIPool, attach_detail
from facepaint.face.maskrcnn.heads import LANDMARK_ROI_SIZE, LandmarkHead, LandmarkPredictor, LandmarkRoIHeads
from facepaint.face.maskrcnn.labels import FACE_LABEL, NUM_CLASSES, NUM_LANDMARKS

Backbone = Literal["resnet50", "mobilenet_v3", "facemesh"]
BACKBONES: tuple[str, ...] = ("resnet50", "mobilenet_v3", "facemesh")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model before loading its weights (saved in checkpoints).

    ``backbone``: ``"resnet50"`` (ResNet-50-FPN, as in the paper) or ``"mobilenet_v3"``
    (MobileNetV3-Large-FPN, for CPUs) or ``"facemesh"`` (mediapipe's FaceMesh trunk under a
    ``fpn_channels``-wide FPN at strides 4-32, face-trained when ``pretrained_backbone``; it takes
    RGB in [0, 1] unnormalised, as mediapipe feeds it). ``native_size``: images go through at
    their own pixel size (padded to a multiple of 32, shrunk only when the longer side exceeds
    ``max_size``) instead of torchvision's resize of the shorter side to ``min_size``; a model
    trained on crops at native size (:class:`~.data.FaceCrops`) must run so. ``min_size``/``max_size``: the shorter/longer image side
    torchvision's transform resizes inputs to, pixels. ``box_representation_size`` (torchvision:
    1024), ``mask_channels`` (torchvision: 256) and ``box_batch_size_per_image`` (torchvision: 512)
    are smaller by default so that a CPU can train the model and its weights fit in a small
    file; raise them for a GPU run. ``rpn_pre/post_nms_top_n_train`` (torchvision: 2000 each)
    can be far smaller for crops holding a few faces. ``landmark_sampling_ratio``: RoIAlign
    samples per bin of the landmark branch's 48x48 grid (torchvision: 2); 1 costs a quarter of the
    backward pass, which on a CPU is a quarter of a step, and loses nothing on faces under ~48
    feature cells wide. :func:`facemesh_cpu_config` gives the sizes of the CPU recipe. The paper does not
    give the landmark branch's channel counts; ``landmark_channels`` are ours. ``mask_detail``:
    the mask branch also reads the image's pixels over each box (:mod:`.detail`; not the paper's).
    """

    backbone: Backbone = "mobilenet_v3"
    min_size: int = 320
    max_size: int = 480
    landmark_channels: tuple[int, int, int, int] = (64, 64, 128, 128)
    landmark_hidden: int = 512
    landmark_batch_size_per_image: int | None = 8
    box_representation_size: int = 256
    mask_channels: int = 128
    box_batch_size_per_image: int = 128
    rpn_batch_size_per_image: int = 256
    rpn_pre_nms_top_n_train: int = 2000
    rpn_post_nms_top_n_train: int = 2000
    box_score_thresh: float = 0.05
    box_detections_per_img: int = 60
    pretrained_backbone: bool = True
    fpn_channels: int = 128
    native_size: bool = False
    landmark_sampling_ratio: int = 2
    mask_detail: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        data = dict(data)
        data["landmark_channels"] = tuple(data.get("landmark_channels", cls.landmark_channels))
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class NativeSizeTransform(GeneralizedRCNNTransform):
    """torchvision's transform without the resize to ``min_size``: an image keeps its pixel size
    unless its longer side exceeds ``max_size`` (then it, its boxes, masks and keypoints shrink to
    fit). Normalisation, batching (padding to a multiple of 32) and the rescaling of outputs are
    torchvision's."""

    def resize(self, image: Tensor, target: dict[str, Tensor] | None = None):  # type: ignore[override]
        height, width = image.shape[-2:]
        longest = max(height, width)
        if longest <= self.max_size:
            return image, target
        scale = self.max_size / float(longest)
        size = [max(1, round(height * scale)), max(1, round(width * scale))]
        image = torch.nn.functional.interpolate(image[None], size=size, mode="bilinear", align_corners=False)[0]
        if target is None:
            return image, target
        target = dict(target)
        target["boxes"] = resize_boxes(target["boxes"], (height, width), size)
        if "masks" in target:
            masks = target["masks"][:, None].float()
            target["masks"] = torch.nn.functional.interpolate(masks, size=size)[:, 0].byte()
        if "keypoints" in target:
            target["keypoints"] = resize_keypoints(target["keypoints"], (height, width), size)
        return image, target


def facemesh_cpu_config(**overrides) -> ModelConfig:
    """The CPU recipe's model: the face-trained FaceMesh trunk, a 64-channel FPN, narrower heads
    and fewer sampled regions, run at native pixel size (for :class:`~.data.FaceCrops`).

    Measured on the shared 2-core machine, one thread, 8 crops of 192 px a step
    (``benchmarks/results/maskrcnn_steps.md``): the same trunk with torchvision's head sizes costs
    about 4x the CPU time. ``overrides`` replace fields (``pretrained_backbone=False`` for the
    random start)."""
    base = ModelConfig(
        backbone="facemesh",
        native_size=True,
        fpn_channels=64,
        mask_channels=64,
        box_batch_size_per_image=64,
        landmark_batch_size_per_image=4,
        rpn_pre_nms_top_n_train=600,
        rpn_post_nms_top_n_train=300,
        landmark_sampling_ratio=1,
    )
    return ModelConfig.from_dict({**base.to_dict(), **overrides})


def _backbone(name: str, cfg: "ModelConfig") -> tuple[nn.Module, list[str], AnchorGenerator]:
    # Anchors start at 16 px (torchvision uses 32): the method is for small faces, and eyes and
    # brows of a 60-px face are 8-15 px wide.
    if name == "resnet50":
        body = resnet50(weights=None, norm_layer=nn.BatchNorm2d)
        backbone = _resnet_fpn_extractor(body, trainable_layers=5, norm_layer=None)
        names = ["0", "1", "2", "3"]
        anchors = AnchorGenerator(((16,), (32,), (64,), (128,), (256,)), ((0.5, 1.0, 2.0),) * 5)
    elif name == "mobilenet_v3":
        body = mobilenet_v3_large(weights=None, norm_layer=nn.BatchNorm2d)
        # Three levels (strides 8, 16, 32) instead of torchvision's two: stride 8 keeps small
        # features visible. MobileNetV3-Large has 6 stages; 2, 3, 5 give strides 8, 16, 32.
        backbone = _mobilenet_extractor(body, True, trainable_layers=6, returned_layers=[2, 3, 5])
        names = ["0", "1", "2"]
        anchors = AnchorGenerator(((16, 32, 64, 128, 256),) * 4, ((0.5, 1.0, 2.0),) * 4)
    elif name == "facemesh":
        from facepaint.face.maskrcnn.facemesh import facemesh_backbone

        # Strides 4-32 plus the pooled level: a 14-px face still spans 3-4 cells at stride 4.
        backbone = facemesh_backbone(pretrained=cfg.pretrained_backbone, out_channels=cfg.fpn_channels)
        names = ["0", "1", "2", "3"]
        anchors = AnchorGenerator(((16,), (32,), (64,), (128,), (256,)), ((0.5, 1.0, 2.0),) * 5)
    else:
        raise ValueError(f"backbone must be one of {BACKBONES}; got {name!r}")
    return backbone, names, anchors


def facepaint_maskrcnn(*, config: ModelConfig | None = None, **overrides) -> MaskRCNN:
    """Build the paper's extended Mask R-CNN (random weights; the ``"facemesh"`` trunk face-trained
    when ``config.pretrained_backbone``).

    Parameters
    ----------
    config : ModelConfig, optional
        Architecture and sizes; keyword ``overrides`` replace its fields
        (``facepaint_maskrcnn(backbone="resnet50")``).

    Returns
    -------
    torchvision.models.detection.MaskRCNN
        With ``roi_heads`` a :class:`LandmarkRoIHeads`. ``model(images)`` in eval mode returns per
        image ``boxes (n, 4)``, ``labels (n,)`` (see :mod:`.labels`), ``scores (n,)``,
        ``masks (n, 1, H, W)`` probabilities and ``keypoints (n, 36, 2)`` landmark pixels (NaN
        for non-face rows); in train mode the dict of losses (:func:`total_loss` sums them).
    """
    cfg = config or ModelConfig()
    if overrides:
        cfg = ModelConfig.from_dict({**cfg.to_dict(), **overrides})
    backbone, names, anchors = _backbone(cfg.backbone, cfg)
    channels = backbone.out_channels

    box_roi_pool = MultiScaleRoIAlign(featmap_names=names, output_size=7, sampling_ratio=2)
    box_head = TwoMLPHead(channels * 7 * 7, cfg.box_representation_size)
    box_predictor = FastRCNNPredictor(cfg.box_representation_size, NUM_CLASSES)
    if cfg.mask_detail:
        mask_roi_pool = DetailRoIPool(featmap_names=names, output_size=14, sampling_ratio=2)
        mask_head = DetailMaskHead(channels, (cfg.mask_channels,) * 4, 1)
        mask_predictor = DetailMaskPredictor(cfg.mask_channels, cfg.mask_channels, NUM_CLASSES)
    else:
        mask_roi_pool = MultiScaleRoIAlign(featmap_names=names, output_size=14, sampling_ratio=2)
        mask_head = MaskRCNNHeads(channels, (cfg.mask_channels,) * 4, 1)
        mask_predictor = MaskRCNNPredictor(cfg.mask_channels, cfg.mask_channels, NUM_CLASSES)

    model = MaskRCNN(
        backbone,
        num_classes=None,
        min_size=cfg.min_size,
        max_size=cfg.max_size,
        rpn_anchor_generator=anchors,
        rpn_batch_size_per_image=cfg.rpn_batch_size_per_image,
        rpn_pre_nms_top_n_train=cfg.rpn_pre_nms_top_n_train,
        rpn_post_nms_top_n_train=cfg.rpn_post_nms_top_n_train,
        box_roi_pool=box_roi_pool,
        box_head=box_head,
        box_predictor=box_predictor,
        mask_roi_pool=mask_roi_pool,
        mask_head=mask_head,
        mask_predictor=mask_predictor,
        # mediapipe feeds FaceMesh RGB in [0, 1]: no ImageNet normalisation for its trunk
        **({"image_mean": [0.0, 0.0, 0.0], "image_std": [1.0, 1.0, 1.0]} if cfg.backbone == "facemesh" else {}),
    )
    if cfg.native_size:
        old = model.transform
        model.transform = NativeSizeTransform(cfg.min_size, cfg.max_size, old.image_mean, old.image_std)
    head = LandmarkHead(channels, cfg.landmark_channels)
    side = LandmarkHead.output_side(LANDMARK_ROI_SIZE)
    model.roi_heads = LandmarkRoIHeads(
        box_roi_pool=box_roi_pool,
        box_head=box_head,
        box_predictor=box_predictor,
        fg_iou_thresh=0.5,
        bg_iou_thresh=0.5,
        batch_size_per_image=cfg.box_batch_size_per_image,
        positive_fraction=0.25,
        bbox_reg_weights=None,
        score_thresh=cfg.box_score_thresh,
        nms_thresh=0.5,
        detections_per_img=cfg.box_detections_per_img,
        mask_roi_pool=mask_roi_pool,
        mask_head=mask_head,
        mask_predictor=mask_predictor,
        landmark_roi_pool=MultiScaleRoIAlign(
            featmap_names=names, output_size=LANDMARK_ROI_SIZE, sampling_ratio=cfg.landmark_sampling_ratio
        ),
        landmark_head=head,
        landmark_predictor=LandmarkPredictor(head.out_channels * side * side, cfg.landmark_hidden, NUM_LANDMARKS),
        face_label=FACE_LABEL,
        landmark_batch_size_per_image=cfg.landmark_batch_size_per_image,
    )
    if cfg.mask_detail:
        attach_detail(model, mask_roi_pool)
    model.facepaint_config = cfg  # type: ignore[attr-defined]
    return model


def total_loss(losses: dict[str, Tensor]) -> Tensor:
    """The paper's ``L = Lcls + Lbox + Lmask + Llandmark``: the unweighted sum of torchvision's
    terms (``loss_classifier``, ``loss_box_reg``, ``loss_objectness``, ``loss_rpn_box_reg``,
    ``loss_mask``) and ``loss_landmark``."""
    if "loss_landmark" not in losses:
        raise ValueError(f"expected the landmark loss among {sorted(losses)}; is this the extended model?")
    return torch.stack([v for v in losses.values()]).sum()
