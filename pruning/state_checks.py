"""A state_dict read from a file is data from anywhere: checked before anything is loaded into a
model (docs/architecture.md, "Untrusted input").

* every key is a string, every value a dense (strided) tensor of a real or boolean dtype;
* floating tensors are finite (a NaN or infinite weight trains and evaluates to nonsense);
* every mask (ours ``X.parametrizations.weight.0.mask``, ``torch.nn.utils.prune``'s
  ``X.weight_mask``, the X-Nets code's ``X.mask``) holds only 0 and 1 and is shaped as its weight
  (or broadcasts over it: ``C_out x C_in x 1 x 1`` for a conv).

The first problem is one line naming the file and the key.
"""

from __future__ import annotations

from pathlib import Path

import torch

from pruning.errors import PruningError
from pruning.masking import MASK_SUFFIX, ORIGINAL_SUFFIX

#: dtypes a state_dict entry may have: real floating, integer and boolean (no complex, no quantized).
SUPPORTED_DTYPES = frozenset(
    {torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.bool}
    | {torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64}
)
#: Mask key suffix -> the key suffixes of the weight it masks (the first present is checked).
MASK_WEIGHTS = {
    MASK_SUFFIX: (ORIGINAL_SUFFIX,),
    ".weight_mask": (".weight_orig",),
    ".mask": (".fpWeight", ".weight"),
}


def check_state(state: dict, path: Path, error: type[Exception] = PruningError) -> None:
    """Raise one-line ``error`` at the first key or tensor of ``state`` that is not fit to load."""
    for key, value in state.items():
        if not isinstance(key, str):
            raise error(f"{path}: key {key!r:.40} is not a parameter name (a state_dict's keys are strings)")
        _check_tensor(path, key, value, error)
    for key in state:
        suffix = next((s for s in MASK_WEIGHTS if key.endswith(s)), None)
        if suffix is not None:
            _check_mask(state, path, key, suffix, error)


def _check_tensor(path: Path, key: str, value, error: type[Exception]) -> None:
    if not isinstance(value, torch.Tensor):
        raise error(f"{path}: {key} holds a {type(value).__name__}, not a tensor")
    if value.layout != torch.strided:
        raise error(f"{path}: {key} is a {value.layout} tensor; save it dense (tensor.to_dense())")
    if value.dtype not in SUPPORTED_DTYPES:
        raise error(f"{path}: {key} has dtype {value.dtype}, not a real or boolean dtype")
    if value.is_floating_point() and not bool(torch.isfinite(value).all()):
        raise error(f"{path}: {key} holds NaN or infinite values")


def _check_mask(state: dict, path: Path, key: str, suffix: str, error: type[Exception]) -> None:
    mask = state[key]
    outside = (mask != 0) & (mask != 1)
    if bool(outside.any()):
        value = mask[outside][0].item()
        raise error(f"{path}: mask {key} holds {value:g}; a mask holds only 0 and 1")
    layer = key[: -len(suffix)]
    weight = next((state[layer + w] for w in MASK_WEIGHTS[suffix] if layer + w in state), None)
    if suffix == ".mask" and weight is None:
        return  # a buffer that happens to be called mask, with no weight beside it: not a weight mask
    if weight is None:
        raise error(f"{path}: mask {key} has no weight beside it ({layer}{MASK_WEIGHTS[suffix][0]})")
    fits = mask.dim() == weight.dim() and all(m in (1, w) for m, w in zip(mask.shape, weight.shape))
    if not fits:
        shape = "x".join(map(str, mask.shape)) or "scalar"
        raise error(f"{path}: mask {key} is {shape}, its weight {'x'.join(map(str, weight.shape))}")
