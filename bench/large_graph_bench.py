"""Large sparse graphs: generation and metrics of random 8-regular graphs at n = 10^4, 10^5, 10^6.

Each size runs in its own process so that its peak resident memory is its own. Exact sizes
(default 10^4 and 10^5): generate, then every graph metric exact, and igraph's exact ASPL of the
same graph as the reference up to --igraph-max nodes. The sampled size (default 10^6): generate, clustering,
transitivity, spectral gap and algebraic connectivity exact, ASPL from --sample-sources BFS
sources with a 95% interval. Then the whole-network graph of torchvision's ResNet-50 under the
rreg-bipartite recipe (degree 8, prune apply's defaults): build it, then its metrics with the
ASPL sampled. Last, how often the sampled ASPL's 95% interval holds the exact value over 200
sampling seeds on a 6,000-node 4-regular graph (K = 64).

n = 10^7 is not run by default (``make bench-ten-million``: --exact "" --sampled 10000000 --no-network
--no-coverage).

Usage: python bench/large_graph_bench.py [--exact 10000,100000] [--igraph-max 20000] [--sampled 1000000]
[--sample-sources 256] [--no-network] [--no-coverage]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from goals import Measured, record


def progress(text: str) -> None:
    """A progress line from a child process (its standard output carries the result)."""
    print(f"    {text}", file=sys.stderr, flush=True)


def measure(nodes: int, sample_sources: int, igraph_reference: bool) -> dict:
    import numpy as np

    from topology.generators import generate
    from topology.metrics import PathOptions, compute_metrics

    row: dict = {"nodes": nodes}
    progress(f"n = {nodes:,}: generating ...")
    start = time.perf_counter()
    graph = generate("rreg", seed=0, nodes=nodes, degree=8)
    row["generate_s"] = time.perf_counter() - start
    names = ["clustering", "transitivity", "spectral_gap", "algebraic_connectivity"]
    progress(f"n = {nodes:,}: generated in {row['generate_s']:.0f} s; {', '.join(names)} ...")
    start = time.perf_counter()
    row["metrics"] = compute_metrics([graph], names=names)[0]
    row["spectral_and_triangles_s"] = time.perf_counter() - start
    progress(f"n = {nodes:,}: those in {row['spectral_and_triangles_s']:.0f} s; paths ...")
    start = time.perf_counter()
    paths = compute_metrics(
        [graph], names=["aspl", "diameter"], path_options=PathOptions(sample_sources=sample_sources)
    )[0]
    row["paths_s"] = time.perf_counter() - start
    row["metrics"].update(paths)
    if igraph_reference:
        import igraph

        rows, cols = graph.nonzero()
        upper = rows < cols
        reference = igraph.Graph(n=nodes, edges=np.stack([rows[upper], cols[upper]], axis=1).tolist())
        start = time.perf_counter()
        row["igraph_aspl"] = reference.average_path_length()
        row["igraph_aspl_s"] = time.perf_counter() - start
    row["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return row


def measure_network(sample_sources: int) -> dict:
    from pruning.apply import prune_model
    from pruning.mask_rules import MaskConfig
    from pruning.network_graph import network_graph
    from topology.metrics import PathOptions, compute_metrics
    from trainer.models import build_model

    model = build_model("resnet50", (3, 224, 224), 1000)
    prune_model(model, MaskConfig(rule="rreg-bipartite", degree=8), None)
    start = time.perf_counter()
    graph = network_graph(model, (3, 224, 224))
    row = {
        "build_s": time.perf_counter() - start,
        "nodes": graph.nodes,
        "edges": graph.adjacency.nnz // 2,
        "layers": len(graph.layers) - 1,
    }
    start = time.perf_counter()
    row["metrics"] = compute_metrics(
        [graph.adjacency],
        names=["connected", "aspl", "degree_max"],
        path_options=PathOptions(sample_sources=sample_sources),
    )[0]
    row["paths_s"] = time.perf_counter() - start
    start = time.perf_counter()
    row["metrics"].update(compute_metrics([graph.adjacency], names=["clustering"])[0])
    row["clustering_s"] = time.perf_counter() - start
    row.update(igraph_clustering(graph.adjacency))
    row["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return row


def igraph_clustering(adjacency) -> dict:
    """igraph's average local clustering (zero for degree < 2) of the same graph, timed alone."""
    import igraph
    import numpy as np

    rows, cols = adjacency.nonzero()
    upper = rows < cols
    reference = igraph.Graph(n=adjacency.shape[0], edges=np.stack([rows[upper], cols[upper]], axis=1))
    start = time.perf_counter()
    local = reference.transitivity_local_undirected(mode="zero")
    return {"igraph_clustering_s": time.perf_counter() - start, "igraph_clustering": float(np.mean(local))}


def report_network(row: dict) -> None:
    metrics = row["metrics"]
    print(
        f"ResNet-50, rreg-bipartite d=8, whole-network graph: {row['nodes']:,} channel nodes, {row['edges']:,} edges, "
        f"{row['layers']} layers; "
        f"built in {row['build_s']:.1f} s, connected/largest degree/sampled ASPL in {row['paths_s']:.1f} s, "
        f"clustering in {row['clustering_s']:.2f} s, "
        f"peak RSS {row['peak_rss_gb']:.2f} GB"
    )
    print(
        f"    ASPL {metrics['aspl']:.4f} (95% CI {metrics['aspl_ci95_low']:.4f}..{metrics['aspl_ci95_high']:.4f}), "
        f"clustering {metrics['clustering']:.4g}, largest degree {metrics['degree_max']}, connected "
        f"{metrics['connected']}"
    )
    ratio = row["igraph_clustering_s"] / row["clustering_s"]
    goal = record(Measured("large graphs", "ResNet-50 network graph clustering: igraph / topoprune", ratio, goal=1))
    agree = abs(row["igraph_clustering"] - metrics["clustering"]) <= 1e-9
    print(
        f"    igraph transitivity_local_undirected: {row['igraph_clustering_s']:.2f} s, igraph / topoprune "
        f"{ratio:.2f}x ({goal}); values {'agree' if agree else 'DIFFER'}"
    )


