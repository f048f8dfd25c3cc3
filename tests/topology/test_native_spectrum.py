"""The compiled adjacency extremes: LAPACK's eigenvalues to rounding on graphs with known
spectra and random ones, the same whatever the split over threads, and LAPACK itself where no
C compiler is found."""

import networkx as nx
import numpy as np
import pytest

from common.native import NativeUnavailable, forget_libraries
from topology.metrics import native_spectrum, spectrum


def _availability() -> str:
    try:
        native_spectrum.adjacency_extremes(np.zeros((1, 2, 2), dtype=np.uint8))
    except NativeUnavailable as reason:
        return str(reason)
    return ""


UNAVAILABLE = _availability()
needs_native = pytest.mark.skipif(bool(UNAVAILABLE), reason=f"native routine unavailable here: {UNAVAILABLE}")


def _stack(graphs, n):
    for graph in graphs:
        graph.add_nodes_from(range(n))
    return np.stack([nx.to_numpy_array(graph, nodelist=range(n), dtype=np.uint8) for graph in graphs])


@needs_native
def test_known_spectra():
    # complete K_8: 7 and -1 (seven times); cycle C_8: 2, 2cos(2pi/8), -2; star K_1,7: +-sqrt(7), 0;
    # empty: all 0; two disjoint triangles and two isolated nodes: 2, 2, -1; the path on 2 nodes: 1, -1
    graphs = [
        (nx.complete_graph(8), (7.0, -1.0, -1.0)),
        (nx.cycle_graph(8), (2.0, 2 * np.cos(2 * np.pi / 8), -2.0)),
        (nx.star_graph(7), (np.sqrt(7), 0.0, -np.sqrt(7))),
        (nx.empty_graph(8), (0.0, 0.0, 0.0)),
        (nx.disjoint_union(nx.complete_graph(3), nx.complete_graph(3)), (2.0, 2.0, -1.0)),
    ]
    stack = _stack([graph for graph, _ in graphs], 8)
    got = native_spectrum.adjacency_extremes(stack)
    np.testing.assert_allclose(got, [values for _, values in graphs], rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        native_spectrum.adjacency_extremes(_stack([nx.path_graph(2)], 2)), [[1, -1, -1]], atol=1e-15
    )


@needs_native
@pytest.mark.parametrize("n", [3, 17, 64])
def test_random_graphs_agree_with_lapack(n):
    rng = np.random.default_rng(n)
    graphs = [nx.gnp_random_graph(n, p, seed=int(rng.integers(1 << 30))) for p in (0.05, 0.2, 0.5, 0.9)]
    graphs += [nx.random_regular_graph(2, n, seed=1) if n % 2 == 0 else nx.cycle_graph(n)]
    stack = _stack(graphs, n)
    expected = np.linalg.eigvalsh(stack.astype(np.float64))
    got = native_spectrum.adjacency_extremes(stack)
    np.testing.assert_allclose(got, expected[:, [-1, -2, 0]], rtol=0, atol=1e-12)


@needs_native
def test_the_split_over_threads_changes_nothing(monkeypatch):
    stack = _stack([nx.random_regular_graph(6, 32, seed=seed) for seed in range(300)], 32)
    threaded = native_spectrum.adjacency_extremes(stack)
    monkeypatch.setattr(native_spectrum, "usable_cores", lambda: 1)
    assert np.array_equal(native_spectrum.adjacency_extremes(stack), threaded)


def test_without_a_compiler_lapack_gives_the_extremes(tmp_path, monkeypatch):
    stack = _stack([nx.random_regular_graph(4, 20, seed=seed) for seed in range(5)], 20)
    monkeypatch.setenv("TOPOPRUNE_CACHE", str(tmp_path))
    monkeypatch.setenv("CC", "no-such-compiler-here")
    forget_libraries()
    try:
        with pytest.raises(NativeUnavailable, match="no C compiler 'no-such-compiler-here'"):
            native_spectrum.adjacency_extremes(stack)
        extremes = spectrum.dense_adjacency_extremes(stack)
    finally:
        forget_libraries()
    expected = np.linalg.eigvalsh(stack.astype(np.float64))
    assert np.array_equal(extremes.lambda_1, expected[:, -1])  # LAPACK's own values
    assert np.array_equal(extremes.lambda_n, expected[:, 0])
