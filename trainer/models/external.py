"""Models by name from torchvision (``tv:NAME``) and timm (``timm:NAME``), never with weights.

``tv:resnet101`` is ``torchvision.models.get_model("resnet101", weights=None, num_classes=N)``
with its first convolution rebuilt for the data set's channels; ``timm:NAME`` is
``timm.create_model(NAME, pretrained=False, num_classes=N, in_chans=C)`` (timm is an optional
extra). Nothing is downloaded. Grouped convolutions (ResNeXt) are masked per group; depthwise
ones (MobileNet) stay dense, with a notice (pruning/layers.py).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from trainer.models.errors import ModelError

TORCHVISION, TIMM = "tv:", "timm:"
PREFIXES = (TORCHVISION, TIMM)
#: torchvision models whose auxiliary heads (a tuple of outputs in training mode) are turned off.
_NO_AUX = {"googlenet", "inception_v3"}


def is_external(name: str) -> bool:
    return name.startswith(PREFIXES)


def _first_conv_for(model: nn.Module, in_channels: int) -> None:
    """Rebuild the first 2-d convolution for ``in_channels`` input channels when it differs."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            if module.in_channels != in_channels:
                parent_name, _, attribute = name.rpartition(".")
                parent = model.get_submodule(parent_name) if parent_name else model
                replacement = nn.Conv2d(
                    in_channels,
                    module.out_channels,
                    module.kernel_size,
                    module.stride,
                    module.padding,
                    module.dilation,
                    bias=module.bias is not None,
                )
                setattr(parent, attribute, replacement)
            return


def _torchvision(name: str) -> Callable[..., nn.Module]:
    import torchvision

    available = torchvision.models.list_models(module=torchvision.models)
    if name not in available:
        raise ModelError(
            f"tv:{name} is not a torchvision classification model (torchvision.models.list_models() has "
            f"{len(available)}, e.g. {', '.join(available[:6])}, ...)"
        )

    def constructor(input_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
        extra = {"aux_logits": False, "init_weights": True} if name in _NO_AUX else {}
        model = torchvision.models.get_model(name, weights=None, num_classes=num_classes, **extra)
        _first_conv_for(model, input_shape[0])
        return model

    constructor.__doc__ = f"torchvision.models.{name}(weights=None), its stem rebuilt for the input channels."
    return constructor


def _timm(name: str) -> Callable[..., nn.Module]:
    try:
        import timm
    except ImportError:
        raise ModelError(
            f"timm:{name} needs the timm extra, which is not installed: pip install 'topoprune[timm]'"
        ) from None
    if name not in timm.list_models():
        raise ModelError(f"timm:{name} is not a timm model (timm.list_models() lists {len(timm.list_models())})")

    def constructor(input_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
        return timm.create_model(name, pretrained=False, num_classes=num_classes, in_chans=input_shape[0])

    constructor.__doc__ = f"timm.create_model({name!r}, pretrained=False)."
    return constructor


def external_constructor(name: str) -> Callable[..., nn.Module]:
    """The constructor of ``tv:NAME`` or ``timm:NAME`` (see module doc)."""
    if name.startswith(TORCHVISION):
        return _torchvision(name[len(TORCHVISION) :])
    return _timm(name[len(TIMM) :])
