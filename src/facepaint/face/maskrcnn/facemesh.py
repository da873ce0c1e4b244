"""mediapipe's FaceMesh network ported to torch: a face-trained trunk for the Mask R-CNN (torch).

``face_landmark.tflite`` (mediapipe 0.10.21, the network behind facepaint's default face model,
i.e. the teacher of the pseudo-labels) is a stack of depthwise-separable residual blocks with
PReLU, BatchNorm folded into the biases, its constants stored as float16. Its trunk gives features
of 16/32/64/128/128 channels at strides 2/4/8/16/32, learnt on faces; two small heads on the
stride-32 feature regress the 468-point mesh (1404 values) and the face-presence logit.

:class:`FaceMeshTrunk` is that trunk as an ``nn.Module`` whose children run in order (so that
torchvision's ``IntermediateLayerGetter`` can take its stages), :class:`FaceMeshHeads` the two heads
(only used to check the port), :func:`facemesh_backbone` the trunk under an FPN as a
``BackboneWithFPN``. The constants are read from the installed mediapipe wheel through the TFLite
interpreter facepaint already uses for the teacher: nothing is downloaded.

TF "SAME" padding: a stride-1 3x3 convolution pads one pixel on every side; a stride-2 one pads
``max((ceil(n / 2) - 1) * 2 + 3 - n, 0)`` pixels split with the extra pixel *after* (right and
bottom): for even sides, zero before and one after, which torch's symmetric ``padding=`` cannot
express, hence :func:`pad_same`.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: Side of the network's square input, pixels (input range [0, 1], RGB).
MESH_INPUT = 192
#: ``(name, channels, stride)`` of the trunk's stages, in order.
TRUNK_STAGES: tuple[tuple[str, int, int], ...] = (
    ("stem", 16, 2),
    ("stage2", 16, 2),
    ("stage4", 32, 4),
    ("stage8", 64, 8),
    ("stage16", 128, 16),
    ("stage32", 128, 32),
)


def pad_same(x: Tensor, kernel: int, stride: int) -> Tensor:
    """Zero-pad ``x (N, C, H, W)`` as TensorFlow's "SAME" does for a ``kernel`` x ``kernel``
    convolution of ``stride``: the output has ``ceil(H / stride)`` rows, and an odd total padding
    puts the extra pixel after (bottom/right)."""
    height, width = x.shape[-2:]
    pad_h = max((math.ceil(height / stride) - 1) * stride + kernel - height, 0)
    pad_w = max((math.ceil(width / stride) - 1) * stride + kernel - width, 0)
    return F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))


class SameConv2d(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow "SAME" padding (``padding`` must not be given)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0, groups=groups)

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(pad_same(x, self.kernel_size[0], self.stride[0]))


class FaceMeshBlock(nn.Module):
    """One residual block: ``PReLU(shortcut(x) + pointwise(depthwise(x)))``.

    ``(N, C_in, H, W) -> (N, C_out, ceil(H / s), ceil(W / s))``. With ``stride`` 2 the shortcut is
    a 2x2 max-pool; when ``C_out > C_in`` it is zero-padded on the channel axis (the tflite
    graph's ``channel_padding``).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        if stride not in (1, 2) or out_channels < in_channels:
            raise ValueError(f"a FaceMesh block has stride 1 or 2 and out >= in channels; got {in_channels}->{out_channels}, stride {stride}")
        self.stride = stride
        self.extra_channels = out_channels - in_channels
        self.depthwise = SameConv2d(in_channels, in_channels, 3, stride=stride, groups=in_channels)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1)
        self.act = nn.PReLU(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x
        if self.stride == 2:
            # ceil_mode pads odd sides as "SAME" would; sides are even wherever tflite runs it.
            shortcut = F.max_pool2d(x, 2, 2, ceil_mode=True)
        if self.extra_channels:
            shortcut = F.pad(shortcut, (0, 0, 0, 0, 0, self.extra_channels))
        return self.act(shortcut + self.pointwise(self.depthwise(x)))


def _stage(in_channels: int, out_channels: int, blocks: int) -> nn.Sequential:
    """A stride-2 block then ``blocks - 1`` stride-1 ones."""
    layers = [FaceMeshBlock(in_channels, out_channels, 2)]
    layers += [FaceMeshBlock(out_channels, out_channels, 1) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class FaceMeshTrunk(nn.Module):
    """The FaceMesh trunk: ``(N, 3, H, W)`` RGB in [0, 1] -> ``(N, 128, H/32, W/32)``.

    Children, run in order (``IntermediateLayerGetter`` takes their outputs): ``stem`` (3x3
    stride-2 convolution + PReLU, 16 channels, stride 2), ``stage2`` (2 blocks, 16 channels,
    stride 2), ``stage4`` (32, stride 4), ``stage8`` (64, stride 8), ``stage16`` (128, stride 16),
    ``stage32`` (128, stride 32), 3 blocks each. ``H`` and ``W`` should be multiples of 32 (torchvision's
    transform pads to that) for the stride-2 shortcuts to line up as in tflite.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(SameConv2d(3, 16, 3, stride=2), nn.PReLU(16))
        self.stage2 = nn.Sequential(FaceMeshBlock(16, 16), FaceMeshBlock(16, 16))
        self.stage4 = _stage(16, 32, 3)
        self.stage8 = _stage(32, 64, 3)
        self.stage16 = _stage(64, 128, 3)
        self.stage32 = _stage(128, 128, 3)

    def forward(self, x: Tensor) -> Tensor:
        for stage in self.children():
            x = stage(x)
        return x

    def blocks(self) -> list[FaceMeshBlock]:
        """The 14 residual blocks in graph order (tflite block ``k`` is ``blocks()[k - 1]``)."""
        return [m for m in self.modules() if isinstance(m, FaceMeshBlock)]


class FaceMeshHeads(nn.Module):
    """The two heads on the trunk's ``(N, 128, 6, 6)`` output at 192 px input.

    ``forward`` returns ``mesh (N, 1404)``, 468 ``(x, y, z)`` in input pixels, and ``presence
    (N,)``, the face-presence logit. Used to check the port against tflite; the Mask R-CNN keeps
    only the trunk.
    """

    def __init__(self) -> None:
        super().__init__()
        self.mesh = nn.Sequential(
            FaceMeshBlock(128, 128, 2), FaceMeshBlock(128, 128), FaceMeshBlock(128, 128),
            nn.Conv2d(128, 32, 1), nn.PReLU(32), FaceMeshBlock(32, 32), nn.Conv2d(32, 1404, 3),
        )
        self.presence = nn.Sequential(
            FaceMeshBlock(128, 128, 2), nn.Conv2d(128, 32, 1), nn.PReLU(32), FaceMeshBlock(32, 32), nn.Conv2d(32, 1, 3),
        )

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor]:
        return self.mesh(features).flatten(1), self.presence(features).flatten()


# tflite tensor names of each module: the graph numbers blocks by their depthwise layer ``k``
# (depthwise_conv2d_k, conv2d_{k+1}, p_re_lu_{k+1} in the trunk); the heads' numbers jump.
def _trunk_names() -> list[tuple[str, str, str]]:
    return [(f"depthwise_conv2d_{k}", f"conv2d_{k + 1}", f"p_re_lu_{k + 1}") for k in range(1, 15)]


_MESH_HEAD_NAMES = {
    "blocks": [(f"depthwise_conv2d_{k}", f"conv2d_{k + 1}", f"p_re_lu_{k + 1}") for k in (15, 16, 17)]
    + [("depthwise_conv2d_18", "conv2d_20", "p_re_lu_20")],
    "reduce": ("conv2d_19", "p_re_lu_19"),
    "out": "conv2d_21",
}
_PRESENCE_HEAD_NAMES = {
    "blocks": [("depthwise_conv2d_23", "conv2d_28", "p_re_lu_26"), ("depthwise_conv2d_24", "conv2d_30", "p_re_lu_28")],
    "reduce": ("conv2d_29", "p_re_lu_27"),
    "out": "conv2d_31",
}


@lru_cache(maxsize=1)
def read_facemesh_constants() -> dict[str, np.ndarray]:
    """Every constant of ``face_landmark.tflite`` as float32, by tflite tensor name.

    Kernels keep tflite's layout: ``[O, kh, kw, I]`` for convolutions, ``[1, kh, kw, C]`` for
    depthwise ones; PReLU slopes are ``[1, 1, C]``. Read from the installed mediapipe wheel
    through the TFLite interpreter (float16 constants dequantized).

    Raises
    ------
    facepaint.face._nets.ModelFileError
        When mediapipe's model file or the TFLite runtime is missing.
    """
    from facepaint.face._nets import _MESH_FILE, ModelFileError, _stderr_silenced, _tflite_interpreter, model_path

    interpreter_class = _tflite_interpreter()
    if interpreter_class is None:
        raise ModelFileError("the facemesh backbone reads its weights with tflite-runtime: `pip install tflite-runtime==2.14.0`")
    interpreter = interpreter_class(str(model_path(_MESH_FILE)), experimental_preserve_all_tensors=True)
    with _stderr_silenced():
        interpreter.allocate_tensors()
    constants = {}
    for detail in interpreter.get_tensor_details():
        name = detail["name"]
        if name.endswith(("/Kernel", "/Bias", "/Alpha")):
            constants[name] = np.asarray(interpreter.get_tensor(detail["index"]), np.float32)
    return constants


def _load_conv(conv: nn.Conv2d, constants: dict[str, np.ndarray], name: str, *, depthwise: bool = False) -> None:
    kernel = constants[f"{name}/Kernel"]
    # [O, kh, kw, I] -> [O, I, kh, kw]; depthwise [1, kh, kw, C] -> [C, 1, kh, kw]
    weight = kernel.transpose(3, 0, 1, 2) if depthwise else kernel.transpose(0, 3, 1, 2)
    if tuple(weight.shape) != tuple(conv.weight.shape):
        raise ValueError(f"tflite {name} has kernel {kernel.shape}; the port expects {tuple(conv.weight.shape)}")
    conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
    conv.bias.copy_(torch.from_numpy(constants[f"{name}/Bias"]))


def _load_prelu(act: nn.PReLU, constants: dict[str, np.ndarray], name: str) -> None:
    act.weight.copy_(torch.from_numpy(constants[f"{name}/Alpha"].reshape(-1)))


def _load_block(block: FaceMeshBlock, constants: dict[str, np.ndarray], names: tuple[str, str, str]) -> None:
    _load_conv(block.depthwise, constants, names[0], depthwise=True)
    _load_conv(block.pointwise, constants, names[1])
    _load_prelu(block.act, constants, names[2])


@torch.no_grad()
def load_facemesh_trunk(trunk: FaceMeshTrunk, constants: dict[str, np.ndarray] | None = None) -> FaceMeshTrunk:
    """Copy the tflite trunk's constants into ``trunk`` (in place; returned for chaining)."""
    constants = read_facemesh_constants() if constants is None else constants
    _load_conv(trunk.stem[0], constants, "conv2d_1")
    _load_prelu(trunk.stem[1], constants, "p_re_lu_1")
    for block, names in zip(trunk.blocks(), _trunk_names(), strict=True):
        _load_block(block, constants, names)
    return trunk


@torch.no_grad()
def load_facemesh_heads(heads: FaceMeshHeads, constants: dict[str, np.ndarray] | None = None) -> FaceMeshHeads:
    """Copy the tflite mesh and presence heads' constants into ``heads`` (in place)."""
    constants = read_facemesh_constants() if constants is None else constants
    for branch, names in ((heads.mesh, _MESH_HEAD_NAMES), (heads.presence, _PRESENCE_HEAD_NAMES)):
        blocks = [m for m in branch if isinstance(m, FaceMeshBlock)]
        for block, block_names in zip(blocks, names["blocks"], strict=True):
            _load_block(block, constants, block_names)
        reduce_conv, reduce_act = [m for m in branch if isinstance(m, (nn.Conv2d, nn.PReLU)) and not isinstance(m, FaceMeshBlock)][:2]
        _load_conv(reduce_conv, constants, names["reduce"][0])
        _load_prelu(reduce_act, constants, names["reduce"][1])
        _load_conv(branch[-1], constants, names["out"])
    return heads


def facemesh_trunk(*, pretrained: bool = True) -> FaceMeshTrunk:
    """The trunk, with mediapipe's face-trained weights (``pretrained``) or PyTorch's default
    random initialisation."""
    trunk = FaceMeshTrunk()
    return load_facemesh_trunk(trunk) if pretrained else trunk


def facemesh_backbone(*, pretrained: bool = True, out_channels: int = 128, returned_stages: tuple[str, ...] = ("stage4", "stage8", "stage16", "stage32")):
    """The trunk under a feature pyramid: a torchvision ``BackboneWithFPN``.

    Parameters
    ----------
    pretrained : bool
        Start from mediapipe's face-trained weights (read from the installed wheel) or at random.
    out_channels : int
        Channels of every pyramid level.
    returned_stages : tuple of str
        Trunk stages feeding the pyramid (default strides 4, 8, 16, 32); a max-pooled level
        ``"pool"`` (stride 64) is added on top.

    Returns
    -------
    torchvision.models.detection.backbone_utils.BackboneWithFPN
        ``backbone(images (N, 3, H, W))`` -> ordered dict ``"0".."k-1", "pool"`` of
        ``(N, out_channels, H / s, W / s)``.
    """
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

    channels = dict((name, c) for name, c, _ in TRUNK_STAGES)
    unknown = [s for s in returned_stages if s not in channels]
    if unknown or not returned_stages:
        raise ValueError(f"returned_stages must be among {tuple(channels)}; got {returned_stages}")
    trunk = facemesh_trunk(pretrained=pretrained)
    return BackboneWithFPN(
        trunk,
        return_layers={name: str(i) for i, name in enumerate(returned_stages)},
        in_channels_list=[channels[name] for name in returned_stages],
        out_channels=out_channels,
        extra_blocks=LastLevelMaxPool(),
    )
