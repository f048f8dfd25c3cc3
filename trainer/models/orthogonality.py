"""The orthogonality regulariser of shared filter bases (Kang & Kim, "Learning Deeply Shared
Filter Bases for Efficient ConvNets").

A basis of R filters of shape (C_in, k, k) is a matrix B of R rows of length C_in k k. It is
orthonormal when B B^T = I; the regulariser is the mean squared deviation from that over the
selected entries of the Gram matrix, pooled over every stage of the model: the public training
scripts sum the squared entries of all stages and divide by their count (``sim / cnt_sim``),
which is not the sum of per-stage means.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

#: ``shared``: only the shared basis against itself (the public CIFAR-100 and ILSVRC scripts);
#: ``all``: also each layer's unique filters against the shared ones and against themselves (the
#: public CIFAR-10 script's ``include_unique_basis=True``).
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
        ``U S^T`` (zero when they are orthogonal to the shared basis), and their own
        ``U U^T - I`` are added; the unique filters of different layers are not compared.

    Returns
    -------
    torch.Tensor
        1-D: the R_s^2 entries of ``S S^T - I``, then per unique block its R_u R_s entries
        against the shared rows and its R_u^2 entries of ``U U^T - I``.
    """
    parts = [_identity_deviation(shared).reshape(-1)]
    for unique in uniques:
        parts += [(unique @ shared.T).reshape(-1), _identity_deviation(unique).reshape(-1)]
    return torch.cat(parts)


def _identity_deviation(rows: torch.Tensor) -> torch.Tensor:
    return rows @ rows.T - torch.eye(rows.shape[0], dtype=rows.dtype, device=rows.device)


def orthogonality_penalty(shared: torch.Tensor, uniques: Sequence[torch.Tensor] = ()) -> torch.Tensor:
    """``mean((B B^T - I)^2)`` over the entries :func:`gram_deviation` selects (a 0-d tensor).

    Zero exactly when the shared rows are orthonormal (and the unique rows orthonormal and
    orthogonal to them).
    """
    return gram_deviation(shared, uniques).square().mean()


def pooled_penalty(bases: Sequence[torch.Tensor]) -> torch.Tensor:
    """``mean((S S^T - I)^2)`` over the entries of every basis in ``bases`` together (each (R, D)
    rows), as the public scripts pool their stages; a 0-d tensor."""
    return torch.cat([_identity_deviation(rows).reshape(-1) for rows in bases]).square().mean()


class FourSharedBases:
    """Mixin of the models whose four stages each hold one shared basis ``shared_basis_1..4`` (the
    public code's names): the public scripts' term over them, pooled, and the training hook."""

    orth_lambda: float

    def shared_bases(self) -> list:
        return [getattr(self, f"shared_basis_{index}") for index in range(1, 5)]

    def orthogonality_penalty(self) -> torch.Tensor:
        """``mean((S S^T - I)^2)`` over the four bases' entries together (0-d tensor; unweighted)."""
        return pooled_penalty([filter_rows(basis.weight) for basis in self.shared_bases()])

    def extra_loss(self) -> torch.Tensor | None:
        """``orth_lambda`` x the penalty, added to the loss at every step (None when it is 0)."""
        return self.orth_lambda * self.orthogonality_penalty() if self.orth_lambda else None
