"""Plan files (docs/architecture.md, plan files): ``NAME.npy`` + ``NAME.csv`` + ``NAME.json`` side by side, or for
large graphs ``NAME.npz`` (scipy.sparse CSR) + ``NAME.json``; ``NAME.edges`` (two node ids per
line) is read and written too.

Any one of the files identifies a plan. Loading validates the matrix (shape, symmetry, 0/1
values, diagonal, node ids) and, when the JSON is present, its format and SHA-256, and names the
file and the problem when something is wrong. Every reader checks the memory budget
(``common.memory``) from the file's header or size before it allocates. RGP's published
``Adjacency/<n>/<d>/M<k>.npy`` matrices
load as plans too, with the reference metrics of their ``<n>_<d>_information.csv``.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import warnings
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from common import __version__
from common.atomic import atomic_open, atomic_write_bytes, atomic_write_text
from common.jsonio import decode_json_metrics, encode_json, json_text, read_json
from common.memory import MemoryBudgetError, format_bytes, require_memory
from topology.errors import PlanError
from topology.graph import (
    BIPARTITE,
    GRAPH,
    KINDS,
    as_dense,
    canonical_csr,
    edge_count,
    resolve_form,
    sha256_of,
    sparse_from_pairs,
    validate_matrix,
)

PLAN_FORMAT = "topoprune.plan/1"
#: Plan file extensions, in the order a matrix is read from (the JSON holds no matrix).
EXTENSIONS = (".npy", ".npz", ".csv", ".edges", ".json")
FILE_FORMATS = tuple(ext.lstrip(".") for ext in EXTENSIONS)
#: ``formats=("auto",)``: these files for a dense matrix, those for a sparse one.
DENSE_FORMATS = ("npy", "csv", "json")
SPARSE_FORMATS = ("npz", "json")
#: Keys of a sparse plan .npz (scipy.sparse.save_npz's layout, so scipy.sparse.load_npz reads it).
NPZ_KEYS = ("indices", "indptr", "format", "shape", "data")
RGP_MATRIX = re.compile(r"^M(\d+)\.npy$")
RGP_INFORMATION = re.compile(r"^(\d+)_(\d+)_information\.csv$")


@dataclass(frozen=True)
class Plan:
    """A graph (or bipartite layer graph) with where it came from.

    Attributes
    ----------
    matrix : numpy.ndarray of uint8 or scipy.sparse.csr_array
        (n, n) adjacency, or (n_out, n_in) biadjacency when ``kind == "bipartite"``; sparse
        when generated large or read from ``.npz`` / ``.edges``.
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

    @property
    def is_sparse(self) -> bool:
        return sp.issparse(self.matrix)

    def dense(self) -> np.ndarray:
        """The matrix as a dense uint8 array (checks the memory budget first when sparse)."""
        return as_dense(self.matrix, str(self.path or "plan"))


# --- saving -----------------------------------------------------------------------------------


def matrix_to_csv(matrix: np.ndarray) -> str:
    """Comma-separated 0/1 rows, no header, one line per row (built as one byte array)."""
    rows, cols = matrix.shape
    text = np.full((rows, 2 * cols), ord(","), dtype=np.uint8)
    text[:, 0::2] = matrix.astype(np.uint8) + ord("0")
    text[:, -1] = ord("\n")
    return text.tobytes().decode("ascii")


def plan_metadata(plan: Plan) -> dict:
    """The JSON document (docs/architecture.md, plan files) for ``plan``."""
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


def resolve_formats(formats: tuple[str, ...], sparse: bool) -> tuple[str, ...]:
    """The files to write: ``("auto",)`` is :data:`SPARSE_FORMATS` for a sparse matrix, else
    :data:`DENSE_FORMATS`; any other tuple is checked against :data:`FILE_FORMATS`."""
    if tuple(formats) == ("auto",):
        return SPARSE_FORMATS if sparse else DENSE_FORMATS
    unknown = [f for f in formats if f not in FILE_FORMATS]
    if unknown or not formats:
        raise PlanError(f"unknown plan format(s) {unknown}; use auto or a subset of {', '.join(FILE_FORMATS)}")
    return tuple(formats)


