"""One call for ``report``: results tables in, summary.csv, correlations.csv, figures, HTML out."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from common.atomic import atomic_write_text
from common.columns import BASELINE_RECIPE
from reports import figures
from reports.arms import pair_arms, pairing_findings
from reports.compare import comparison_findings, rank_at_equal_cost, ranking_for_people
from reports.experiments import Experiment, split_experiments
from reports.findings import HEADLINE, baseline_lines, equal_cost_findings, summarise, sweet_spot_region
from reports.page import MAIN_FIGURE, render_html, render_markdown
from reports.paired import compare_models, model_cost_figure, model_findings, paired_figure
from reports.predict import PREDICTOR_FILE, predict_accuracy, prediction_figure, prediction_findings
from reports.published import published_findings, published_table
from reports.stability import RESAMPLES, STABLE, best_shares, correlation_stability
from reports.stability_text import stability_lines
from reports.stats import (
    MIN_PLANS,
    SEED_DRAWN,
    adjust_correlations,
    correlate,
    merge_seed_draws,
    plan_summary,
    sweet_spot_tests,
)
from reports.steps import step_log_figure, step_logs
from reports.table import CANDIDATE_METRICS, ReportError, filter_rows, missing_metric_rows, read_results


@dataclass(frozen=True)
class ReportConfig:
    """What a report covers and how its statistics are computed."""

    results: tuple[Path, ...]  # results.csv files (shards are merged)
    out: Path = Path("report")  # output directory
    accuracy: str = "best_acc"  # best_acc (test acc at best validation epoch) or final_acc
    model: str | None = None  # restrict to one model (default: every experiment, one section each)
    dataset: str | None = None  # restrict to one data set
    epochs: int | None = None  # restrict to one epoch count
    bootstrap: int = 2000  # bootstrap resamples for confidence intervals
    seed: int = 0  # seed of the bootstrap
    pair_with: str | None = None  # the control recipe every recipe is paired with by seed (default: a per-seed draw)
    predict: bool = False  # fit accuracy from graph metrics, scored by leave-one-plan-out (reports.predict)
    resamples: int = RESAMPLES  # resamples of plans and seeds for the stability of each finding (reports.stability)


@dataclass
class Section:
    """One experiment's part of the report."""

    title: str
    slug: str
    findings: list[str]
    content: list[tuple[str, object]]  # (heading, DataFrame / PNG path / list of paths / text)
    main_figure: Path
    summary: pd.DataFrame  # one row per configuration, its per-seed ``accuracies`` included
    correlations: pd.DataFrame
    ranking: pd.DataFrame  # configurations ranked at each cost level (empty when nothing shares one)
    pairs: pd.DataFrame | None = None  # arms against the reference arm, seed by seed (reports.arms)
    stability: pd.DataFrame | None = None  # each correlation's stability under resampling (reports.stability)
    stable_lines: tuple[str, ...] = ()  # the findings that say how stable the others are
    predictor: Path | None = None  # the fitted accuracy predictor (report --predict)


@dataclass
class Report:
    """Paths written, the findings, and the statistics of every experiment (``experiment`` column)."""

    html: Path
    markdown: Path
    main_figure: Path
    findings: list[str]
    summary: pd.DataFrame
    correlations: pd.DataFrame
    sections: list[Section]


