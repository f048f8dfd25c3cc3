"""The report command through CliRunner."""

from click.testing import CliRunner

from cli.report import report
from tests.reports.synthetic_results import results_table


def test_report_command(tmp_path):
    path = tmp_path / "results.csv"
    results_table(lambda m, rng: 90 - 0.5 * m["aspl"] + rng.normal(0, 0.1), plans=6, seeds=2).to_csv(path, index=False)
    result = CliRunner().invoke(report, [str(path), "--out", str(tmp_path / "r"), "--bootstrap", "200"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("report.html")
    assert "Accuracy falls as aspl rises" in result.output


def test_report_errors(tmp_path):
    runner = CliRunner()
    result = runner.invoke(report, [str(tmp_path / "missing.csv")])
    assert result.exit_code == 1 and "missing.csv: no such file" in result.output and "Traceback" not in result.output
    (tmp_path / "other.csv").write_text("x\n1\n")
    result = runner.invoke(report, [str(tmp_path / "other.csv")])
    assert result.exit_code == 1 and "not a topoprune results table" in result.output
    assert runner.invoke(report, ["--help"]).exit_code == 0


def test_run_directories_without_a_row_are_named(tmp_path):
    path = tmp_path / "results.csv"
    table = results_table(lambda m, rng: 90 - 0.5 * m["aspl"] + rng.normal(0, 0.1), plans=6, seeds=2)
    table.to_csv(path, index=False)
    for name in ("killed-run", table["run_id"].iloc[0]):  # one without a row, one with
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text("{}")
    result = CliRunner().invoke(report, [str(path), "--out", str(tmp_path / "r"), "--bootstrap", "100"])
    assert result.exit_code == 0, result.output
    notices = [line for line in result.stderr.splitlines() if line.startswith("notice: ")]
    assert notices == [
        f"notice: {tmp_path}: 1 run director(ies) have no row in results.csv (killed, still running, or their "
        "append failed: train --resume RUN appends a kept row): killed-run"
    ]
