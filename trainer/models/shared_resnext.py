"""ResNeXt50-SsUu: ResNeXt-50 (32x4d) whose grouped 3x3 convolutions share a filter basis per stage.

The CIFAR-100 model of Kang & Kim (its public ``models/cifar100/resnext.py``,
``ResNext50_32x4d_SingleShared``): a 3x3 stride-1 stem; in each stage the first bottleneck is
ResNeXt's own, and in the others the grouped 3x3 convolution (W -> W, 32 groups) becomes
``cat(own u_k filters, shared s_k filters)`` followed by BatchNorm, where the stage's basis is a
3x3 convolution W -> s_k with s / 4 groups, the own filters W -> u_k with u_k / 4 groups, and
s_k = s x (1, 2, 4, 8), u_k = u x (1, 2, 4, 8) in the four stages; the 1x1 expansion then reads
s_k + u_k channels. Module names follow the public code, so its checkpoints load as they are.

The public code computes the own filters' groups as ``int(u_k / 4)``, which is 0 for u_k < 4 (a
convolution PyTorch refuses): ``unique_rank`` below 4 cannot be built there, nor here (one line).
The classifier reads a global average (the public ``avg_pool2d(out, 4)`` at 32x32 inputs).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainer.models.errors import ModelError
from trainer.models.orthogonality import FourSharedBases
from trainer.models.registry import register_model

BLOCKS = (3, 4, 6, 3)
CARDINALITY, BASE_WIDTH, EXPANSION = 32, 4, 4


def _shortcut(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    if stride == 1 and c_in == c_out:
        return nn.Sequential()
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))


class Bottleneck(nn.Module):
    """ResNeXt's bottleneck: 1x1 (-> W), grouped 3x3 (W -> W, 32 groups), 1x1 (-> 4 planes)."""

    def __init__(self, c_in: int, planes: int, stride: int) -> None:
        super().__init__()
        width = planes * BASE_WIDTH // 64 * CARDINALITY
        self.residual_function = nn.Sequential(
            nn.Conv2d(c_in, width, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, stride, 1, groups=CARDINALITY, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, planes * EXPANSION, 1, bias=False),
            nn.BatchNorm2d(planes * EXPANSION),
        )
        self.shortcut = _shortcut(c_in, planes * EXPANSION, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.residual_function(x) + self.shortcut(x))


class SharedBottleneck(nn.Module):
    """1x1 (-> W), [own 3x3 | shared 3x3] (-> u_k + s_k), BatchNorm, 1x1 (-> 4 planes)."""

    def __init__(self, c_in: int, planes: int, unique_rank: int, shared_basis: nn.Conv2d) -> None:
        super().__init__()
        width = planes * BASE_WIDTH // 64 * CARDINALITY
        rank = unique_rank + shared_basis.out_channels
        self.shared_basis = shared_basis
        self.conv1 = nn.Conv2d(c_in, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.basis_conv2 = nn.Conv2d(width, unique_rank, 3, 1, 1, groups=unique_rank // BASE_WIDTH, bias=False)
        self.bn2 = nn.BatchNorm2d(rank)
        self.conv3 = nn.Conv2d(rank, planes * EXPANSION, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * EXPANSION)
        self.shortcut = nn.Sequential()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(torch.cat((self.basis_conv2(out), self.shared_basis(out)), dim=1)))
        return F.relu(self.bn3(self.conv3(out)) + self.shortcut(x))


class ResNeXtShared(FourSharedBases, nn.Module):
    """See the module docstring; :meth:`extra_loss` is the orthogonality term of the shared bases."""

    def __init__(self, in_channels: int, num_classes: int, shared_rank: int, unique_rank: int, orth_lambda: float):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        c_in = 64
        for index, blocks in enumerate(BLOCKS, start=1):
            planes, scale = 64 * 2 ** (index - 1), 2 ** (index - 1)
            width = planes * BASE_WIDTH // 64 * CARDINALITY
            basis = nn.Conv2d(width, shared_rank * scale, 3, 1, 1, groups=shared_rank // 4, bias=False)
            setattr(self, f"shared_basis_{index}", basis)
            first = Bottleneck(c_in, planes, 1 if index == 1 else 2)
            rest = [SharedBottleneck(planes * EXPANSION, planes, unique_rank * scale, basis) for _ in range(blocks - 1)]
            setattr(self, f"layer{index}", nn.Sequential(first, *rest))
            c_in = planes * EXPANSION
        self.linear = nn.Linear(c_in, num_classes)
        for index in range(1, 5):
            nn.init.orthogonal_(getattr(self, f"shared_basis_{index}").weight)
        self.orth_lambda = float(orth_lambda)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        for index in range(1, 5):
            out = getattr(self, f"layer{index}")(out)
        return self.linear(F.adaptive_avg_pool2d(out, 1).flatten(1))


@register_model("resnext50_shared")
def resnext50_shared(
    input_shape: tuple[int, int, int],
    num_classes: int,
    shared_rank: int = 16,
    unique_rank: int = 4,
    orth_lambda: float = 10.0,
) -> nn.Module:
    """ResNeXt50-SsUu of Kang & Kim (CIFAR-100): ResNeXt-50 32x4d, 3x3 stem, the grouped 3x3
    convolutions of blocks 2..n sharing a per-stage basis. Options: shared_rank (16; a multiple
    of 4), unique_rank (4; a multiple of 4, the smallest the public code builds), orth_lambda (10)."""
    for name, value in (("shared_rank", shared_rank), ("unique_rank", unique_rank)):
        if int(value) != value or value < 4 or value % 4:
            raise ModelError(
                f"{name} must be a multiple of 4 (the basis convolutions have {name} / 4 groups, as in the public "
                f"code), got {value}"
            )
    if orth_lambda < 0:
        raise ModelError(f"orth_lambda must be >= 0, got {orth_lambda}")
    return ResNeXtShared(input_shape[0], num_classes, int(shared_rank), int(unique_rank), orth_lambda)
