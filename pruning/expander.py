"""Models that carry their own wiring: X-Net expander layers (docs/architecture.md, models that
carry their own structure).

A model declares its X-layers with :func:`declare_expander_layers` (layer name -> D, and the
side of each layer whose channels have exactly D connections: :mod:`pruning.degree_sides`).
Their masks are not stored in the model: like every per-layer recipe, they are drawn by the
bipartite generators from a seed derived from (mask seed, layer name), so ``prune inspect``,
``--export``, accounting and the trainer see them as ordinary masks, and the same mask seed
gives the same masks as ``--recipe xnet --degree D --degree-side S`` on the dense model.

An X-layer with compression factor e has D = C_in / e (``max(1, C_in // e)`` when e does not
divide C_in). With side ``outputs`` every output channel keeps exactly D inputs; with
``smaller`` (the public X-Nets code's rule, the default of the X models built from it) that
holds only when C_in > C_out, and otherwise each *input* feeds exactly D outputs, which leaves
output degrees random and can leave an output with no input at all. With ``balanced`` the
other side's degrees are as equal as possible too (an ``rreg-bipartite`` graph).

References
----------
.. [1] A. Prabhu, G. Varma, A. Namboodiri, "Deep Expander Networks: Efficient Deep Networks
   from Graph Theory", ECCV 2018.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from common.seeding import derive_seed
from pruning.degree_sides import DEGREE_SIDES, fixed_on_inputs
from pruning.errors import PruningError
from pruning.layers import PRUNABLE_TYPES
from topology.generators import generate

ATTRIBUTE = "expander_layers"


@dataclass(frozen=True)
class ExpanderLayers:
    """The X-layers of a model.

    Attributes
    ----------
    degrees : dict of str to int
        Qualified layer name -> D, the connections of each channel on the fixed side (1 <= D < C_in).
    balanced : bool
        Input degrees as equal as possible (``rreg-bipartite``) instead of random (``xnet``).
    expand : float or None
        The compression factor e when one factor made every degree; nominal costs (the
        paper's dense / e) are reported for it. None for a per-layer degree table.
    side : str
        Which side has exactly D connections per channel (a name from ``DEGREE_SIDES``).
    """

    degrees: dict[str, int]
    balanced: bool = False
    expand: float | None = None
    side: str = "outputs"

    @property
    def generator(self) -> str:
        return "rreg-bipartite" if self.balanced else "xnet"


def expander_degree(in_channels: int, expand: float) -> int:
    """D = C_in / e, or max(1, C_in // e) when e does not divide C_in."""
    if expand < 1:
        raise PruningError(f"expand must be at least 1, got {expand}")
    return max(1, int(in_channels // expand))


def declare_expander_layers(
    model: nn.Module,
    degrees: dict[str, int],
    balanced: bool = False,
    expand: float | None = None,
    side: str = "outputs",
) -> nn.Module:
    """Record ``degrees`` as the X-layers of ``model`` (layers whose D >= C_in stay dense, as in
    the public code); returns ``model``."""
    if side not in DEGREE_SIDES:
        raise PruningError(f"degree side must be one of {', '.join(DEGREE_SIDES)}, got {side!r}")
    kept = {}
    for name, degree in degrees.items():
        module = model.get_submodule(name)
        if not isinstance(module, PRUNABLE_TYPES):
            raise PruningError(f"X-layer {name} is a {type(module).__name__}, not a convolution or linear layer")
        in_channels = module.in_features if isinstance(module, nn.Linear) else module.in_channels
        if degree < 1:
            raise PruningError(f"X-layer {name}: degree must be at least 1, got {degree}")
        if degree < in_channels:
            kept[name] = int(degree)
    setattr(model, ATTRIBUTE, ExpanderLayers(kept, balanced, expand, side))
    return model


def expander_layers(model: nn.Module) -> ExpanderLayers | None:
    """The X-layers ``model`` declares, or None."""
    declared = getattr(model, ATTRIBUTE, None)
    return declared if isinstance(declared, ExpanderLayers) and declared.degrees else None


def expander_masks(model: nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """(C_out, C_in) bool masks of the model's X-layers, each seeded by (``seed``, layer name)."""
    declared = expander_layers(model)
    if declared is None:
        return {}
    masks = {}
    for name, degree in declared.degrees.items():
        module = model.get_submodule(name)
        out_channels, in_channels = (
            (module.out_features, module.in_features)
            if isinstance(module, nn.Linear)
            else (module.out_channels, module.in_channels)
        )
        # The generators fix the degree of their rows: for the inputs' side draw the transposed graph.
        transposed = fixed_on_inputs(in_channels, out_channels, declared.side)
        rows, columns = (in_channels, out_channels) if transposed else (out_channels, in_channels)
        matrix = generate(
            declared.generator, nodes=rows, nodes_in=columns, degree=degree, seed=derive_seed(seed, name), form="dense"
        )
        masks[name] = torch.from_numpy((matrix.T if transposed else matrix).astype(bool))
    return masks


def refuse_dense_label(model: nn.Module, name: str, error: type[Exception] = PruningError) -> None:
    """Raise ``error`` when ``model`` wires its own X-layers: calling it recipe ``dense`` would
    record a masked model as the unpruned baseline."""
    if expander_layers(model) is not None:
        raise error(
            f"model {name} wires its own X-layers, so recipe 'dense' would mislabel it: use the default recipe "
            "'model' (or leave --recipe out); its dense counterpart is --model-option expand=1 (degrees=dense for "
            "xvgg16)"
        )
