"""``topo``: generate, analyse, sweep and draw graphs (plans)."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import (
    FINITE_FLOAT,
    comma_list,
    format_option,
    friendly_errors,
    memory_budget_option,
    path_options,
    progress,
    sampling_options,
    seed_option,
)
from common import __version__
from common.atomic import atomic_write_text
from common.errors import ParameterError
from topology.analysis import analyze_plans, check_metric_names
from topology.build import GenerateConfig, make_plans, save_drafts
from topology.discovery import find_plans
from topology.drawing import draw_plan
from topology.generators import GENERATORS
from topology.graph import DENSE_MAX_NODES
from topology.metrics import compute_metrics
from topology.plans import FILE_FORMATS, load_plan
from topology.sweeps import SWEEPS, SweepConfig
from topology.tables import METRICS_FILE, metrics_frame, to_csv, to_json, to_table

#: Columns of the human-readable table printed by ``gen`` and ``sweep``.
KEY_COLUMNS = (
    "nodes",
    "edges",
    "degree_mean",
    "connected",
    "aspl",
    "aspl_ci95_low",
    "aspl_ci95_high",
    "aspl_sources",
    "diameter",
    "clustering",
    "transitivity",
    "spectral_gap",
    "lambda_nontrivial",
    "ramanujan",
    "algebraic_connectivity",
    "nodes_in",
    "density",
    "out_degree_mean",
    "in_degree_min",
    "in_degree_max",
    "isolated_inputs",
    "ramanujan_margin",
)


def _render(rows: list[tuple[str, dict]], fmt: str, key_columns_only: bool = False) -> str:
    if fmt == "json":
        return to_json(rows)
    frame = metrics_frame(rows)
    if fmt == "csv":
        return to_csv(frame)
    if key_columns_only:
        frame = frame[["plan", *[c for c in KEY_COLUMNS if c in frame.columns]]]
    return to_table(frame)


def _file_formats(_ctx, _param, value: str) -> tuple[str, ...]:
    formats = tuple(f.strip() for f in value.split(",") if f.strip())
    if formats == ("auto",):
        return formats
    bad = [f for f in formats if f not in FILE_FORMATS]
    if bad or not formats:
        raise click.BadParameter(f"use auto or a comma-separated subset of {','.join(FILE_FORMATS)}, got {value!r}")
    return formats


save_option = click.option(
    "--save",
    "formats",
    default="auto",
    show_default=True,
    callback=_file_formats,
    help=f"Plan files to write: auto (npy,csv,json up to {DENSE_MAX_NODES:,} nodes; npz,json above) or a "
    "comma-separated subset of "
    f"{','.join(FILE_FORMATS)}.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="topoprune")
def topo() -> None:
    """Generate, score and draw the graphs (plans) that wire pruned networks."""


overwrite_option = click.option(
    "--overwrite", is_flag=True, help="Replace plans of the same names that hold other graphs (refused otherwise)."
)


@topo.command()
@click.option(
    "--generator",
    "-g",
    type=click.Choice(sorted(GENERATORS)),
    default="rreg",
    show_default=True,
    help="Graph family (registry name).",
)
@click.option("--nodes", "-n", type=int, help="Nodes n (for bipartite generators: output channels).")
@click.option(
    "--degree",
    "-d",
    type=FINITE_FLOAT,
    help="Degree d (ws-flex and er: real-valued mean degree; bipartite: inputs per output).",
)
@click.option(
    "--p",
    "p",
    type=FINITE_FLOAT,
    help="Probability: rewiring (ws, ws-flex) or edge probability (er, random-bipartite).",
)
@click.option("--nodes-in", type=int, help="Bipartite generators: input channels (default: --nodes).")
@click.option(
    "--density", type=FINITE_FLOAT, help="Bipartite generators: fraction of kept connections instead of --degree."
)
@click.option("--connected/--no-connected", default=None, help="er, ws-flex: redraw until connected.")
@click.option(
    "--count",
    "-k",
    type=int,
    default=1,
    show_default=True,
    help="Plans to make: seeds seed..seed+K-1, or K points of a swap-chain.",
)
@seed_option()
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("plans"),
    show_default=True,
    help="Directory for the plan files and metrics.csv.",
)
@click.option("--name", help="Plan name (default: generator and parameters, e.g. rreg_n64_d4_s0).")
@save_option
@click.option(
    "--metrics",
    "-m",
    multiple=True,
    callback=comma_list,
    help="Metrics to compute and store, comma-separated (default: all).",
)
@sampling_options
@format_option()
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option(
    "--overwrite", is_flag=True, help="Replace plans of the same names that hold other graphs (refused otherwise)."
)
@memory_budget_option()
@friendly_errors
def gen(
    generator,
    nodes,
    degree,
    p,
    nodes_in,
    density,
    connected,
    count,
    seed,
    out,
    name,
    formats,
    metrics,
    sample_sources,
    sample_seed,
    fmt,
    quiet,
    overwrite,
) -> None:
    """Generate plans and print their metrics.

    \b
    Examples:
      topo gen --nodes 64 --degree 4                       # random 4-regular, seed 0
      topo gen -g swap-chain -n 64 -d 4 --count 8          # 8 graphs spanning the ASPL range
      topo gen -g ws-flex -n 64 -d 4.5 --p 0.2 --count 5   # graph2nn WS-flex, seeds 0..4
      topo gen -g xnet -n 128 --nodes-in 64 -d 8           # bipartite layer graph
      topo gen -n 1000000 -d 8 -m aspl --sample-sources 256  # sparse: .npz + .json

    Above 5,000 nodes the graph is built sparse and saved as .npz + .json (--save npz forces
    it for any size); metrics are computed on the sparse graph.
    """
    params = {
        "nodes": nodes,
        "degree": degree,
        "p": p,
        "nodes_in": nodes_in,
        "density": density,
        "connected": connected,
    }
    check_metric_names(metrics)
    chosen = tuple(metrics) if metrics else None
    config = GenerateConfig(generator, params, seed, count, out, name, formats, chosen, overwrite)
    saved = make_plans(
        config,
        progress=lambda items: progress(items, "generating", quiet),
        path_options=path_options(sample_sources, sample_seed, quiet),
    )
    click.echo(_render([(str(path), plan.metrics) for path, plan in saved], fmt, key_columns_only=True), nl=False)
    click.echo(f"wrote {len(saved)} plan(s) to {out} (metrics in {out / METRICS_FILE})", err=True)


@topo.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--metrics", "-m", multiple=True, callback=comma_list, help="Metrics to compute, comma-separated (default: all)."
)
@format_option(default=None)
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the results to this file instead of printing them.",
)
@click.option(
    "--reference",
    is_flag=True,
    help="Show published values (RGP's information CSV) as <metric>_reference columns beside ours.",
)
@sampling_options
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@memory_budget_option()
@friendly_errors
def analyze(paths, metrics, fmt, out, reference, sample_sources, sample_seed, quiet) -> None:
    """Compute metrics of plans: files, directories (recursive) or glob patterns.

    A plan counts once however many of its .npy/.npz/.csv/.edges/.json files are named; RGP's
    Adjacency/<n>/<d>/M<k>.npy layout is read too. Large graphs (.npz, .edges) stay sparse;
    --sample-sources K estimates their ASPL. Output is a table, or --format csv|json
    (the CSV has the layout of a plan directory's metrics.csv). A published value that differs
    from ours by more than 1e-9 is reported on stderr, one line per metric.
    """
    if fmt is None:
        fmt = {".csv": "csv", ".json": "json"}.get(out.suffix if out else "", "table")
    plan_paths = find_plans(paths)
    rows = analyze_plans(
        plan_paths,
        metrics,
        progress=lambda items: progress(items, "analysing", quiet),
        reference=reference,
        on_mismatch=lambda line: click.echo(f"warning: {line}", err=True),
        path_options=path_options(sample_sources, sample_seed, quiet),
    )
    text = _render(rows, fmt)
    if out:
        atomic_write_text(out, text)
        click.echo(f"wrote {len(rows)} plan(s) to {out}", err=True)
    else:
        click.echo(text, nl=False)


@topo.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--predictor",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A predictor written by report --predict (predictor.json in its report folder).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@memory_budget_option()
@friendly_errors
def rank(paths, predictor, quiet) -> None:
    """Rank plans never trained by the accuracy a fitted predictor expects of them.

    PATHS are plan files, directories or glob patterns, as for analyze. Each plan's metrics are
    computed exactly, then its accuracy is predicted with a 95% interval (the predictor's
    cross-validated error, plus or minus 1.96 times). A plan whose metrics lie outside the range
    the predictor was fitted on is refused, naming the metric: it would be extrapolation.
    """
    from reports.predict import Predictor, rank_plans

    model = Predictor.load(predictor)
    rows = analyze_plans(find_plans(paths), model.metrics, progress=lambda items: progress(items, "analysing", quiet))
    click.echo(to_table(rank_plans(model, rows)), nl=False)


def _int_list(_ctx, _param, value: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated whole numbers, got {value!r}") from None


@topo.command()
@click.option(
    "--design",
    type=click.Choice(sorted(SWEEPS)),
    required=True,
    help="graph2nn: WS-flex over (clustering, ASPL) bins; aspl: swap-chain per degree.",
)
@click.option("--nodes", "-n", type=int, default=64, show_default=True, help="Nodes per graph.")
@click.option(
    "--degrees",
    default="4",
    show_default=True,
    callback=_int_list,
    help="aspl design: comma-separated degrees, one chain each.",
)
@click.option("--count", "-k", type=int, default=8, show_default=True, help="aspl design: graphs per degree.")
@click.option(
    "--samples",
    type=int,
    default=1500,
    show_default=True,
    help="graph2nn design: WS-flex graphs sampled before binning.",
)
@click.option(
    "--bins",
    type=int,
    default=15,
    show_default=True,
    help="graph2nn design: bins per axis of the clustering x ASPL grid.",
)
@seed_option()
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("plans"),
    show_default=True,
    help="Directory for the plans and metrics.csv.",
)
@save_option
@format_option()
@click.option(
    "--overwrite", is_flag=True, help="Replace plans of the same names that hold other graphs (refused otherwise)."
)
@friendly_errors
def sweep(design, nodes, degrees, count, samples, bins, seed, out, formats, fmt, overwrite) -> None:
    """Write a family of plans that covers a metric space, with metrics.csv."""
    if not degrees:
        raise ParameterError("--degrees needs at least one degree")
    config = SweepConfig(nodes=nodes, degrees=degrees, count=count, samples=samples, bins=bins, seed=seed)
    notes: list[str] = []
    drafts = SWEEPS.get(design)(config, notes)
    saved = save_drafts(drafts, out, formats=formats, overwrite=overwrite)
    for note in notes:
        click.echo(f"notice: {note}", err=True)
    click.echo(_render([(str(path), plan.metrics) for path, plan in saved], fmt, key_columns_only=True), nl=False)
    click.echo(f"{len(saved)} plans written to {out} (metrics in {out / METRICS_FILE})", err=True)


@topo.command()
@click.argument("plan", type=click.Path(path_type=Path))
@click.option(
    "--out", "-o", type=click.Path(dir_okay=False, path_type=Path), help="PNG to write (default: <plan name>.png here)."
)
@friendly_errors
def show(plan, out) -> None:
    """Draw a plan on a circle beside its adjacency matrix, key metrics in the title."""
    loaded = load_plan(plan)
    metrics = loaded.metrics or compute_metrics([loaded.matrix], kind=loaded.kind)[0]
    target = draw_plan(loaded, metrics, out or Path(f"{Path(plan).with_suffix('').name}.png"))
    click.echo(str(target))


def main() -> None:
    """Console entry point of ``topo``."""
    topo()


if __name__ == "__main__":
    main()
