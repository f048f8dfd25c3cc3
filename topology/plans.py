"""Plan files (DESIGN.md 2.2): ``NAME.npy`` + ``NAME.csv`` + ``NAME.json`` side by side.

Any one of the three files identifies a plan. Loading validates the matrix (shape, symmetry,
0/1 values, diagonal) and, when the JSON is present, its format and SHA-256, and names the file
and the problem when something is wrong. RGP's published ``Adjacency/<n>/<d>/M<k>.npy`` matrices
load as plans too, with the reference metrics of their ``<n>_<d>_information.csv``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from topology import __version__
from topology.atomic import atomic_write_bytes, atomic_write_text
from topology.errors import PlanError
from topology.graph import BIPARTITE, GRAPH, KINDS, edge_count, sha256_of, validate_matrix

PLAN_FORMAT = "topoprune.plan/1"
EXTENSIONS = (".npy", ".csv", ".json")
RGP_MATRIX = re.compile(r"^M(\d+)\.npy$")
RGP_INFORMATION = re.compile(r"^(\d+)_(\d+)_information\.csv$")


@dataclass(frozen=True)
class Plan:
    """A graph (or bipartite layer graph) with where it came from.

    Attributes
    ----------
    matrix : numpy.ndarray of uint8
        (n, n) adjacency, or (n_out, n_in) biadjacency when ``kind == "bipartite"``.
    kind : {"graph", "bipartite"}
    generator : str or None
        Registry name of the generator, ``"rgp"`` for RGP files, None when unknown.
    params : dict
        The generator's parameters.
    seed : int or None
    metrics : dict
        ``{metric name: value}`` as computed when the plan was made (may be empty).
    created : str or None
        ISO 8601 UTC time the plan was made.
    path : pathlib.Path or None
        The file the plan was loaded from (None for a plan not yet saved).
    reference : dict
        Metrics published alongside the matrix elsewhere (RGP's information CSV), if any.
    """

    matrix: np.ndarray
    kind: str = GRAPH
    generator: str | None = None
    params: dict = field(default_factory=dict)
    seed: int | None = None
    metrics: dict = field(default_factory=dict)
    created: str | None = None
    path: Path | None = None
    reference: dict = field(default_factory=dict)

    @property
    def nodes(self) -> int:
        """n for a graph; n_out (rows) for a biadjacency."""
        return int(self.matrix.shape[0])

    @property
    def edges(self) -> int:
        return edge_count(self.matrix, self.kind)

    @property
    def sha256(self) -> str:
        return sha256_of(self.matrix)


# --- JSON with non-finite numbers as strings (strict JSON for other tools) ---------------------


def encode_json(value):
    """``value`` with non-finite floats as the strings "inf", "-inf", "nan" (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {key: encode_json(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_json(v) for v in value]
    if isinstance(value, np.generic):
        return encode_json(value.item())
    return value


def decode_json_metrics(metrics: dict) -> dict:
    return {key: float(v) if v in ("inf", "-inf", "nan") else v for key, v in metrics.items()}


# --- saving -----------------------------------------------------------------------------------


def matrix_to_csv(matrix: np.ndarray) -> str:
    """Comma-separated 0/1 rows, no header, one line per row (built as one byte array)."""
    rows, cols = matrix.shape
    text = np.full((rows, 2 * cols), ord(","), dtype=np.uint8)
    text[:, 0::2] = matrix.astype(np.uint8) + ord("0")
    text[:, -1] = ord("\n")
    return text.tobytes().decode("ascii")


def plan_metadata(plan: Plan) -> dict:
    """The JSON document of DESIGN.md 2.2 for ``plan``."""
    document = {
        "format": PLAN_FORMAT,
        "kind": plan.kind,
        "generator": plan.generator,
        "params": plan.params,
        "seed": plan.seed,
        "nodes": plan.nodes,
        "edges": plan.edges,
        "sha256": plan.sha256,
        "metrics": plan.metrics,
        "created": plan.created or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "topoprune_version": __version__,
    }
    if plan.kind == BIPARTITE:
        document["nodes_in"] = int(plan.matrix.shape[1])
    if plan.reference:
        document["reference"] = plan.reference
    return encode_json(document)


def save_plan(plan: Plan, directory: str | Path, name: str, formats: tuple[str, ...] = ("npy", "csv", "json")) -> Path:
    """Write ``plan`` as ``directory/name.{npy,csv,json}`` (each file atomically).

    Returns
    -------
    pathlib.Path
        The path of the first written file (``.npy`` by default), which identifies the plan.
    """
    directory = Path(directory)
    unknown = [f for f in formats if f not in ("npy", "csv", "json")]
    if unknown or not formats:
        raise PlanError(f"{directory / name}: unknown plan format(s) {unknown}; use npy, csv, json")
    matrix = validate_matrix(plan.matrix, plan.kind, str(directory / name))
    written = []
    for fmt in formats:
        target = directory / f"{name}.{fmt}"
        if fmt == "npy":
            buffer = io.BytesIO()
            np.save(buffer, matrix, allow_pickle=False)
            atomic_write_bytes(target, buffer.getvalue())
        elif fmt == "csv":
            atomic_write_text(target, matrix_to_csv(matrix))
        else:
            atomic_write_text(target, json.dumps(plan_metadata(plan), indent=2, allow_nan=False) + "\n")
        written.append(target)
    return written[0]


# --- loading ----------------------------------------------------------------------------------


def plan_files(path: str | Path) -> dict[str, Path]:
    """The existing files of the plan that ``path`` (any of its files, or the bare stem) names."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in EXTENSIONS else path
    return {ext: stem.with_name(stem.name + ext) for ext in EXTENSIONS if stem.with_name(stem.name + ext).is_file()}


def _read_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise PlanError(f"{path}: not a readable .npy matrix ({str(error).splitlines()[0]})") from None


def _read_csv(path: Path) -> np.ndarray:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PlanError(f"{path}: cannot read ({error})") from None
    rows = [line for line in text.splitlines() if line.strip()]
    if not rows:
        raise PlanError(f"{path}: file is empty")
    try:
        values = [[float(cell) for cell in row.split(",")] for row in rows]
    except ValueError as error:
        raise PlanError(f"{path}: not a comma-separated numeric matrix ({error})") from None
    widths = {len(row) for row in values}
    if len(widths) > 1:
        raise PlanError(f"{path}: rows have different lengths {sorted(widths)}")
    return np.array(values)


def _read_json(path: Path) -> dict:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PlanError(f"{path}: not readable plan JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") != PLAN_FORMAT:
        raise PlanError(f"{path}: not a topoprune plan (expected \"format\": \"{PLAN_FORMAT}\")")
    if document.get("kind", GRAPH) not in KINDS:
        raise PlanError(f"{path}: kind {document.get('kind')!r} is not one of {', '.join(KINDS)}")
    return document


def read_rgp_information(path: str | Path) -> dict[str, dict]:
    """Rows of an RGP ``<n>_<d>_information.csv``, keyed by matrix file name (``M<k>.npy``).

    The header is ``Date Finished, Nodes, Degree, Dir, Path, Cluster, Tranvity`` (separators
    ``", "`` or ``","``): ``Dir`` is the matrix path and ``Path`` its average shortest path.

    Returns
    -------
    dict
        ``{"M0.npy": {"aspl": ..., "clustering": ..., "transitivity": ...}, ...}``
    """
    path = Path(path)
    try:
        reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8")), skipinitialspace=True)
        header = [cell.strip() for cell in next(reader)]
    except (OSError, UnicodeDecodeError, StopIteration) as error:
        raise PlanError(f"{path}: cannot read RGP information file ({error or 'empty'})") from None
    wanted = ["Dir", "Path", "Cluster", "Tranvity"]
    if any(column not in header for column in wanted):
        raise PlanError(f"{path}: RGP information header must contain {', '.join(wanted)}; got {', '.join(header)}")
    where = {column: header.index(column) for column in wanted}
    rows = {}
    for number, row in enumerate(reader, start=2):
        if not row:
            continue
        try:
            name = row[where["Dir"]].strip().replace("\\", "/").rsplit("/", 1)[-1]
            rows[name] = {
                "aspl": float(row[where["Path"]]),
                "clustering": float(row[where["Cluster"]]),
                "transitivity": float(row[where["Tranvity"]]),
            }
        except (IndexError, ValueError) as error:
            raise PlanError(f"{path}: line {number} is not a valid RGP row ({error})") from None
    return rows


def _rgp_details(npy_path: Path) -> tuple[dict, dict]:
    """(params, reference metrics) for an RGP ``.../<n>/<d>/M<k>.npy``, or empty dicts."""
    if not RGP_MATRIX.match(npy_path.name):
        return {}, {}
    for info in sorted(npy_path.parent.glob("*_information.csv")):
        match = RGP_INFORMATION.match(info.name)
        if match:
            params = {"nodes": int(match.group(1)), "degree": int(match.group(2))}
            return params, read_rgp_information(info).get(npy_path.name, {})
    return {}, {}


def load_plan(path: str | Path) -> Plan:
    """Load and validate the plan named by ``path`` (its ``.npy``, ``.csv`` or ``.json``, or stem).

    The matrix comes from the ``.npy`` if present, else the ``.csv``; the ``.json`` supplies the
    metadata and is checked against the matrix (kind, shape, SHA-256).

    Raises
    ------
    PlanError
        Naming the file and what is wrong with it.
    """
    path = Path(path)
    files = plan_files(path)
    if path.suffix in EXTENSIONS and not path.is_file():
        raise PlanError(f"{path}: no such file")
    if not files:
        raise PlanError(f"{path}: no plan file ({', '.join(EXTENSIONS)}) found")
    if ".npy" in files:
        source, raw = files[".npy"], _read_npy(files[".npy"])
    elif ".csv" in files:
        source, raw = files[".csv"], _read_csv(files[".csv"])
    else:
        raise PlanError(f"{files['.json']}: no .npy or .csv matrix beside this plan JSON")
    document = _read_json(files[".json"]) if ".json" in files else {}
    kind = document.get("kind", GRAPH)
    matrix = validate_matrix(raw, kind, str(source))
    if document:
        _check_against_json(matrix, document, files[".json"])
        return Plan(
            matrix=matrix,
            kind=kind,
            generator=document.get("generator"),
            params=document.get("params") or {},
            seed=document.get("seed"),
            metrics=decode_json_metrics(document.get("metrics") or {}),
            created=document.get("created"),
            path=source,
            reference=document.get("reference") or {},
        )
    params, reference = _rgp_details(source)
    return Plan(matrix=matrix, kind=kind, generator="rgp" if params else None, params=params, path=source, reference=reference)


def _check_against_json(matrix: np.ndarray, document: dict, json_path: Path) -> None:
    expected = document.get("sha256")
    if expected and expected != sha256_of(matrix):
        raise PlanError(f"{json_path}: sha256 does not match the matrix (the matrix file was changed or the JSON belongs to another plan)")
    nodes = document.get("nodes")
    if nodes is not None and nodes != matrix.shape[0]:
        raise PlanError(f"{json_path}: says {nodes} nodes but the matrix has {matrix.shape[0]} rows")
