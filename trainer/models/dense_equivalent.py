"""The dense model a masked or shared-basis model stands in for, and its counted costs."""

from __future__ import annotations

from pruning.accounting import summarize
from trainer.models.registry import build_model


def dense_equivalent_costs(model, input_shape: tuple[int, ...], num_classes: int) -> dict | None:
    """Params and MACs of the dense model a model stands in for (its ``dense_equivalent``
    attribute: a zoo name and options; shared-basis ResNets name their plain ResNet), or None."""
    declared = getattr(model, "dense_equivalent", None)
    if declared is None:
        return None
    name, options = declared
    summary = summarize(build_model(name, input_shape, num_classes, **options), input_shape)
    return {"model": name, "model_options": options, "params": summary.params_total, "macs": summary.macs_total}
