"""Generator contracts (with hypothesis), seeded reproducibility pinned to exact hashes, and errors."""

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.errors import ParameterError, RegistryError
from topology.generators import GENERATORS, generate
from topology.graph import sha256_of, validate_matrix
from topology.metrics import compute_metrics

SETTINGS = settings(max_examples=25, deadline=None)


def is_connected(matrix):
    return nx.is_connected(nx.from_numpy_array(matrix))


def degrees(matrix):
    return matrix.sum(axis=1)


# --- contracts --------------------------------------------------------------------------------


@SETTINGS
@given(n=st.integers(4, 80), half=st.integers(1, 6))
def test_ring_is_regular_circulant(n, half):
    d = 2 * half
    if d >= n:
        with pytest.raises(ParameterError, match="degree"):
            generate("ring", nodes=n, degree=d)
        return
    matrix = validate_matrix(generate("ring", nodes=n, degree=d))
    assert (degrees(matrix) == d).all()
    assert matrix.sum() // 2 == n * d // 2
    assert all(matrix[0, (j % n)] for j in range(1, half + 1))
    assert is_connected(matrix)


@SETTINGS
@given(n=st.integers(3, 70), d=st.integers(2, 8), seed=st.integers(0, 2**32))
def test_rreg_is_connected_regular(n, d, seed):
    if d >= n or n * d % 2:
        with pytest.raises(ParameterError):
            generate("rreg", nodes=n, degree=d, seed=seed)
        return
    matrix = validate_matrix(generate("rreg", nodes=n, degree=d, seed=seed))
    assert (degrees(matrix) == d).all()
    assert is_connected(matrix)


@SETTINGS
@given(n=st.integers(2, 60), d=st.floats(0, 6), seed=st.integers(0, 2**32))
def test_er_gnm_has_exact_edge_count(n, d, seed):
    d = min(d, n - 1)
    matrix = validate_matrix(generate("er", nodes=n, degree=d, seed=seed))
    assert matrix.sum() // 2 == round(n * d / 2)


def test_er_connected_option_redraws_until_connected():
    for seed in range(5):
        assert is_connected(generate("er", nodes=60, degree=3.0, connected=True, seed=seed))


def test_er_rank_unranking_covers_every_pair():
    complete = generate("er", nodes=9, degree=8, seed=0)  # m = all 36 pairs
    assert (complete + np.eye(9, dtype=np.uint8) == 1).all()


@SETTINGS
@given(n=st.integers(7, 60), half=st.integers(1, 3), p=st.floats(0, 1), seed=st.integers(0, 2**32))
def test_ws_preserves_edge_count(n, half, p, seed):
    matrix = validate_matrix(generate("ws", nodes=n, degree=2 * half, p=p, seed=seed))
    assert matrix.sum() // 2 == n * half


def test_ws_with_p_zero_is_the_ring_lattice():
    assert (generate("ws", nodes=20, degree=4, p=0.0, seed=3) == generate("ring", nodes=20, degree=4)).all()


@SETTINGS
@given(n=st.integers(8, 60), k=st.floats(2, 7), p=st.floats(0, 1), seed=st.integers(0, 2**31))
def test_ws_flex_edge_count_and_connectivity(n, k, p, seed):
    matrix = validate_matrix(generate("ws-flex", nodes=n, degree=k, p=p, seed=seed))
    assert matrix.sum() // 2 == int(round(k * n / 2))
    assert is_connected(matrix)


#: Published rows of graph2nn's graphs_n64_52.npy / graphs_n16_48.npy (You et al., ICML 2020):
#: (n, sparsity = k / n, p, seed, average clustering, average path length).
GRAPH2NN_ROWS = [
    (64, 0.40744797694683075, 0.4166508200, 0, 0.43109343750, 1.5863095238095238),
    (64, 0.15000368654727936, 0.5512690010, 16, 0.16460197818, 2.0540674603174603),
    (64, 0.27060029327869415, 0.0044742229, 16, 0.69875838505, 2.2807539682539684),
    (64, 0.14353919486463070, 0.0161519446, 29, 0.63153409091, 3.2127976190476190),
]


