"""The orthogonality regulariser of shared filter bases (Kang & Kim, "Learning Deeply Shared
Filter Bases for Efficient ConvNets").

A basis of R filters of shape (C_in, k, k) is a matrix B of R rows of length C_in k k. It is
orthonormal when B B^T = I; the regulariser is the mean squared deviation from that over the
selected entries of the Gram matrix.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

#: ``shared``: only the shared basis against itself; ``all``: also each layer's unique filters
#: against the shared ones.
ORTH_SCOPES = ("shared", "all")


def filter_rows(weight: torch.Tensor) -> torch.Tensor:
    """A conv weight (R, C_in, k, k) as R rows of length C_in k k."""
    return weight.reshape(weight.shape[0], -1)


def gram_deviation(shared: torch.Tensor, uniques: Sequence[torch.Tensor] = ()) -> torch.Tensor:
    """The selected entries of ``B B^T - I``, flattened.

    Parameters
    ----------
    shared : torch.Tensor
        (R_s, D): the shared filters as rows.
    uniques : sequence of torch.Tensor
        Each (R_u, D): one layer's unique filters. Their entries against the shared filters,
        ``U S^T`` (which is zero when they are orthogonal to the shared basis), are added; the
        unique filters are not compared with each other.

    Returns
    -------
    torch.Tensor
        1-D: the R_s^2 entries of ``S S^T - I``, then R_u R_s entries per unique block.
    """
    gram = shared @ shared.T - torch.eye(shared.shape[0], dtype=shared.dtype, device=shared.device)
    parts = [gram.reshape(-1)] + [(unique @ shared.T).reshape(-1) for unique in uniques]
    return torch.cat(parts)


def orthogonality_penalty(shared: torch.Tensor, uniques: Sequence[torch.Tensor] = ()) -> torch.Tensor:
    """``mean((B B^T - I)^2)`` over the entries :func:`gram_deviation` selects (a 0-d tensor).

    Zero exactly when the shared rows are orthonormal (and the unique rows orthogonal to them).
    """
    return gram_deviation(shared, uniques).square().mean()