def check_planned_files(
    formats: tuple[str, ...], shape: tuple[int, int], directory: Path, count: int = 1, form: str = "auto"
) -> None:
    """Before anything is generated: refuse files of a dense layout (``.npy``, ``.csv``) whose
    matrix would not fit the memory budget, or whose bytes would not fit the disk."""
    rows, cols = shape
    sparse = resolve_form(form, rows, cols) == "sparse"
    entries = float(rows) * float(cols)
    need = {"npy": (2.0 * entries, 128 + entries), "csv": (4.0 * entries, 2.0 * entries)}
    disk_total = 0.0
    for fmt in resolve_formats(formats, sparse):
        if fmt in need:
            memory, disk = need[fmt]
            require_memory(memory, f"{directory}: a .{fmt} file of a {rows:,} x {cols:,} matrix")
            disk_total += disk * count
    probe = next((path for path in (directory, *directory.parents) if path.exists()), Path("."))
    free = shutil.disk_usage(probe).free
    if disk_total > free:
        raise PlanError(
            f"{directory}: the dense plan files would take {format_bytes(disk_total)}, more than the "
            f"{format_bytes(free)} free on its disk (write --save npz,json instead)"
        )


def existing_sha256(directory: str | Path, name: str) -> str | None:
    """The SHA-256 of the plan ``directory/name`` already on disk (from its JSON, else its matrix), or None."""
    files = plan_files(Path(directory) / name)
    if not files:
        return None
    if ".json" in files:
        recorded = _read_json(files[".json"]).get("sha256")
        if recorded:
            return recorded
    return load_plan(Path(directory) / name).sha256


def refuse_clash(directory: str | Path, name: str, sha256: str, overwrite: bool = False) -> None:
    """Raise PlanError before writing plan ``name`` into ``directory`` over a different plan of that
    name, unless ``overwrite``; the same plan again (same matrix) is fine."""
    if overwrite:
        return
    existing = existing_sha256(directory, name)
    if existing is not None and existing != sha256:
        raise PlanError(
            f"{Path(directory) / name}: a different plan of this name is there already (sha256 {existing[:12]}..., "
            f"this one {sha256[:12]}...); write to another folder or name, or pass --overwrite"
        )


def save_plan(
    plan: Plan, directory: str | Path, name: str, formats: tuple[str, ...] = ("auto",), overwrite: bool = False
) -> Path:
    """Write ``plan`` as ``directory/name.<format>`` for each of ``formats`` (each file atomically).

    Parameters
    ----------
    formats : tuple of str
        ``("auto",)`` (npy, csv and json for a dense matrix; npz and json for a sparse one) or
        a subset of npy, npz, csv, edges, json. A dense file of a sparse matrix checks the
        memory budget first.

    overwrite : bool
        Replace a different plan of the same name (refused otherwise, see :func:`refuse_clash`).

    Returns
    -------
    pathlib.Path
        The path of the first written file, which identifies the plan.
    """
    directory = Path(directory)
    try:
        formats = resolve_formats(formats, sp.issparse(plan.matrix))
    except PlanError as error:
        raise PlanError(f"{directory / name}: {error}") from None
    matrix = validate_matrix(plan.matrix, plan.kind, str(directory / name))
    refuse_clash(directory, name, sha256_of(matrix), overwrite)
    written = []
    for fmt in formats:
        target = directory / f"{name}.{fmt}"
        if fmt == "npy":
            buffer = io.BytesIO()
            np.save(buffer, as_dense(matrix, str(target)), allow_pickle=False)
            atomic_write_bytes(target, buffer.getvalue())
        elif fmt == "csv":
            require_memory(
                4.0 * matrix.shape[0] * matrix.shape[1],
                f"{target}: the text of a {matrix.shape[0]:,} x {matrix.shape[1]:,} matrix",
            )
            atomic_write_text(target, matrix_to_csv(as_dense(matrix, str(target))))
        elif fmt == "npz":
            atomic_write_bytes(target, npz_bytes(matrix))
        elif fmt == "edges":
            write_edges(target, matrix, plan.kind)
        else:
            atomic_write_text(target, json_text(plan_metadata(plan)))
        written.append(target)
    return written[0]


def npz_bytes(matrix: np.ndarray | sp.sparray) -> bytes:
    """The matrix as a compressed .npz in scipy.sparse.save_npz's CSR layout (no pickled objects)."""
    csr = canonical_csr(matrix)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        indices=csr.indices,
        indptr=csr.indptr,
        format=np.array(b"csr"),
        shape=np.array(csr.shape, dtype=np.int64),
        data=csr.data,
    )
    return buffer.getvalue()