@pytest.mark.parametrize("n, sparsity, p, seed, clustering, aspl", GRAPH2NN_ROWS)
def test_ws_flex_reproduces_graph2nn(n, sparsity, p, seed, clustering, aspl):
    matrix = generate("ws-flex", nodes=n, degree=sparsity * n, p=p, seed=seed)
    metrics = compute_metrics([matrix], names=["clustering", "aspl"])[0]
    assert metrics["aspl"] == pytest.approx(aspl, abs=1e-12)
    assert metrics["clustering"] == pytest.approx(clustering, abs=1e-9)


def test_swap_chain_spans_the_aspl_range_at_fixed_degree():
    family = generate("swap-chain", nodes=64, degree=4, count=7, seed=0)
    assert len(family) == 7
    metrics = compute_metrics(family)
    aspl = [m["aspl"] for m in metrics]
    assert all(m["degree_min"] == m["degree_max"] == 4 and m["connected"] for m in metrics)
    assert aspl[0] == pytest.approx(compute_metrics([generate("ring", nodes=64, degree=4)])[0]["aspl"])
    assert aspl == sorted(aspl, reverse=True) and aspl[-1] < 3.4
    even_step = (aspl[0] - aspl[-1]) / 6
    assert all(abs(gap - even_step) < 0.5 * even_step for gap in -np.diff(aspl))  # evenly spread


@SETTINGS
@given(n_out=st.integers(1, 40), n_in=st.integers(1, 40), d=st.integers(1, 12), seed=st.integers(0, 2**32))
def test_xnet_is_left_regular(n_out, n_in, d, seed):
    if d > n_in:
        with pytest.raises(ParameterError, match="degree"):
            generate("xnet", nodes=n_out, nodes_in=n_in, degree=d, seed=seed)
        return
    matrix = validate_matrix(generate("xnet", nodes=n_out, nodes_in=n_in, degree=d, seed=seed), "bipartite")
    assert matrix.shape == (n_out, n_in)
    assert (matrix.sum(axis=1) == d).all()


@SETTINGS
@given(n_out=st.integers(1, 40), n_in=st.integers(1, 40), d=st.integers(1, 12), seed=st.integers(0, 2**32))
def test_rreg_bipartite_is_biregular(n_out, n_in, d, seed):
    if d > n_in:
        return
    matrix = validate_matrix(generate("rreg-bipartite", nodes=n_out, nodes_in=n_in, degree=d, seed=seed), "bipartite")
    assert (matrix.sum(axis=1) == d).all()  # 0/1 entries: no collapsed multi-edges
    in_degrees = matrix.sum(axis=0)
    assert in_degrees.max() - in_degrees.min() <= 1
    assert in_degrees.sum() == n_out * d


def test_density_selects_the_degree():
    matrix = generate("xnet", nodes=16, nodes_in=40, density=0.25, seed=0)
    assert (matrix.sum(axis=1) == 10).all()


def test_random_bipartite_density_is_close_to_p():
    matrix = generate("random-bipartite", nodes=200, nodes_in=300, p=0.1, seed=0)
    assert abs(matrix.mean() - 0.1) < 0.005


# --- reproducibility --------------------------------------------------------------------------

