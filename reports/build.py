"""One call for ``report``: results tables in, summary.csv, correlations.csv, figures, HTML out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from reports import figures
from reports.findings import HEADLINE, summarise
from reports.page import render_html, render_markdown
from reports.stats import correlate, plan_summary, sweet_spot
from reports.table import CANDIDATE_METRICS, read_results, select_experiment
from topology.atomic import atomic_write_text


@dataclass(frozen=True)
class ReportConfig:
    """What a report covers and how its statistics are computed."""

    results: tuple[Path, ...]  # results.csv files (shards are merged)
    out: Path = Path("report")  # output directory
    accuracy: str = "best_acc"  # best_acc (test acc at best validation epoch) or final_acc
    model: str | None = None  # restrict to one model (default: the most frequent experiment)
    dataset: str | None = None  # restrict to one data set
    epochs: int | None = None  # restrict to one epoch count
    bootstrap: int = 2000  # bootstrap resamples for confidence intervals
    seed: int = 0  # seed of the bootstrap


@dataclass
class Report:
    """Paths written and the findings."""

    html: Path
    markdown: Path
    main_figure: Path
    findings: list[str]
    summary: pd.DataFrame
    correlations: pd.DataFrame


def build_report(config: ReportConfig) -> Report:
    """Read, analyse, draw and write the report into ``config.out``."""
    table = read_results(list(config.results))
    selection = select_experiment(table, config.model, config.dataset, config.epochs)
    summary = plan_summary(selection.rows, config.accuracy)
    plans = summary[~summary["is_baseline"]]
    metrics = [m for m in CANDIDATE_METRICS if m in plans.columns and pd.to_numeric(plans[m], errors="coerce").notna().any()]
    correlations = {m: correlate(summary, m, config.seed, config.bootstrap) for m in metrics}
    summary["sweet_spot"] = sweet_spot(summary)
    varying = [m for m in metrics if pd.to_numeric(plans[m], errors="coerce").nunique() > 1]

    out = config.out
    (out / "figures").mkdir(parents=True, exist_ok=True)
    experiment = ", ".join(f"{k}={v}" for k, v in selection.experiment.items())
    headline = [m for m in HEADLINE if m in correlations] or metrics[:4]
    scatters = [figures.metric_scatter(summary, m, correlations[m], out / "figures" / f"scatter_{m}.png") for m in varying]
    cluster_map = figures.clustering_path_map(summary, summary["sweet_spot"], out / "figures" / "clustering_aspl.png")
    density = figures.density_plot(summary, out / "figures" / "density.png")
    if headline:
        main = figures.main_figure(summary, headline, correlations, out / "figures" / "main.png", f"Graph metrics vs accuracy ({experiment})")
    else:  # no plan has graph metrics (only baselines or per-layer recipes): density is what there is
        main = density

    summary_table = summary.drop(columns=["accuracies"])
    correlation_table = pd.DataFrame([c.as_row() for c in correlations.values()])
    atomic_write_text(out / "summary.csv", summary_table.to_csv(index=False, lineterminator="\n"))
    atomic_write_text(out / "correlations.csv", correlation_table.to_csv(index=False, lineterminator="\n"))

    findings = summarise(list(correlations.values()), summary, summary["sweet_spot"], config.accuracy)
    if selection.other_rows:
        findings.append(f"{selection.other_rows} row(s) of other experiments are not in this report (choose them with --model/--dataset/--epochs).")
    if len(selection.missing_metric_rows):
        findings.append(f"{len(selection.missing_metric_rows)} row(s) have a plan but missing graph metrics; they are listed below and left out of the correlations.")
    shown_columns = ["metric", "n_plans", "spearman_rho", "spearman_ci_low", "spearman_ci_high", "spearman_p", "pearson_r", "pearson_p",
                     "kendall_tau", "kendall_p", "partial_rho", "partial_rho_p", "note"]
    sections: list[tuple[str, object]] = [
        ("Main figure", main),
        ("Correlations with accuracy (over plans; CIs by bootstrap over plans; partial: controlling for density)",
         correlation_table[[c for c in shown_columns if c in correlation_table.columns]] if len(correlation_table) else "no metrics to correlate"),
        ("Plans", summary_table[[c for c in ["plan", "generator", "degree", *metrics, "density", "acc_mean", "acc_std", "n_seeds", "sweet_spot"] if c in summary_table.columns]]),
    ]
    if cluster_map is not None:
        sections.append(("Clustering vs path length (red rings: sweet spot)", cluster_map))
    sections += [("Accuracy vs density", density), ("Every metric", scatters)]
    if len(selection.missing_metric_rows):
        sections.append(("Rows with missing metrics", selection.missing_metric_rows[["run_id", "plan", "plan_sha256"]] if "run_id" in selection.missing_metric_rows else selection.missing_metric_rows))
    title = f"topoprune report: {experiment}"
    html_path, markdown_path = out / "report.html", out / "report.md"
    atomic_write_text(html_path, render_html(title, findings, sections))
    atomic_write_text(markdown_path, render_markdown(title, findings, sections, out))
    return Report(html_path, markdown_path, main, findings, summary_table, correlation_table)
