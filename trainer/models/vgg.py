"""VGG-16 with BatchNorm for small images (Simonyan & Zisserman, 2015; CIFAR variant)."""

from __future__ import annotations

from torch import nn

from trainer.models.registry import Bound, register_model

VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def vgg16_features(input_shape: tuple[int, int, int]) -> tuple[list[nn.Module], int]:
    """The 13 3x3 conv + BatchNorm + ReLU layers with max-pools that stop at 1x1 for small
    inputs, then global average pooling and flattening; returns (modules, output channels)."""
    layers: list[nn.Module] = []
    channels, size = input_shape[0], min(input_shape[1:])
    for item in VGG16:
        if item == "M":
            if size >= 2:
                layers.append(nn.MaxPool2d(2))
                size //= 2
            continue
        layers += [nn.Conv2d(channels, item, 3, padding=1, bias=False), nn.BatchNorm2d(item), nn.ReLU(inplace=True)]
        channels = item
    return layers + [nn.AdaptiveAvgPool2d(1), nn.Flatten()], channels


@register_model("vgg16_bn")
def vgg16_bn(input_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    """CIFAR-style VGG-16-BN: 13 3x3 convs with BatchNorm, max-pools that stop at 1x1 for small
    inputs, global average pooling, one linear classifier (512 -> classes)."""
    layers, channels = vgg16_features(input_shape)
    return nn.Sequential(*layers, nn.Linear(channels, num_classes))


@register_model("vgg16_bn_expanders", bounds={"dropout": Bound(0)})
def vgg16_bn_expanders(input_shape: tuple[int, int, int], num_classes: int, dropout: float = 0.5) -> nn.Module:
    """The expanders paper's CIFAR VGG16-BN (its public vgg16bn): vgg16_bn's 13 convs, then a
    512 -> 512 hidden Linear, ReLU and Dropout(``dropout``) before the 512 -> classes classifier;
    the hidden layer is masked like the convs (docs/fidelity.md)."""
    layers, channels = vgg16_features(input_shape)
    hidden = [nn.Linear(channels, 512), nn.ReLU(inplace=True), nn.Dropout(dropout)]
    return nn.Sequential(*layers, *hidden, nn.Linear(512, num_classes))
