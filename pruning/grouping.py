"""Output channels of a masked layer grouped by the inputs they read: the layout of the
structured kernels in :mod:`pruning.kernels`.

A relational mask (one graph for every layer, DESIGN 2.4) gives every output channel of a node
the same input pattern (the channels of the node's neighbours), so its G = n groups each hold a
block of outputs that read one set of inputs. An X-Net or random bipartite mask gives each output
its own pattern (one group per output). Groups of unequal size, or reading unequal numbers of
inputs, are padded to the largest; padded entries carry zero weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Grouping:
    """Output channels in G groups; the outputs of one group read the same K input channels.

    Attributes
    ----------
    inputs : ndarray of int64, shape (G, K)
        Input channels each group reads; rows with fewer than K are padded by repeating a valid
        channel (the padded weights are zero).
    input_counts : ndarray of int64, shape (G,)
        How many of each row of ``inputs`` are real.
    outputs : ndarray of int64, shape (G, S)
        Output channels of each group, -1 where a group has fewer than S.
    """

    inputs: np.ndarray
    input_counts: np.ndarray
    outputs: np.ndarray

    @property
    def groups(self) -> int:
        return self.inputs.shape[0]

    @property
    def inputs_per_group(self) -> int:
        return self.inputs.shape[1]

    @property
    def outputs_per_group(self) -> int:
        return self.outputs.shape[1]

    @property
    def out_channels(self) -> int:
        return int((self.outputs >= 0).sum())

    def output_positions(self) -> np.ndarray:
        """(C_out,) int64: where each output channel sits in the flattened (G*S) group layout."""
        flat = self.outputs.reshape(-1)
        positions = np.empty(self.out_channels, dtype=np.int64)
        valid = np.flatnonzero(flat >= 0)
        positions[flat[valid]] = valid
        return positions

    @property
    def in_order(self) -> bool:
        """True when the flattened group layout is the output channels 0..C_out-1 in order."""
        flat = self.outputs.reshape(-1)
        return bool((flat == np.arange(flat.size)).all())

    @property
    def padded_fraction(self) -> float:
        """Share of the packed (G, S, K) weight that is padding (computed and thrown away)."""
        real = int((self.outputs >= 0).sum(axis=1) @ self.input_counts)
        return 1.0 - real / (self.groups * self.outputs_per_group * self.inputs_per_group)

    def describe(self) -> str:
        sizes = (self.outputs >= 0).sum(axis=1)
        outputs = f"{sizes.min()}" if sizes.min() == sizes.max() else f"{sizes.min()}-{sizes.max()}"
        counts = self.input_counts
        inputs = f"{counts.min()}" if counts.min() == counts.max() else f"{counts.min()}-{counts.max()}"
        return f"{self.groups} groups x {outputs} outputs x {inputs} inputs"


def _pack(outputs_of_group: list[np.ndarray], patterns: list[np.ndarray]) -> Grouping:
    width = max(1, max(len(p) for p in patterns))
    size = max(len(o) for o in outputs_of_group)
    inputs = np.zeros((len(patterns), width), dtype=np.int64)
    counts = np.zeros(len(patterns), dtype=np.int64)
    outputs = np.full((len(patterns), size), -1, dtype=np.int64)
    for g, (members, pattern) in enumerate(zip(outputs_of_group, patterns)):
        counts[g] = len(pattern)
        if len(pattern):
            inputs[g, : len(pattern)] = pattern
            inputs[g, len(pattern) :] = pattern[-1]
        outputs[g, : len(members)] = members
    return Grouping(inputs, counts, outputs)


def group_by_pattern(channel_mask: np.ndarray) -> Grouping:
    """Outputs with identical input patterns share a group; groups ordered by first output.

    Parameters
    ----------
    channel_mask : ndarray of bool, shape (C_out, C_in)
    """
    channel_mask = np.asarray(channel_mask, dtype=bool)
    packed = np.packbits(channel_mask, axis=1)
    _, first, inverse = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    group_of = rank[inverse]
    order = np.argsort(group_of, kind="stable")
    members = np.split(order, np.flatnonzero(np.diff(group_of[order])) + 1)
    patterns = [np.flatnonzero(channel_mask[m[0]]) for m in members]
    return _pack(members, patterns)


def group_per_output(channel_mask: np.ndarray) -> Grouping:
    """One group per output channel, reading that output's kept inputs.

    Parameters
    ----------
    channel_mask : ndarray of bool, shape (C_out, C_in)
    """
    channel_mask = np.asarray(channel_mask, dtype=bool)
    rows, cols = np.nonzero(channel_mask)
    counts = channel_mask.sum(axis=1)
    width = max(1, int(counts.max(initial=0)))
    inputs = np.zeros((channel_mask.shape[0], width), dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(len(rows)) - starts[rows]
    inputs[rows, slot] = cols
    last = np.where(counts > 0, inputs[np.arange(len(counts)), np.maximum(counts - 1, 0)], 0)
    padding = np.arange(width)[None, :] >= counts[:, None]
    inputs = np.where(padding, last[:, None], inputs)
    outputs = np.arange(channel_mask.shape[0], dtype=np.int64)[:, None]
    return Grouping(inputs, counts.astype(np.int64), outputs)
