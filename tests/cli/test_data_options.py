"""`train`'s data options from the command line: --augment, --no-augment, --image-size, --workers,
--val-fraction 0; bad values are one line, no traceback."""

from click.testing import CliRunner

from cli.train import train
from tests.trainer.synthetic import write_fashion_like
from trainer.results import read_rows


def invoke(*args):
    return CliRunner().invoke(train, [str(a) for a in args])


def test_bad_data_options_are_one_line():
    for args, message in [
        (["--augment", "blur"], "--augment: unknown step 'blur'"),
        (["--augment", "cutout", "--no-augment"], "give --augment or --no-augment, not both"),
        (["--image-size", "4"], "--image-size"),
        (["--workers", "-1"], "--workers"),
        (["--val-fraction", "1"], "--val-fraction': 1.0 is not in the range 0<=x<1"),
    ]:
        result = invoke("--model", "mlp", "--epochs", "1", *args)
        assert result.exit_code != 0 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_data_options_reach_the_row(tmp_path):
    write_fashion_like(tmp_path / "data", train=120, test=40)
    result = invoke(
        "--model", "mlp", "--model-option", "width=8", "--data-dir", tmp_path / "data", "--epochs", "1",
        "--image-size", "16", "--augment", "cutout:4", "--val-fraction", "0", "--workers", "0",
        "--out", tmp_path / "runs", "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    row = read_rows(tmp_path / "runs")[-1]
    assert (row["image_size"], row["augment"], row["model_selection"]) == (
        "16",
        "cutout:4",
        "final epoch (no validation split)",
    )
    assert int(row["macs_total"]) == 16 * 16 * 8 + 8 * 8 * 3 + 8 * 10  # the mlp saw 16x16 inputs
    no = invoke("--model", "mlp", "--no-augment", "--print-config")
    none = invoke("--model", "mlp", "--augment", "none", "--print-config")
    assert no.exit_code == 0 and "no-augment: true" in no.output
    assert no.output.splitlines()[0] == none.output.splitlines()[0]  # one run: the same config_hash