def edge_pairs(matrix: np.ndarray | sp.sparray, kind: str = GRAPH) -> np.ndarray:
    """The edges as an (m, 2) int64 array: (u, v) with u < v for a graph, (output, input) for a
    biadjacency; in row-major order."""
    coo = canonical_csr(matrix).tocoo()
    rows, cols = coo.row.astype(np.int64), coo.col.astype(np.int64)
    if kind == GRAPH:
        upper = rows < cols
        rows, cols = rows[upper], cols[upper]
    return np.stack([rows, cols], axis=1)


def write_edges(path: Path, matrix: np.ndarray | sp.sparray, kind: str = GRAPH) -> None:
    """Write ``u v`` lines (see :func:`edge_pairs`) atomically, after a comment line with the shape."""
    pairs = edge_pairs(matrix, kind)
    with atomic_open(path, "w", encoding="ascii", newline="") as handle:
        handle.write(f"# {kind} {matrix.shape[0]} x {matrix.shape[1]}, {len(pairs)} edges\n")
        for start in range(0, len(pairs), 2**20):
            np.savetxt(handle, pairs[start : start + 2**20], fmt="%d")


# --- loading ----------------------------------------------------------------------------------


def plan_files(path: str | Path) -> dict[str, Path]:
    """The existing files of the plan that ``path`` (any of its files, or the bare stem) names."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in EXTENSIONS else path
    return {ext: stem.with_name(stem.name + ext) for ext in EXTENSIONS if stem.with_name(stem.name + ext).is_file()}


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a .npy header, without reading the data."""
    with path.open("rb") as handle:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
            shape, dtype = array.shape, array.dtype
    return shape, dtype


def _read_npy(path: Path) -> np.ndarray:
    try:
        shape, dtype = _npy_header(path)
        if len(shape) == 2:
            # The array, its uint8 copy and the boolean masks of validation.
            require_memory(
                float(np.prod(shape, dtype=np.float64)) * (dtype.itemsize + 4),
                f"{path}: a {shape[0]:,} x {shape[1]:,} {dtype} matrix",
            )
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise PlanError(f"{path}: not a readable .npy matrix ({str(error).splitlines()[0]})") from None


#: The first bytes of a zip archive (a .npz is one): a local file header, or an empty archive.
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def require_zip(path: Path, error: type[Exception] = PlanError) -> None:
    """Raise ``error`` naming ``path`` unless it starts like a zip archive (as every .npz does)."""
    try:
        with path.open("rb") as handle:
            start = handle.read(4)
    except OSError as failure:
        raise error(f"{path}: cannot read ({failure.strerror or failure})") from None
    if start not in ZIP_MAGIC:
        raise error(f"{path}: not a .npz file (a .npz is a zip archive, and this file does not start like one)")


