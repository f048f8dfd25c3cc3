"""pruning: plans become per-layer masks on PyTorch modules, with params/MACs accounting.

Masks are plain data (``dict[str, torch.BoolTensor]`` keyed by module name), computed first
(:func:`compute_masks`) and applied second (:func:`apply_masks`).
"""

from pruning.accounting import LayerSummary, PruneSummary, summarize
from pruning.layers import LayerSelection, PrunableLayer, find_prunable_layers
from pruning.mask_rules import MASK_RULES, MaskConfig, compute_masks
from pruning.masking import apply_masks, bake, current_masks, load_masked_state_dict, masks_from_torch_prune

__all__ = [
    "MASK_RULES",
    "LayerSelection",
    "LayerSummary",
    "MaskConfig",
    "PrunableLayer",
    "PruneSummary",
    "apply_masks",
    "bake",
    "compute_masks",
    "current_masks",
    "find_prunable_layers",
    "load_masked_state_dict",
    "masks_from_torch_prune",
    "summarize",
]
