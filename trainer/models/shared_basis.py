"""ResNets whose convolutions share a filter basis across the blocks of a stage.

A k x k convolution C_in -> C_out becomes a basis convolution (k x k, C_in -> r), BatchNorm over
the r basis responses, a 1x1 coefficient convolution (r -> C_out) and BatchNorm. Of the
r = (s + u) m basis filters, s m are a *shared* convolution module used by many layers and u m are
the layer's own (*unique*). m is the stage width / 16 for CIFAR stages (16/32/64 channels) and
/ 64 for ImageNet-style stages (64...512). In every stage the first block is an ordinary
BasicBlock that shares nothing; blocks 2..n use the decomposed convolutions.

Parameters are counted once per module object (``model.parameters()``), so a shared basis counts
once; it is called by every layer that uses it, so its multiply-accumulates count at every use.

References
----------
.. [1] W. Kang, D. Kim, "Learning Deeply Shared Filter Bases for Efficient ConvNets",
   arXiv:2006.05066 (ResNet32/56-SsUu; ``*`` models: one basis for first and one for second convs).
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn

from trainer.models.cifar_resnet import BasicBlock, stage_widths
from trainer.models.errors import ModelError
from trainer.models.orthogonality import ORTH_SCOPES, filter_rows, gram_deviation
from trainer.models.registry import register_model

#: single: one shared basis for both convs of every block; double: one for all first convs and
#: one for all second convs (the paper's ``*`` models); non_shared: every layer has its own basis
#: of the same rank (the ablation without sharing).
BASES = ("single", "double", "non_shared")
#: cifar: a 3x3 stride-1 stem; imagenet: 7x7 stride 2 and a 3x3 stride-2 max-pool (the public ILSVRC models).
STEMS = ("cifar", "imagenet")


class SharedBasisConv(nn.Module):
    """k x k convolution decomposed into basis filters, BatchNorm, 1x1 coefficients and BatchNorm.

    Input (N, C_in, H, W), output (N, C_out, H, W) (stride 1, padding k // 2).

    Parameters
    ----------
    shared : nn.Conv2d or None
        The shared basis (s m filters): the same object in every layer that uses it.
    c_in, c_out : int
    unique_filters : int
        The layer's own basis filters (u m; 0 for none).
    """

    def __init__(
        self, shared: nn.Conv2d | None, c_in: int, c_out: int, unique_filters: int, kernel_size: int = 3
    ) -> None:
        super().__init__()
        self.shared = shared
        self.unique = (
            nn.Conv2d(c_in, unique_filters, kernel_size, 1, kernel_size // 2, bias=False) if unique_filters else None
        )
        rank = (shared.out_channels if shared is not None else 0) + unique_filters
        if rank < 1:
            raise ModelError("a decomposed convolution needs at least one basis filter")
        self.basis_bn = nn.BatchNorm2d(rank)
        self.coefficients = nn.Conv2d(rank, c_out, 1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the layer's own filters first, as the public code concatenates them (its checkpoints load as they are)
        responses = [basis(x) for basis in (self.unique, self.shared) if basis is not None]
        basis = responses[0] if len(responses) == 1 else torch.cat(responses, dim=1)
        return self.bn(self.coefficients(self.basis_bn(basis)))


class SharedBasisBlock(nn.Module):
    """Residual block of two decomposed convolutions with an identity shortcut."""

    def __init__(self, conv1: SharedBasisConv, conv2: SharedBasisConv) -> None:
        super().__init__()
        self.conv1, self.conv2 = conv1, conv2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv2(F.relu(self.conv1(x))) + x)


class SharedBasisStage(nn.Module):
    """An ordinary first block, then ``blocks - 1`` blocks of decomposed convolutions.

    ``bases`` holds the stage's shared basis modules (registered here first, so their module
    names are ``<stage>.bases.<i>``); the blocks hold references to the same objects.
    """

    def __init__(
        self,
        c_in: int,
        width: int,
        blocks: int,
        stride: int,
        per_rank: int,
        shared_rank: int,
        unique_rank: int,
        sharing: str,
        conv_shortcut: bool,
    ) -> None:
        super().__init__()
        shared_filters, unique_filters = shared_rank * per_rank, unique_rank * per_rank
        count = {"single": 1, "double": 2, "non_shared": 0}[sharing] if blocks > 1 else 0
        self.bases = nn.ModuleList(nn.Conv2d(width, shared_filters, 3, 1, 1, bias=False) for _ in range(count))
        if sharing == "non_shared":
            unique_filters += shared_filters
        first = [BasicBlock(c_in, width, stride, conv_shortcut)]
        rest = []
        for _ in range(blocks - 1):
            pair = [self.bases[min(index, count - 1)] if count else None for index in range(2)]
            rest.append(SharedBasisBlock(*(SharedBasisConv(basis, width, width, unique_filters) for basis in pair)))
        self.blocks = nn.Sequential(*first, *rest)
        self.sharing = sharing

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)

    def decomposed(self) -> list[SharedBasisConv]:
        return [conv for block in self.blocks[1:] for conv in (block.conv1, block.conv2)]

    def orthogonality_terms(self, scope: str) -> torch.Tensor | None:
        """The selected Gram deviations (1-D) of this stage's bases, or None if it has none.

        Shared: the shared bases stacked as one matrix (``double``: both), and under ``all`` each
        layer's unique filters against them. ``non_shared``: each layer's own basis against itself.
        """
        if self.sharing == "non_shared":
            own = [gram_deviation(filter_rows(conv.unique.weight)) for conv in self.decomposed()]
            return torch.cat(own) if own else None
        if not len(self.bases):
            return None
        shared = torch.cat([filter_rows(basis.weight) for basis in self.bases])
        uniques = (
            [filter_rows(conv.unique.weight) for conv in self.decomposed() if conv.unique is not None]
            if scope == "all"
            else []
        )
        return gram_deviation(shared, uniques)


#: Public module names (models/{cifar10,cifar100,ilsvrc}/resnet.py of Kang & Kim's repository) -> ours.
PUBLIC_NAMES = (
    (re.compile(r"^shared_basis_(\d+)\.(.*)$"), lambda m: f"layers.{int(m[1]) - 1}.bases.0.{m[2]}"),
    (
        re.compile(r"^shared_basis_(\d+)_([12])\.(.*)$"),
        lambda m: f"layers.{int(m[1]) - 1}.bases.{int(m[2]) - 1}.{m[3]}",
    ),
    (re.compile(r"^layer(\d+)\.(\d+)\.shared_basis(_[12])?\..*$"), lambda m: None),  # a block's alias of a basis
    (re.compile(r"^layer(\d+)\.0\.(.*)$"), lambda m: f"layers.{int(m[1]) - 1}.blocks.0.{m[2]}"),
    (
        re.compile(r"^layer(\d+)\.(\d+)\.(basis_conv|basis_bn|coeff_conv|bn)([12])\.(.*)$"),
        lambda m: f"layers.{int(m[1]) - 1}.blocks.{m[2]}.conv{m[4]}.{PUBLIC_PARTS[m[3]]}.{m[5]}",
    ),
    (re.compile(r"^fc\.(.*)$"), lambda m: f"linear.{m[1]}"),
)
PUBLIC_PARTS = {"basis_conv": "unique", "basis_bn": "basis_bn", "coeff_conv": "coefficients", "bn": "bn"}


def from_public_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor] | None:
    """A state_dict saved by the paper's public code, in this module's names (None when no key has a
    public name). Keys matching no rule (``conv1``, ``bn1``) keep theirs; a block's alias of its
    stage's basis is dropped (the stage's own key holds the same tensor)."""
    renamed, recognised = {}, False
    for key, value in state.items():
        for pattern, target in PUBLIC_NAMES:
            if (match := pattern.match(key)) is not None:
                recognised, key = True, target(match)
                break
        if key is not None:
            renamed[key] = value
    return renamed if recognised else None


class SharedBasisResNet(nn.Module):
    """A stem (3x3 stride 1, or ImageNet's 7x7 stride 2 + max-pool), stages of
    :class:`SharedBasisStage`, global average pooling, linear.

    :meth:`extra_loss` is the training hook: ``orth_lambda`` times ``mean((B B^T - I)^2)`` over
    the selected entries of every stage, pooled (:mod:`trainer.models.orthogonality`).
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        widths: list[int],
        blocks: list[int],
        per_rank: list[int],
        shared_rank: int,
        unique_rank: int,
        sharing: str,
        conv_shortcut: bool,
        orth_lambda: float,
        orth_scope: str,
        stem: str = "cifar",
    ) -> None:
        super().__init__()
        imagenet = stem == "imagenet"
        self.conv1 = nn.Conv2d(
            in_channels, widths[0], 7 if imagenet else 3, 2 if imagenet else 1, 3 if imagenet else 1, bias=False
        )
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.maxpool = nn.MaxPool2d(3, 2, 1) if imagenet else nn.Identity()
        stages, c_in = [], widths[0]
        for index, (width, count, m) in enumerate(zip(widths, blocks, per_rank)):
            stages.append(
                SharedBasisStage(
                    c_in, width, count, 1 if index == 0 else 2, m, shared_rank, unique_rank, sharing, conv_shortcut
                )
            )
            c_in = width
        self.layers = nn.Sequential(*stages)
        self.linear = nn.Linear(c_in, num_classes)
        self.orth_lambda, self.orth_scope = float(orth_lambda), orth_scope
        self._initialise()

    def _initialise(self) -> None:
        """Kaiming normal (fan_out) for every conv, then orthonormal rows for each stage's bases;
        the two bases of ``double`` are one orthogonal matrix split in two, so they start mutually
        orthogonal."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        with torch.no_grad():
            for stage in self.layers:
                groups = [list(stage.bases)] if len(stage.bases) else []
                if stage.sharing == "non_shared":
                    groups = [[conv.unique] for conv in stage.decomposed()]
                for group in groups:
                    stacked = torch.empty(
                        sum(conv.out_channels for conv in group), filter_rows(group[0].weight).shape[1]
                    )
                    nn.init.orthogonal_(stacked)
                    for conv, rows in zip(group, stacked.split([conv.out_channels for conv in group])):
                        conv.weight.copy_(rows.reshape(conv.weight.shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(self.maxpool(F.relu(self.bn1(self.conv1(x)))))
        return self.linear(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))

    def orthogonality_penalty(self) -> torch.Tensor:
        """The mean squared Gram deviation over the selected entries of all stages together, as
        the public scripts pool them (0-d tensor; unweighted)."""
        terms = [stage.orthogonality_terms(self.orth_scope) for stage in self.layers]
        terms = [term for term in terms if term is not None]
        return torch.cat(terms).square().mean() if terms else self.linear.weight.new_zeros(())

    def extra_loss(self) -> torch.Tensor | None:
        """The term the trainer adds to the loss at every step: ``orth_lambda`` x the penalty
        (None when ``orth_lambda`` is 0)."""
        return self.orth_lambda * self.orthogonality_penalty() if self.orth_lambda else None

    def adapt_foreign_state_dict(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor] | None:
        """The checkpoint hook (pruning/checkpoints.py): the public code's names read as ours, each
        basis also under the names of the layers that call it (our state_dict lists every alias)."""
        renamed = from_public_names(state)
        if renamed is None:
            return None
        own = self.state_dict(keep_vars=True)
        first_key: dict[int, str] = {}
        for key, tensor in own.items():
            first_key.setdefault(id(tensor), key)
        for key, tensor in own.items():
            if key not in renamed and first_key[id(tensor)] in renamed:
                renamed[key] = renamed[first_key[id(tensor)]]
        return renamed


def _check_options(shared_rank: int, unique_rank: int, bases: str, orth_lambda: float, orth_scope: str) -> None:
    if bases not in BASES:
        raise ModelError(f"model option bases must be one of {', '.join(BASES)}, got {bases!r}")
    if orth_scope not in ORTH_SCOPES:
        raise ModelError(f"model option orth_scope must be one of {', '.join(ORTH_SCOPES)}, got {orth_scope!r}")
    if int(shared_rank) != shared_rank or int(unique_rank) != unique_rank or shared_rank < 0 or unique_rank < 0:
        raise ModelError(f"shared_rank and unique_rank must be whole numbers >= 0, got {shared_rank} and {unique_rank}")
    if bases != "non_shared" and shared_rank < 1:
        raise ModelError(
            f"bases={bases} shares a basis of shared_rank x m filters: shared_rank must be at least 1 (unique bases "
            "only: bases=non_shared)"
        )
    if shared_rank + unique_rank < 1:
        raise ModelError("shared_rank + unique_rank must be at least 1")
    if orth_lambda < 0:
        raise ModelError(f"orth_lambda must be >= 0, got {orth_lambda}")


def _cifar_shared(depth: int):
    def constructor(
        input_shape: tuple[int, int, int],
        num_classes: int,
        shared_rank: int = 8,
        unique_rank: int = 1,
        bases: str = "single",
        orth_lambda: float = 10.0,
        orth_scope: str = "all",
    ) -> nn.Module:
        _check_options(shared_rank, unique_rank, bases, orth_lambda, orth_scope)
        widths = stage_widths(16, 3)
        model = SharedBasisResNet(
            input_shape[0],
            num_classes,
            widths,
            [(depth - 2) // 6] * 3,
            [w // 16 for w in widths],
            int(shared_rank),
            int(unique_rank),
            bases,
            False,
            orth_lambda,
            orth_scope,
        )
        model.dense_equivalent = (f"resnet{depth}", {})
        return model

    constructor.__doc__ = (
        f"CIFAR ResNet-{depth} with shared filter bases (Kang & Kim): stages of 16/32/64 channels, m = 1/2/4, "
        f"{(depth - 2) // 6} blocks per stage, padding shortcuts. Options: shared_rank (s), unique_rank (u; 0 is the "
        "shared-only ablation), bases=single|double|non_shared, orth_lambda (10) and orth_scope=all|shared (all: the "
        "public CIFAR-10 script's default)."
    )
    return constructor


for _depth in (32, 56):
    register_model(f"resnet{_depth}_shared")(_cifar_shared(_depth))


@register_model("resnet34_shared")
def resnet34_shared(
    input_shape: tuple[int, int, int],
    num_classes: int,
    shared_rank: int = 8,
    unique_rank: int = 1,
    bases: str = "single",
    orth_lambda: float = 10.0,
    orth_scope: str = "shared",
    stem: str = "cifar",
) -> nn.Module:
    """ResNet-34 with shared filter bases: stages of 64/128/256/512 channels (m = 1/2/4/8) with
    3/4/6/3 blocks, 1x1 conv shortcuts where the shape changes. stem=cifar (3x3 stride 1, the
    CIFAR-100 models; dense equivalent cresnet34) or stem=imagenet (7x7 stride 2 + max-pool, the
    ILSVRC models ResNet34-S32U1/S48U1/S32U1*; dense equivalent resnet34). Other options as
    resnet32_shared."""
    _check_options(shared_rank, unique_rank, bases, orth_lambda, orth_scope)
    if stem not in STEMS:
        raise ModelError(f"model option stem must be one of {', '.join(STEMS)}, got {stem!r}")
    widths = stage_widths(64, 4)
    model = SharedBasisResNet(
        input_shape[0],
        num_classes,
        widths,
        [3, 4, 6, 3],
        [w // 64 for w in widths],
        int(shared_rank),
        int(unique_rank),
        bases,
        True,
        orth_lambda,
        orth_scope,
        stem,
    )
    model.dense_equivalent = ("resnet34" if stem == "imagenet" else "cresnet34", {})
    return model
