"""One call for ``prune apply``: masks computed, applied, accounted for and written out."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from pruning.accounting import PruneSummary, channel_view, layer_summary, output_positions, summarize
from pruning.expander import expander_layers, expander_masks
from pruning.layers import PRUNABLE_TYPES, grouped_connections, module_groups
from pruning.mask_rules import MaskConfig, compute_mask_set, unconnected_notices
from pruning.masking import apply_masks, broadcastable_mask, weight_of
from pruning.outputs import write_apply_outputs
from pruning.sources import fit_masks
from pruning.storage import masks_sha256


@dataclass
class PruneResult:
    """What pruning a model produced."""

    masks: dict[str, torch.Tensor]
    summary: PruneSummary
    notices: list[str]
    draws: dict[str, dict] = field(default_factory=dict)  # best-of-N: kept draw and scores per layer
    nominal: dict | None = None  # X-Net models: the paper's nominal costs, dense / e

    @property
    def masks_sha256(self) -> str:
        return masks_sha256(self.masks)


def with_model_wiring(
    model: nn.Module, masks: dict[str, torch.Tensor], seed: int
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """``masks`` combined (logical and) with the masks of the model's own X-layers, and a notice.

    A layer masked by both keeps a connection only where both keep it; an X-layer the recipe
    leaves alone gets the X mask.
    """
    own = expander_masks(model, seed)
    if not own:
        return masks, []
    combined = dict(masks)
    for name, mask in own.items():
        if name in combined:
            existing = combined[name].to(torch.bool)
            combined[name] = existing & mask.reshape(*mask.shape, *([1] * (existing.dim() - 2)))
        else:
            combined[name] = mask
    declared = expander_layers(model)
    unconnected = {name: int((~channel_view(combined[name]).any(dim=0)).sum()) for name in own}
    short = {name: count for name, count in unconnected.items() if count}
    wiring = f"expand {declared.expand:g}" if declared.expand else "a per-layer degree table"
    notice = (
        f"{len(own)} X-layer(s) wired by the model ({declared.generator}, {wiring}, degree on the {declared.side} "
        "side, seeded by the mask seed)"
    )
    if short:
        notice += f"; {len(short)} of them leave {sum(short.values())} input channel(s) unconnected in all" + (
            "" if declared.balanced else " (model option balanced=true connects every input)"
        )
    return combined, [notice]


def _connections(module: nn.Module, mask: torch.Tensor):
    """A layer's (C_out, C_in) connections under ``mask`` (grouped convolutions: per group, placed)."""
    return grouped_connections(channel_view(mask.expand(weight_of(module).shape)), module_groups(module)).numpy()


def prune_model(
    model: nn.Module,
    config: MaskConfig,
    input_shape: tuple[int, ...] | None,
    masks: dict[str, torch.Tensor] | None = None,
    source: str | Path = "masks",
) -> PruneResult:
    """Mask ``model`` (in place) and account for it.

    Parameters
    ----------
    model : nn.Module
    config : MaskConfig
        How masks are computed; ignored when ``masks`` is given.
    input_shape : tuple of int, optional
        One example's shape; MACs are counted at it.
    masks : dict of str to torch.BoolTensor, optional
        Masks made elsewhere (:func:`pruning.sources.load_mask_source`), checked against the
        model's layers, instead of computing them.
    source : str or Path
        Where ``masks`` came from, for error messages.
    """
    if masks is None:
        computed = compute_mask_set(model, config)
        masks, notices, draws = computed.masks, computed.notices, computed.draws
    else:
        masks = fit_masks(model, masks, source)
        notices = [
            line
            for name, mask in masks.items()
            for line in unconnected_notices(name, _connections(model.get_submodule(name), mask))
        ]
        draws = {}
    masks, wiring_notices = with_model_wiring(model, masks, config.seed)
    if input_shape:
        output_positions(model, input_shape)  # rejects a wrong input size before anything is changed
    apply_masks(model, masks)
    summary = summarize(model, input_shape)
    return PruneResult(masks, summary, wiring_notices + notices, draws, nominal_costs(model, summary))


def counted_macs(model: nn.Module, config: MaskConfig, input_shape: tuple[int, ...]) -> tuple[int, int]:
    """(kept, total) multiply-accumulates per example of ``model`` under ``config``'s masks.

    The same count as :func:`prune_model`'s summary (kept weights x output positions, summed
    over conv and linear layers, the model's own X-layers included) without masking the model or
    computing layer-graph metrics: what a width search evaluates many times.
    """
    masks, _ = with_model_wiring(model, compute_mask_set(model, config).masks, config.seed)
    positions = output_positions(model, input_shape)
    kept = total = 0
    for name, module in model.named_modules():
        if isinstance(module, PRUNABLE_TYPES) and name in positions:
            shape = weight_of(module).shape
            mask = broadcastable_mask(name, masks[name], shape) if name in masks else None
            layer = layer_summary(name, type(module).__name__, tuple(shape), mask, positions[name])
            kept, total = kept + layer.macs_kept, total + layer.macs_total
    return kept, total


def nominal_costs(model: nn.Module, summary: PruneSummary) -> dict | None:
    """The X-Nets paper's nominal costs of a model with one compression factor e: the dense
    model's parameters and multiply-accumulates divided by e (None for other models)."""
    declared = expander_layers(model)
    if declared is None or not declared.expand:
        return None
    return {
        "expand": declared.expand,
        "params": summary.params_total / declared.expand,
        "macs": summary.macs_total / declared.expand if summary.macs_total else None,
    }


def write_outputs(directory: str | Path, model: nn.Module, result: PruneResult, metadata: dict) -> dict[str, Path]:
    """Write ``prune apply``'s files (:func:`pruning.outputs.write_apply_outputs`); ``metadata``
    (plan, recipe, seeds, ...) goes into the JSON with the masks' hash, notices and draws."""
    document = {
        **metadata,
        "masks_sha256": result.masks_sha256,
        "notices": result.notices,
        "draws": result.draws,
        "nominal": result.nominal,
    }
    return write_apply_outputs(directory, model, result.masks, result.summary, document)