def _section(experiment: Experiment, config: ReportConfig, figures_dir: Path) -> Section:
    """Statistics, figures and findings of one experiment; it leads with the figure of its kind."""
    figures_dir.mkdir(parents=True, exist_ok=True)
    if experiment.compares_models:
        return _model_section(experiment, config, figures_dir)
    rows = merge_seed_draws(experiment.rows)
    control = _control(rows, config.pair_with)
    if control:
        return _control_section(experiment, rows, control, config, figures_dir)
    summary = plan_summary(rows, config.accuracy)
    plans = summary[~summary["is_baseline"]]
    metrics = [
        m for m in CANDIDATE_METRICS if m in plans.columns and pd.to_numeric(plans[m], errors="coerce").notna().any()
    ]
    correlations = {m: correlate(summary, m, config.seed, config.bootstrap) for m in metrics}
    adjust_correlations(list(correlations.values()))
    summary = summary.join(sweet_spot_tests(summary))
    stability, stable_lines = _stability(summary, correlations, config)
    ranking = rank_at_equal_cost(rows, config.accuracy, config.resamples, config.seed)
    cost_lines = equal_cost_findings(rows)
    drawn = _figures(experiment, summary, correlations, ranking, bool(cost_lines), figures_dir)
    kind, main = _kind_and_main_figure(drawn, ranking, cost_lines, correlations)

    summary_table = summary.drop(columns=["accuracies"])
    correlation_table = pd.DataFrame([c.as_row() for c in correlations.values()])
    findings = summarise(list(correlations.values()), summary, summary["sweet_spot"], config.accuracy)
    findings[1:1] = cost_lines + stable_lines
    findings += sweet_spot_region(summary, summary["sweet_spot"])
    ranked = None
    if len(ranking) and ranking["level"].duplicated().any():  # at least two configurations share a cost level
        after = 1 + len(cost_lines) + len(stable_lines)
        findings[after:after] = comparison_findings(ranking)
        ranked = (RANKING_HEADING, ranking_for_people(ranking))
    missing = missing_metric_rows(rows)
    if len(missing):
        findings.append(
            f"{len(missing)} row(s) have a plan but missing graph metrics; they are listed below and left out of the "
            "correlations."
        )
    content = _content(kind, main, drawn, ranked, summary_table, correlation_table, cost_lines, missing)
    content[1 if main is not None else 0 : 1 if main is not None else 0] = _stability_part(stability, figures_dir)
    published = published_table(rows)
    if published is not None:  # what the experiment targets, first after the main figure
        findings[1:1] = published_findings(published)
        content.insert(1 if main is not None else 0, (PUBLISHED_HEADING, published))
    content += _search_part(rows, config, figures_dir)
    for frame in (summary, correlation_table):
        frame.insert(0, "experiment", experiment.title)
    return Section(
        experiment.title,
        experiment.slug,
        findings,
        content,
        main,
        summary,
        correlation_table,
        ranking,
        stability=stability.assign(experiment=experiment.title) if len(stability) else None,
        stable_lines=tuple(stable_lines),
    )


def _stability(summary: pd.DataFrame, correlations: dict, config: ReportConfig) -> tuple[pd.DataFrame, list[str]]:
    """Each correlation's stability under resampling, the best plan's share of seed resamples
    (written into ``summary`` as ``best_share``), and the sentences that say them."""
    plans = summary[~summary["is_baseline"]]
    if not len(plans) or config.resamples == 0:
        return pd.DataFrame(), []
    observed = {metric: c.spearman_rho for metric, c in correlations.items()}
    partial = {m: c.partial_rho for m, c in correlations.items() if "density is the same" not in c.note}
    table = correlation_stability(summary, observed, config.resamples, config.seed, partial or None)
    if len(table):
        table.insert(2, "spearman_p_holm", [correlations[m].spearman_p_holm for m in table["metric"]])
        if partial:
            table["partial_p_holm"] = [correlations[m].partial_rho_p_holm for m in table["metric"]]
    summary.loc[plans.index, "best_share"] = best_shares(plans["accuracies"], config.resamples, config.seed)
    best = summary.loc[plans["acc_mean"].idxmax()]
    lines = stability_lines(
        table, int(plans["n_seeds"].min()), (best["plan"], best["best_share"]) if len(plans) > 1 else None
    )
    return table, lines


STABILITY_HEADING = (
    f"Stability under resampling (plans drawn with replacement and seeds within each plan; a finding holds when its "
    f"sign is kept and its Holm-adjusted p < 0.05; stable: holds in at least {STABLE:.0%})"
)


def _stability_part(stability: pd.DataFrame, figures_dir: Path) -> list[tuple[str, object]]:
    if not len(stability):
        return []
    figure = figures.stability_figure(stability, figures_dir / "stability.png", STABLE)
    columns = ["metric", "spearman_rho", "spearman_p_holm", "holds", "holds_seeds", "holds_plans", "same_sign"]
    columns += ["strongest", "partial_rho", "partial_p_holm", "holds_partial", "same_as", "n_plans"]
    parts = [(STABILITY_HEADING, figure)] if figure is not None else []
    return parts + [("Stability of each correlation", stability[[c for c in columns if c in stability.columns]])]


SEARCH_HEADING = "Search per step (EDropout's search_log.csv of each run)"


def _search_part(rows: pd.DataFrame, config: ReportConfig, figures_dir: Path) -> list[tuple[str, Path]]:
    """The runs' per-step search logs beside the results tables, drawn (EDropout), or nothing."""
    logs = step_logs(rows, [Path(p).parent for p in config.results])
    searched = step_log_figure(logs, figures_dir / "search.png")
    return [] if searched is None else [(SEARCH_HEADING, searched)]


