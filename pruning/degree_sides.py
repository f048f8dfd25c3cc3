"""Which side of a layer's bipartite graph has a fixed number of connections per channel.

A per-layer graph between C_out output and C_in input channels fixes the degree of one side:

- ``outputs``: every output channel keeps exactly d inputs;
- ``inputs``: every input channel feeds exactly d outputs;
- ``larger``: the side with more channels (outputs on a tie), as the expanders paper draws
  its random-regular layers;
- ``smaller``: the side with fewer channels (inputs on a tie), the public X-Nets layers'
  rule (C_in > C_out: each output keeps d inputs; otherwise each input keeps d outputs).

docs/fidelity.md says which shipped model and config uses which.
"""

from __future__ import annotations

DEGREE_SIDES = ("outputs", "inputs", "larger", "smaller")


def fixed_on_inputs(in_channels: int, out_channels: int, side: str) -> bool:
    """True when ``side`` puts the fixed degree on the input channels of a C_out x C_in layer."""
    if side not in DEGREE_SIDES:
        raise ValueError(f"degree side must be one of {', '.join(DEGREE_SIDES)}, got {side!r}")
    if side == "larger":
        return in_channels > out_channels
    if side == "smaller":
        return in_channels <= out_channels
    return side == "inputs"
