"""MobileNetV2-Shared: MobileNetV2 whose expansion convolutions share one filter basis per stage.

The ILSVRC model of Kang & Kim (its public ``models/ilsvrc/mobilenetv2.py``): in stages 3-6,
every block after the first expands its input with the stage's shared 1x1 convolution
(``shared_basis_<stage>``, C -> 6C) instead of its own. Module names follow the public code, so
its checkpoints load as they are (``net_state_dict``, ``module.`` prefixes: pruning/checkpoints.py).
Structure as that file: a 3x3 stride-2 stem with bias, ReLU inside the blocks and ReLU6 in the
stem and head, a residual connection where stride is 1 and the widths agree, dropout 0.2 before
the classifier, PyTorch's default initialisation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainer.models.errors import ModelError
from trainer.models.orthogonality import FourSharedBases
from trainer.models.registry import register_model

EXPANSION = 6
#: (blocks, output channels, stride of the first block, shares a basis) of stages 2-6; stage 1 is
#: one block of expansion 1 (32 -> 16), stage 7 one block 160 -> 320.
STAGES = ((2, 24, 2, False), (3, 32, 2, True), (4, 64, 2, True), (3, 96, 1, True), (3, 160, 2, True))


class Block(nn.Module):
    """Expand (1x1), depthwise 3x3, project (1x1), each with BatchNorm; ReLU after the first two."""

    def __init__(self, c_in: int, c_out: int, expansion: int, stride: int, expand: nn.Conv2d | None = None) -> None:
        super().__init__()
        planes = expansion * c_in
        if expand is None:
            self.conv1 = nn.Conv2d(c_in, planes, 1, bias=False)
        else:
            self.shared_basis1 = expand  # the stage's shared basis, registered on the model first
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, groups=planes, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, c_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out)
        self.use_res_connect = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expand = self.conv1 if hasattr(self, "conv1") else self.shared_basis1
        out = F.relu(self.bn1(expand(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return x + out if self.use_res_connect else out


class MobileNetV2Shared(FourSharedBases, nn.Module):
    """See the module docstring; :meth:`extra_loss` is the orthogonality term of the shared bases."""

    def __init__(self, in_channels: int, num_classes: int, orth_lambda: float) -> None:
        super().__init__()
        self.pre = nn.Sequential(nn.Conv2d(in_channels, 32, 3, 2, 1), nn.BatchNorm2d(32), nn.ReLU6(inplace=True))
        self.stage1 = Block(32, 16, 1, 1)
        c_in = 16
        for index, (blocks, c_out, stride, shares) in enumerate(STAGES, start=2):
            basis = None
            if shares:
                basis = nn.Conv2d(c_out, c_out * EXPANSION, 1, bias=False)
                setattr(self, f"shared_basis_{index - 2}", basis)
            rest = [Block(c_out, c_out, EXPANSION, 1, basis) for _ in range(blocks - 1)]
            setattr(self, f"stage{index}", nn.Sequential(Block(c_in, c_out, EXPANSION, stride), *rest))
            c_in = c_out
        self.stage7 = Block(160, 320, EXPANSION, 1)
        self.conv1 = nn.Sequential(nn.Conv2d(320, 1280, 1), nn.BatchNorm2d(1280), nn.ReLU6(inplace=True))
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))
        self.orth_lambda = float(orth_lambda)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pre(x)
        for index in range(1, 8):
            x = getattr(self, f"stage{index}")(x)
        x = F.adaptive_avg_pool2d(self.conv1(x), 1).flatten(1)
        return self.classifier(x)


@register_model("mobilenetv2_shared")
def mobilenetv2_shared(input_shape: tuple[int, int, int], num_classes: int, orth_lambda: float = 10.0) -> nn.Module:
    """MobileNetV2-Shared of Kang & Kim (ILSVRC; 224x224 inputs): MobileNetV2 whose expansion
    convolutions in stages 3-6 share one 1x1 basis per stage, module names as the public code.
    Option: orth_lambda (10)."""
    if orth_lambda < 0:
        raise ModelError(f"orth_lambda must be >= 0, got {orth_lambda}")
    model = MobileNetV2Shared(input_shape[0], num_classes, orth_lambda)
    model.dense_equivalent = ("mobilenet_v2", {})
    return model