def _add_prediction(section: Section, rows: pd.DataFrame, config: ReportConfig, figures_dir: Path, path: Path) -> None:
    """``--predict``: the cross-validated prediction's finding, figure and saved predictor, or
    why this experiment has none."""
    try:
        predictor, scores, predicted = predict_accuracy(rows, config.accuracy, config.seed, config.bootstrap)
    except ReportError as error:
        section.findings.append(f"No accuracy predictor: {error}.")
        return
    predictor.save(path)
    section.findings += prediction_findings(predictor, scores)
    figure = prediction_figure(predicted, figures_dir / "predicted.png")
    section.content.append((f"Accuracy predicted for plans left out of the fit (predictor: {path.name})", figure))
    section.predictor = path


def _control(rows: pd.DataFrame, pair_with: str | None) -> str | None:
    """The recipe the others are paired with: ``pair_with`` when the rows have it, else a recipe
    whose masks are a per-seed draw; only when another recipe than the dense baseline is there."""
    recipes = set(rows["recipe"].astype(str))
    if pair_with is None and "masks_sha256" in rows.columns:
        drawn = rows.loc[rows["masks_sha256"] == SEED_DRAWN, "recipe"].astype(str)
        pair_with = drawn.iloc[0] if len(drawn) else None
    return pair_with if pair_with in recipes and len(recipes - {BASELINE_RECIPE, pair_with}) > 0 else None


def _control_section(experiment, rows, control: str, config: ReportConfig, figures_dir: Path) -> Section:
    """Recipes against their control, paired by training seed (EDropout against random filters at
    its kept counts): the answer, its figure and table; then each configuration's accuracy."""
    pairs = pair_arms(rows, "recipe", control)
    order = sorted(pairs["recipe"].unique(), key=lambda r: (r == BASELINE_RECIPE, r == control))
    pairs = pairs.set_index("recipe").loc[order].reset_index()
    lead = pairing_findings(pairs[pairs["accuracy"] == config.accuracy], control)
    summary = plan_summary(rows, config.accuracy)
    findings = lead + baseline_lines(summary)
    main = paired_figure(pairs, control, "recipe", figures_dir / "paired.png")
    content = [(MAIN_FIGURE, main)] if main is not None else []
    content.append((PAIRED_HEADING, pairs))
    shown = ["plan", "recipe", "density", "params_kept", "acc_mean", "acc_std", "n_seeds"]
    summary = summary.drop(columns=["accuracies"])
    content.append(("Configurations (mean and std over seeds)", summary[[c for c in shown if c in summary.columns]]))
    content += _search_part(rows, config, figures_dir)
    summary.insert(0, "experiment", experiment.title)
    return Section(
        experiment.title, experiment.slug, findings, content, main, summary, pd.DataFrame(), pd.DataFrame(), pairs
    )


def _model_section(experiment: Experiment, config: ReportConfig, figures_dir: Path) -> Section:
    """Models compared at their counted cost, paired by seed against the largest."""
    rows = experiment.rows
    table, reference = compare_models(rows, config.accuracy)
    findings = model_findings(table, reference)
    main = model_cost_figure(rows, table, config.accuracy, figures_dir / "models.png")
    columns = ["configuration", "acc_mean", "acc_std", "n_seeds", "params_kept", "params_kept_share", "macs_kept",
               "macs_kept_share", "n_pairs", "diff", "diff_ci_low", "diff_ci_high", "test", "p_holm"]  # fmt: skip
    content = [(MAIN_FIGURE, main)] if main is not None else []
    content.append((MODELS_HEADING, table[[c for c in columns if c in table.columns]]))
    published = published_table(rows)
    if published is not None:
        findings[1:1] = published_findings(published)
        content.insert(1 if main is not None else 0, (PUBLISHED_HEADING, published))
    summary = table.drop(columns=["accuracy"]).rename(columns={"configuration": "plan"}).assign(is_baseline=False)
    summary.insert(0, "experiment", experiment.title)
    return Section(
        experiment.title, experiment.slug, findings, content, main, summary, pd.DataFrame(), pd.DataFrame(), table
    )