PINNED = [
    ("rreg", {"nodes": 64, "degree": 4}, "eb894f558a2ad6e210563b0407ca5cd7192d6e2564e9bbc475918db7dd3c6f97"),
    ("er", {"nodes": 64, "degree": 4.0}, "3a1354a217fc63f54a5a2b8fd6d9e84455d5586b5e86af281dcfeb3887e016c0"),
    ("er", {"nodes": 50, "p": 0.1}, "a99b2797b46c1527a212410e2668adf2ee493b5b50f25e0c5713e6817333a1c0"),
    ("ws", {"nodes": 64, "degree": 4, "p": 0.1}, "4f5b3f37decb26c8cd65e31e5f943bd265d823fbd4bf5889e17567de78316247"),
    (
        "ws-flex",
        {"nodes": 64, "degree": 4.5, "p": 0.2},
        "4431934afd75c5a3aa91e2aad202cb9b8592d542ee3de7d88a24c66bbcfb0f1b",
    ),
    (
        "xnet",
        {"nodes": 32, "nodes_in": 48, "degree": 5},
        "7709c555a66a1d3527e121f7642ab2d63e59eae185d2fd2a29d3c9eadf2d1b88",
    ),
    (
        "rreg-bipartite",
        {"nodes": 32, "nodes_in": 48, "degree": 5},
        "1427bc07d3764f80e10dfb64f6fb413834aa6c5cd2a085790050629e8b49024e",
    ),
    (
        "random-bipartite",
        {"nodes": 32, "nodes_in": 48, "p": 0.2},
        "7b6c167ac5ae0cad6351e7bd3655d21622c9a18232ff5230f282a80f933c9d1a",
    ),
]
SWAP_CHAIN_PINNED = [
    "cfaca0145ec7bc42b63d786a6b26679636d806d36ad3026f8cdf0eae5842fc04",
    "ed3ee6729308c47cd5d1c76ecd2482b801fdfea30ed97837d1294cb2a54bd12d",
    "f9b134b987f09b1c83f957c96eb843f91bb206c8d3be095e11f95ffb299d2106",
    "6f3072346bf997762acd908577a298a871c6c405d1cd952a36bdaa96d071fa41",
]


@pytest.mark.parametrize("name, params, digest", PINNED)
def test_seeded_output_is_pinned(name, params, digest):
    assert sha256_of(generate(name, seed=7, **params)) == digest


def test_swap_chain_is_pinned():
    family = generate("swap-chain", nodes=32, degree=4, count=4, seed=7)
    assert [sha256_of(m) for m in family] == SWAP_CHAIN_PINNED


@pytest.mark.parametrize("name", sorted(n for n, s in GENERATORS.items() if s.is_random))
def test_same_seed_same_graph_different_seed_different_graph(name):
    params = {
        "rreg": dict(nodes=30, degree=4),
        "er": dict(nodes=30, degree=4.0),
        "ws": dict(nodes=30, degree=4, p=0.3),
        "ws-flex": dict(nodes=30, degree=4.5, p=0.3),
        "swap-chain": dict(nodes=24, degree=4, count=2),
        "xnet": dict(nodes=20, degree=4),
        "rreg-bipartite": dict(nodes=20, degree=4),
        "random-bipartite": dict(nodes=20, p=0.3),
    }[name]
    first, again, other = (generate(name, seed=s, **params) for s in (1, 1, 2))
    as_list = lambda x: x if isinstance(x, list) else [x]  # noqa: E731
    assert all((a == b).all() for a, b in zip(as_list(first), as_list(again)))
    assert any((a != b).any() for a, b in zip(as_list(first), as_list(other)))


def test_a_generator_object_is_passed_down_not_reseeded():
    rng = np.random.default_rng(5)
    first, second = generate("rreg", nodes=30, degree=4, seed=rng), generate("rreg", nodes=30, degree=4, seed=rng)
    assert (first != second).any()


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, params, message",
    [
        ("rreg", dict(nodes=63, degree=3), "nodes \\* degree must be even"),
        ("rreg", dict(nodes=8, degree=8), "degree < nodes"),
        ("ring", dict(nodes=10, degree=3), "even"),
        ("hypercube", dict(nodes=12), "power of two"),
        ("paley", dict(nodes=7), "prime"),
        ("er", dict(nodes=10, degree=2.0, p=0.5), "exactly one of degree and p"),
        ("ws", dict(nodes=10, degree=4, p=1.5), "p must be in"),
        ("ws-flex", dict(nodes=10, degree=12.0, p=0.1), "degree"),
        ("rreg", dict(nodes=10), "needs degree"),
        ("complete", dict(nodes=5, degree=2), "does not take degree"),
    ],
)
def test_impossible_parameters_are_named(name, params, message):
    with pytest.raises(ParameterError, match=message):
        generate(name, seed=0, **params)


def test_unknown_generator_lists_valid_names():
    with pytest.raises(RegistryError, match="valid: .*rreg"):
        generate("nope")
