"""Find plans among files, directories (searched recursively) and glob patterns."""

from __future__ import annotations

import glob
import json
import zipfile
from collections.abc import Iterable
from pathlib import Path

from topology.errors import PlanError
from topology.plans import EXTENSIONS, PLAN_FORMAT

#: Characters of a plan CSV (a headerless 0/1 matrix); a table's header line has others.
MATRIX_CSV_CHARACTERS = frozenset("01,\r\n")


def _is_matrix_csv(path: Path) -> bool:
    """Whether a CSV starts like a plan's 0/1 matrix rather than a table with a header line
    (metrics, results, summaries, logs written beside plans or runs)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            start = handle.read(4096)
    except OSError:
        return False
    return bool(start) and start[0] in "01" and set(start) <= MATRIX_CSV_CHARACTERS


def _is_plan_candidate(path: Path) -> bool:
    """Whether a file met while scanning a directory should be read as (part of) a plan."""
    if path.suffix == ".csv":
        return not path.name.endswith("_information.csv") and _is_matrix_csv(path)
    if path.suffix == ".json":
        try:
            with path.open(encoding="utf-8") as handle:
                return json.load(handle).get("format") == PLAN_FORMAT
        except (OSError, ValueError, AttributeError, RecursionError):
            return False
    if path.suffix == ".npz":
        return is_plan_npz(path)
    return path.suffix in (".npy", ".edges")


def is_plan_npz(path: Path) -> bool:
    """Whether a .npz holds a sparse matrix (a plan) rather than, say, a run's masks.npz."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = {name.removesuffix(".npy") for name in archive.namelist()}
    except (OSError, zipfile.BadZipFile):
        return False
    return {"shape", "format"} <= names


def _primary(stem: Path, found: set[str]) -> Path:
    """The file that names a plan: the first of its files in ``EXTENSIONS`` order (.npy, .npz,
    .csv, .edges, .json)."""
    for ext in EXTENSIONS:
        if ext in found:
            return stem.with_name(stem.name + ext)
    raise AssertionError("a plan stem always has a file")


def find_plans(patterns: Iterable[str | Path]) -> list[Path]:
    """One path per plan named by ``patterns``, sorted, without duplicates.

    Parameters
    ----------
    patterns : iterable of str or Path
        Plan files (any of the three extensions), directories (every plan below them) or glob
        patterns (``plans/*.npy``, ``runs/**/M*.npy``). A plan with several files counts once.
        Directories are scanned for .npy, sparse .npz, .csv (0/1 matrices, not tables),
        .edges and plan .json files.

    Raises
    ------
    PlanError
        If a pattern matches nothing or names a file that is not a plan file.
    """
    stems: dict[Path, set[str]] = {}
    for pattern in patterns:
        pattern = str(pattern)
        path = Path(pattern)
        if path.is_dir():
            matches = [
                p for p in sorted(path.rglob("*")) if p.suffix in EXTENSIONS and p.is_file() and _is_plan_candidate(p)
            ]
        elif path.is_file():
            if path.suffix not in EXTENSIONS:
                raise PlanError(f"{path}: not a plan file (expected {', '.join(EXTENSIONS)})")
            matches = [path]
        elif glob.has_magic(pattern):
            matches = [Path(p) for p in sorted(glob.glob(pattern, recursive=True))]
            matches = [p for p in matches if p.is_file() and p.suffix in EXTENSIONS and _is_plan_candidate(p)]
            if not matches:
                raise PlanError(f"{pattern}: no plan files match this pattern")
        else:
            raise PlanError(f"{path}: no such file or directory")
        for match in matches:
            stems.setdefault(match.with_suffix(""), set()).add(match.suffix)
    return sorted(_primary(stem, found) for stem, found in stems.items())
