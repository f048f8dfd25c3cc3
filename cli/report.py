"""``report``: results tables -> statistics, figures and an HTML report."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import friendly_errors
from common import __version__
from reports.build import ReportConfig, build_report


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="topoprune")
@click.argument("results", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("report"),
    show_default=True,
    help="Directory for the report.",
)
@click.option(
    "--accuracy",
    type=click.Choice(["best_acc", "final_acc"]),
    default="best_acc",
    show_default=True,
    help="Which accuracy column to analyse.",
)
@click.option("--model", help="Only rows of this model (default: every experiment, one section each).")
@click.option("--dataset", help="Only rows of this data set.")
@click.option("--epochs", type=int, help="Only rows with this many epochs.")
@click.option(
    "--bootstrap",
    type=click.IntRange(100, 100_000),
    default=2000,
    show_default=True,
    help="Bootstrap resamples for confidence intervals.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@friendly_errors
def report(results, out, accuracy, model, dataset, epochs, bootstrap, seed) -> None:
    """Relate graph metrics to accuracy over the runs of RESULTS (results.csv; shards are merged).

    A table that mixes configurations (models, data sets, epochs, lr, model or recipe options,
    ...) gets one section per experiment, each named by the fields that differ.

    Writes summary.csv, correlations.csv, figures/*.png, report.html (self-contained) and
    report.md into --out, prints the findings and the path of report.html.
    """
    built = build_report(ReportConfig(tuple(results), out, accuracy, model, dataset, epochs, bootstrap, seed))
    for line in built.findings:
        click.echo(f"- {line}")
    click.echo(str(built.html))


def main() -> None:
    """Console entry point of ``report``."""
    report()


if __name__ == "__main__":
    main()
