"""Masks made elsewhere, read back so a model can be trained under exactly them (``--masks``).

A mask source is one of:

* a masks file ``masks.npz`` (from ``prune apply``, a training run or :func:`save_masks`);
* a directory holding ``masks.npz`` (a ``prune apply`` output or a run directory);
* a directory of bipartite layer plans written by ``prune inspect --export`` (each plan's
  JSON names its layer in ``params.layer``); channel masks, broadcast over the kernel;
* a masked checkpoint ``.pt`` (ours, or ``torch.nn.utils.prune``'s ``weight_mask`` entries).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from common.errors import TopopruneError
from pruning.errors import PruningError
from pruning.layers import candidate_layers
from pruning.masking import broadcastable_mask, masks_in_state_dict, weight_of
from pruning.outputs import MASKS_FILE
from pruning.storage import load_masks, load_state
from topology.discovery import find_plans
from topology.graph import BIPARTITE
from topology.plans import load_plan


def _masks_from_plans(directory: Path) -> dict[str, torch.Tensor]:
    masks: dict[str, torch.Tensor] = {}
    for path in find_plans([directory]):
        plan = load_plan(path)
        layer = plan.params.get("layer")
        if plan.kind != BIPARTITE or not isinstance(layer, str):
            raise PruningError(
                f"{path}: not an exported layer mask (a bipartite plan whose JSON names its layer in params.layer)"
            )
        if layer in masks:
            raise PruningError(f"{path}: a second mask for layer {layer!r}")
        masks[layer] = torch.from_numpy(plan.dense().astype(bool))
    return masks


def load_mask_source(path: str | Path) -> dict[str, torch.Tensor]:
    """``{layer name: bool mask}`` from any mask source (see the module docstring).

    Raises
    ------
    PruningError
        Naming ``path`` when it is none of the accepted sources or holds no mask.
    """
    path = Path(path)
    if path.is_dir():
        if (path / MASKS_FILE).is_file():
            return load_masks(path / MASKS_FILE)
        try:
            masks = _masks_from_plans(path)
        except TopopruneError as error:
            if "no plan" in str(error):
                masks = {}
            else:
                raise
        if not masks:
            raise PruningError(f"{path}: holds neither {MASKS_FILE} nor exported layer plans")
        return masks
    if not path.exists():
        raise PruningError(f"{path}: no such file or directory")
    if path.suffix == ".npz":
        return load_masks(path)
    if path.suffix in (".pt", ".pth"):
        masks = masks_in_state_dict(load_state(path))
        if not masks:
            raise PruningError(f"{path}: the checkpoint holds no masks")
        return masks
    raise PruningError(
        f"{path}: not a mask source (expected masks.npz, a .pt checkpoint, a run directory or a directory of exported "
        "layer plans)"
    )


def fit_masks(model: nn.Module, masks: dict[str, torch.Tensor], source: str | Path) -> dict[str, torch.Tensor]:
    """Check that every mask names a prunable layer of ``model`` and fits its weight.

    Returns the masks as bool tensors shaped to broadcast over each weight.

    Raises
    ------
    PruningError
        ``"<source>: ..."``, naming the first layer that is missing or does not fit.
    """
    layers = {layer.name: layer for layer in candidate_layers(model)[0]}
    fitted = {}
    for name, mask in masks.items():
        if name not in layers:
            known = ", ".join(list(layers)[:6]) + (", ..." if len(layers) > 6 else "")
            raise PruningError(
                f"{source}: mask for layer {name!r}, which the model has no prunable layer of (it has {known})"
            )
        try:
            fitted[name] = broadcastable_mask(name, mask, weight_of(layers[name].module).shape)
        except PruningError as error:
            raise PruningError(f"{source}: {error}") from None
    return fitted
