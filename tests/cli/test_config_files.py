"""``--config FILE.yaml`` and ``--print-config``: a file is the same experiment as its command line."""

import pytest
from click.testing import CliRunner

from cli.train import train
from tests.imports import hide_module
from tests.trainer.synthetic import write_fashion_like
from trainer.results import read_rows

pytest.importorskip("yaml", reason="PyYAML is not installed (pip install 'topoprune[yaml]')")

OPTIONS = ["--model", "mlp", "--model-option", "width=16", "--epochs", "1", "--include", "hidden1"]
OPTIONS += ["--schedule", "multistep"]
OPTIONS += ["--milestones", "1,2", "--mask-seed", "2", "--seed", "3", "--recipe", "xnet", "--degree", "4"]


def invoke(*args):
    return CliRunner().invoke(train, [str(a) for a in args])


def printed(*args) -> str:
    result = invoke(*args, "--print-config")
    assert result.exit_code == 0, result.output
    return result.output


def test_a_file_is_its_command_line(tmp_path):
    text = printed(*OPTIONS)
    assert text.startswith("# train configuration; config_hash ")
    path = tmp_path / "run.yaml"
    path.write_text(text)
    assert printed("--config", path) == text  # read back: the same options, the same config_hash
    written = tmp_path / "short.yaml"
    written.write_text(
        "model: mlp\nmodel-option: {width: 16}\nepochs: 1\ninclude: [hidden1]\nschedule: multistep\nmilestones: 1,2\n"
        "mask_seed: 2\nseed: 3\nrecipe: xnet\ndegree: 4\n"
    )
    assert printed("--config", written).splitlines()[0] == text.splitlines()[0]  # spelled by hand: same hash
    changed = printed("--config", path, "--epochs", "2")  # the command line wins
    assert "epochs: 2" in changed and changed.splitlines()[0] != text.splitlines()[0]


def test_bad_files_are_one_clear_error(tmp_path):
    typo = tmp_path / "typo.yaml"
    typo.write_text("epoch: 3\n")
    result = invoke("--config", typo)
    assert result.exit_code == 2 and "unknown option 'epoch'; did you mean 'epochs'?" in result.output
    for text, message in (
        ("[1, 2]\n", "expected a mapping"),
        ("model: [a, b]\n", "model: ['a', 'b'] is not one value (text)"),
        (":\n- a", "not YAML"),
    ):
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        result = invoke("--config", bad)
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    missing = invoke("--config", tmp_path / "none.yaml")
    assert missing.exit_code == 2 and "none.yaml" in missing.output


def test_a_run_from_a_file_has_the_command_lines_row_identity(tmp_path, monkeypatch):
    data = write_fashion_like(tmp_path / "fm", train=300, test=100)
    monkeypatch.chdir(tmp_path)
    common = ["--data-dir", data, "--threads", "1", "-q"]
    by_hand = invoke(*OPTIONS, *common, "--out", "a")
    assert by_hand.exit_code == 0, by_hand.output
    (tmp_path / "run.yaml").write_text(printed(*OPTIONS, *common, "--out", "b"))
    from_file = invoke("--config", "run.yaml")
    assert from_file.exit_code == 0, from_file.output
    (row_a,), (row_b,) = read_rows(tmp_path / "a"), read_rows(tmp_path / "b")
    assert row_a["config_hash"] == row_b["config_hash"] and row_a["best_acc"] == row_b["best_acc"]


def test_sweeps_read_and_print_files_too(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text("model: mlp\nrecipes: [xnet, rreg-bipartite]\ndegrees: [4, 8]\nseeds: 2\nexecutor: ray\n")
    text = printed("sweep", "--config", path)
    assert "recipes:\n- xnet\n- rreg-bipartite\n" in text and "degrees:\n- '4'\n- '8'\n" in text
    assert "executor: ray" in text and "seeds: 2" in text


def test_without_pyyaml_one_line_names_the_extra(monkeypatch, tmp_path):
    hide_module(monkeypatch, "yaml")
    result = invoke("--print-config")
    assert result.exit_code == 2 and "pip install 'topoprune[yaml]'" in result.output


def test_input_files_in_a_file_are_relative_to_the_file(tmp_path, monkeypatch):
    from topology.generators import generate
    from topology.plans import Plan, save_plan

    folder = tmp_path / "configs" / "paper"
    (folder / "plans").mkdir(parents=True)
    save_plan(Plan(generate("rreg", nodes=8, degree=2, seed=0)), folder / "plans", "g", ("npy",))
    config = folder / "run.yaml"
    config.write_text("model: mlp\nmodel-option: {width: 16}\nplan: plans/g.npy\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    text = printed("--config", config)
    assert f"plan: {folder / 'plans' / 'g.npy'}" in text  # found from another folder, written absolute
    copy = elsewhere / "copy.yaml"
    copy.write_text(text)
    assert printed("--config", copy).splitlines()[0] == text.splitlines()[0]  # the same run
    config.write_text("model: mlp\nplan: plans/missing.npy\n")
    result = invoke("--config", config, "--epochs", "1")
    assert result.exit_code != 0 and "missing.npy" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("epochs: 1.5\n", "epochs: 1.5 is not a whole number"),
        ("plan: 5\n", "plan: 5 is not a file path"),
        ("include: {a: 1}\n", "include: {'a': 1} is not a list of names or numbers"),
        ("epochs: 2\nepochs: 7\n", "'epochs' is given twice (line 2)"),
        ("mask-seed: 1\nmask_seed: 2\n", "'mask_seed' is given twice (as mask_seed)"),
        ("lr: .nan\n", "lr: nan is not a finite number"),
        ("epochs: null\n", "epochs: None is not a whole number"),
        ("model-option: {width: [1, 2]}\n", "model-option takes names, numbers or true/false as values"),
        ("include: [&a [1, 1, 1], &b [*a, *a, *a], [*b, *b, *b]]\n", "include: [[1, 1, 1], [[1, 1, 1]"),
    ],
)
def test_a_file_is_checked_against_the_options_declarations(tmp_path, text, fragment):
    (tmp_path / "bad.yaml").write_text(text)
    result = invoke("--config", tmp_path / "bad.yaml", "--print-config")
    assert result.exit_code == 2 and fragment in result.output and "Traceback" not in result.output, result.output


def test_an_endless_file_is_refused_without_reading_it_all(tmp_path):
    result = invoke("--config", "/dev/zero", "--print-config")
    assert result.exit_code == 2 and "too large for a configuration file" in result.output, result.output


def test_a_huge_nested_value_is_refused_in_bounded_time_and_memory(tmp_path):
    levels = ["&a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"&a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]  # 10^9 leaves by reference
    (tmp_path / "laughs.yaml").write_text(f"include: [{', '.join(levels)}]\n")
    result = invoke("--config", tmp_path / "laughs.yaml", "--print-config")
    assert result.exit_code == 2 and "is not a list of names or numbers" in result.output, result.output


def test_a_seed_beyond_64_bits_is_one_line(tmp_path):
    (tmp_path / "seed.yaml").write_text("seed: 100000000000000000000000000\n")
    result = invoke("--config", tmp_path / "seed.yaml", "--print-config")
    assert result.exit_code == 2 and "seed: 100000000000000000000000000 is out of range" in result.output