PUBLISHED_HEADING = (
    "The published number beside ours (measured as the paper measured it; mean and std over seeds; docs/fidelity.md)"
)
#: Every section's arms paired by seed against its reference (models, or recipes against a control).
PAIRED_FILE = "paired.csv"
STABILITY_FILE = "stability.csv"
PAIRED_HEADING = (
    "Paired by training seed (mean and std over seeds; differences with a 95% t-interval from 3 pairs on; the test "
    "the pairs allow, Holm over the differences)"
)
MODELS_HEADING = (
    "Models at their counted cost (shares of the largest model's; accuracy mean and std over seeds; paired by seed "
    "against the largest, Holm over the models)"
)
RANKING_HEADING = (
    "Ranked at each cost level (paired over seeds: difference to the best with a 95% t-interval from 3 seeds on; "
    "the test the seeds allow, Holm-adjusted within the level)"
)


def _figures(experiment, summary, correlations, ranking, equal_cost: bool, figures_dir: Path) -> dict:
    """Every figure the experiment's data supports; a figure that would say nothing (one x value,
    an unreadable legend) is not drawn and is absent from the dict."""
    figures_dir.mkdir(parents=True, exist_ok=True)
    plans = summary[~summary["is_baseline"]]
    varying = [m for m in correlations if pd.to_numeric(plans[m], errors="coerce").nunique() > 1]
    if len(plans) < MIN_PLANS:  # no correlation is computed: a fitted line through 2-3 points says nothing
        varying = []
    headline = [m for m in HEADLINE if m in varying] or varying[:4]
    title = "clustering vs path length at equal MACs, coloured by accuracy" if equal_cost else None
    drawn = {
        "scatters": [
            figures.metric_scatter(summary, m, correlations[m], figures_dir / f"scatter_{m}.png") for m in varying
        ],
        "map": figures.clustering_path_map(summary, summary["sweet_spot"], figures_dir / "clustering_aspl.png", title),
        "density": figures.density_plot(summary, figures_dir / "density.png"),
        "recipes": figures.recipe_plot(ranking, summary, figures_dir / "recipes.png") if len(ranking) else None,
    }
    if headline:
        drawn["metrics"] = figures.main_figure(
            summary, headline, correlations, figures_dir / "main.png", f"Graph metrics vs accuracy ({experiment.title})"
        )
    return {name: figure for name, figure in drawn.items() if figure}


def _kind_and_main_figure(drawn: dict, ranking: pd.DataFrame, cost_lines: list, correlations: dict):
    """What the experiment is, and the figure it leads with: graph2nn's map for plans held at equal
    cost, accuracy vs cost by recipe for a comparison of recipes, metric vs accuracy for plans."""
    recipes = ranking["recipe"].nunique() if len(ranking) else 0
    if cost_lines and "map" in drawn:
        return "graph2nn", drawn["map"]
    if recipes > 1 and "recipes" in drawn:
        return "recipes", drawn["recipes"]
    for name in ("metrics", "recipes", "density", "map"):
        if name in drawn:
            return "plans", drawn[name]
    return "plans", None


def _content(kind, main, drawn, ranked, summary_table, correlation_table, cost_lines, missing) -> list:
    """The section's parts in reading order: the main figure, then what explains it."""
    content: list[tuple[str, object]] = [(MAIN_FIGURE, main)] if main is not None else []
    if ranked is not None and kind == "recipes":
        content.append(ranked)
    correlation_columns = [
        "metric", "n_plans", "spearman_rho", "spearman_ci_low", "spearman_ci_high", "spearman_p", "spearman_p_holm",
        "pearson_r", "pearson_p", "kendall_tau", "kendall_p", "partial_rho", "partial_rho_p_holm", "note",
    ]  # fmt: skip
    content.append(
        (
            "Correlations with accuracy (over plans, each the mean over its seeds; CIs by bootstrap over plans; Holm "
            "over the metrics; partial: controlling for density)",
            correlation_table[[c for c in correlation_columns if c in correlation_table.columns]]
            if len(correlation_table)
            else "no metrics to correlate",
        )
    )
    varying = [Path(path).stem.removeprefix("scatter_") for path in drawn.get("scatters", [])]
    plan_columns = [
        "plan",
        "acc_mean",
        "acc_std",
        "n_seeds",
        "best_share",
        "sweet_spot",
        "generator",
        "degree",
        *varying,
        "density",
    ]
    plan_columns += [*(["width", "macs_kept"] if cost_lines else []), "sweet_spot_p_holm"]  # the answer first
    content.append(
        (
            "Plans (mean and std over seeds; metrics that vary; summary.csv has them all)",
            summary_table[[c for c in plan_columns if c in summary_table.columns]],
        )
    )
    if ranked is not None and kind != "recipes":
        content.append(ranked)
    extra = [
        ("Clustering vs path length (red rings: sweet spot)", drawn.get("map")),
        ("Accuracy at equal cost, by recipe", drawn.get("recipes")),
        ("Accuracy vs density", drawn.get("density")),
    ]
    content += [(heading, figure) for heading, figure in extra if figure is not None and figure != main]
    if drawn.get("scatters"):
        content.append(("Every metric", drawn["scatters"]))
    if len(missing):
        table = missing[["run_id", "plan", "plan_sha256"]] if "run_id" in missing else missing
        content.append(("Rows with missing metrics", table))
    return content


