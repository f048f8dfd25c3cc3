"""The published number as data: the block's checks, the row's columns, the best epoch measured
as the papers measured it, what `train --config` prints and what the report shows; and the
protocol options the papers' codes use (weight decay on every parameter, a floor on the rate,
evaluation on batch statistics)."""

import pandas as pd
import pytest
import torch
from torch import nn

from reports.published import published_findings, published_table
from tests.factories import small_config
from tests.trainer.synthetic import write_fashion_like
from trainer.config import TrainConfig
from trainer.errors import TrainError
from trainer.identity import run_identity
from trainer.loop import evaluate
from trainer.optim import build_optimizer, lr_factor
from trainer.published import PublishedError, checked_published, comparison_lines
from trainer.run import run_training

BLOCK = {"metric": "top-1 error", "value": 20, "protocol": "best epoch", "source": "a paper, table 1"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_fashion_like(tmp_path_factory.mktemp("data") / "fm", train=300, test=100)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"metric": "top-3 accuracy"}, "published.metric: 'top-3 accuracy' is not one of"),
        ({"value": 120}, "published.value: a percentage is between 0 and 100"),
        ({"value": True}, "published.value: expected a number of percent or 'none'"),
        ({"value": "none"}, "value none goes with protocol none"),
        ({"protocol": "none"}, "value none goes with protocol none"),
        ({"source": ""}, "published.source: expected text"),
        ({"colour": "red"}, "published: unknown keys colour"),
    ],
)
def test_a_malformed_block_is_one_line_naming_the_key(change, message):
    with pytest.raises(PublishedError, match=message):
        checked_published({**BLOCK, **change})
    with pytest.raises(PublishedError, match="published: missing source"):
        checked_published({k: v for k, v in BLOCK.items() if k != "source"})
    with pytest.raises(TrainError, match=message):
        TrainConfig(published={**BLOCK, **change}).validate()


def test_a_block_is_canonical_and_never_part_of_the_identity():
    assert checked_published({**BLOCK, "value": "none", "protocol": "none"})["value"] is None
    assert checked_published(BLOCK)["value"] == 20.0
    assert run_identity(TrainConfig(published=BLOCK).validate()) == run_identity(TrainConfig())


def test_comparison_lines_measure_the_run_as_the_paper_did():
    row = {"published_metric": "top-1 error", "published_value": 20.0, "published_protocol": "best epoch"}
    row |= {"published_source": "S", "max_epoch_test_acc": 83.0, "final_acc": 81.0}
    assert comparison_lines(row) == [
        "published: top-1 error 20.00% (best epoch; S)",
        "this run:  top-1 error 17.00% (max_epoch_test_acc)",
    ]
    final = {**row, "published_metric": "top-1 accuracy", "published_protocol": "final epoch"}
    assert comparison_lines(final)[1] == "this run:  top-1 accuracy 81.00% (final_acc)"
    held_out = {**row, "max_epoch_test_acc": None}
    assert "not measured as the paper did (it held out a validation split)" in comparison_lines(held_out)[1]
    assert comparison_lines({"final_acc": 81.0}) == []


def test_a_run_without_validation_records_its_best_test_epoch_and_the_block(data_dir, tmp_path):
    row = run_training(
        small_config(data_dir, tmp_path / "runs", epochs=3, val_fraction=0.0, published=BLOCK, lr=0.5)
    ).row
    log = pd.read_csv(next(p for p in (tmp_path / "runs").iterdir() if p.is_dir()) / "log.csv")
    assert row["max_epoch_test_acc"] == log["test_acc"].max()
    assert row["final_acc"] == log["test_acc"].iloc[-1] and row["model_selection"].startswith("final epoch")
    assert (row["published_metric"], row["published_value"], row["published_source"]) == (
        "top-1 error",
        20.0,
        "a paper, table 1",
    )
    held_out = run_training(small_config(data_dir, tmp_path / "held", val_fraction=0.2)).row
    assert held_out["max_epoch_test_acc"] is None and held_out["published_value"] is None


def test_the_report_sets_ours_beside_the_published_number():
    rows = pd.DataFrame(
        {
            "published_source": ["S", "S", None],
            "published_metric": ["top-1 error", "top-1 error", None],
            "published_value": [20.0, 20.0, None],
            "published_protocol": ["best epoch", "best epoch", None],
            "max_epoch_test_acc": [83.0, 81.0, 90.0],
            "final_acc": [80.0, 80.0, 90.0],
        }
    )
    table = published_table(rows)
    assert table.to_dict("records") == [
        {
            "metric": "top-1 error",
            "published": 20.0,
            "protocol": "best epoch",
            "ours_mean": 18.0,
            "ours_std": pytest.approx(2**0.5),
            "n_seeds": 2,
            "measured_as": "max_epoch_test_acc",
            "source": "S",
        }
    ]
    assert published_findings(table) == [
        "Published: top-1 error 20.00% (best epoch); ours 18.00% ± 1.41 over 2 seed(s), measured as max_epoch_test_acc."
    ]
    assert published_table(rows.drop(columns=["published_metric"])) is None


