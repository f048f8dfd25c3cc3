"""Families of plans that cover a metric space, for correlation studies (``topo sweep``).

``graph2nn``: WS-flex graphs sampled over (k, p, seed), one kept per (clustering, ASPL) bin,
as in You et al. (ICML 2020). ``aspl``: a swap-chain of d-regular graphs per degree spanning
the average-shortest-path range, as in RGP (Chen et al., 2021).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from common.errors import ParameterError
from common.registry import Registry
from common.seeding import as_generator
from topology.build import PlanDraft
from topology.generators import generate
from topology.metrics import compute_metrics

SWEEPS: Registry[Callable] = Registry("sweep design")


@dataclass(frozen=True)
class SweepConfig:
    """Parameters of a sweep design (each design reads the fields it needs)."""

    nodes: int = 64  # nodes per graph
    degrees: tuple[int, ...] = (4,)  # aspl design: one swap-chain per degree
    count: int = 8  # aspl design: graphs per degree
    samples: int = 1500  # graph2nn design: WS-flex graphs sampled before binning
    bins: int = 15  # graph2nn design: bins per axis of the (clustering, ASPL) grid
    seed: int = 0  # seeds every random choice of the design


@SWEEPS.register("graph2nn")
def graph2nn_design(config: SweepConfig, notes: list[str] | None = None) -> list[PlanDraft]:
    """WS-flex graphs spread over the clustering x ASPL plane.

    ``samples`` graphs are drawn with average degree k uniform in [2, n/2 + 2], rewiring
    probability p log-uniform in [1e-4, 1] (and 0 for one in ten), seeds from the sweep's
    stream. The (clustering, ASPL) range they cover is cut into ``bins`` x ``bins`` cells and
    the first sample in each occupied cell is kept; ``notes`` receives a line on the cells no
    sample fell in.
    """
    if config.samples < 1 or config.bins < 1:
        raise ParameterError("graph2nn sweep: samples and bins must be at least 1")
    rng = as_generator(config.seed)
    n = config.nodes
    drawn = []
    for _ in range(config.samples):
        k = round(float(rng.uniform(2.0, min(n - 1.0, n / 2 + 2.0))), 3)
        p = 0.0 if rng.random() < 0.1 else round(float(10 ** rng.uniform(-4, 0)), 6)
        seed = int(rng.integers(2**31))
        try:
            drawn.append(((k, p, seed), generate("ws-flex", seed=seed, nodes=n, degree=k, p=p)))
        except ParameterError:
            continue  # e.g. no connected graph for these (k, p)
    if not drawn:
        raise ParameterError(f"graph2nn sweep: no WS-flex graph could be drawn for nodes={n}")
    metrics = compute_metrics([matrix for _, matrix in drawn], names=["clustering", "aspl"])
    clustering = np.array([m["clustering"] for m in metrics])
    aspl = np.array([m["aspl"] for m in metrics])
    cells = {}
    for index in range(len(drawn)):
        cell = (_bin(clustering[index], clustering, config.bins), _bin(aspl[index], aspl, config.bins))
        cells.setdefault(cell, index)
    if notes is not None and len(cells) < config.bins**2:
        notes.append(_empty_cells_note(config, len(drawn), len(cells), clustering, aspl))
    members = []
    for index in sorted(cells.values(), key=lambda i: (aspl[i], clustering[i])):
        (k, p, seed), matrix = drawn[index]
        name = f"ws-flex_n{n}_k{k:g}_p{p:g}_s{seed}"
        members.append(PlanDraft(name, matrix, "ws-flex", {"nodes": n, "degree": k, "p": p}, seed))
    return members


def _empty_cells_note(config: SweepConfig, drawn: int, filled: int, clustering, aspl) -> str:
    cells = config.bins**2
    return (
        f"{cells - filled} of the {cells} cells of the {config.bins} x {config.bins} clustering x ASPL grid "
        f"(clustering {clustering.min():.3g}-{clustering.max():.3g}, ASPL {aspl.min():.3g}-{aspl.max():.3g}) "
        f"hold none of the {drawn:,} WS-flex graphs drawn, so {filled} plans were written: WS-flex graphs of "
        f"{config.nodes} nodes need not reach every (clustering, ASPL) pair; more --samples "
        "fills the reachable ones"
    )


def _bin(value: float, values: np.ndarray, bins: int) -> int:
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return 0
    return min(bins - 1, int((value - low) / (high - low) * bins))


@SWEEPS.register("aspl")
def aspl_design(config: SweepConfig, notes: list[str] | None = None) -> list[PlanDraft]:
    """One swap-chain per degree: ``count`` d-regular graphs from the ring lattice's ASPL down."""
    members = []
    for degree in config.degrees:
        family = generate("swap-chain", seed=config.seed, nodes=config.nodes, degree=degree, count=config.count)
        for index, matrix in enumerate(family):
            params = {"nodes": config.nodes, "degree": degree, "count": config.count, "index": index}
            members.append(
                PlanDraft(
                    f"swap-chain_n{config.nodes}_d{degree}_s{config.seed}_{index:02d}",
                    matrix,
                    "swap-chain",
                    params,
                    config.seed,
                )
            )
    return members
