"""CIFAR-style residual networks: ResNet-20/32/56 (He et al., 2016) and the CIFAR ResNet-18 of RGP.

References
----------
.. [1] K. He, X. Zhang, S. Ren, J. Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
   (section 4.2: 3 stages of 16/32/64 channels, 6n+2 layers, parameter-free shortcuts).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainer.models.errors import ModelError
from trainer.models.registry import WidthOption, register_model


class PadShortcut(nn.Module):
    """Option-A shortcut: subsample by ``stride`` and zero-pad the extra channels (no weights)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.stride, self.extra = stride, c_out - c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))


class BasicBlock(nn.Module):
    """Two 3x3 convs with BatchNorm; shortcut by padding (option A) or 1x1 conv + BN (option B)."""

    def __init__(self, c_in: int, c_out: int, stride: int, conv_shortcut: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            if conv_shortcut:
                self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
            else:
                self.shortcut = PadShortcut(c_in, c_out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class CifarResNet(nn.Module):
    """3x3 stem, stages of BasicBlocks, global average pooling, linear classifier."""

    def __init__(
        self, in_channels: int, num_classes: int, widths: list[int], blocks: list[int], conv_shortcut: bool
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        stages, c_in = [], widths[0]
        for index, (width, count) in enumerate(zip(widths, blocks)):
            stride = 1 if index == 0 else 2
            layers = []
            for block in range(count):
                layers.append(BasicBlock(c_in, width, stride if block == 0 else 1, conv_shortcut))
                c_in = width
            stages.append(nn.Sequential(*layers))
        self.layers = nn.Sequential(*stages)
        self.linear = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.linear(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))


def stage_widths(width: int, stages: int) -> list[int]:
    """``width, 2 width, 4 width, ...``: the channels of each stage, doubling after the first."""
    if width < 1:
        raise ModelError(f"width must be at least 1 channel, got {width}")
    return [int(width) * 2**index for index in range(stages)]


def _he_resnet(depth: int):
    def constructor(input_shape: tuple[int, int, int], num_classes: int, width: int = 16) -> nn.Module:
        per_stage = (depth - 2) // 6
        return CifarResNet(input_shape[0], num_classes, stage_widths(width, 3), [per_stage] * 3, conv_shortcut=False)

    constructor.__doc__ = (
        f"CIFAR ResNet-{depth} (He et al. 2016): stages of ``width``/2x/4x channels (16/32/64 by default), "
        f"{(depth - 2) // 6} blocks per stage, padding shortcuts."
    )
    return constructor


for _depth in (20, 32, 56):
    register_model(f"resnet{_depth}", width=WidthOption())(_he_resnet(_depth))


@register_model("cresnet18", width=WidthOption())
def cresnet18(input_shape: tuple[int, int, int], num_classes: int, width: int = 64) -> nn.Module:
    """CIFAR ResNet-18 as used by RGP: 3x3 stem without max-pool, stages of ``width``/2x/4x/8x
    channels (64/128/256/512 by default), 2 blocks per stage, 1x1 conv shortcuts; 11,173,962
    parameters for 10 classes at the default width."""
    return CifarResNet(input_shape[0], num_classes, stage_widths(width, 4), [2, 2, 2, 2], conv_shortcut=True)


@register_model("cresnet34", width=WidthOption())
def cresnet34(input_shape: tuple[int, int, int], num_classes: int, width: int = 64) -> nn.Module:
    """CIFAR ResNet-34: 3x3 stem without max-pool, stages of ``width``/2x/4x/8x channels
    (64/128/256/512 by default) with 3/4/6/3 blocks, 1x1 conv shortcuts; the dense counterpart of
    resnet34_shared."""
    return CifarResNet(input_shape[0], num_classes, stage_widths(width, 4), [3, 4, 6, 3], conv_shortcut=True)
