"""Inference-mode BatchNorm folded into the Linear or convolution that feeds it (docs/compile.md,
"BatchNorm folded").

In eval mode a BatchNorm is an affine map per channel, y = s * x + t with
s = gamma / sqrt(running_var + eps) and t = beta - running_mean * s, so a layer that feeds only
it can take it over: its weight's output rows scaled by s and its bias set to b * s + t. Scaling
rows keeps every zero of a mask, so a folded masked layer has the same kernels as before.
Compiled models fold before timing, the baked dense reference alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import fx, nn

from pruning.layers import replace_module

#: The layers a BatchNorm is folded into, and the BatchNorm each one can take over.
FOLDABLE = {nn.Linear: nn.BatchNorm1d, nn.Conv1d: nn.BatchNorm1d, nn.Conv2d: nn.BatchNorm2d}


def _channels(layer: nn.Module) -> int:
    return layer.out_features if isinstance(layer, nn.Linear) else layer.out_channels


def _takes_over(layer: nn.Module | None, norm: nn.Module | None) -> bool:
    """Whether ``norm`` is an inference BatchNorm over ``layer``'s output channels."""
    expected = FOLDABLE.get(type(layer))
    return (
        expected is not None
        and type(norm) is expected
        and norm.track_running_stats
        and norm.running_mean is not None
        and norm.num_features == _channels(layer)
    )


def batchnorm_folds(model: nn.Module) -> tuple[list[tuple[str, str]], str | None]:
    """The (layer, BatchNorm) name pairs of ``model`` that fold, and why none were looked for.

    A pair folds when ``torch.fx`` traces the BatchNorm's only input to the layer's output, that
    output feeds nothing else, and each module is called once. Without a trace (a model fx cannot
    follow) the list is empty and the reason names the failure in one line.
    """
    try:
        graph = fx.symbolic_trace(model).graph
    except Exception as failure:  # fx raises many kinds on untraceable Python
        first = str(failure).strip().splitlines()[0] if str(failure).strip() else type(failure).__name__
        return [], f"BatchNorm not folded: torch.fx cannot trace the model ({first})"
    calls = [node for node in graph.nodes if node.op == "call_module"]
    uses: dict[str, int] = {}
    for node in calls:
        uses[node.target] = uses.get(node.target, 0) + 1
    modules = dict(model.named_modules())
    folds = []
    for node in calls:
        source = node.args[0] if len(node.args) == 1 and not node.kwargs else None
        if not isinstance(source, fx.Node) or source.op != "call_module" or len(source.users) != 1:
            continue
        if uses[node.target] == 1 and uses[source.target] == 1:
            if _takes_over(modules.get(source.target), modules.get(node.target)):
                folds.append((source.target, node.target))
    return folds, None


@torch.no_grad()
def fold_batchnorms(model: nn.Module, folds: Iterable[Sequence[str]]) -> None:
    """Fold each BatchNorm of ``folds`` into its layer, in place; the BatchNorm becomes an
    ``nn.Identity`` (under every name it has). A layer without a bias gets one."""
    for layer_name, norm_name in folds:
        layer, norm = model.get_submodule(layer_name), model.get_submodule(norm_name)
        scale = torch.rsqrt(norm.running_var + norm.eps)
        if norm.weight is not None:
            scale = scale * norm.weight
        shift = -norm.running_mean * scale
        if norm.bias is not None:
            shift = shift + norm.bias
        layer.weight.mul_(scale.reshape(-1, *([1] * (layer.weight.dim() - 1))))
        if layer.bias is None:
            layer.bias = nn.Parameter(shift.clone())
        else:
            layer.bias.copy_(layer.bias * scale + shift)
        replace_module(model, norm_name, nn.Identity())
