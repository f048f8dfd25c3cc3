"""The whole-network channel graph against graphs built by hand."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pruning.errors import PruningError
from pruning.masking import apply_masks
from pruning.network_graph import network_graph


class Tiny(nn.Module):
    """2 input channels -> conv1 (3) -> conv2 (3) + skip from conv1 -> pool -> fc (2)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(2, 3, 1)
        self.conv2 = nn.Conv2d(3, 3, 1)
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        y = F.relu(self.conv1(x))
        z = self.conv2(y) + y
        return self.fc(F.adaptive_avg_pool2d(z, 1).flatten(1))


def _expected(nodes: int, edges: list[tuple[int, int]]) -> np.ndarray:
    matrix = np.zeros((nodes, nodes), dtype=np.uint8)
    for u, v in edges:
        matrix[u, v] = matrix[v, u] = 1
    return matrix


def test_tiny_residual_model_matches_the_hand_built_graph():
    model = Tiny()
    masks = {
        "conv2": torch.tensor([[1, 0, 0], [0, 1, 1], [0, 0, 1]], dtype=torch.bool),
        "fc": torch.tensor([[1, 0, 1], [0, 1, 0]], dtype=torch.bool),
    }
    apply_masks(model, masks)
    graph = network_graph(model, (2, 4, 4))
    # Nodes: input 0-1, conv1 2-4, conv2 5-7, fc 8-9. fc's input i is fed by conv2's i and, through
    # the skip connection, conv1's i.
    edges = [(o, i) for o in (2, 3, 4) for i in (0, 1)]
    edges += [(5, 2), (6, 3), (6, 4), (7, 4)]
    edges += [(8, 5), (8, 2), (8, 7), (8, 4), (9, 6), (9, 3)]
    np.testing.assert_array_equal(graph.adjacency.toarray(), _expected(10, edges))
    assert graph.layers == [("input", 0, 2), ("conv1", 2, 5), ("conv2", 5, 8), ("fc", 8, 10)]


def test_explicit_masks_and_unmasked_layers_are_dense():
    graph = network_graph(Tiny(), (2, 4, 4), masks={})
    assert graph.adjacency.nnz // 2 == 6 + 9 + 2 * 6


class Grouped(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(2, 4, 3, groups=2, padding=1)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 2 * 2, 3))

    def forward(self, x):
        return self.head(F.max_pool2d(self.depthwise(x), 2))


def test_grouped_convolutions_and_flattened_features():
    graph = network_graph(Grouped(), (2, 4, 4))
    # depthwise: outputs 2,3 read input 0, outputs 4,5 read input 1; each Linear output reads
    # 16 features, 4 per channel, so every depthwise channel.
    edges = [(2, 0), (3, 0), (4, 1), (5, 1)] + [(o, i) for o in (6, 7, 8) for i in (2, 3, 4, 5)]
    np.testing.assert_array_equal(graph.adjacency.toarray(), _expected(9, edges))


def test_option_a_shortcut_padding_leaves_new_channels_unfed():
    class Padded(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 1)
            self.wide = nn.Conv2d(2, 4, 1)
            self.fc = nn.Linear(4, 1)

        def forward(self, x):
            y = self.conv(x)
            z = self.wide(y) + F.pad(y, (0, 0, 0, 0, 1, 1))
            return self.fc(z.mean(dim=(2, 3)))

    graph = network_graph(Padded(), (1, 2, 2)).adjacency.toarray()
    # fc (node 7) reads wide's 4 outputs (3-6) and, through the padded shortcut, conv's 2 (1, 2).
    assert sorted(np.flatnonzero(graph[7])) == [1, 2, 3, 4, 5, 6]


def test_untraceable_models_give_one_line():
    class Loop(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 1)

        def forward(self, x):
            for part in x:  # iterating a traced tensor
                x = self.conv(part[None])
            return x

    with pytest.raises(PruningError, match="cannot trace Loop with torch.fx"):
        network_graph(Loop(), (1, 2, 2))
