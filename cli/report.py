"""``report``: results tables -> statistics, figures and an HTML report."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import click

from cli.options import friendly_errors
from common import __version__
from reports.agreement import check_lines
from reports.arms import pair_recipes as pair_table
from reports.arms import pairing_findings, write_pairs
from reports.build import ReportConfig, build_report
from reports.stability import RESAMPLES
from reports.table import filter_rows, read_results
from trainer import rundir
from trainer.results import read_rows
from trainer.rundir import RESULTS_FILE

#: What ``--pair-recipes`` writes into the report folder.


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
@click.option(
    "--pair-recipes",
    metavar="REFERENCE",
    help="Compare every recipe with the REFERENCE recipe seed by seed (paired by train_seed; one row per recipe and "
    "seed), first in each experiment's section; prints the differences with their intervals and tests and writes "
    "paired_recipes.csv. Default: a recipe whose masks are drawn per seed (random-filters) is the reference.",
)
@click.option(
    "--predict",
    is_flag=True,
    help="Also fit accuracy from the plans' graph metrics (ridge, density as a covariate), score it by "
    "leave-one-plan-out against density alone and the best single metric, and save it as predictor.json for "
    "topo rank --predictor.",
)
@click.option(
    "--resamples",
    type=click.IntRange(0, 100_000),
    default=RESAMPLES,
    show_default=True,
    help="Resamples of the plans and of the seeds within each plan for the stability of every correlation and "
    "ranking (stability.csv; the findings lead with what holds in at least 90% of them); 0 skips it.",
)
@click.option(
    "--check-against",
    "stored",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="STORED",
    help="A stored results table of the same experiment (e.g. docs/runs/demo/results.csv): also print whether each "
    "configuration's accuracy agrees with it within the spread over seeds, and every claim of the report that changed.",
)
@friendly_errors
def report(
    results, out, accuracy, model, dataset, epochs, bootstrap, seed, pair_recipes, predict, resamples, stored
) -> None:
    """Relate graph metrics to accuracy over the runs of RESULTS (results.csv; shards are merged).

    A table that mixes configurations (models, data sets, epochs, lr, model or recipe options,
    ...) gets one section per experiment, each named by the fields that differ.

    Dense runs of several models on one data set and schedule are one experiment comparing the
    models at their counted cost, paired by seed against the largest.

    Writes summary.csv, correlations.csv, stability.csv (how often each correlation holds when
    plans and seeds are drawn again), ranking.csv (configurations ranked at each cost level,
    when some share one), paired.csv (arms paired by seed: models, or recipes against a control),
    figures/*.png, report.html (self-contained) and report.md into --out,
    prints the findings and the path of report.html. Run directories beside a results table that
    have no row in it (killed or still running) are named in a notice.
    """
    pairs = None
    if pair_recipes:  # checked before anything is written
        pairs = pair_table(filter_rows(read_results(list(results)), model, dataset, epochs), pair_recipes)
    for line in _runs_without_rows(results):
        click.echo(f"notice: {line}", err=True)
    config = ReportConfig(
        tuple(results), out, accuracy, model, dataset, epochs, bootstrap, seed, pair_recipes, predict, resamples
    )
    built = build_report(config, progress=lambda line: click.echo(f"report: {line}", err=True))
    for line in built.findings:
        click.echo(f"- {line}")
    if pairs is not None:
        _print_pairs(pairs, pair_recipes, out)
    for section in built.sections:
        if section.predictor is not None:
            click.echo(f"predictor: {section.predictor}")
    if stored is not None:
        _print_check(config, built, stored)
    click.echo(str(built.html))


def _print_check(config: ReportConfig, built, stored: Path) -> None:
    """``--check-against``: the stored table reported as the fresh one was (in a scratch folder), then compared."""
    with tempfile.TemporaryDirectory(prefix="topoprune-stored-") as scratch:
        again = build_report(dataclasses.replace(config, results=(stored,), out=Path(scratch), predict=False))
    for line in check_lines(built.sections, again.sections, str(stored)):
        click.echo(f"check: {line}")


def _print_pairs(table, reference: str, out: Path) -> None:
    """``--pair-recipes``: the seed-by-seed table, written (reports.arms.write_pairs) and printed."""
    written = write_pairs(table, out)
    click.echo(f"recipes against {reference}, seed by seed ({written}):")
    for _, line in table.iterrows():
        spread = f" ± {line['acc_std']:.2f}" if line["acc_std"] == line["acc_std"] else ""
        label = f"{line['accuracy']:9s} {line['recipe']:16s}"
        click.echo(f"  {label} {line['acc_mean']:6.2f}{spread} over {line['n_seeds']} seed(s)")
    for finding in pairing_findings(table, reference):
        click.echo(f"- {finding}")


def _runs_without_rows(results) -> list[str]:
    """One line per results table whose folder holds run directories without a row in it."""
    lines = []
    for path in results:
        path = Path(path)
        if not path.is_file():
            continue
        listed = {row["run_id"] for row in read_rows(path.parent)} if path.name == RESULTS_FILE else set()
        missing = [run.name for run in rundir.run_dirs(path.parent) if run.name not in listed]
        if missing and path.name == RESULTS_FILE:
            shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
            lines.append(
                f"{path.parent}: {len(missing)} run director(ies) have no row in {path.name} (killed, still running, "
                f"or their append failed: train --resume RUN appends a kept row): {shown}"
            )
    return lines


def main() -> None:
    """Console entry point of ``report``."""
    report()


if __name__ == "__main__":
    main()
