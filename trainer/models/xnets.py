"""X-Net versions of the zoo's VGG and ResNets: X-layers in the convolutions inside the blocks.

References
----------
.. [1] A. Prabhu, G. Varma, A. Namboodiri, "Deep Expander Networks: Efficient Deep Networks
   from Graph Theory", ECCV 2018.
"""

from __future__ import annotations

import torchvision
from torch import nn

from pruning.expander import declare_expander_layers, expander_degree
from trainer.models.cifar_resnet import CifarResNet, stage_widths
from trainer.models.errors import ModelError, option_flag
from trainer.models.registry import WidthOption, register_model
from trainer.models.torchvision_models import _first_conv_for
from trainer.models.vgg import vgg16_features

#: The degree table of the paper's logged X-VGG16 run: 64 for three convs, 16 for nine, 128 after.
XVGG16_DEGREES = "64*3_16*9_128"


def parse_degree_table(table: str, layers: int) -> list[int | None]:
    """``"64*3_16*9_128"`` -> one degree per layer (the last entry repeats); ``"dense"`` -> None each.

    Raises
    ------
    ModelError
        For a malformed table.
    """
    if str(table).strip().lower() == "dense":
        return [None] * layers
    degrees: list[int] = []
    for item in str(table).split("_"):
        value, _, count = item.partition("*")
        try:
            degree, repeat = int(value), int(count or 1)
        except ValueError:
            raise ModelError(
                f"degree table {table!r}: expected entries like 64*3 or 128 separated by _, got {item!r}"
            ) from None
        if degree < 1 or repeat < 1:
            raise ModelError(f"degree table {table!r}: degrees and counts must be positive, got {item!r}")
        degrees += [degree] * repeat
    if not degrees:
        raise ModelError(f"degree table {table!r} is empty")
    return (degrees + [degrees[-1]] * layers)[:layers]


@register_model("xvgg16", structure=("degrees", "balanced", "degree_side"))
def xvgg16(
    input_shape: tuple[int, int, int],
    num_classes: int,
    degrees: str = XVGG16_DEGREES,
    balanced: bool = False,
    degree_side: str = "smaller",
) -> nn.Module:
    """CIFAR VGG16-BN as the public X-Nets ``vggcifar_expander`` wires it: the first conv
    (C_in -> 64) dense, the degree table (default ``64*3_16*9_128``) over the 12 convs after it
    and the hidden 512 -> 512 layer of the classifier (ReLU, no BatchNorm), then 512 -> classes.
    A layer whose degree is at least its input channels stays dense; ``degree_side`` (default
    ``smaller``, the public layers' rule) is the side with exactly D connections per channel;
    ``degrees=dense`` is the dense network of the same shape (docs/fidelity.md)."""
    layers, channels = vgg16_features(input_shape)
    convs = [str(index) for index, layer in enumerate(layers) if isinstance(layer, nn.Conv2d)]
    names = convs[1:] + [str(len(layers))]  # the 12 convs after the first, then the hidden layer
    layers += [nn.Linear(channels, 512), nn.ReLU(inplace=True), nn.Linear(512, num_classes)]
    model = nn.Sequential(*layers)
    table = parse_degree_table(degrees, len(names))
    chosen = {name: d for name, d in zip(names, table) if d is not None}
    return declare_expander_layers(model, chosen, option_flag(balanced, "balanced"), side=degree_side)


def _block_convs(model: nn.Module, prefix: str) -> list[tuple[str, nn.Conv2d]]:
    """Convs inside residual blocks (``<prefix>...conv<k>``), not stems or downsample shortcuts."""
    return [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, nn.Conv2d) and name.startswith(prefix) and name.rsplit(".", 1)[-1].startswith("conv")
    ]


def _with_x_blocks(model: nn.Module, prefix: str, expand: float, balanced) -> nn.Module:
    degrees = (
        {name: expander_degree(conv.in_channels, expand) for name, conv in _block_convs(model, prefix)}
        if expand > 1
        else {}
    )
    return declare_expander_layers(model, degrees, option_flag(balanced, "balanced"), expand if degrees else None)


def _x_torchvision(name: str):
    def constructor(
        input_shape: tuple[int, int, int], num_classes: int, expand: float = 2, balanced: bool = False
    ) -> nn.Module:
        model = getattr(torchvision.models, name)(weights=None, num_classes=num_classes)
        _first_conv_for(model, "conv1", input_shape[0])
        return _with_x_blocks(model, "layer", expand, balanced)

    constructor.__doc__ = (
        f"torchvision {name} (no weights) with X-layers of compression ``expand`` in every conv inside its "
        "blocks; stem, downsample shortcuts and fc dense."
    )
    return constructor


def _x_cifar(depth: int):
    def constructor(
        input_shape: tuple[int, int, int], num_classes: int, expand: float = 2, balanced: bool = False, width: int = 16
    ) -> nn.Module:
        if (depth - 2) % 6:
            raise ModelError(f"CIFAR ResNet depth must be 6n + 2, got {depth}")
        model = CifarResNet(
            input_shape[0], num_classes, stage_widths(width, 3), [(depth - 2) // 6] * 3, conv_shortcut=False
        )
        return _with_x_blocks(model, "layers.", expand, balanced)

    constructor.__doc__ = (
        f"CIFAR ResNet-{depth} (stages of ``width``/2x/4x channels) with X-layers of compression ``expand`` in both "
        "convs of every block; stem and classifier dense."
    )
    return constructor


for _name in ("resnet18", "resnet34", "resnet50"):
    register_model(f"x{_name}", structure=("expand", "balanced"))(_x_torchvision(_name))
for _depth in (20, 32, 56):
    register_model(f"xresnet{_depth}", structure=("expand", "balanced"), width=WidthOption())(_x_cifar(_depth))
