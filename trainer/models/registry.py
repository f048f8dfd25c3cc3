"""Model registry: ``@register_model("name")`` on ``fn(input_shape, num_classes, **options)``."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from common.registry import Registry
from trainer.models.errors import ModelError, option_flag
from trainer.models.external import external_constructor, is_external
from trainer.models.footprint import require_model_memory


class ModelRegistry(Registry):
    """The zoo's registry; ``tv:NAME`` and ``timm:NAME`` resolve to torchvision's and timm's models
    (:mod:`trainer.models.external`) without being listed."""

    def __init__(self) -> None:
        super().__init__("model")
        self._external: dict[str, Callable[..., nn.Module]] = {}

    def get(self, name: str) -> Callable[..., nn.Module]:  # type: ignore[override]
        if is_external(name):
            if name not in self._external:
                self._external[name] = external_constructor(name)
            return self._external[name]
        return super().get(name)


MODELS: Registry[Callable[..., nn.Module]] = ModelRegistry()


#: Model name -> the options that set its own wiring (X-Net models: expand, degrees, ...).
STRUCTURE_OPTIONS: dict[str, tuple[str, ...]] = {}


@dataclass(frozen=True)
class WidthOption:
    """The option that scales a model's widths, in *width channels*.

    A width of c channels is the option value ``c * per_channel``: ``per_channel=1`` for an
    option that is itself a channel count (the mlp's ``width=512``), ``1/32`` for MobileNet's
    multiplier (its stem has 32 channels at 1.0, and every layer a multiple of 32). Every
    other layer's width is a fixed multiple of it, so the model's MACs grow with c.

    ``stem`` names the option that sets the stem's width on its own (the mlp's ``stem_width``):
    graph2nn's equal-compute rule holds it at the default width and widens only the relational
    layers (trainer/widths.py). It is part of a run's identity only when given.
    """

    name: str = "width"
    per_channel: float = 1.0
    stem: str | None = None

    def value(self, channels: int) -> int | float:
        """The option value for ``channels`` width channels."""
        return channels if self.per_channel == 1 else channels * self.per_channel

    def channels(self, value) -> int:
        """The width channels of option value ``value`` (inverse of :meth:`value`)."""
        return int(round(float(value) / self.per_channel))


#: Model name -> its width option (models whose widths scale; see trainer.widths).
WIDTH_OPTIONS: dict[str, WidthOption] = {}


@dataclass(frozen=True)
class Bound:
    """The smallest value a numeric model option may take (``inclusive=False``: must exceed it)."""

    low: float
    inclusive: bool = True

    def allows(self, value: float) -> bool:
        return value >= self.low if self.inclusive else value > self.low

    def describe(self) -> str:
        return f"at least {self.low:g}" if self.inclusive else f"greater than {self.low:g}"


#: The lower bound of each numeric model option, by option name (a model may declare its own).
OPTION_BOUNDS: dict[str, Bound] = {
    "width": Bound(0, inclusive=False),
    "depth": Bound(1),
    "growth": Bound(1),
    "reduction": Bound(0, inclusive=False),
    "expand": Bound(1),
    "shared_rank": Bound(0),
    "unique_rank": Bound(0),
    "orth_lambda": Bound(0),
}
#: Model name -> bounds it declares for its own options, overriding :data:`OPTION_BOUNDS`.
MODEL_BOUNDS: dict[str, dict[str, Bound]] = {}


def register_model(
    name: str, structure: tuple[str, ...] = (), width: WidthOption | None = None, bounds: dict[str, Bound] | None = None
):
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
    if bounds:
        MODEL_BOUNDS[name] = dict(bounds)
    return MODELS.register(name)


def model_option_names(name: str) -> set[str]:
    """The options model ``name``'s constructor takes."""
    return set(inspect.signature(MODELS.get(name)).parameters) - {"input_shape", "num_classes"}


def _whole(value: int | float) -> bool:
    return isinstance(value, int) or (math.isfinite(value) and value == int(value))


def _typed(model: str, key: str, value, default):
    """``value`` as the type of the option's default (bool, int, float or text), else ModelError."""
    what = f"model option {key} of {model}"
    if isinstance(default, bool):
        return option_flag(value, key)
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not _whole(value):
            raise ModelError(f"{what} must be a whole number, got {value!r}")
        return int(value)
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ModelError(f"{what} must be a finite number, got {value!r}")
        return float(value)
    if isinstance(default, str) and not isinstance(value, str):
        raise ModelError(f"{what} must be text, got {value!r}")
    return value


def checked_model_options(name: str, options: dict) -> dict:
    """``options`` with each value of its option's type and within its bound.

    Raises
    ------
    RegistryError
        For an unknown model.
    ModelError
        Naming the model and the option: not taken, wrong type, or out of range.
    """
    parameters = inspect.signature(MODELS.get(name)).parameters
    accepted = set(parameters) - {"input_shape", "num_classes"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ModelError(
            f"model {name!r} does not take {', '.join(unknown)} (it takes "
            f"{', '.join(sorted(accepted)) or 'no options'})"
        )
    checked = {}
    for key, value in options.items():
        checked[key] = _typed(name, key, value, parameters[key].default)
        bound = MODEL_BOUNDS.get(name, {}).get(key, OPTION_BOUNDS.get(key))
        if bound is not None and isinstance(checked[key], (int, float)) and not bound.allows(checked[key]):
            raise ModelError(f"model option {key} of {name} must be {bound.describe()}, got {value!r}")
    return checked


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
    options = checked_model_options(name, options)
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise ModelError(f"input shape must be channels x height x width, got {'x'.join(map(str, input_shape))}")
    if num_classes < 2:
        raise ModelError(f"num_classes must be at least 2, got {num_classes}")

    def build() -> nn.Module:
        return constructor(input_shape=tuple(input_shape), num_classes=num_classes, **options)

    shape = "x".join(map(str, input_shape))
    require_model_memory(build, f"model {name} on {shape} inputs with {options or 'default options'}")
    return build()