def test_weight_decay_on_every_parameter_or_not_norms_and_biases():
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    ours = build_optimizer(model, TrainConfig(weight_decay=0.1))
    assert [len(g["params"]) for g in ours.param_groups] == [1, 3] and ours.param_groups[1]["weight_decay"] == 0
    every = build_optimizer(model, TrainConfig(weight_decay=0.1, weight_decay_on="all"))
    assert [len(g["params"]) for g in every.param_groups] == [4, 0] and every.param_groups[0]["weight_decay"] == 0.1
    assert run_identity(TrainConfig(weight_decay_on="no-norm")) == run_identity(TrainConfig())
    assert run_identity(TrainConfig(weight_decay_on="all"))["weight_decay_on"] == "all"


def test_the_rate_floor_reproduces_x_nets_and_the_expanders_code():
    x_nets = TrainConfig(lr=0.05, schedule="step", step_size=30, gamma=0.5, min_lr=5e-4, epochs=300)
    rates = [0.05 * lr_factor(epoch * 10, 10, x_nets) for epoch in range(0, 300, 30)]
    assert rates[:7] == pytest.approx([0.05 / 2**k for k in range(7)])  # 0.05 ... 7.8125e-4
    assert rates[7:] == pytest.approx([5e-4] * 3)  # max(lr, minlr)
    # the expanders code stops halving once half the rate would fall below 5e-4: 7.8125e-4 from then on
    expanders = TrainConfig(lr=0.05, schedule="step", step_size=30, gamma=0.5, min_lr=0.00078125, epochs=300)
    assert [0.05 * lr_factor(e * 10, 10, expanders) for e in range(180, 300, 30)] == pytest.approx([7.8125e-4] * 4)
    assert "min_lr" not in run_identity(TrainConfig())


def test_evaluation_on_batch_statistics_leaves_the_running_ones_alone():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 3))
    model[2].running_mean.fill_(5.0)  # far from the data: eval mode is poor, batch statistics are not
    images, labels = torch.randn(64, 4), torch.randint(0, 3, (64,))
    batches = [(images[i : i + 16], labels[i : i + 16]) for i in range(0, 64, 16)]
    before = model[2].running_mean.clone()
    running = evaluate(model, batches, nn.CrossEntropyLoss(), torch.device("cpu"))
    batch = evaluate(model, batches, nn.CrossEntropyLoss(), torch.device("cpu"), batch_statistics=True)
    assert batch.loss != running.loss
    assert torch.equal(model[2].running_mean, before) and model[2].track_running_stats and not model[2].training
    with torch.no_grad():
        expected = nn.functional.cross_entropy(
            torch.cat([model[3](nn.functional.batch_norm(model[1](x), None, None, model[2].weight, model[2].bias,
                                                         training=True)) for x, _ in batches]), labels)  # fmt: skip
    assert batch.loss == pytest.approx(float(expected), rel=1e-5)


def test_train_config_prints_the_published_number_beside_its_own(cli, data_dir, tmp_path):
    from cli.train import train

    pytest.importorskip("yaml", reason="the yaml extra is not installed")
    config = tmp_path / "paper.yaml"
    config.write_text(
        "model: mlp\nval-fraction: 0\nepochs: 2\nbatch-size: 64\nthreads: 1\n"
        "published:\n  metric: top-1 accuracy\n  value: 90.5\n  protocol: best epoch\n  source: the paper, table 2\n",
        encoding="utf-8",
    )
    result = cli.invoke(train, "--config", config, "--data-dir", data_dir, "--out", tmp_path / "runs", "-q")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "published: top-1 accuracy 90.50% (best epoch; the paper, table 2)" in lines
    ours = next(line for line in lines if line.startswith("this run:"))
    assert ours.endswith("% (max_epoch_test_acc)")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: mlp\npublished:\n  metric: top-1 accuracy\n  value: 190\n", encoding="utf-8")
    refused = cli.invoke(train, "--config", bad, "--data-dir", data_dir, "--out", tmp_path / "bad-runs")
    assert refused.exit_code == 2 and "published: missing protocol, source" in refused.output
    assert "Traceback" not in refused.output and not (tmp_path / "bad-runs").exists()


@pytest.mark.parametrize("batch_statistics", [False, True])
def test_evaluation_builds_no_autograd_graph(batch_statistics):
    """A graph kept by the running sums would hold every batch's activations until the pass ends
    (ResNet-32 on the 10,000 test images then peaked at 21 GB)."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 3))
    tracked = []
    model[3].register_forward_hook(lambda module, inputs, output: tracked.append(output.requires_grad))
    batches = [(torch.randn(16, 4), torch.randint(0, 3, (16,))) for _ in range(3)]
    assert torch.is_grad_enabled()
    evaluate(model, batches, nn.CrossEntropyLoss(), torch.device("cpu"), batch_statistics=batch_statistics)
    assert tracked == [False, False, False] and torch.is_grad_enabled()
