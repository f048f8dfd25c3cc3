"""Wide residual networks for CIFAR: WRN-d-k (Zagoruyko & Komodakis, BMVC 2016).

Depth d = 6n + 4: a 3x3 stem of 16 channels, three stages of n pre-activation blocks with
16k, 32k and 64k channels (strides 1, 2, 2), a final BN-ReLU, global average pooling and a
linear classifier. A block is BN-ReLU-conv3x3-BN-ReLU-(dropout)-conv3x3; where the channels
change, a 1x1 conv on the pre-activated input is the shortcut. WRN-28-10 has 36.5M parameters
and WRN-16-8 11.0M on CIFAR-10, the usual pruning benchmarks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainer.models.errors import ModelError
from trainer.models.registry import Bound, register_model


class WideBlock(nn.Module):
    """Pre-activation basic block; ``shortcut`` is a 1x1 conv when the channels change."""

    def __init__(self, c_in: int, c_out: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.shortcut = nn.Conv2d(c_in, c_out, 1, stride, bias=False) if c_in != c_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activated = F.relu(self.bn1(x))
        out = self.conv1(activated)
        out = self.conv2(self.dropout(F.relu(self.bn2(out))))
        return out + (self.shortcut(activated) if self.shortcut is not None else x)


class WideResNet(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, depth: int, widen: int, dropout: float) -> None:
        super().__init__()
        blocks = (depth - 4) // 6
        widths = [16 * widen, 32 * widen, 64 * widen]
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        stages, c_in = [], 16
        for index, width in enumerate(widths):
            layers = []
            for block in range(blocks):
                layers.append(WideBlock(c_in, width, (1 if index == 0 else 2) if block == 0 else 1, dropout))
                c_in = width
            stages.append(nn.Sequential(*layers))
        self.layers = nn.Sequential(*stages)
        self.bn = nn.BatchNorm2d(c_in)
        self.linear = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn(self.layers(self.conv1(x))))
        return self.linear(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))


@register_model("wrn", bounds={"depth": Bound(10), "widen": Bound(1), "dropout": Bound(0)})
def wrn(input_shape: tuple[int, int, int], num_classes: int, depth: int = 28, widen: int = 10, dropout: float = 0.0):
    """WRN-depth-widen for 32x32 images (any size works: the pooling is global)."""
    if (depth - 4) % 6:
        raise ModelError(f"wrn depth must be 6n + 4 (10, 16, 22, 28, 40, ...), got {depth}")
    if not 0 <= dropout < 1:
        raise ModelError(f"wrn dropout must be in [0, 1), got {dropout}")
    return WideResNet(input_shape[0], num_classes, depth, widen, dropout)