def report(row: dict) -> None:
    metrics = row["metrics"]
    total = row["generate_s"] + row["spectral_and_triangles_s"] + row["paths_s"]
    sampled = "aspl_sources" in metrics
    aspl = (
        f"ASPL {metrics['aspl']:.5f} (95% CI {metrics['aspl_ci95_low']:.5f}..{metrics['aspl_ci95_high']:.5f}, "
        f"{metrics['aspl_sources']} sources)"
        if sampled
        else f"ASPL {metrics['aspl']:.6f}, diameter {metrics['diameter']:.0f}"
    )
    print(
        f"n = {row['nodes']:,}, d = 8: generate {row['generate_s']:.1f} s, clustering/transitivity/spectral "
        "gap/algebraic connectivity "
        f"{row['spectral_and_triangles_s']:.1f} s, {'sampled' if sampled else 'exact'} paths {row['paths_s']:.1f} s; "
        f"total {total:.1f} s, peak RSS {row['peak_rss_gb']:.2f} GB"
    )
    print(f"    {aspl}; spectral gap {metrics['spectral_gap']:.6f}, clustering {metrics['clustering']:.3g}")
    if sampled and row["nodes"] == 10**6:
        four = f"n = {row['nodes']:,}, d = 8: clustering, transitivity, spectral gap, algebraic connectivity"
        seconds = row["spectral_and_triangles_s"]
        print(f"    {record(Measured('large graphs', four, seconds, unit=' s', goal=10, higher_is_better=False))}")
    if sampled and row["nodes"] >= 10**7:
        whole = f"n = {row['nodes']:,}, d = 8: generate, four metrics and sampled paths"
        timed = record(Measured("large graphs", whole, total, unit=" s", goal=600, higher_is_better=False))
        memory = f"n = {row['nodes']:,}, d = 8: peak RSS"
        held = record(Measured("large graphs", memory, row["peak_rss_gb"], unit=" GB", goal=8, higher_is_better=False))
        print(f"    whole run: {timed}; peak RSS: {held}")
    if "igraph_aspl_s" in row:
        agree = abs(row["igraph_aspl"] - metrics["aspl"]) <= 1e-9 * metrics["aspl"]
        print(
            f"    igraph exact ASPL alone: {row['igraph_aspl_s']:.1f} s ({row['igraph_aspl_s'] / row['paths_s']:.1f}x "
            "our exact paths, "
            f"{row['igraph_aspl_s'] / total:.1f}x our whole run; values {'agree' if agree else 'DIFFER'})"
        )


def report_coverage(nodes: int = 6000, degree: int = 4, sources: int = 64, seeds: int = 200) -> None:
    from topology.generators import generate
    from topology.graph import canonical_csr
    from topology.metrics.paths import path_stats, sampled_path_stats

    csr = canonical_csr(generate("rreg", seed=0, nodes=nodes, degree=degree, form="sparse"))
    exact = float(path_stats(csr, nodes).aspl[0])
    held = sum(s.ci_low <= exact <= s.ci_high for s in (sampled_path_stats(csr, sources, seed=k) for k in range(seeds)))
    print(
        f"sampled ASPL, n = {nodes:,}, d = {degree}, K = {sources}: the 95% interval held the exact value {exact:.6f} "
        f"for {held} of {seeds} seeds ({100 * held / seeds:.1f}%)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--exact", default="10000,100000", help="Comma-separated sizes measured exactly, with igraph beside them."
    )
    parser.add_argument(
        "--igraph-max",
        type=int,
        default=20_000,
        help="Largest exact size timed against igraph's exact ASPL (about 9 minutes at 10^5 on 2 cores).",
    )
    parser.add_argument("--sampled", default="1000000", help="Comma-separated sizes whose ASPL is sampled.")
    parser.add_argument("--sample-sources", type=int, default=256)
    parser.add_argument("--no-network", action="store_true", help="Skip the ResNet-50 network graph.")
    parser.add_argument("--no-coverage", action="store_true", help="Skip the sampled ASPL's interval coverage.")
    parser.add_argument("--child", nargs=3, metavar=("NODES", "SAMPLES", "IGRAPH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        nodes, samples, reference = int(args.child[0]), int(args.child[1]), args.child[2] == "1"
        print(json.dumps(measure_network(samples) if nodes == 0 else measure(nodes, samples, reference)))
        return
    jobs = [(int(n), 0, int(n) <= args.igraph_max) for n in args.exact.split(",") if n] + [
        (int(n), args.sample_sources, False) for n in args.sampled.split(",") if n
    ]
    for nodes, samples, reference in jobs:
        print(f"measuring n = {nodes:,} in its own process ...", flush=True)
        output = subprocess.run(
            [sys.executable, __file__, "--child", str(nodes), str(samples), "1" if reference else "0"],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        ).stdout
        report(json.loads(output.strip().splitlines()[-1]))
    if not args.no_network:
        print("measuring ResNet-50's whole-network graph in its own process ...", flush=True)
        output = subprocess.run(
            [sys.executable, __file__, "--child", "0", str(args.sample_sources), "0"],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        ).stdout
        report_network(json.loads(output.strip().splitlines()[-1]))
    if not args.no_coverage:
        report_coverage()


if __name__ == "__main__":
    main()
