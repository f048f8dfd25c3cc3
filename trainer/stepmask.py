"""Masked training without per-forward masking: masks baked in, re-applied after every step.

A ``parametrize`` mask recomputes ``where(mask, weight, 0)`` at every forward and again in the
backward pass; for small, fast layers that costs ~20% of a step. Here the model trains on plain
weights holding exact zeros, and after every optimiser step the masked entries are set back to
exactly zero (docs/architecture.md, from a plan to masks). Because SGD, AdamW and Adadelta update each weight
from its own gradient and state only, the kept weights follow exactly the same trajectory as
under the parametrization, and masked weights are exactly zero at every forward.
"""

from __future__ import annotations

import torch
from torch import nn

from pruning.layers import module_names
from pruning.masking import (
    bake,
    current_masks,
    to_masked_state_dict,
    to_plain_state_dict,
)


class StepMasker:
    """Bakes ``model``'s masks (in place) and keeps masked weights at zero after each step."""

    def __init__(self, model: nn.Module) -> None:
        self.masks = {name: mask.clone() for name, mask in current_masks(model).items()}
        bake(model)
        self.model = model
        self._targets: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.to(torch.device("cpu"))

    def to(self, device: torch.device) -> StepMasker:
        """Pair each (already moved) weight with its mask as 0/1 values of the weight's dtype.

        Multiplying by a float mask is several times faster than by a bool one, which would be
        converted at every step.
        """
        self._targets = []
        for name, mask in self.masks.items():
            weight = self.model.get_submodule(name).weight
            self._targets.append((weight, mask.to(device=weight.device, dtype=weight.dtype)))
        return self

    def add_masks(self, masks: dict[str, torch.Tensor]) -> None:
        """Mask more layers from now on (a mask found during training); their masked weights are
        zeroed at once."""
        for name, mask in masks.items():
            existing = self.masks.get(name)
            self.masks[name] = (
                mask.clone() if existing is None else existing.to(torch.bool) & mask.to(existing.device, torch.bool)
            )
        self.to(torch.device("cpu"))
        self.after_step()

    @torch.no_grad()
    def after_step(self) -> None:
        """Set every masked weight back to exactly zero."""
        for weight, mask in self._targets:
            weight.mul_(mask)

    def state_dict(self, extra_masks: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """The model's weights in the masked format (masks included), for checkpoints.

        A masked module shared by several layers is in the state_dict under each of its names,
        so its mask is written under each of them too, as the masked model's own state_dict has it.
        ``extra_masks`` are combined (logical and) with the masker's own for this state_dict only.
        """
        names = module_names(self.model)
        combined = {name: mask.cpu().to(torch.bool) for name, mask in self.masks.items()}
        for name, mask in (extra_masks or {}).items():
            mask = mask.cpu().to(torch.bool)
            combined[name] = combined[name] & mask if name in combined else mask
        masks = {alias: mask for name, mask in combined.items() for alias in names.get(name, [name])}
        return to_masked_state_dict(self.model.state_dict(), masks)

    def load_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load weights saved by :meth:`state_dict` into the baked model."""
        self.model.load_state_dict(to_plain_state_dict(state_dict))
        self.after_step()
