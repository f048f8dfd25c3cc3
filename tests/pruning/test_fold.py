"""BatchNorm folded into the layer feeding it: which pairs fold, exact outputs, masks kept."""

import torch
from torch import nn

from pruning.apply import prune_model
from pruning.compile import CompileConfig, compile_model
from pruning.fold import batchnorm_folds, fold_batchnorms
from pruning.mask_rules import MaskConfig
from pruning.masking import apply_masks, baked_copy, current_masks
from trainer.models import build_model


class Mixed(nn.Module):
    """Every case: conv -> bn (folds), a conv without bias -> bn (folds, gains a bias), a conv
    whose output also feeds a skip (does not), a BatchNorm called twice (does not), one without
    running statistics (does not), and linear -> bn1d (folds)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.plain = nn.Conv2d(4, 4, 1, bias=False)
        self.plain_bn = nn.BatchNorm2d(4)
        self.skipped = nn.Conv2d(4, 4, 1)
        self.skipped_bn = nn.BatchNorm2d(4)
        self.twice = nn.Conv2d(4, 4, 1)
        self.shared_bn = nn.BatchNorm2d(4)
        self.batch_stats = nn.Conv2d(4, 4, 1)
        self.batch_stats_bn = nn.BatchNorm2d(4, track_running_stats=False)
        self.linear = nn.Linear(4 * 25, 6)
        self.linear_bn = nn.BatchNorm1d(6)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        x = self.plain_bn(self.plain(x))
        y = self.skipped(x)
        x = self.skipped_bn(y) + y
        x = self.shared_bn(self.shared_bn(self.twice(x)))
        x = self.batch_stats_bn(self.batch_stats(x))
        return self.linear_bn(self.linear(x.flatten(1)))


def trained_statistics(model: nn.Module) -> nn.Module:
    """Running statistics and affine parameters far from their defaults, then eval mode."""
    torch.manual_seed(0)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(8, 3, 5, 5) * 3 + 1)
        for module in model.modules():
            if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d) and module.affine:
                module.weight.uniform_(0.5, 2.0)
                module.bias.uniform_(-1.0, 1.0)
    return model.eval()


def test_only_a_batchnorm_fed_by_one_layer_alone_folds():
    folds, reason = batchnorm_folds(trained_statistics(Mixed()))
    assert reason is None
    assert folds == [("conv", "bn"), ("plain", "plain_bn"), ("linear", "linear_bn")]


def test_folding_keeps_the_outputs_and_gives_a_bias_where_there_was_none():
    model = trained_statistics(Mixed())
    x = torch.randn(5, 3, 5, 5)
    with torch.no_grad():
        expected = model(x)
        fold_batchnorms(model, batchnorm_folds(model)[0])
        torch.testing.assert_close(model(x), expected, rtol=1e-5, atol=1e-5)
    assert isinstance(model.bn, nn.Identity) and isinstance(model.linear_bn, nn.Identity)
    assert isinstance(model.skipped_bn, nn.BatchNorm2d) and isinstance(model.shared_bn, nn.BatchNorm2d)
    assert model.plain.bias is not None and model.plain.bias.shape == (4,)


def test_a_folded_masked_layer_keeps_every_zero_of_its_mask():
    torch.manual_seed(0)
    model = build_model("mlp", (1, 8, 8), 10, width=32, depth=2)
    prune_model(model, MaskConfig("random-bipartite", degree=4, seed=1), (1, 8, 8))
    trained = trained_statistics_mlp(model)
    masks = current_masks(trained)
    dense = baked_copy(trained).eval()
    folds, _ = batchnorm_folds(dense)
    assert ("hidden1", "hidden1_bn") in folds
    fold_batchnorms(dense, folds)
    for name, mask in masks.items():
        weight = dense.get_submodule(name).weight
        assert torch.all(weight[~mask.expand_as(weight).bool()] == 0), name


def trained_statistics_mlp(model: nn.Module) -> nn.Module:
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(16, 1, 8, 8) * 2 + 0.5)
    return model.eval()


def test_compile_folds_in_both_models_unless_told_to_keep_batchnorm():
    torch.manual_seed(0)
    model = build_model("mlp", (1, 8, 8), 10, width=32, depth=2)
    prune_model(model, MaskConfig("random-bipartite", degree=4, seed=1), (1, 8, 8))
    model = trained_statistics_mlp(model)
    quick = CompileConfig(batch_size=4, repeats=1, warmup=0)
    folded = compile_model(model, (1, 8, 8), quick)
    assert ("hidden1", "hidden1_bn") in folded.batchnorm_folds
    assert isinstance(folded.model.hidden1_bn, nn.Identity) and folded.max_relative_error <= 1e-5
    kept = compile_model(model, (1, 8, 8), CompileConfig(batch_size=4, repeats=1, warmup=0, fold_batchnorm=False))
    assert kept.batchnorm_folds == [] and isinstance(kept.model.hidden1_bn, nn.BatchNorm1d)


class Untraceable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.bn = nn.BatchNorm1d(4)

    def forward(self, x):
        if x.sum() > 0:  # data-dependent control flow: torch.fx cannot trace it
            return self.bn(self.linear(x))
        return self.bn(self.linear(-x))


def test_a_model_fx_cannot_trace_folds_nothing_and_says_why():
    folds, reason = batchnorm_folds(Untraceable().eval())
    assert folds == [] and reason.startswith("BatchNorm not folded: torch.fx cannot trace the model")
    assert "\n" not in reason


def test_masks_survive_apply_after_a_fold_of_the_baked_copy():
    """The masked model itself is never folded: compile works on a baked copy."""
    torch.manual_seed(0)
    model = build_model("mlp", (1, 8, 8), 10, width=32, depth=2)
    prune_model(model, MaskConfig("random-bipartite", degree=4, seed=1), (1, 8, 8))
    model = trained_statistics_mlp(model)
    compile_model(model, (1, 8, 8), CompileConfig(batch_size=4, repeats=1, warmup=0))
    assert isinstance(model.hidden1_bn, nn.BatchNorm1d)
    apply_masks(model, current_masks(model))  # still masked and usable
