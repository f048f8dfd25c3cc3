"""Model registry: ``@register_model("name")`` on ``fn(input_shape, num_classes, **options)``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from common.registry import Registry
from trainer.models.errors import ModelError

MODELS: Registry[Callable[..., nn.Module]] = Registry("model")


#: Model name -> the options that set its own wiring (X-Net models: expand, degrees, ...).
STRUCTURE_OPTIONS: dict[str, tuple[str, ...]] = {}


@dataclass(frozen=True)
class WidthOption:
    """The option that scales a model's widths, in *width channels*.

    A width of c channels is the option value ``c * per_channel``: ``per_channel=1`` for an
    option that is itself a channel count (the mlp's ``width=512``), ``1/32`` for MobileNet's
    multiplier (its stem has 32 channels at 1.0, and every layer a multiple of 32). Every
    other layer's width is a fixed multiple of it, so the model's MACs grow with c.
    """

    name: str = "width"
    per_channel: float = 1.0

    def value(self, channels: int) -> int | float:
        """The option value for ``channels`` width channels."""
        return channels if self.per_channel == 1 else channels * self.per_channel

    def channels(self, value) -> int:
        """The width channels of option value ``value`` (inverse of :meth:`value`)."""
        return int(round(float(value) / self.per_channel))


#: Model name -> its width option (models whose widths scale; see trainer.widths).
WIDTH_OPTIONS: dict[str, WidthOption] = {}


def register_model(name: str, structure: tuple[str, ...] = (), width: WidthOption | None = None):
    """Register a constructor ``fn(input_shape: (C, H, W), num_classes: int, **options) -> nn.Module``.

    ``structure`` names the options that set the model's own wiring (its X-layers, see
    ``pruning.expander``): such a model trains under recipe ``model`` by default, and those
    options are what a report compares, not what separates experiments. ``width`` names the
    option that scales all its widths (``train --match-macs`` searches it).
    """
    if structure:
        STRUCTURE_OPTIONS[name] = tuple(structure)
    if width is not None:
        WIDTH_OPTIONS[name] = width
    return MODELS.register(name)


def model_option_names(name: str) -> set[str]:
    """The options model ``name``'s constructor takes."""
    return set(inspect.signature(MODELS.get(name)).parameters) - {"input_shape", "num_classes"}


def build_model(name: str, input_shape: tuple[int, int, int], num_classes: int, **options) -> nn.Module:
    """Build model ``name`` for inputs of shape (C, H, W) and ``num_classes`` outputs.

    Raises
    ------
    RegistryError
        For an unknown name (the message lists the valid ones).
    ModelError
        For an option the model does not take, or an impossible shape.
    """
    constructor = MODELS.get(name)
    accepted = model_option_names(name)
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ModelError(
            f"model {name!r} does not take {', '.join(unknown)} (it takes "
            f"{', '.join(sorted(accepted)) or 'no options'})"
        )
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise ModelError(f"input shape must be channels x height x width, got {'x'.join(map(str, input_shape))}")
    if num_classes < 2:
        raise ModelError(f"num_classes must be at least 2, got {num_classes}")
    return constructor(input_shape=tuple(input_shape), num_classes=num_classes, **options)
