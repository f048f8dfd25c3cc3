"""EDropout's state search: a hand-checked evolution step, batched energies, gating and masks."""

import pytest
import torch
from torch import nn

from pruning.accounting import summarize
from pruning.edropout import (
    FILTERS,
    INPUTS,
    EDropoutConfig,
    EDropoutSearch,
    StepDraws,
    de_trials,
    draw_step,
    energy,
    gated,
    population_energies,
    select,
    state_layout,
    state_masks,
)
from pruning.errors import PruningError
from pruning.masking import apply_masks


def small_net():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, bias=False),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 6, 3, bias=False),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(6, 3),
    )


def warm(model):
    """Give BatchNorm non-trivial running statistics."""
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(16, 1, 8, 8))
    return model


def test_one_evolution_step_by_hand():
    states = torch.tensor([[1, 0, 1, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 1, 0, 1]], dtype=torch.bool)
    partners = torch.tensor([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])
    mutate = torch.full((4, 4), 0.95)
    mutate[0, 0] = 0.5
    cross = torch.ones(4, 4)  # rows 1-3 keep their own bits
    cross[0] = torch.tensor([0.1, 0.1, 0.95, 0.1])
    trials = de_trials(states, StepDraws(partners, mutate, cross), mutation=0.9, crossover=0.9)
    # candidate 0: x1 = [1,1,0,0], x2 = [0,0,1,1], x3 = [0,1,0,1]; x2 == x3 at bits 0 and 3.
    # mutant: bit 0 copies x1 (draw 0.5 < F) -> 1; bits 1-3 are (1 - x1) where x2 == x3 else 0 -> 0, 0, 1.
    # crossover: bits 0, 1, 3 from the mutant, bit 2 (draw 0.95 >= CR) from candidate 0 itself -> 1.
    assert trials[0].int().tolist() == [1, 0, 1, 1]
    assert torch.equal(trials[1:], states[1:])


def test_draws_pick_three_distinct_others_and_are_seeded():
    draws = draw_step(8, 5, torch.Generator().manual_seed(3))
    for i, row in enumerate(draws.partners.tolist()):
        assert len(set(row)) == 3 and i not in row
    again = draw_step(8, 5, torch.Generator().manual_seed(3))
    assert torch.equal(draws.partners, again.partners) and torch.equal(draws.mutate, again.mutate)


def test_selection_is_greedy_and_keeps_the_candidate_on_ties():
    states = torch.tensor([[1, 1], [0, 0], [1, 0]], dtype=torch.bool)
    trials = ~states
    kept, energies = select(states, torch.tensor([1.0, 2.0, 3.0]), trials, torch.tensor([0.5, 2.0, 4.0]))
    assert kept.int().tolist() == [[0, 0], [0, 0], [1, 0]] and energies.tolist() == [0.5, 2.0, 3.0]


def test_energy_is_minus_ten_times_the_mean_margin():
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0]])
    assert float(energy(logits, torch.tensor([0, 2]), 10.0)) == pytest.approx(-10 * ((2 - 1) + (1 - 3)) / 2)


def test_default_layout_covers_every_conv_and_the_classifier_inputs():
    layout = state_layout(small_net())
    assert [(x.name, x.kind, x.offset, x.units) for x in layout.layers] == [
        ("0", FILTERS, 0, 4),
        ("3", FILTERS, 4, 6),
        ("8", INPUTS, 10, 6),
    ]
    assert layout.bits == 16
    assert [x.name for x in state_layout(small_net(), exclude=("0",)).layers] == ["3", "8"]
    with pytest.raises(PruningError, match="covers no layer"):
        state_layout(small_net(), include=("nothing*",))


def test_batched_population_energies_equal_separate_masked_forwards():
    model = warm(small_net())
    layout = state_layout(model)
    states = torch.rand(5, layout.bits, generator=torch.Generator().manual_seed(1)) < 0.6
    images, labels = torch.randn(7, 1, 8, 8), torch.randint(0, 3, (7,))
    batched = population_energies(model, layout, states, images, labels, 10.0)
    model.eval()
    for m in range(5):
        with torch.no_grad(), gated(model, layout, states[m]):
            separate = energy(model(images), labels, 10.0)
        assert float(batched[m]) == pytest.approx(float(separate), rel=1e-5, abs=1e-5)
    assert model.training is False  # population_energies restores the mode it found (eval here)