def _read_npz(path: Path) -> sp.csr_array:
    """A sparse matrix from a plan .npz (scipy.sparse.save_npz layout: csr, csc or coo)."""
    require_zip(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = set(archive.files)
            if not {"shape", "format"} <= keys:
                raise PlanError(
                    f"{path}: not a sparse matrix .npz (needs arrays 'shape' and 'format', has "
                    f"{', '.join(sorted(keys)) or 'none'})"
                )
            stored_shape = np.asarray(archive["shape"])
            if stored_shape.dtype.kind not in "iu":
                raise PlanError(f"{path}: shape {stored_shape.tolist()} is not whole numbers")
            shape = tuple(int(v) for v in stored_shape.ravel())
            fmt = np.asarray(archive["format"]).item()
            fmt = fmt.decode("ascii", "replace") if isinstance(fmt, bytes) else str(fmt)
            if len(shape) != 2 or min(shape) < 0:
                raise PlanError(f"{path}: shape {shape} is not a 2-D matrix shape")
            needed = {"csr": ("indices", "indptr"), "csc": ("indices", "indptr"), "coo": ("row", "col")}.get(fmt)
            if needed is None:
                raise PlanError(f"{path}: sparse format {fmt!r} is not supported (use csr, csc or coo)")
            missing = [key for key in needed if key not in keys]
            if missing:
                raise PlanError(f"{path}: {fmt} matrix without {', '.join(missing)}")
            entries = int(archive[needed[0]].shape[0]) if needed[0] in ("indices", "row") else 0
            require_memory(
                8.0 * (max(shape) + 1) * 3 + 40.0 * entries,
                f"{path}: a sparse {shape[0]:,} x {shape[1]:,} matrix with {entries:,} entries",
            )
            arrays = {key: archive[key] for key in (*needed, "data") if key in keys}
    except PlanError:
        raise
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as error:
        raise PlanError(f"{path}: not a readable .npz matrix ({_reason(error)})") from None
    first = arrays[needed[0]]
    data = arrays.get("data", np.ones(len(first), dtype=np.uint8))
    try:
        if fmt == "coo":
            rows, cols = arrays["row"].astype(np.int64), arrays["col"].astype(np.int64)
            _check_ids(path, rows, shape[0], "row")
            _check_ids(path, cols, shape[1], "column")
            return sp.csr_array(sp.coo_array((data, (rows, cols)), shape=shape))
        indptr, indices = arrays["indptr"].astype(np.int64), arrays["indices"].astype(np.int64)
        outer, inner = (shape[0], shape[1]) if fmt == "csr" else (shape[1], shape[0])
        if len(indptr) != outer + 1 or indptr[0] != 0 or np.any(np.diff(indptr) < 0) or indptr[-1] != len(indices):
            raise PlanError(f"{path}: the {fmt} index pointer does not fit shape {shape} and {len(indices):,} entries")
        _check_ids(path, indices, inner, "column" if fmt == "csr" else "row")
        cls = sp.csr_array if fmt == "csr" else sp.csc_array
        return sp.csr_array(cls((data, indices, indptr), shape=shape))
    except ValueError as error:
        raise PlanError(f"{path}: not a valid sparse matrix ({str(error).splitlines()[0]})") from None


def _reason(error: BaseException) -> str:
    """The first line of an exception's message, or its type when it has none."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _check_ids(path: Path, ids: np.ndarray, limit: int, what: str) -> None:
    """Raise PlanError for a node id outside 0 .. limit - 1."""
    bad = (ids < 0) | (ids >= limit)
    if bad.any():
        raise PlanError(
            f"{path}: {what} index {int(ids[np.flatnonzero(bad)[0]])} is out of range for {limit:,} {what}s"
        )


def _read_edges(path: Path, document: dict) -> sp.csr_array:
    """A sparse matrix from ``u v`` lines (``#`` starts a comment). The size is the JSON's
    ``nodes`` (and ``nodes_in``) when there is one, else the largest id + 1; repeated edges
    (either way round, for a graph) count once."""
    size = path.stat().st_size if path.is_file() else 0
    require_memory(20.0 * size, f"{path}: {size:,} bytes of edge list")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # an empty file is reported below
            pairs = np.loadtxt(path, dtype=np.int64, comments="#", ndmin=2)
    except (ValueError, OSError) as error:
        raise PlanError(f"{path}: not an edge list of two integers per line ({str(error).splitlines()[0]})") from None
    if pairs.size == 0:
        raise PlanError(f"{path}: file holds no edges")
    if pairs.shape[1] != 2:
        raise PlanError(f"{path}: expected two node ids per line, got {pairs.shape[1]}")
    kind = document.get("kind", GRAPH)
    if not document.get("nodes"):
        _check_id_range(path, pairs)
    if kind == GRAPH:
        nodes = int(document.get("nodes") or pairs.max() + 1)
        shape = (nodes, nodes)
    else:
        shape = (
            int(document.get("nodes") or pairs[:, 0].max() + 1),
            int(document.get("nodes_in") or pairs[:, 1].max() + 1),
        )
    _check_ids(path, pairs[:, 0], shape[0], "node" if kind == GRAPH else "row")
    _check_ids(path, pairs[:, 1], shape[1], "node" if kind == GRAPH else "column")
    if kind == GRAPH:
        loops = pairs[:, 0] == pairs[:, 1]
        if loops.any():
            line = int(np.flatnonzero(loops)[0])
            raise PlanError(
                f"{path}: edge {line + 1} joins node {int(pairs[line, 0])} to itself; self-loops are not allowed"
            )
        rows, cols = np.concatenate([pairs[:, 0], pairs[:, 1]]), np.concatenate([pairs[:, 1], pairs[:, 0]])
    else:
        rows, cols = pairs[:, 0], pairs[:, 1]
    try:
        return sparse_from_pairs(shape, rows, cols)
    except MemoryBudgetError as error:  # name the file: the shape came from it
        raise MemoryBudgetError(f"{path}: {error}") from None


#: Without a JSON giving the node count, ids may run past the distinct nodes by this factor (isolated
#: nodes at the end); beyond it an id is taken for a mistake rather than a request for a huge graph.
SPARSE_ID_FACTOR = 2


def _check_id_range(path: Path, pairs: np.ndarray) -> None:
    """Refuse ids far above the number of distinct nodes when no JSON gives the node count: the size
    of the matrix would come from the largest id (an id of 10^8 on two lines is a 10^8-node graph)."""
    largest, distinct = int(pairs.max()), len(np.unique(pairs))
    if largest + 1 > SPARSE_ID_FACTOR * distinct + 64:
        raise PlanError(
            f"{path}: node ids run up to {largest} but only {distinct} distinct nodes appear; number the nodes "
            f'0..n-1, or give the node count as "nodes" in {path.with_suffix(".json").name}'
        )


def _read_csv(path: Path) -> np.ndarray:
    require_memory(40.0 * (path.stat().st_size if path.is_file() else 0), f"{path}: a text matrix")
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
    document = read_json(path, PlanError, "readable plan JSON")
    if not isinstance(document, dict) or document.get("format") != PLAN_FORMAT:
        raise PlanError(f'{path}: not a topoprune plan (expected "format": "{PLAN_FORMAT}")')
    if document.get("kind", GRAPH) not in KINDS:
        raise PlanError(f"{path}: kind {document.get('kind')!r} is not one of {', '.join(KINDS)}")
    _check_json_fields(path, document)
    return document


#: Plan JSON fields and what each must hold when present (None is allowed for each).
_COUNT_FIELDS = ("nodes", "nodes_in", "edges")
_OBJECT_FIELDS = ("params", "metrics", "reference")


def _check_json_fields(path: Path, document: dict) -> None:
    """One-line errors naming the file and the field for a value of the wrong type."""
    for name in _COUNT_FIELDS:
        value = document.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise PlanError(f'{path}: "{name}" must be a whole number of at least 0, got {value!r}')
    for name in _OBJECT_FIELDS:
        value = document.get(name)
        if value is not None and not isinstance(value, dict):
            raise PlanError(f'{path}: "{name}" must be a JSON object, got {type(value).__name__} {value!r:.60}')
    seed = document.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise PlanError(f'{path}: "seed" must be a whole number, got {seed!r}')
    if document.get("sha256") is not None and not isinstance(document["sha256"], str):
        raise PlanError(f'{path}: "sha256" must be a hex string, got {document["sha256"]!r}')


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
    """Load and validate the plan named by ``path`` (any of its files, or its stem).

    The matrix comes from the first of ``.npy``, ``.npz``, ``.csv`` and ``.edges`` present
    (dense from .npy and .csv, sparse from .npz and .edges); the ``.json`` supplies the
    metadata and is checked against the matrix (kind, shape, edges, SHA-256).

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
    document = _read_json(files[".json"]) if ".json" in files else {}
    readers = {".npy": _read_npy, ".npz": _read_npz, ".csv": _read_csv, ".edges": lambda p: _read_edges(p, document)}
    source = next((files[ext] for ext in readers if ext in files), None)
    if source is None:
        raise PlanError(f"{files['.json']}: no matrix file ({', '.join(readers)}) beside this plan JSON")
    raw = readers[source.suffix](source)
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
    return Plan(
        matrix=matrix, kind=kind, generator="rgp" if params else None, params=params, path=source, reference=reference
    )


def _check_against_json(matrix: np.ndarray, document: dict, json_path: Path) -> None:
    expected = document.get("sha256")
    if expected and expected != sha256_of(matrix):
        raise PlanError(
            f"{json_path}: sha256 does not match the matrix (the matrix file was changed or the JSON belongs to "
            "another plan)"
        )
    nodes = document.get("nodes")
    if nodes is not None and nodes != matrix.shape[0]:
        raise PlanError(f"{json_path}: says {nodes} nodes but the matrix has {matrix.shape[0]} rows and columns")
    edges = document.get("edges")
    if edges is not None and edges != edge_count(matrix, document.get("kind", GRAPH)):
        raise PlanError(
            f"{json_path}: says {edges} edges but the matrix has {edge_count(matrix, document.get('kind', GRAPH))}"
        )
