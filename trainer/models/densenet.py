"""DenseNet-BC for small images, dense and with X-layers (X-DenseNet-BC).

References
----------
.. [1] G. Huang, Z. Liu, L. van der Maaten, K. Q. Weinberger, "Densely Connected Convolutional
   Networks", CVPR 2017 (DenseNet-BC: bottlenecks, compression 0.5, 3 blocks on CIFAR).
.. [2] A. Prabhu, G. Varma, A. Namboodiri, "Deep Expander Networks", ECCV 2018 (X-DenseNet-BC).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from pruning.expander import declare_expander_layers, expander_degree
from trainer.models.errors import ModelError, option_flag
from trainer.models.registry import register_model


class DenseLayer(nn.Module):
    """BN-ReLU-conv1x1 (C -> 4k) - BN-ReLU-conv3x3 (4k -> k) with a bottleneck, else BN-ReLU-conv3x3
    (C -> k); its k new feature maps are concatenated to its input."""

    def __init__(self, c_in: int, growth: int, bottleneck: bool) -> None:
        super().__init__()
        self.bottleneck = bottleneck
        width = 4 * growth if bottleneck else c_in
        if bottleneck:
            self.bn1 = nn.BatchNorm2d(c_in)
            self.conv1 = nn.Conv2d(c_in, width, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, growth, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.bn1(x))) if self.bottleneck else x
        return torch.cat([x, self.conv2(F.relu(self.bn2(out)))], dim=1)


class Transition(nn.Module):
    """BN-ReLU-conv1x1 (C -> floor(reduction C)) - 2x2 average pooling."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(c_in)
        self.conv = nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(F.relu(self.bn(x)))
        return F.avg_pool2d(out, 2) if min(out.shape[-2:]) >= 2 else out


class DenseNetBC(nn.Module):
    """3x3 stem (C -> 2k), three dense blocks of n layers with two transitions, BN-ReLU, global
    average pooling, linear classifier; n = (depth - 4) / 6 with bottlenecks, (depth - 4) / 3 without."""

    def __init__(
        self, in_channels: int, num_classes: int, depth: int, growth: int, reduction: float, bottleneck: bool
    ) -> None:
        super().__init__()
        per_block = (depth - 4) // (6 if bottleneck else 3)
        if per_block < 1 or (depth - 4) % (6 if bottleneck else 3):
            raise ModelError(f"densenet depth must be 4 + {6 if bottleneck else 3}n, got {depth}")
        if not 0 < reduction <= 1:
            raise ModelError(f"densenet reduction must be in (0, 1], got {reduction}")
        channels = 2 * growth if bottleneck else 16
        self.stem = nn.Conv2d(in_channels, channels, 3, padding=1, bias=False)
        blocks: list[nn.Module] = []
        for index in range(3):
            layers = []
            for _ in range(per_block):
                layers.append(DenseLayer(channels, growth, bottleneck))
                channels += growth
            blocks.append(nn.Sequential(*layers))
            if index < 2:
                out = int(math.floor(reduction * channels))
                blocks.append(Transition(channels, out))
                channels = out
        self.features = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(channels)
        self.fc = nn.Linear(channels, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn(self.features(self.stem(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))


@register_model("densenet_bc")
def densenet_bc(
    input_shape: tuple[int, int, int],
    num_classes: int,
    depth: int = 40,
    growth: int = 24,
    reduction: float = 0.5,
    bottleneck: bool = True,
) -> nn.Module:
    """CIFAR DenseNet-BC (Huang et al. 2017): DenseNet-BC-40-24 has 0.69 M parameters and 2.9e8
    multiply-accumulates at 32x32 (counted: see docs/xnets.md)."""
    return DenseNetBC(input_shape[0], num_classes, depth, growth, reduction, option_flag(bottleneck, "bottleneck"))


@register_model("xdensenet_bc", structure=("expand", "balanced", "x_transitions", "degree_side"))
def xdensenet_bc(
    input_shape: tuple[int, int, int],
    num_classes: int,
    depth: int = 40,
    growth: int = 24,
    reduction: float = 0.5,
    bottleneck: bool = True,
    expand: float = 2,
    balanced: bool = False,
    x_transitions: bool = False,
    degree_side: str = "smaller",
) -> nn.Module:
    """X-DenseNet-BC (Prabhu et al. 2018): DenseNet-BC with X-layers of compression ``expand`` in
    both convolutions of every dense layer (and in the transitions with ``x_transitions``); stem
    and classifier dense, as in the reported runs. ``degree_side`` (default ``smaller``, the public
    layers' rule) is the side with exactly C_in / expand connections per channel (docs/fidelity.md)."""
    model = DenseNetBC(input_shape[0], num_classes, depth, growth, reduction, option_flag(bottleneck, "bottleneck"))
    chosen = (DenseLayer, Transition) if option_flag(x_transitions, "x_transitions") else (DenseLayer,)
    degrees = {}
    for name, module in model.named_modules():
        if isinstance(module, chosen):
            for child_name, child in module.named_children():
                if isinstance(child, nn.Conv2d):
                    degrees[f"{name}.{child_name}"] = expander_degree(child.in_channels, expand)
    return declare_expander_layers(model, degrees, option_flag(balanced, "balanced"), expand, degree_side)