def _headline(summary: pd.DataFrame) -> str:
    """One line per experiment for the top of a multi-experiment page: its best configuration and the baseline."""
    compared = summary[~summary["is_baseline"]]
    words = []
    if len(compared):
        best = compared.loc[compared["acc_mean"].idxmax()]
        words.append(
            f"{len(compared)} configuration(s); best {best['plan']} at {best['acc_mean']:.2f}% over "
            f"{int(best['n_seeds'])} seed(s)"
        )
    for _, row in summary[summary["is_baseline"]].iterrows():
        words.append(f"dense baseline {row['acc_mean']:.2f}% over {int(row['n_seeds'])} seed(s)")
    return "; ".join(words) + "."


def build_report(config: ReportConfig, progress: Callable[[str], None] = lambda line: None) -> Report:
    """Read, split into experiments, analyse, draw and write the report into ``config.out``.

    One section per experiment (see :mod:`reports.experiments`); a table of one experiment
    keeps its figures in ``figures/``, several get ``figures/<experiment>/`` each.
    """
    read = read_results(list(config.results))
    notices = [f"notice: {line}" for line in read.attrs.get("notices", [])]
    table = filter_rows(read, config.model, config.dataset, config.epochs)
    experiments = split_experiments(table)
    out = config.out
    if (out / "figures").is_dir():
        shutil.rmtree(out / "figures")  # figures of an earlier report here would be stale (the report owns this folder)
    single = len(experiments) == 1
    sections = []
    for number, experiment in enumerate(experiments, start=1):
        progress(f"experiment {number}/{len(experiments)}: {experiment.title} ({len(experiment.rows)} rows)")
        figures_dir = out / "figures" if single else out / "figures" / experiment.slug
        sections.append(_section(experiment, config, figures_dir))
        if config.predict:
            path = out / (PREDICTOR_FILE if single else f"{experiment.slug}.{PREDICTOR_FILE}")
            _add_prediction(sections[-1], experiment.rows, config, figures_dir, path)

    summary = pd.concat([s.summary for s in sections], ignore_index=True).drop(columns=["accuracies"], errors="ignore")
    correlations = pd.concat([s.correlations for s in sections], ignore_index=True)
    atomic_write_text(out / "summary.csv", summary.to_csv(index=False, lineterminator="\n"))
    atomic_write_text(out / "correlations.csv", correlations.to_csv(index=False, lineterminator="\n"))
    rankings = [s.ranking.assign(experiment=s.title) for s in sections if len(s.ranking)]
    if rankings:
        atomic_write_text(
            out / "ranking.csv", pd.concat(rankings, ignore_index=True).to_csv(index=False, lineterminator="\n")
        )
    stabilities = [s.stability for s in sections if s.stability is not None]
    if stabilities:
        atomic_write_text(
            out / STABILITY_FILE, pd.concat(stabilities, ignore_index=True).to_csv(index=False, lineterminator="\n")
        )
    pairs = [s.pairs.assign(experiment=s.title) for s in sections if s.pairs is not None]
    if pairs:
        paired = pd.concat(pairs, ignore_index=True)
        atomic_write_text(out / PAIRED_FILE, paired.to_csv(index=False, lineterminator="\n"))

    findings = (
        list(sections[0].findings)
        if single
        else [
            f"{len(sections)} experiments: the table's runs differ in their configuration beyond plan, recipe and "
            "seed, so each is reported on its own.",
            *[f"{s.title}: {s.findings[0] if s.pairs is not None else _headline(s.summary)}" for s in sections],
        ]
    )
    findings = notices + findings
    title = f"topoprune report: {sections[0].title}" if single else f"topoprune report: {len(sections)} experiments"
    parts = [(None if single else s.title, s.slug, [] if single else s.findings, s.content) for s in sections]
    html_path, markdown_path = out / "report.html", out / "report.md"
    atomic_write_text(html_path, render_html(title, findings, parts))
    atomic_write_text(markdown_path, render_markdown(title, findings, parts, out))
    return Report(html_path, markdown_path, sections[0].main_figure, findings, summary, correlations, sections)