def test_dropped_filters_get_zero_gradient_and_keep_their_values():
    model = warm(small_net())
    layout = state_layout(model)
    state = torch.ones(layout.bits, dtype=torch.bool)
    state[1] = state[4 + 2] = False  # filter 1 of conv 0, filter 2 of conv 3
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    model.train()
    with gated(model, layout, state):
        nn.functional.cross_entropy(model(torch.randn(8, 1, 8, 8)), torch.randint(0, 3, (8,))).backward()
    assert model[0].weight.grad[1].abs().sum() == 0 and model[0].weight.grad[0].abs().sum() > 0
    assert model[3].weight.grad[2].abs().sum() == 0 and model[3].weight.grad[3].abs().sum() > 0
    optimizer.step()
    assert torch.equal(model[0].weight[1], before["0.weight"][1]) and torch.equal(
        model[3].weight[2], before["3.weight"][2]
    )
    assert not torch.equal(model[0].weight[0], before["0.weight"][0])


def test_a_frozen_state_as_masks_zeroes_exactly_its_weights_and_counts_by_hand():
    model = warm(small_net()).eval()
    layout = state_layout(model)
    state = torch.ones(layout.bits, dtype=torch.bool)
    state[[0]] = False  # conv 0 keeps 3 of 4 filters
    state[[5, 9]] = False  # conv 3 keeps 4 of 6
    state[[10]] = False  # the classifier keeps 5 of 6 inputs
    masks = state_masks(model, layout, state)
    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad(), gated(model, layout, state):
        expected = model(x)
    apply_masks(model, masks)
    assert (
        model[0].weight[0].abs().sum() == 0
        and model[3].weight[[1, 5]].abs().sum() == 0
        and model[8].weight[:, 0].abs().sum() == 0
    )
    with torch.no_grad():
        torch.testing.assert_close(model(x), expected)  # convs have no bias, so zero weights = zero filter output
    layers = {layer.name: layer for layer in summarize(model, (1, 8, 8)).layers}
    assert (
        layers["0"].weights_kept == 3 * 1 * 9
        and layers["3"].weights_kept == 4 * 4 * 9
        and layers["8"].weights_kept == 3 * 5
    )


def test_the_search_is_seeded_improves_monotonically_and_freezes():
    images, labels = torch.randn(16, 1, 8, 8), torch.randint(0, 3, (16,))
    runs = []
    for _ in range(2):
        model = warm(small_net())
        search = EDropoutSearch(model, EDropoutConfig(patience=2), seed=7)
        bests = []
        for _ in range(6):
            search.step(model, images, labels)
            bests.append(float(search.energies.min()))
        runs.append((search.states.clone(), bests))
    assert torch.equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]
    assert all(
        b <= a for a, b in zip(runs[0][1], runs[0][1][1:])
    )  # same minibatch: greedy selection never loses the best
    assert not search.maybe_freeze(epoch=0, warmup_epochs=1)  # still warming up
    search.steps_since_improvement = 2
    assert search.maybe_freeze(epoch=1, warmup_epochs=1)
    frozen = search.best.clone()
    search.step(model, torch.randn(16, 1, 8, 8), labels)
    assert torch.equal(search.best, frozen)
    with pytest.raises(PruningError, match="at least 4"):
        EDropoutConfig(population=3).validate()


def test_energies_do_not_depend_on_how_many_states_share_a_forward():
    model = warm(small_net())
    layout = state_layout(model)
    states = torch.rand(6, layout.bits, generator=torch.Generator().manual_seed(2)) < 0.5
    images, labels = torch.randn(5, 1, 8, 8), torch.randint(0, 3, (5,))
    together = population_energies(model, layout, states, images, labels, 10.0)
    for chunk in (1, 4):
        torch.testing.assert_close(
            population_energies(model, layout, states, images, labels, 10.0, chunk), together, rtol=1e-5, atol=1e-5
        )


def test_random_unit_masks_keep_the_same_count_per_layer_seeded():
    model = small_net()
    layout = state_layout(model)
    state = torch.ones(layout.bits, dtype=torch.bool)
    state[[0, 1, 5, 12]] = False
    reference = state_masks(model, layout, state)
    from pruning.edropout import random_unit_masks, unit_structure

    drawn = random_unit_masks(reference, seed=3)
    assert {name: unit_structure(name, m) for name, m in drawn.items()} == {"0": FILTERS, "3": FILTERS, "8": INPUTS}
    for name in reference:
        assert drawn[name].shape == reference[name].shape and int(drawn[name].sum()) == int(reference[name].sum())
    assert all(torch.equal(drawn[n], random_unit_masks(reference, seed=3)[n]) for n in drawn)
    assert any(not torch.equal(drawn[n], random_unit_masks(reference, seed=4)[n]) for n in drawn)
    with pytest.raises(PruningError, match="neither whole filters nor whole inputs"):
        random_unit_masks({"x": torch.eye(3, dtype=torch.bool)}, seed=0)
