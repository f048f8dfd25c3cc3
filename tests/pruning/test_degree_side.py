"""Per-layer recipes: which side carries the degree, best-of-N draws, unconnected-channel notices."""

import numpy as np
import pytest
from torch import nn

from common.seeding import derive_seed
from pruning import LayerSelection, MaskConfig, compute_masks
from pruning.errors import PruningError
from pruning.mask_rules import compute_mask_set
from topology.generators import generate
from topology.metrics import compute_metrics


def widths(*sizes):
    """Linear layers sizes[0] -> sizes[1] -> ...; every layer masked (first and last included)."""
    return nn.Sequential(*[nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])])


def masks_of(model, recipe="rreg-bipartite", degree=3, **options):
    return compute_mask_set(
        model, MaskConfig(recipe, degree=degree, selection=LayerSelection(prune_first=True, prune_last=True), **options)
    )


@pytest.mark.parametrize("recipe", ["xnet", "rreg-bipartite"])
def test_degree_on_outputs_inputs_and_larger_side(recipe):
    model = widths(12, 24, 8)  # a widening layer "0" (12 -> 24) and a narrowing one "1" (24 -> 8)
    outputs = masks_of(model, recipe=recipe, degree_side="outputs").masks
    inputs = masks_of(model, recipe=recipe, degree_side="inputs").masks
    larger = masks_of(model, recipe=recipe, degree_side="larger").masks
    for masks in (outputs, inputs, larger):
        assert tuple(masks["0"].shape) == (24, 12) and tuple(masks["1"].shape) == (8, 24)
    assert (outputs["0"].sum(dim=1) == 3).all() and (outputs["1"].sum(dim=1) == 3).all()  # 3 inputs per output
    assert (inputs["0"].sum(dim=0) == 3).all() and (inputs["1"].sum(dim=0) == 3).all()  # 3 outputs per input
    assert (larger["0"].sum(dim=1) == 3).all()  # 24 outputs > 12 inputs: the degree is on the outputs
    assert (larger["1"].sum(dim=0) == 3).all()  # 24 inputs > 8 outputs: on the inputs
    if recipe == "rreg-bipartite":  # the other side is balanced: 24 * 3 / 12 = 6 and 24 * 3 / 8 = 9 exactly
        assert (outputs["0"].sum(dim=0) == 6).all() and (inputs["1"].sum(dim=1) == 9).all()
    # "inputs" is the transpose of the generator's graph drawn with the sides swapped, same seed.
    expected = generate(recipe, nodes=12, nodes_in=24, degree=3, seed=derive_seed(0, "0")).T
    assert (inputs["0"].numpy() == expected.astype(bool)).all()


def test_random_bipartite_density_follows_the_degree_side():
    model = widths(64, 256, 16)
    outputs = masks_of(model, recipe="random-bipartite", degree=8, degree_side="outputs").masks["0"]
    inputs = masks_of(model, recipe="random-bipartite", degree=8, degree_side="inputs").masks["0"]
    assert float(outputs.float().mean()) == pytest.approx(8 / 64, abs=0.01)  # p = d / C_in
    assert float(inputs.float().mean()) == pytest.approx(8 / 256, abs=0.01)  # p = d / C_out


def test_unconnected_inputs_are_named_once_per_layer():
    # rreg-bipartite 64 -> 16 at degree 3: 48 connections for 64 inputs, so 16 inputs feed nothing.
    result = masks_of(widths(64, 16), recipe="rreg-bipartite", degree=3)
    unused = int((~result.masks["0"].any(dim=0)).sum())
    assert unused == 64 - 16 * 3
    assert result.notices == [f"0: {unused} of 64 input channels are unconnected (they feed no output)"]
    # Fixing the degree on the larger side (the inputs here) connects every input.
    assert masks_of(widths(64, 16), recipe="rreg-bipartite", degree=3, degree_side="larger").notices == []
    dead = masks_of(widths(16, 64), recipe="xnet", degree=1, degree_side="inputs")
    assert any("48 of 64 output channels get no input (dead units)" in line for line in dead.notices)


def test_best_of_keeps_the_best_draw_and_draw_zero_is_the_plain_mask():
    model = widths(32, 48, 32)
    plain = masks_of(model, recipe="xnet", degree=4).masks
    best = masks_of(model, recipe="xnet", degree=4, best_of=6)
    for name in ("0", "1"):
        chosen = best.draws[name]
        draws = [
            masks_of(model, recipe="xnet", degree=4, draw=k).masks[name].numpy().astype(np.uint8) for k in range(6)
        ]
        scores = [m["vertex_expansion"] for m in compute_metrics(draws, kind="bipartite", names=["vertex_expansion"])]
        assert chosen["scores"] == pytest.approx(scores)
        assert chosen["kept_draw"] == int(np.argmax(scores))
        assert (best.masks[name].numpy() == draws[chosen["kept_draw"]].astype(bool)).all()
        assert (plain[name].numpy() == draws[0].astype(bool)).all()
    assert sum("kept draw" in line for line in best.notices) == 2
    by_gap = masks_of(model, recipe="xnet", degree=4, best_of=6, select_by="spectral_gap")
    assert by_gap.draws["0"]["select_by"] == "spectral_gap"
    assert by_gap.draws["0"]["scores"][by_gap.draws["0"]["kept_draw"]] == max(by_gap.draws["0"]["scores"])


def test_bad_options_are_one_line_errors():
    model = widths(8, 8)
    with pytest.raises(PruningError, match="degree side must be one of outputs, inputs, larger"):
        compute_masks(model, MaskConfig("xnet", degree=2, degree_side="left"))
    with pytest.raises(PruningError, match="best-of draws random layer graphs; recipe 'dense'"):
        compute_masks(widths(8, 8, 8, 8), MaskConfig("dense", best_of=3))
    with pytest.raises(PruningError, match="best-of must be at least 1"):
        compute_masks(model, MaskConfig("xnet", degree=2, best_of=0))
