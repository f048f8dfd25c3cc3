"""DenseNet121-S64U4: DenseNet-BC 121 whose 3x3 convolutions share a filter basis per dense block.

The CIFAR-100 model of Kang & Kim (its public ``models/cifar100/densenet.py``,
``DenseNet121_SingleShared``). In every bottleneck layer the 3x3 convolution (4k -> k channels,
growth k = 32) becomes ``cat(own u filters, shared s filters)``, BatchNorm over the s + u
responses and a 1x1 coefficient convolution to k channels. Module names follow the public code,
so its checkpoints load as they are.

One detail of the public code is kept by default: the fourth dense block calls the *third*
block's basis (the constructor reuses the loop's last index), so ``shared_basis_4`` is built,
counted and regularised but never called. ``last_basis=own`` gives the fourth block its own.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainer.models.errors import ModelError
from trainer.models.orthogonality import FourSharedBases
from trainer.models.registry import register_model

BLOCKS = (6, 12, 24, 16)
GROWTH = 32
#: public: the fourth dense block uses the third block's basis (the public code); own: its own.
LAST_BASIS = ("public", "own")


class SharedBottleneck(nn.Module):
    """BN-ReLU-1x1 conv (C -> 4k), BN-ReLU, [own 3x3 | shared 3x3], BN, 1x1 coefficients (-> k); the
    output is concatenated to the input."""

    def __init__(self, c_in: int, unique_rank: int, shared_basis: nn.Conv2d) -> None:
        super().__init__()
        inner = 4 * GROWTH
        self.shared_basis = shared_basis
        self.bn0 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, inner, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(inner)
        self.basis_conv2 = nn.Conv2d(inner, unique_rank, 3, padding=1, bias=False)
        self.basis_bn2 = nn.BatchNorm2d(unique_rank + shared_basis.out_channels)
        self.coeff_conv2 = nn.Conv2d(unique_rank + shared_basis.out_channels, GROWTH, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(F.relu(self.bn0(x)))))
        out = self.coeff_conv2(self.basis_bn2(torch.cat((self.basis_conv2(out), self.shared_basis(out)), dim=1)))
        return torch.cat((x, out), 1)


class Transition(nn.Module):
    """BatchNorm, 1x1 convolution to half the channels, 2x2 average pooling."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.down_sample = nn.Sequential(
            nn.BatchNorm2d(c_in), nn.Conv2d(c_in, c_out, 1, bias=False), nn.AvgPool2d(2, 2)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_sample(x)


class DenseNetShared(FourSharedBases, nn.Module):
    """See the module docstring; :meth:`extra_loss` is the orthogonality term of the shared bases."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        shared_rank: int,
        unique_rank: int,
        last_basis: str,
        orth_lambda: float,
    ) -> None:
        super().__init__()
        channels = 2 * GROWTH
        self.conv1 = nn.Conv2d(in_channels, channels, 3, padding=1, bias=False)
        self.features = nn.Sequential()
        for index in range(1, 5):
            setattr(self, f"shared_basis_{index}", nn.Conv2d(4 * GROWTH, shared_rank, 3, padding=1, bias=False))
        for index, layers in enumerate(BLOCKS):
            basis_index = 3 if index == 3 and last_basis == "public" else index + 1
            basis = getattr(self, f"shared_basis_{basis_index}")
            block = nn.Sequential()
            for layer in range(layers):
                layer_in = channels + layer * GROWTH
                block.add_module(f"bottle_neck_layer_{layer}", SharedBottleneck(layer_in, unique_rank, basis))
            self.features.add_module(f"dense_block_layer_{index}", block)
            channels += layers * GROWTH
            if index < 3:
                self.features.add_module(f"transition_layer_{index}", Transition(channels, channels // 2))
                channels //= 2
        self.features.add_module("bn", nn.BatchNorm2d(channels))
        self.features.add_module("relu", nn.ReLU(inplace=True))
        self.linear = nn.Linear(channels, num_classes)
        self.orth_lambda = float(orth_lambda)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.adaptive_avg_pool2d(self.features(self.conv1(x)), 1).flatten(1)
        return self.linear(out)


@register_model("densenet121_shared")
def densenet121_shared(
    input_shape: tuple[int, int, int],
    num_classes: int,
    shared_rank: int = 64,
    unique_rank: int = 4,
    last_basis: str = "public",
    orth_lambda: float = 10.0,
) -> nn.Module:
    """DenseNet121-SsUu of Kang & Kim (CIFAR-100; S64U4 by default): DenseNet-BC 121, growth 32,
    3x3 stem, each dense block's 3x3 convolutions sharing s basis filters beside u of their own.
    Options: shared_rank (64), unique_rank (4), last_basis=public|own (the public code's fourth
    block calls the third block's basis), orth_lambda (10)."""
    if last_basis not in LAST_BASIS:
        raise ModelError(f"model option last_basis must be one of {', '.join(LAST_BASIS)}, got {last_basis!r}")
    if int(shared_rank) != shared_rank or shared_rank < 1 or int(unique_rank) != unique_rank or unique_rank < 1:
        raise ModelError(f"shared_rank and unique_rank must be whole numbers >= 1, got {shared_rank} and {unique_rank}")
    if orth_lambda < 0:
        raise ModelError(f"orth_lambda must be >= 0, got {orth_lambda}")
    return DenseNetShared(input_shape[0], num_classes, int(shared_rank), int(unique_rank), last_basis, orth_lambda)
