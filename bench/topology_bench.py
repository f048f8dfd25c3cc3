"""Speed of topoprune's metrics against networkx and igraph, measured in the same run.

1. B graphs of 64 nodes, degree 4, all metrics: topoprune's batched path vs networkx per graph
   and igraph per graph (igraph has no dense spectrum call, so its column adds numpy's eigvalsh
   for the adjacency and Laplacian spectra).
2. The same graphs' adjacency extremes alone: the compiled routine against LAPACK's eigvalsh,
   both on every core (docs/large-graphs.md, "Small graphs in bulk").
3. One 10,000-node 8-regular graph, all metrics exact: topoprune vs igraph's exact ASPL alone.

Every time is the median of three calls.

Usage: python bench/topology_bench.py [--graphs 1000] [--large-nodes 10000]
"""

from __future__ import annotations

import argparse
import statistics
import time

import igraph
import networkx as nx
import numpy as np
import scipy.sparse as sp
from goals import Measured, record

from common.native import NativeUnavailable
from topology.generators import generate
from topology.metrics import compute_metrics, native_spectrum, spectrum


def timed(func, repeats: int = 3):
    """The median seconds of ``repeats`` calls of ``func`` (one call alone is too noisy to quote),
    and the last call's result."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def networkx_all_metrics(matrix: np.ndarray) -> dict:
    graph = nx.from_numpy_array(matrix)
    adjacency = nx.adjacency_spectrum(graph).real
    laplacian = np.sort(nx.laplacian_spectrum(graph))
    return {
        "connected": nx.is_connected(graph),
        "aspl": nx.average_shortest_path_length(graph),
        "diameter": nx.diameter(graph),
        "clustering": nx.average_clustering(graph),
        "transitivity": nx.transitivity(graph),
        "lambda": np.sort(adjacency)[[-1, -2, 0]],
        "algebraic_connectivity": laplacian[1],
    }


def igraph_all_metrics(matrix: np.ndarray) -> dict:
    graph = igraph.Graph.Adjacency(matrix.tolist(), mode="undirected")
    adjacency = np.linalg.eigvalsh(matrix.astype(float))
    laplacian = np.linalg.eigvalsh(np.diag(matrix.sum(axis=1)).astype(float) - matrix)
    return {
        "connected": graph.is_connected(),
        "aspl": graph.average_path_length(),
        "diameter": graph.diameter(),
        "clustering": graph.transitivity_avglocal_undirected(mode="zero"),
        "transitivity": graph.transitivity_undirected(),
        "lambda": adjacency[[-1, -2, 0]],
        "algebraic_connectivity": laplacian[1],
    }


def batch_benchmark(count: int) -> None:
    print(f"[1] {count} random 4-regular graphs of 64 nodes, all metrics")
    graphs = [generate("rreg", nodes=64, degree=4, seed=seed) for seed in range(count)]
    ours_time, ours = timed(lambda: compute_metrics(graphs))
    nx_time, reference = timed(lambda: [networkx_all_metrics(g) for g in graphs])
    ig_time, _ = timed(lambda: [igraph_all_metrics(g) for g in graphs])
    worst = max(abs(o["aspl"] - r["aspl"]) + abs(o["clustering"] - r["clustering"]) for o, r in zip(ours, reference))
    print(f"    topoprune (batched)  {ours_time:8.3f} s")
    versus_nx = record(
        Measured("topology", f"{count} graphs of 64 nodes: networkx / topoprune", nx_time / ours_time, goal=60)
    )
    versus_ig = record(
        Measured("topology", f"{count} graphs of 64 nodes: igraph / topoprune", ig_time / ours_time, goal=5)
    )
    print(
        f"    networkx per graph   {nx_time:8.3f} s   networkx / topoprune = {nx_time / ours_time:6.1f}x  ({versus_nx})"
    )
    print(
        f"    igraph per graph     {ig_time:8.3f} s   igraph / topoprune   = {ig_time / ours_time:6.1f}x  ({versus_ig})"
    )
    print(f"    largest |difference| from networkx (aspl + clustering): {worst:.2e}")


def spectrum_benchmark(count: int) -> None:
    print(f"[2] the same {count} graphs: lambda_1, lambda_2 and lambda_n alone")
    stack = np.stack([generate("rreg", nodes=64, degree=4, seed=seed) for seed in range(count)]).astype(np.uint8)
    try:
        native_time, ours = timed(lambda: native_spectrum.adjacency_extremes(stack))
    except NativeUnavailable as reason:
        print(f"    compiled routine unavailable: {reason}")
        return
    lapack_time, values = timed(lambda: spectrum.batched_eigvalsh(stack))
    worst = float(np.abs(ours - values[:, [-1, -2, 0]]).max())
    print(f"    compiled routine {1e3 * native_time:7.1f} ms   LAPACK eigvalsh {1e3 * lapack_time:7.1f} ms")
    record(Measured("topology", f"{count} graphs of 64 nodes: eigvalsh / compiled extremes", lapack_time / native_time))
    print(f"    LAPACK / compiled = {lapack_time / native_time:.2f}x; largest |difference| {worst:.1e}")


def large_benchmark(nodes: int) -> None:
    print(f"[3] one {nodes}-node 8-regular graph")
    matrix = sp.csr_array(generate("rreg", nodes=nodes, degree=8, seed=0))
    ours_time, ours = timed(lambda: compute_metrics([matrix])[0])
    rows, cols = sp.triu(matrix).nonzero()
    graph = igraph.Graph(n=nodes, edges=list(zip(rows.tolist(), cols.tolist())))
    ig_time, ig_aspl = timed(graph.average_path_length)
    print(
        f"    topoprune, all metrics      {ours_time:8.3f} s   (aspl {ours['aspl']:.6f}, lambda_2 "
        f"{ours['lambda_2']:.6f})"
    )
    print(f"    igraph, exact ASPL alone    {ig_time:8.3f} s   (aspl {ig_aspl:.6f})")
    goal = record(
        Measured("topology", f"one {nodes}-node graph: igraph ASPL / topoprune all", ig_time / ours_time, goal=20)
    )
    print(f"    ratio igraph ASPL / topoprune all metrics = {ig_time / ours_time:.2f}x  ({goal})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", type=int, default=1000, help="graphs in the batch benchmark")
    parser.add_argument("--large-nodes", type=int, default=10_000, help="nodes of the large graph")
    args = parser.parse_args()
    batch_benchmark(args.graphs)
    spectrum_benchmark(args.graphs)
    large_benchmark(args.large_nodes)


if __name__ == "__main__":
    main()
