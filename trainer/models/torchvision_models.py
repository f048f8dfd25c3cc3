"""torchvision's ImageNet models (no pretrained weights: nothing is downloaded)."""

from __future__ import annotations

import torchvision
from torch import nn

from trainer.models.registry import register_model


def _first_conv_for(model: nn.Module, attribute_path: str, in_channels: int) -> None:
    """Replace the stem convolution when the input does not have 3 channels."""
    parent_path, _, name = attribute_path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    old = getattr(parent, name)
    if old.in_channels != in_channels:
        setattr(
            parent,
            name,
            nn.Conv2d(
                in_channels, old.out_channels, old.kernel_size, old.stride, old.padding, bias=old.bias is not None
            ),
        )


def _torchvision(name: str, stem: str):
    def constructor(input_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
        model = getattr(torchvision.models, name)(weights=None, num_classes=num_classes)
        _first_conv_for(model, stem, input_shape[0])
        return model

    constructor.__doc__ = f"torchvision.models.{name}(weights=None), stem adapted to the input channels."
    return constructor


for _name, _stem in [
    ("resnet18", "conv1"),
    ("resnet34", "conv1"),
    ("resnet50", "conv1"),
    ("mobilenet_v2", "features.0.0"),
]:
    register_model(_name)(_torchvision(_name, _stem))
