"""Training with --recipe edropout: the row, the frozen masks, reproducibility and refusals."""

import pytest
import torch

from pruning.masking import masks_in_state_dict
from pruning.storage import load_masks, load_state
from tests.trainer.synthetic import write_fashion_like
from trainer.config import TrainConfig
from trainer.errors import TrainError
from trainer.run import resume_training, run_training


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_fashion_like(tmp_path_factory.mktemp("data") / "fm", train=600, test=200)


def config(data_dir, out, **overrides):
    values = dict(
        recipe="edropout",
        model="mlp",
        model_options={"width": 32},
        data_dir=data_dir,
        epochs=3,
        lr=0.05,
        edropout_patience=1,
        threads=1,
        quiet=True,
        out=out,
    )
    return TrainConfig(**{**values, **overrides})


def test_edropout_run_freezes_into_exactly_zero_masks_and_reports_both_evaluations(data_dir, tmp_path):
    outcome = run_training(config(data_dir, tmp_path / "runs"))
    row = outcome.row
    assert row["recipe"] == "edropout" and row["edropout_frozen_epoch"] is not None
    masks = load_masks(outcome.run_dir / "masks.npz")
    assert set(masks) == {"13"}  # the mlp's classifier inputs (no convolutions)
    kept_inputs = masks["13"].any(dim=0)
    assert int(kept_inputs.sum()) == row["edropout_units_kept"] and bool((masks["13"] == kept_inputs[None, :]).all())
    assert row["density"] == pytest.approx(float(kept_inputs.float().mean()))
    assert row["edropout_paper_r"] == pytest.approx(row["edropout_units_kept"] / row["edropout_units"])
    state = load_state(outcome.run_dir / "checkpoint.pt")
    weights = state["13.parametrizations.weight.original"]  # the trained values themselves, not a masked view
    assert (
        torch.equal(masks_in_state_dict(state)["13"], masks["13"])
        and float(weights[:, ~kept_inputs].abs().sum()) == 0.0
    )
    log = (outcome.run_dir / "log.csv").read_text().splitlines()
    assert "test_acc_unpruned" in log[0] and len(log) == 4
    assert "best_acc_unpruned" in row


def test_edropout_runs_are_reproducible(data_dir, tmp_path):
    rows = [run_training(config(data_dir, tmp_path / f"runs{i}")).row for i in range(2)]
    for key in (
        "applied_masks_sha256",
        "best_acc",
        "best_acc_unpruned",
        "edropout_frozen_step",
        "edropout_best_energy",
        "config_hash",
    ):
        assert rows[0][key] == rows[1][key], key
    other = run_training(config(data_dir, tmp_path / "runs2", mask_seed=5)).row
    assert other["config_hash"] != rows[0]["config_hash"]


def test_edropout_refusals(data_dir, tmp_path):
    with pytest.raises(TrainError, match="finds its own masks"):
        config(data_dir, tmp_path, degree=4).validate()
    with pytest.raises(TrainError, match="population of at least 4"):
        config(data_dir, tmp_path, edropout_population=3).validate()
    assert run_training(config(data_dir, tmp_path / "runs", epochs=2), run_id="stopped", stop_after_epochs=1) is None
    with pytest.raises(TrainError, match="cannot be resumed yet"):
        resume_training(tmp_path / "runs" / "stopped")


def test_edropout_gates_every_conv_and_best_pt_holds_the_pruned_network(data_dir, tmp_path):
    from pruning.masking import load_masked_state_dict
    from trainer.models import build_model

    outcome = run_training(
        config(data_dir, tmp_path / "runs", model="cnn", model_options={"width": 4}, epochs=2, edropout_patience=50)
    )
    assert outcome.row["edropout_frozen_epoch"] is None  # patience not reached: the best state is the mask
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
    from pruning.edropout import unit_structure

    edropout = run_training(config(data_dir, tmp_path / "runs", model="cnn", model_options={"width": 4}, epochs=2))
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
