"""Metrics on threads (Lanczos, triangles, breadth-first search, stacks of eigenvalues): the same
numbers whatever the thread count."""

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from topology.generators import generate
from topology.metrics import lanczos, threads
from topology.metrics.lanczos import RowBlocks, regular_extremes_by_lanczos
from topology.metrics.triangles import triangles_per_node


def test_the_ends_are_bit_for_bit_the_same_on_one_thread_or_three(monkeypatch):
    monkeypatch.setattr(lanczos, "THREADED_MIN_ENTRIES", 0)  # thread even this small graph
    graph = sp.csr_array(generate("rreg", seed=5, nodes=2000, degree=6, form="sparse"))
    single = regular_extremes_by_lanczos(graph, 6.0, threads=1)
    assert regular_extremes_by_lanczos(graph, 6.0, threads=3) == single
    assert regular_extremes_by_lanczos(graph, 6.0, threads=2) == single
    values = np.linalg.eigvalsh(graph.toarray().astype(np.float64))
    assert single == pytest.approx((values[-2], values[0]), abs=1e-9)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled product", "scipy product"])
def test_row_blocks_cover_every_row_once_and_sum_in_block_order(monkeypatch, compiled):
    monkeypatch.setattr(lanczos, "THREADED_MIN_ENTRIES", 0)
    if not compiled:
        monkeypatch.setattr(RowBlocks, "_native_pattern", staticmethod(lambda matrix: None))
    pattern = sp.random(50, 50, density=0.2, random_state=0, format="csr")
    pattern.data[:] = 1
    matrix = sp.csr_array(pattern.astype(np.int8))
    blocks = RowBlocks(matrix, threads=3)
    vector, out = np.random.default_rng(1).standard_normal(50), np.full(50, np.nan)
    try:
        rows = np.concatenate([np.arange(50)[part] for part in blocks.slices])
        assert rows.tolist() == list(range(50)) and len(blocks.slices) == lanczos.ROW_BLOCKS
        totals = [blocks.product(block, vector, out[part], 0.5) for block, part in enumerate(blocks.slices)]
        np.testing.assert_allclose(out, 0.5 * (matrix.astype(np.float64) @ vector), rtol=1e-14, atol=1e-14)
        assert sum(totals) == pytest.approx(out.sum(), abs=1e-12)
        assert blocks.each(lambda block: float(block)) == sum(range(lanczos.ROW_BLOCKS))
        # Blocks of about equal stored entries: none holds more than twice its share plus a row.
        sizes = [matrix.indptr[part.stop] - matrix.indptr[part.start] for part in blocks.slices]
        assert max(sizes) <= 2 * matrix.nnz / lanczos.ROW_BLOCKS + 50
    finally:
        blocks.close()


def test_wedge_chunks_counted_on_threads_equal_networkx(monkeypatch):
    monkeypatch.setattr(threads, "usable_cores", lambda: 3)  # three threads on any machine
    graph = nx.barabasi_albert_graph(300, 6, seed=4)
    matrix = sp.csr_array(nx.to_scipy_sparse_array(graph, nodelist=range(300), dtype=np.int8))
    expected = [nx.triangles(graph, node) for node in range(300)]
    assert triangles_per_node(matrix, 64, "wedges").tolist() == expected


def test_lambda_n_is_computed_only_for_the_metrics_that_read_it(monkeypatch):
    from topology.metrics import compute_metrics, spectrum

    asked = []
    original = spectrum.sparse_adjacency_extremes
    monkeypatch.setattr(
        spectrum, "sparse_adjacency_extremes", lambda csr, smallest: asked.append(smallest) or original(csr, smallest)
    )
    graph = generate("rreg", seed=2, nodes=1500, degree=6, form="sparse")
    values = np.linalg.eigvalsh(graph.toarray().astype(np.float64))
    top = compute_metrics([graph], names=["spectral_gap", "algebraic_connectivity"])[0]
    both = compute_metrics([graph], names=["spectral_gap", "lambda_n"])[0]
    assert asked == [False, True]
    assert top["spectral_gap"] == pytest.approx(6 - values[-2], abs=1e-9)
    assert top["algebraic_connectivity"] == pytest.approx(6 - values[-2], abs=1e-9)
    assert both["lambda_n"] == pytest.approx(values[0], abs=1e-9)


@pytest.mark.parametrize("regular", [True, False])
def test_sparse_extremes_without_the_smallest_leave_it_empty(regular):
    from topology.metrics.spectrum import sparse_adjacency_extremes

    graph = generate("rreg" if regular else "er", seed=1, nodes=1200, degree=6, form="sparse")
    csr = sp.csr_array(graph)
    values = np.linalg.eigvalsh(csr.toarray().astype(np.float64))
    top = sparse_adjacency_extremes(csr, smallest=False)
    assert np.isnan(top.lambda_n[0])
    assert (top.lambda_1[0], top.lambda_2[0]) == pytest.approx((values[-1], values[-2]), abs=1e-9)
    assert sparse_adjacency_extremes(csr).lambda_n[0] == pytest.approx(values[0], abs=1e-9)


def test_breadth_first_chunks_on_threads_equal_networkx(monkeypatch):
    from topology.metrics import paths, threads
    from topology.metrics.paths import path_stats, source_distances

    monkeypatch.setattr(threads, "usable_cores", lambda: 3)
    monkeypatch.setattr(paths, "usable_cores", lambda: 3)
    graph = nx.random_regular_graph(5, 700, seed=3)
    csr = sp.csr_array(nx.to_scipy_sparse_array(graph, nodelist=range(700), dtype=np.uint8))
    csr.sort_indices()
    assert paths._BitBfs(csr).words_per_chunk(11) == 4  # 11 words of sources in three chunks
    seen = []
    stats = path_stats(csr, 700, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(0, 11), (4, 11), (8, 11), (11, 11)]
    assert float(stats.aspl[0]) == pytest.approx(nx.average_shortest_path_length(graph), abs=1e-12)
    assert float(stats.diameter[0]) == nx.diameter(graph)
    sources = np.arange(0, 700, 3)  # 234 sources: four words in chunks of two
    totals = source_distances(csr, sources)
    expected = [sum(nx.single_source_shortest_path_length(graph, int(s)).values()) for s in sources]
    assert totals.distance_sum.tolist() == expected
    assert totals.eccentricity.tolist() == [nx.eccentricity(graph, int(s)) for s in sources]


@pytest.mark.parametrize("controller", [True, False])
def test_stacks_of_eigenvalues_split_over_threads_equal_one_call(monkeypatch, controller):
    from topology.metrics import spectrum

    monkeypatch.setattr(spectrum, "usable_cores", lambda: 3)
    monkeypatch.setattr(spectrum, "SPLIT_MIN_MATRICES", 4)
    if not controller:  # without threadpoolctl: one numpy call
        monkeypatch.setattr(spectrum, "blas_controller", lambda: None)
    calls = []
    original = np.linalg.eigvalsh
    monkeypatch.setattr(np.linalg, "eigvalsh", lambda stack: calls.append(len(stack)) or original(stack))
    stack = np.stack([generate("er", seed=s, nodes=20, degree=4).astype(np.float64) for s in range(14)])
    expected = np.stack([original(matrix) for matrix in stack])
    assert np.array_equal(spectrum.batched_eigvalsh(stack), expected)
    assert sorted(calls) == ([4, 5, 5] if controller else [14])
    # 0/1 matrices may come as uint8: each part is made float64 on its own thread
    assert np.array_equal(spectrum.batched_eigvalsh(stack.astype(np.uint8)), expected)
