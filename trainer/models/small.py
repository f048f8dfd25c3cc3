"""Small models that train on a CPU: graph2nn's relational MLP and a VGG-style CNN."""

from __future__ import annotations

import math
from collections import OrderedDict

from torch import nn

from trainer.models.registry import Bound, WidthOption, register_model


@register_model("mlp", width=WidthOption(stem="stem_width"), bounds={"depth": Bound(0), "stem_width": Bound(1)})
def mlp(
    input_shape: tuple[int, int, int], num_classes: int, width: int = 512, depth: int = 3, stem_width: int | None = None
) -> nn.Module:
    """graph2nn's relational MLP (You et al., ICML 2020).

    A dense stem ``Linear(C*H*W -> stem_width)`` (``stem_width`` defaults to ``width``), then
    ``depth`` hidden layers (``stem_width -> width``, then ``width -> width``: the ones a plan
    masks by default), then a dense head; BatchNorm1d + ReLU after the stem and each hidden layer.
    Layers are named ``stem``, ``hidden1`` ... ``hidden<depth>`` and ``head`` (``stem_bn``, ...).
    """
    stem = width if stem_width is None else stem_width
    layers: list[tuple[str, nn.Module]] = [
        ("flatten", nn.Flatten()),
        ("stem", nn.Linear(math.prod(input_shape), stem)),
        ("stem_bn", nn.BatchNorm1d(stem)),
        ("stem_relu", nn.ReLU(inplace=True)),
    ]
    for index in range(1, depth + 1):
        layers += [
            (f"hidden{index}", nn.Linear(stem if index == 1 else width, width)),
            (f"hidden{index}_bn", nn.BatchNorm1d(width)),
            (f"hidden{index}_relu", nn.ReLU(inplace=True)),
        ]
    layers.append(("head", nn.Linear(width, num_classes)))
    return nn.Sequential(OrderedDict(layers))


def _conv_block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


@register_model("cnn", width=WidthOption())
def cnn(input_shape: tuple[int, int, int], num_classes: int, width: int = 64) -> nn.Module:
    """A small VGG-style CNN: conv(C->w) | pool | conv(w->w) conv(w->2w) | pool | conv(2w->2w)
    conv(2w->4w) | global average pool | linear. 3x3 convs with BatchNorm and ReLU; about 44 M
    multiply-accumulates per 28x28 image at w = 64."""
    channels = input_shape[0]
    layers = [
        *_conv_block(channels, width),
        nn.MaxPool2d(2),
        *_conv_block(width, width),
        *_conv_block(width, 2 * width),
        nn.MaxPool2d(2),
        *_conv_block(2 * width, 2 * width),
        *_conv_block(2 * width, 4 * width),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4 * width, num_classes),
    ]
    return nn.Sequential(*layers)
