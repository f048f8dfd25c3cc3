"""MobileNet (v1) with a width multiplier, its X-Net version, and the grouped-pointwise baseline.

References
----------
.. [1] A. G. Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile
   Vision Applications", arXiv:1704.04861 (2017), table 1.
.. [2] A. Prabhu, G. Varma, A. Namboodiri, "Deep Expander Networks", ECCV 2018 (X-MobileNet,
   compared with grouped pointwise convolutions of the same density).
"""

from __future__ import annotations

from torch import nn

from pruning.expander import declare_expander_layers, expander_degree
from trainer.models.errors import ModelError, option_flag
from trainer.models.registry import WidthOption, register_model

#: (output channels at width 1, stride of the depthwise conv) of the 13 separable blocks.
BLOCKS = [
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
]
POINTWISE = ("x", "grouped")


def _conv_bn(c_in: int, c_out: int, kernel: int, stride: int, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


@register_model("xmobilenet", structure=("expand", "pointwise", "balanced"), width=WidthOption(per_channel=1 / 32))
def xmobilenet(
    input_shape: tuple[int, int, int],
    num_classes: int,
    width: float = 0.5,
    expand: float = 2,
    pointwise: str = "x",
    balanced: bool = False,
) -> nn.Module:
    """MobileNet v1 at width multiplier ``width``: a 3x3 stride-2 stem, 13 depthwise-separable
    blocks (``blocks.i.depthwise`` / ``blocks.i.pointwise``), global average pooling, a linear
    classifier. The pointwise 1x1 convs of blocks 1-12 keep a fraction 1/``expand`` of their
    connections: as X-layers (``pointwise=x``, every output reads C_in / e inputs) or as grouped
    convolutions with e groups (``pointwise=grouped``, the paper's baseline of the same density).
    Depthwise convs, the stem, block 0 and the classifier are dense; ``expand=1`` is MobileNet.
    Works at any input of at least 1x1 (32x32 and 224x224 alike).
    """
    if pointwise not in POINTWISE:
        raise ModelError(f"xmobilenet pointwise must be one of {', '.join(POINTWISE)}, got {pointwise!r}")
    if width <= 0 or expand < 1:
        raise ModelError(f"xmobilenet needs width > 0 and expand >= 1, got width={width}, expand={expand}")
    channels = max(1, int(32 * width))
    stem = _conv_bn(input_shape[0], channels, 3, 2)
    blocks, degrees = [], {}
    for index, (base, stride) in enumerate(BLOCKS):
        out = max(1, int(base * width))
        groups = 1
        if index > 0 and expand > 1:
            if pointwise == "grouped":
                if channels % expand or out % expand:
                    raise ModelError(
                        f"xmobilenet pointwise=grouped needs channels divisible by expand={expand:g}; block {index} "
                        f"is {channels} -> {out}"
                    )
                groups = int(expand)
            else:
                degrees[f"blocks.{index}.pointwise.0"] = expander_degree(channels, expand)
        blocks.append(nn.Sequential(*[]))
        blocks[-1].add_module("depthwise", _conv_bn(channels, channels, 3, stride, groups=channels))
        blocks[-1].add_module("pointwise", _conv_bn(channels, out, 1, 1, groups=groups))
        channels = out
    model = nn.Sequential()
    model.add_module("stem", stem)
    model.add_module("blocks", nn.Sequential(*blocks))
    model.add_module("pool", nn.AdaptiveAvgPool2d(1))
    model.add_module("flatten", nn.Flatten())
    model.add_module("classifier", nn.Linear(channels, num_classes))
    return declare_expander_layers(model, degrees, option_flag(balanced, "balanced"), expand if degrees else None)
