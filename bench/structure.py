"""Measure the code's structure: longest functions, where file and recipe names are spelled, imports.

Run with ``python bench/structure.py``; docs/architecture.md quotes its output. It reads the
source as text and syntax trees; only the last measurement runs code: a sweep's job planning on
three small plans (no training), counting the run identities it computes.
"""

from __future__ import annotations

import ast
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("common", "topology", "pruning", "trainer", "sweeps", "reports", "cli")
#: File names a run directory, a ``prune apply`` output, a compiled model or a results folder holds.
FILE_NAMES = (
    "config.json",
    "log.csv",
    "checkpoint.pt",
    "best.pt",
    "masks.npz",
    "masks.csv",
    "masks.json",
    "result.json",
    "results.csv",
    "summary.csv",
    "summary.json",
    "model.pt",
    "compile.json",
    "metrics.csv",
    "results.columns.json",
)
RECIPE_NAMES = (
    "relational",
    "xnet",
    "rreg-bipartite",
    "random-bipartite",
    "dense",
    "model",
    "masks",
    "edropout",
    "random-filters",
)


def source_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else []


def longest_functions(count: int = 8) -> list[tuple[int, str]]:
    """The ``count`` longest functions (lines from ``def`` to their last line) with their places."""
    found = []
    for package in PACKAGES:
        for path in source_files(package):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found.append((node.end_lineno - node.lineno + 1, f"{path.relative_to(ROOT)}:{node.name}"))
    return sorted(found, reverse=True)[:count]


def string_places(names: tuple[str, ...]) -> dict[str, set[str]]:
    """For each name, the modules that spell it as a whole string literal (docstrings aside)."""
    places: dict[str, set[str]] = defaultdict(set)
    for package in PACKAGES:
        for path in source_files(package):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            docstrings = {
                id(node.body[0].value)
                for node in ast.walk(tree)
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and node.body
                and isinstance(node.body[0], ast.Expr)
                and isinstance(node.body[0].value, ast.Constant)
            }
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                    if node.value in names:
                        places[node.value].add(str(path.relative_to(ROOT)))
    return places


def package_imports() -> dict[str, Counter]:
    """package -> Counter of the project packages its modules import (modules importing each)."""
    imports: dict[str, Counter] = {}
    for package in PACKAGES:
        counter: Counter = Counter()
        for path in source_files(package):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            seen = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    seen.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    seen.add(node.module.split(".")[0])
            counter.update(name for name in seen if name in PACKAGES and name != package)
        if source_files(package):
            imports[package] = counter
    return imports


def train_config_fields() -> list[str]:
    """The field names of TrainConfig, read from trainer/config.py's syntax tree."""
    tree = ast.parse((ROOT / "trainer" / "config.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "TrainConfig":
            return [n.target.id for n in node.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)]
    return []


def option_spellings() -> dict[str, int]:
    """For each training option, the modules that spell its flag (``--lr``) or its name as a string
    literal: 0 means only its declaration spells it (as a field name)."""
    fields = train_config_fields()
    names = tuple(name for field in fields for name in (field, "--" + field.replace("_", "-")))
    places = string_places(names)
    return {f: len(places.get(f, set()) | places.get("--" + f.replace("_", "-"), set())) for f in fields}


def longest_modules(count: int = 5) -> list[tuple[int, str]]:
    found = [
        (len(path.read_text(encoding="utf-8").splitlines()), str(path.relative_to(ROOT)))
        for package in PACKAGES
        for path in source_files(package)
    ]
    return sorted(found, reverse=True)[:count]


def identity_computations(plans: int = 3, seeds: int = 3) -> tuple[int, int]:
    """(jobs, identities the driver computes) for a sweep of ``plans`` plans plus the baseline,
    ``seeds`` seeds each, through the planning ``train sweep`` does (job specs, then status).
    The worker computes one more per job it trains: the check against the claimed hash."""
    import tempfile

    sys.path.insert(0, str(ROOT))
    import trainer.identity
    from sweeps import planning
    from topology.build import GenerateConfig, make_plans
    from trainer.config import TrainConfig

    calls = 0
    original = trainer.identity.identify

    def counted(config):
        nonlocal calls
        calls += 1
        return original(config)

    with tempfile.TemporaryDirectory() as folder:
        make_plans(GenerateConfig("rreg", {"nodes": 16, "degree": 4}, count=plans, out=Path(folder) / "plans"))
        jobs = planning.sweep_jobs(Path(folder) / "plans", seeds)
        template = TrainConfig(out=Path(folder) / "runs")
        planning.identify = counted  # the name sweeps.planning calls
        try:
            planning.sweep_status(planning.job_specs(template, jobs), template.out)
        finally:
            planning.identify = original
    return len(jobs), calls


def long_lines(limit: int = 120) -> int:
    return sum(
        len(line) > limit
        for package in (*PACKAGES, "tests", "bench")
        for path in source_files(package)
        for line in path.read_text(encoding="utf-8").splitlines()
    )


def main() -> int:
    print("longest functions (lines):")
    for lines, place in longest_functions():
        print(f"  {lines:4d}  {place}")
    for title, names in (("file names", FILE_NAMES), ("recipe names", RECIPE_NAMES)):
        print(f"{title}: modules that spell each as a string literal")
        places = string_places(names)
        for name in names:
            modules = sorted(places.get(name, ()))
            print(f"  {name:16s} {len(modules)}  {' '.join(modules)}")
    spellings = option_spellings()
    print(
        f"training options: {len(spellings)}; modules spelling an option's flag or name as a string, beyond its "
        f"declaration: mean {sum(spellings.values()) / max(1, len(spellings)):.2f}, max {max(spellings.values())} "
        f"({', '.join(f for f, n in spellings.items() if n == max(spellings.values()))})"
    )
    print("longest modules (lines):")
    for lines, place in longest_modules():
        print(f"  {lines:4d}  {place}")
    print("imports between packages (package: imported package x modules):")
    for package, counter in package_imports().items():
        print(f"  {package:9s} " + ", ".join(f"{name} x{count}" for name, count in sorted(counter.items())))
    print(f"lines over 120 characters: {long_lines()}")
    jobs, identities = identity_computations()
    print(
        f"a sweep of 3 plans + baseline x 3 seeds: {jobs} jobs, {identities} identities computed by the driver "
        f"({identities / jobs:.2f} per job), plus 1 per job in the worker that trains it"
    )
    print(
        "design-document citations in code:",
        sum(
            bool(re.search(r"DESIGN\.md", path.read_text(encoding="utf-8")))
            for package in PACKAGES
            for path in source_files(package)
        ),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
