"""Numbers in README.md and docs/ come from runs stored under docs/runs/<name>/ (results.csv and
run.json); docs/architecture.md, "Stored runs", says how.

    python -m tests.stored_runs store NAME RESULTS.csv --command "make demo"   # keep a run
    python -m tests.stored_runs write                                         # regenerate every quote

A quote is the part of a document between ``<!-- stored run: NAME -->`` and ``<!-- end stored
run: NAME -->``: what ``report`` says of the stored table, its design read from the table (and a
table of every arm per seed when the report compares arms), and its figures (copied beside the
document, stamped with the table's sha256).
``tests/test_stored_runs.py`` re-runs the report and names every sentence that changed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, PngImagePlugin

from common.atomic import atomic_write_text
from common.columns import STEP_LOG_FILE
from reports.build import SEARCH_HEADING, ReportConfig, build_report
from reports.paired import compare_models, model_cost_figure
from reports.stability_text import stability_lines
from reports.stats import merge_seed_draws, plan_summary
from tests.stored_arms import arms_design, arms_table

ROOT = Path(__file__).parents[1]
RUNS = ROOT / "docs" / "runs"
DOCUMENTS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
QUOTE = re.compile(
    r"<!-- stored run: (?P<name>[\w-]+)(?P<mode> stable(?: with (?P<other>[\w-]+))?)? -->\n(?P<body>.*?)"
    r"<!-- end stored run: (?P=name) -->",
    re.S,
)
STAMP = "topoprune-results-sha256"  # PNG text chunk: which stored table a figure was drawn from
#: Figures under docs/ not drawn from a stored run yet, each with the run that would replace it.
UNSTORED_FIGURES: dict[str, str] = {}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hardware() -> str:
    """The CPU model and core count of this machine (what a stored run's time was measured on)."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        model = found.group(1).strip() if found else model
    return f"{os.cpu_count()} cores of {model}"


def training_minutes(table: pd.DataFrame) -> float:
    """Wall time from the first run's start to the last run's end (``created`` minus ``train_seconds``)."""
    end = pd.to_datetime(table["created"], utc=True, format="ISO8601")
    start = end - pd.to_timedelta(pd.to_numeric(table["train_seconds"]), unit="s")
    return (end.max() - start.min()).total_seconds() / 60


def store(
    name: str, results: Path, command: str, note: str = "", report: dict | None = None, models_table: bool = False
) -> Path:
    """Copy a run's results table to docs/runs/NAME/ with run.json (command, hardware, wall time,
    the ``report`` options it is read with) and each run's search log beside it, if it has one."""
    folder = RUNS / name
    folder.mkdir(parents=True, exist_ok=True)
    table = pd.read_csv(results)
    shutil.copyfile(results, folder / "results.csv")
    for run_id in table["run_id"].astype(str):
        log = results.parent / run_id / STEP_LOG_FILE
        if log.is_file():
            (folder / run_id).mkdir(exist_ok=True)
            shutil.copyfile(log, folder / run_id / STEP_LOG_FILE)
    meta = {
        "command": command,
        "hardware": hardware(),
        "training_minutes": round(training_minutes(table), 1),
        "torch": sorted(table["torch_version"].dropna().astype(str).unique()),
        "runs": len(table),
        "note": note,
        "report": report or {},
        "models_table": models_table,
    }
    atomic_write_text(folder / "run.json", json.dumps(meta, indent=2) + "\n")
    return folder


def _listed(values) -> str:
    """A few distinct values one by one, many as their range."""
    distinct = sorted(set(values))
    if len(distinct) > 6:
        return f"{distinct[0]:.3g} to {distinct[-1]:.3g}"
    return " / ".join(f"{v:.3g}" for v in distinct)


def _plans_part(plans: pd.DataFrame) -> str:
    """The plan graphs: how many of each generator, their degrees, path lengths and clustering."""
    per_plan = plans.groupby("plan_sha256")
    generators = ", ".join(f"{g} {n}" for g, n in per_plan["generator"].first().value_counts().items())
    degrees = sorted(per_plan["degree"].first().unique())
    return (
        f"{per_plan.ngroups} plan graphs ({generators}; degree{'s' if len(degrees) > 1 else ''} {_listed(degrees)}; "
        f"aspl {plans['aspl'].min():.2f} to {plans['aspl'].max():.2f}; clustering {plans['clustering'].min():.2f} to "
        f"{plans['clustering'].max():.2f})"
    )


def design(table: pd.DataFrame) -> str:
    """The stored run's design in one sentence, read from its table."""
    masked = table[table["recipe"] != "dense"]
    configurations = plan_summary(merge_seed_draws(masked))["recipe"].value_counts()
    plans = masked[masked["plan_sha256"].notna() & (masked["plan_sha256"].astype(str) != "")]
    seeds = sorted(int(s) for s in table["train_seed"].unique())
    parts = [
        f"{configurations.sum()} configurations ({', '.join(f'{r} {n}' for r, n in configurations.items())})",
        *([_plans_part(plans)] if len(plans) else []),
        f"keeping {_listed(masked['density'].round(4))} of the masked weights",
        f"training seeds {', '.join(map(str, seeds))}",
        f"{(epochs := int(table['epochs'].iloc[0]))} epoch{'s' if epochs != 1 else ''} of {table['model'].iloc[0]} "
        f"on {table['dataset'].iloc[0]}",
    ]
    dense = ", and the dense model at every seed" if (table["recipe"] == "dense").any() else ""
    return "; ".join(parts) + dense


def report_of(name: str, out: Path):
    """``report --predict`` on a stored run, with the options its run.json names (``pair_with``, ``predict``)."""
    meta = json.loads((RUNS / name / "run.json").read_text())
    options = {"predict": True, **meta.get("report", {})}
    built = build_report(ReportConfig((RUNS / name / "results.csv",), out, **options))
    if meta.get("models_table") and built.sections[0].pairs is None:  # its figure: the models at their counted cost
        rows = pd.read_csv(RUNS / name / "results.csv")
        built.main_figure = model_cost_figure(rows, compare_models(rows, "best_acc")[0], "best_acc", out / "models.png")
    return built


def figures_of(built) -> dict[str, Path]:
    """``{kind: figure}``: the report's main figure, and EDropout's search per step where it has one
    (each is copied to ``docs/NAME-KIND.png``)."""
    searched = [path for heading, path in built.sections[0].content if heading == SEARCH_HEADING]
    return {"main": built.main_figure, **({"search": searched[0]} if searched else {})}


def figure_link(document: Path, name: str, kind: str) -> str:
    return os.path.relpath(ROOT / "docs" / f"{name}-{kind}.png", document.parent)


FIGURE_CAPTIONS = {"main": "The main figure of the report on the stored run", "search": "EDropout's search per step in"}


def report_command(options: dict) -> str:
    """The ``report`` command line a stored run is read with (run.json's ``report`` options)."""
    predict = " --predict" if options.get("predict", True) else ""
    paired = f" --pair-recipes {options['pair_with']}" if options.get("pair_with") else ""
    return f"report{predict}{paired}"


def quote(document: Path, match: re.Match, reports: dict) -> str:
    """The text between a quote's markers in ``document``: every finding of the run; or (mode
    ``stable``) the first and those that say how stable the findings are; or (``stable with
    OTHER``) only what holds in both runs, each share the lower of the two."""
    name, other = match["name"], match["other"]
    folder = RUNS / name
    meta = json.loads((folder / "run.json").read_text())
    table = pd.read_csv(folder / "results.csv")
    link = os.path.relpath(folder, document.parent)
    built = reports[name]
    pairs = built.sections[0].pairs
    if other:
        lines = [built.findings[0], *shared_stable_lines(built, reports[other])]
        other_link = os.path.relpath(RUNS / other, document.parent)
        scope = (
            f" (the first finding, then only what holds on the stored run [`{other_link}`]({other_link}/run.json) "
            "too: each share the lower of the two runs', and under the control for density the higher)"
        )
    elif match["mode"]:
        lines, scope = (
            [built.findings[0], *built.sections[0].stable_lines],
            " (the first finding, then how stable each is)",
        )
    else:
        lines, scope = built.findings, ""
    arms = pairs is not None
    table_pairs = compare_models(table, "best_acc")[0] if meta.get("models_table") and not arms else pairs
    text = [
        f"From the stored run [`{link}`]({link}/run.json): `{meta['command']}`, {meta['runs']} training runs in "
        f"{meta['training_minutes']} minutes (first start to last finish) on {meta['hardware']}, torch "
        f"{', '.join(meta['torch'])}{f' ({note})' if (note := meta.get('note')) else ''}. "
        f"Design: {arms_design(pairs, table) if arms else design(table)}. "
        f"What `{report_command(meta.get('report', {}))}` says of it{scope}:",
        "",
        *[f"- {line}" for line in lines],
        "",
        *([*arms_table(table_pairs, table, "best_acc"), ""] if table_pairs is not None else []),
        *[f"![{FIGURE_CAPTIONS[kind]} {name}]({figure_link(document, name, kind)})\n" for kind in figures_of(built)],
    ]
    return "\n".join(text)


def shared_stable_lines(first, second) -> list[str]:
    """The stability sentences for what both runs' reports find: every share the lower of the two
    (the share holding under the control for density the higher); no best configuration."""
    a, b = first.sections[0].stability, second.sections[0].stability
    shares = [c for c in ("holds", "holds_seeds", "holds_plans", "strongest", "holds_partial") if c in a and c in b]
    both = a.merge(b[["metric", *shares]], on="metric", suffixes=("", "_other"))
    for column in shares:
        pick = np.fmax if column == "holds_partial" else np.fmin
        both[column] = pick(both[column], both[f"{column}_other"])
    plans = first.sections[0].summary
    seeds = int(plans.loc[~plans["is_baseline"], "n_seeds"].min())
    return stability_lines(both.drop(columns=[f"{c}_other" for c in shares]), seeds, None)


def _quoted(match: re.Match, document: Path, reports: dict) -> str:
    name, mode = match["name"], match["mode"] or ""
    return f"<!-- stored run: {name}{mode} -->\n{quote(document, match, reports)}<!-- end stored run: {name} -->"


def stamp_figure(source: Path, target: Path, results: Path) -> None:
    """Copy a PNG, recording which results table it was drawn from."""
    info = PngImagePlugin.PngInfo()
    info.add_text(STAMP, sha256(results))
    with Image.open(source) as image:
        image.save(target, pnginfo=info)


def figure_stamp(path: Path) -> str | None:
    with Image.open(path) as image:
        return image.text.get(STAMP)


def write() -> list[Path]:
    """Regenerate every quote in README.md and docs/ and its figure; the documents changed."""
    with tempfile.TemporaryDirectory() as scratch:
        reports: dict = {}
        return [document for document in DOCUMENTS if _rewrite(document, reports, Path(scratch))]


def _rewrite(document: Path, reports: dict, scratch: Path) -> bool:
    """Regenerate the quotes of one document (reporting each stored run once); whether it changed."""
    text = document.read_text()
    missing = {m["name"] for m in QUOTE.finditer(text) if not (RUNS / m["name"] / "results.csv").is_file()}
    for name in sorted(missing):
        print(f"{document.relative_to(ROOT)}: docs/runs/{name} is not stored yet; its quote is left as it is")
    for match in (m for m in QUOTE.finditer(text) if m["name"] not in missing):
        for name in filter(None, (match["name"], match["other"])):
            if name not in reports:
                reports[name] = report_of(name, scratch / name)
        name = match["name"]
        for kind, figure in figures_of(reports[name]).items():
            stamp_figure(figure, ROOT / "docs" / f"{name}-{kind}.png", RUNS / name / "results.csv")
    new = QUOTE.sub(lambda m: m[0] if m["name"] in missing else _quoted(m, document, reports), text)
    if new != text:
        atomic_write_text(document, new)
    return new != text


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.stored_runs", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="action", required=True)
    keep = commands.add_parser("store", help="keep a run's results table under docs/runs/NAME")
    keep.add_argument("name")
    keep.add_argument("results", type=Path)
    keep.add_argument("--command", required=True, help="the command that made the run, as a reader would type it")
    keep.add_argument("--note", default="", help="what a reader of its time should know (other work running, ...)")
    keep.add_argument("--pair-with", help="read it as report --pair-recipes RECIPE does")
    keep.add_argument("--no-predict", action="store_true", help="no accuracy predictor (runs without plans)")
    keep.add_argument(
        "--models-table", action="store_true", help="quote a per-seed table of its models (each against the largest)"
    )
    commands.add_parser("write", help="regenerate every quote of a stored run in README.md and docs/")
    args = parser.parse_args(argv)
    if args.action == "store":
        report = {"pair_with": args.pair_with} if args.pair_with else {}
        report.update({"predict": False} if args.no_predict else {})
        print(store(args.name, args.results, args.command, args.note, report, args.models_table))
    else:
        for document in write():
            print(f"updated {document.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
