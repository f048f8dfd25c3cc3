"""Training with --recipe edropout: the row, the frozen masks, model selection after the freeze,
the search log, resuming, reproducibility and refusals."""

import pandas as pd
import pytest
import torch

from pruning.masking import masks_in_state_dict
from pruning.storage import load_masks, load_state
from tests.factories import small_config
from tests.trainer.synthetic import write_fashion_like
from trainer.config import TrainConfig
from trainer.errors import TrainError
from trainer.run import resume_training, run_training, selected_epoch

#: Columns that differ between two runs of the same configuration.
VOLATILE = {"run_id", "created", "train_seconds"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_fashion_like(tmp_path_factory.mktemp("data") / "fm", train=600, test=200)


def config(data_dir, out, **overrides):
    # batch 32: 17 steps an epoch, and the public freeze rule waits for the 12th; free to freeze from epoch 2
    values = dict(recipe="edropout", model_options={"width": 32}, epochs=3, batch_size=32, lr=0.05, edropout_warmup=2)
    return small_config(data_dir, out, **{**values, **overrides})


def test_edropout_run_freezes_into_exactly_zero_masks_and_selects_only_after_the_freeze(data_dir, tmp_path, capsys):
    outcome = run_training(config(data_dir, tmp_path / "runs", quiet=False))
    row = outcome.row
    assert row["recipe"] == "edropout" and row["edropout_frozen_epoch"] == 2  # the first epoch allowed
    said = (
        f"EDropout: the state froze in epoch 2 at search step {row['edropout_frozen_step']}: "
        f"{row['edropout_units_kept']:,} of {row['edropout_units']:,} units kept (public after the freeze)"
    )
    assert said in capsys.readouterr().err
    assert (row["flops_kept"], row["flops_total"]) == (2 * row["macs_kept"], 2 * row["macs_total"])
    masks = load_masks(outcome.run_dir / "masks.npz")
    # paper coverage of the mlp: every Linear's inputs but the pixels
    assert set(masks) == {"hidden1", "hidden2", "hidden3", "head"}
    kept = {name: mask.any(dim=0) for name, mask in masks.items()}
    assert sum(int(k.sum()) for k in kept.values()) == row["edropout_units_kept"]
    assert all(bool((masks[n] == kept[n][None, :]).all()) for n in masks)
    outputs = {name: masks[name].shape[0] for name in masks}  # the public R weighs a Linear input by its outputs
    r = sum(outputs[n] * int(kept[n].sum()) for n in kept) / sum(outputs[n] * kept[n].numel() for n in kept)
    assert row["edropout_paper_r"] == pytest.approx(r)
    state = load_state(outcome.run_dir / "checkpoint.pt")
    weights = state["head.parametrizations.weight.original"]  # the trained values themselves, not a masked view
    assert torch.equal(masks_in_state_dict(state)["head"], masks["head"])
    assert float(weights[:, ~kept["head"]].abs().sum()) == 0.0

    log = pd.read_csv(outcome.run_dir / "log.csv")
    assert log["selectable"].tolist() == [False, True, True]
    assert row["best_epoch"] >= 2 and row["edropout_selection"] == "after-freeze"
    frozen = log[log["edropout_frozen"]]  # after the freeze, every gate on is the pruned network
    assert (frozen["test_acc_no_pruning"] == frozen["test_acc"]).all()
    assert row["final_acc_no_pruning"] == log["test_acc_no_pruning"].iloc[-1]
    assert row["final_acc"] == log["test_acc"].iloc[-1]

    steps = pd.read_csv(outcome.run_dir / "search_log.csv")
    assert list(steps.columns) == [
        "epoch", "step", "best_energy", "incumbent_energy", "hamming", "best_changed", "frozen_after"
    ]  # fmt: skip
    assert steps["step"].tolist() == list(range(1, len(steps) + 1)) and len(steps) == row["edropout_frozen_step"]
    assert steps["frozen_after"].tolist() == [False] * (len(steps) - 1) + [True]
    assert (steps["epoch"] <= 2).all()

    from reports.build import ReportConfig, build_report

    report = build_report(ReportConfig((tmp_path / "runs" / "results.csv",), out=tmp_path / "report", bootstrap=50))
    figures = [part for heading, part in report.sections[0].content if heading.startswith("Search per step")]
    assert figures == [tmp_path / "report" / "figures" / "search.png"] and figures[0].stat().st_size > 10_000


def test_model_selection_chooses_among_selectable_epochs_and_else_the_last():
    history = [
        {"epoch": 1, "val_acc": 90.0, "selectable": False},
        {"epoch": 2, "val_acc": 50.0, "selectable": True},
        {"epoch": 3, "val_acc": 60.0, "selectable": True},
        {"epoch": 4, "val_acc": 60.0, "selectable": True},
    ]
    assert selected_epoch(history)["epoch"] == 3  # epoch 1 is better but not selectable; ties go to the first
    assert selected_epoch([dict(h, selectable=False) for h in history])["epoch"] == 4
    assert selected_epoch([{"epoch": 1, "val_acc": 3.0}, {"epoch": 2, "val_acc": 2.0}])["epoch"] == 1


def test_an_unfrozen_run_reports_its_final_epoch(data_dir, tmp_path, capsys):
    # free from epoch 2, but at batch 64 an epoch has 9 steps and the public rule waits for the 12th
    settings = dict(epochs=2, edropout_warmup=2, batch_size=64, quiet=False)
    row = run_training(config(data_dir, tmp_path / "runs", **settings)).row
    err = capsys.readouterr().err
    assert "EDropout: the state never froze in 2 epoch(s) (freeze rule public from epoch 2)" in err
    assert "the state froze" not in err
    assert row["edropout_frozen_epoch"] is None and row["best_epoch"] == 2
    assert row["edropout_selection"] == "final-epoch (never froze)"


def test_edropout_runs_are_reproducible_and_resume_to_the_identical_row(data_dir, tmp_path):
    rows = [run_training(config(data_dir, tmp_path / f"runs{i}")).row for i in range(2)]
    assert {k: v for k, v in rows[0].items() if k not in VOLATILE} == {
        k: v for k, v in rows[1].items() if k not in VOLATILE
    }
    other = run_training(config(data_dir, tmp_path / "runs2", mask_seed=5)).row
    assert other["config_hash"] != rows[0]["config_hash"]
    for stop in (1, 2):  # before and after the freeze
        out = tmp_path / f"resumed{stop}"
        assert run_training(config(data_dir, out), run_id="stopped", stop_after_epochs=stop) is None
        resumed = resume_training(out / "stopped").row
        assert {k: v for k, v in resumed.items() if k not in VOLATILE} == {
            k: v for k, v in rows[0].items() if k not in VOLATILE
        }
        first = next(p for p in (tmp_path / "runs0").iterdir() if p.is_dir())
        assert (out / "stopped" / "search_log.csv").read_text() == (first / "search_log.csv").read_text()


def test_edropout_options_are_checked_and_in_the_identity(data_dir, tmp_path):
    with pytest.raises(TrainError, match="finds its own masks"):
        config(data_dir, tmp_path, degree=4).validate()
    with pytest.raises(TrainError, match="--edropout-population: 3 is out of range: it must be >= 4"):
        config(data_dir, tmp_path, edropout_population=3).validate()
    with pytest.raises(TrainError, match="--edropout-freeze: 'never' is not one of public, rescore"):
        config(data_dir, tmp_path, edropout_freeze="never").validate()
    from trainer.identity import config_hash, identify

    base = config_hash(identify(config(data_dir, tmp_path))[1])
    for change in (
        {"edropout_keep_probability": 0.3},
        {"edropout_mutation": 0.5},
        {"edropout_crossover": 0.5},
        {"edropout_energy_scale": 1.0},
        {"edropout_coverage": "all-convs"},
        {"edropout_energy_bn": "eval"},
        {"edropout_freeze": "rescore"},
        {"edropout_patience": 3},
        {"edropout_after_freeze": "fine-tune"},
        {"edropout_coverage": "paper"},
    ):
        assert config_hash(identify(config(data_dir, tmp_path, **change))[1]) != base, change


def test_edropout_all_convs_gates_every_conv_and_best_pt_holds_the_pruned_network(data_dir, tmp_path):
    from pruning.masking import load_masked_state_dict
    from trainer.models import build_model

    outcome = run_training(
        config(
            data_dir,
            tmp_path / "runs",
            model="cnn",
            model_options={"width": 4},
            epochs=2,
            batch_size=128,
            edropout_coverage="all-convs",
        )
    )
    assert outcome.row["edropout_frozen_epoch"] is None  # 5 steps an epoch: the public rule never tests
    masks = load_masks(outcome.run_dir / "masks.npz")
    convs = [
        name
        for name, m in build_model("cnn", (1, 28, 28), 10, width=4).named_modules()
        if isinstance(m, torch.nn.Conv2d)
    ]
    assert set(masks) == {*convs, "19"}  # and the classifier's inputs
    for name in convs:  # whole filters: a row is all kept or all dropped
        rows = masks[name].reshape(masks[name].shape[0], -1)
        assert bool((rows.all(dim=1) | ~rows.any(dim=1)).all())
    best = load_state(outcome.run_dir / "best.pt")
    model = load_masked_state_dict(build_model("cnn", (1, 28, 28), 10, width=4), best)
    assert set(masks_in_state_dict(best)) == set(masks)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_random_filters_like_an_edropout_run_keeps_its_counts_per_layer(data_dir, tmp_path):
    from pruning.edropout_units import unit_structure

    edropout = run_training(
        config(data_dir, tmp_path / "runs", model="cnn", model_options={"width": 4}, epochs=2, batch_size=128)
    )
    reference = load_masks(edropout.run_dir / "masks.npz")
    control = TrainConfig(
        recipe="random-filters",
        like=edropout.run_dir,
        model="cnn",
        model_options={"width": 4},
        data_dir=data_dir,
        epochs=1,
        lr=0.05,
        threads=1,
        quiet=True,
        out=tmp_path / "runs",
    )
    outcome = run_training(control.validate())
    drawn = load_masks(outcome.run_dir / "masks.npz")
    assert set(drawn) == set(reference)
    for name in reference:
        assert unit_structure(name, drawn[name]) == unit_structure(name, reference[name])
        assert int(drawn[name].sum()) == int(reference[name].sum())
    assert outcome.row["recipe"] == "random-filters" and outcome.row["params_kept"] == edropout.row["params_kept"]
    assert any(not torch.equal(drawn[n], reference[n]) for n in reference)
    with pytest.raises(TrainError, match="needs --like"):
        TrainConfig(recipe="random-filters").validate()
    with pytest.raises(TrainError, match="only used by --recipe random-filters"):
        TrainConfig(like=edropout.run_dir).validate()


def _frozen_controller(after_freeze):
    """A tiny convolutional model whose EDropout state is frozen at once, and an SGD optimiser."""
    from torch import nn

    from pruning.edropout import EDropoutConfig
    from trainer.edropout import EDropoutTraining
    from trainer.stepmask import StepMasker

    torch.manual_seed(0)
    model = nn.Sequential()  # named as the public ResNets name them: conv1 is followed by bn1
    for name, module in [
        ("conv1", nn.Conv2d(1, 4, 3, bias=False)),
        ("bn1", nn.BatchNorm2d(4)),
        ("relu", nn.ReLU()),
        ("flat", nn.Flatten()),
        ("fc", nn.Linear(4 * 36, 3)),
    ]:
        model.add_module(name, module)
    masker = StepMasker(model)
    controller = EDropoutTraining(model, masker, EDropoutConfig(), seed=0, warmup_epochs=0, after_freeze=after_freeze)
    controller.search.frozen = True  # as the freeze rule would set it
    controller._freeze()
    return model, masker, controller, torch.optim.SGD(model.parameters(), lr=0.1)


def _steps(model, masker, controller, optimizer, count):
    torch.manual_seed(1)
    for _ in range(count):
        images, labels = torch.randn(16, 1, 8, 8), torch.randint(0, 3, (16,))
        optimizer.zero_grad()
        with controller.step(images, labels):
            torch.nn.functional.cross_entropy(model(images), labels).backward()
            optimizer.step()
        masker.after_step()


@pytest.mark.parametrize("after_freeze", ["public", "fine-tune"])
def test_after_the_freeze_public_holds_the_gated_layers_at_their_frozen_weights(after_freeze):
    """The public code restores its backup before every update, so a gated layer ends one update
    away from its weights at the freeze (and its BatchNorm scale with it); fine-tune accumulates."""
    model, masker, controller, optimizer = _frozen_controller(after_freeze)
    restored = (model.conv1.weight, model.bn1.weight, model.fc.weight)  # the gated layers and bn1's scale
    frozen = [weight.detach().clone() for weight in restored]
    ungated = model.fc.bias.detach().clone()
    _steps(model, masker, controller, optimizer, 4)
    last = [weight.grad.clone() for weight in restored]
    for weight, start, grad in zip(restored, frozen, last):
        one_step = start - 0.1 * grad
        kept = weight.detach() != 0  # masked entries are zero either way
        if after_freeze == "public":
            torch.testing.assert_close(weight.detach()[kept], one_step[kept])
        else:
            assert not torch.allclose(weight.detach()[kept], one_step[kept])
    assert not torch.equal(model.fc.bias.detach(), ungated)  # what the state does not gate learns in both
    assert (len(controller.state_dict()["backup"]) == 3) == (after_freeze == "public")
