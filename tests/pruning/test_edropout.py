"""EDropout's state search: a hand-checked evolution step, batched energies in both batch-norm
modes, coverage presets, the freeze rules, gating, masks and the paper's R."""

import pytest
import torch
from torch import nn

from pruning.accounting import summarize
from pruning.edropout import (
    RESCORE_FREEZE,
    EDropoutConfig,
    EDropoutSearch,
    StepDraws,
    de_trials,
    draw_step,
    mean_hamming,
    public_rule_converged,
    select,
)
from pruning.edropout_energy import RUNNING_STATISTICS, energy, population_energies
from pruning.edropout_units import (
    ALL_CONVS,
    FILTERS,
    HIDDEN,
    INPUTS,
    PAPER,
    PUBLISHED,
    SCALES,
    gated,
    paper_keep_ratio,
    random_unit_masks,
    state_layout,
    state_masks,
    unit_structure,
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


def test_default_layout_of_a_net_without_residual_blocks_covers_every_conv_and_linear_input():
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


def buffers(model):
    return {name: b.clone() for name, b in model.named_buffers()}


@pytest.mark.parametrize("chunk", [0, 1, 2])
def test_batch_statistics_energies_equal_training_mode_forwards_and_leave_buffers_untouched(chunk):
    model = warm(small_net())
    layout = state_layout(model)
    states = torch.rand(5, layout.bits, generator=torch.Generator().manual_seed(1)) < 0.6
    images, labels = torch.randn(7, 1, 8, 8), torch.randint(0, 3, (7,))
    before = buffers(model)
    energies = population_energies(model, layout, states, images, labels, 10.0, chunk)
    after = buffers(model)
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert model.training  # the mode it found
    for m in range(5):
        copy = warm(small_net())  # same weights (seeded); a training forward moves its buffers, not the model's
        copy.train()
        with torch.no_grad(), gated(copy, layout, states[m]):
            by_hand = energy(copy(images), labels, 10.0)
        assert float(energies[m]) == pytest.approx(float(by_hand), rel=1e-5, abs=1e-5)
    model.eval()
    with torch.no_grad(), gated(model, layout, states[0]):
        running = energy(model(images), labels, 10.0)
    assert float(running) != pytest.approx(float(energies[0]), rel=1e-3)  # the two modes do differ here


def test_eval_mode_energies_equal_separate_masked_forwards():
    model = warm(small_net())
    layout = state_layout(model)
    states = torch.rand(5, layout.bits, generator=torch.Generator().manual_seed(1)) < 0.6
    images, labels = torch.randn(7, 1, 8, 8), torch.randint(0, 3, (7,))
    before = buffers(model)
    batched = population_energies(model, layout, states, images, labels, 10.0, bn_mode=RUNNING_STATISTICS)
    assert all(torch.equal(before[k], v) for k, v in buffers(model).items())
    model.eval()
    for m in range(5):
        with torch.no_grad(), gated(model, layout, states[m]):
            separate = energy(model(images), labels, 10.0)
        assert float(batched[m]) == pytest.approx(float(separate), rel=1e-5, abs=1e-5)


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


def test_the_search_is_seeded_improves_monotonically_and_logs_each_step():
    images, labels = torch.randn(16, 1, 8, 8), torch.randint(0, 3, (16,))
    runs = []
    for _ in range(2):
        model = warm(small_net())
        search = EDropoutSearch(model, EDropoutConfig(), seed=7)
        for _ in range(6):
            incumbent = search.best.clone()
            search.step(model, images, labels)
            record = search.records[-1]
            rescored = population_energies(model, search.layout, incumbent[None], images, labels, 10.0)
            assert record.incumbent_energy == pytest.approx(float(rescored[0]), abs=1e-5)
            assert record.best_changed == (not torch.equal(search.best, incumbent))
            assert record.hamming == pytest.approx(mean_hamming(search.states))
        runs.append((search.states.clone(), search.best_energies))
    assert torch.equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]
    bests = runs[0][1]
    assert all(b <= a for a, b in zip(bests, bests[1:]))  # same minibatch: greedy selection never loses the best
    assert [r.step for r in search.records] == [1, 2, 3, 4, 5, 6]
    with pytest.raises(PruningError, match="at least 4"):
        EDropoutConfig(population=3).validate()
    with pytest.raises(PruningError, match="coverage must be one of"):
        EDropoutConfig(coverage="every").validate()


def test_mean_hamming_by_hand():
    states = torch.tensor([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 1]], dtype=torch.bool)
    # pairs: (0,1) 1 bit, (0,2) 4 bits, (1,2) 3 bits -> 8 / (3 pairs x 4 bits)
    assert mean_hamming(states) == pytest.approx(8 / 12)


def test_public_freeze_rule_on_a_hand_made_energy_sequence():
    assert not public_rule_converged([])
    assert not public_rule_converged([-5.0])
    assert not public_rule_converged([-5.0, -6.0, -7.0])  # a new best at every step
    assert public_rule_converged([-5.0, -6.0, -6.0])  # one step without a new best
    assert public_rule_converged([-6.0] + [-7.0 - i for i in range(8)] + [-6.0])  # equal to one 9 steps back
    assert not public_rule_converged([-6.0] + [-7.0 - i for i in range(9)] + [-6.0])  # 10 back: outside the window


def test_public_freeze_waits_for_the_warm_up_and_the_twelfth_step_of_an_epoch():
    model = warm(small_net())
    search = EDropoutSearch(model, EDropoutConfig(), seed=0)
    search.best_energies = [-3.0, -3.0]
    # warm-up 2: free from the second epoch on (the public code's epoch >= threshold, epochs counted from 1)
    assert not search.maybe_freeze(epoch=0, step_in_epoch=50, warmup_epochs=2)
    assert not search.maybe_freeze(epoch=1, step_in_epoch=10, warmup_epochs=2)  # public: batch_idx > 10
    assert search.maybe_freeze(epoch=1, step_in_epoch=11, warmup_epochs=2)
    frozen = search.best.clone()
    search.step(model, torch.randn(16, 1, 8, 8), torch.randint(0, 3, (16,)))
    assert torch.equal(search.best, frozen) and search.steps == 0


def test_rescore_rule_compares_on_one_minibatch_and_freezes_only_when_the_best_state_stops_changing():
    model = warm(small_net())
    search = EDropoutSearch(model, EDropoutConfig(freeze=RESCORE_FREEZE, patience=3), seed=1)
    images, labels = torch.randn(16, 1, 8, 8), torch.randint(0, 3, (16,))
    for _ in range(4):
        search.step(model, images, labels)
        # every stored energy is the state's energy on this minibatch
        rescored = population_energies(model, search.layout, search.states, images, labels, 10.0)
        torch.testing.assert_close(search.energies, rescored, rtol=1e-5, atol=1e-5)
    search.unchanged_steps = 2
    assert not search.maybe_freeze(epoch=0, step_in_epoch=0, warmup_epochs=0)
    search.best_energies = [-1.0] * 20  # the public rule's evidence does not count here
    assert not search.maybe_freeze(epoch=0, step_in_epoch=20, warmup_epochs=0)
    search.unchanged_steps = 3
    assert search.maybe_freeze(epoch=0, step_in_epoch=0, warmup_epochs=0)


def test_the_search_resumes_from_its_state_dict_to_the_same_states():
    images, labels = torch.randn(16, 1, 8, 8), torch.randint(0, 3, (16,))
    model = warm(small_net())
    whole = EDropoutSearch(model, EDropoutConfig(), seed=3)
    for _ in range(4):
        whole.step(model, images, labels)
    half = EDropoutSearch(model, EDropoutConfig(), seed=3)
    for _ in range(2):
        half.step(model, images, labels)
    resumed = EDropoutSearch(model, EDropoutConfig(), seed=99)
    resumed.load_state_dict(half.state_dict())
    for _ in range(2):
        resumed.step(model, images, labels)
    assert torch.equal(resumed.states, whole.states) and resumed.records == whole.records


def test_eval_mode_energies_do_not_depend_on_how_many_states_share_a_forward():
    model = warm(small_net())
    layout = state_layout(model)
    states = torch.rand(6, layout.bits, generator=torch.Generator().manual_seed(2)) < 0.5
    images, labels = torch.randn(5, 1, 8, 8), torch.randint(0, 3, (5,))
    together = population_energies(model, layout, states, images, labels, 10.0, bn_mode=RUNNING_STATISTICS)
    for chunk in (1, 4):
        torch.testing.assert_close(
            population_energies(model, layout, states, images, labels, 10.0, chunk, RUNNING_STATISTICS),
            together,
            rtol=1e-5,
            atol=1e-5,
        )


def test_random_unit_masks_keep_the_same_count_per_layer_seeded():
    model = small_net()
    layout = state_layout(model)
    state = torch.ones(layout.bits, dtype=torch.bool)
    state[[0, 1, 5, 12]] = False
    reference = state_masks(model, layout, state)

    drawn = random_unit_masks(reference, seed=3)
    assert {name: unit_structure(name, m) for name, m in drawn.items()} == {"0": FILTERS, "3": FILTERS, "8": INPUTS}
    for name in reference:
        assert drawn[name].shape == reference[name].shape and int(drawn[name].sum()) == int(reference[name].sum())
    assert all(torch.equal(drawn[n], random_unit_masks(reference, seed=3)[n]) for n in drawn)
    assert any(not torch.equal(drawn[n], random_unit_masks(reference, seed=4)[n]) for n in drawn)
    with pytest.raises(PruningError, match="neither whole filters nor whole inputs"):
        random_unit_masks({"x": torch.eye(3, dtype=torch.bool)}, seed=0)


def _names(layout):
    return [(layer.name, layer.kind, layer.units) for layer in layout.layers]


def test_coverage_presets_on_resnet18_cresnet18_and_mlp():
    from trainer.models import build_model

    resnet = build_model("resnet18", (3, 32, 32), 10)
    second = [f"layer{s}.{b}.conv2" for s in range(1, 5) for b in range(2)]
    widths = {1: 64, 2: 128, 3: 256, 4: 512}
    paper = [(name, FILTERS, widths[int(name[5])]) for name in second[1:]] + [("fc", INPUTS, 512)]
    assert _names(state_layout(resnet, PAPER)) == paper  # layer1.0.conv2 skipped, as 0f82e3f's masking does
    assert state_layout(resnet, PAPER).bits == 64 + 2 * 128 + 2 * 256 + 2 * 512 + 512
    every = [n for n, m in resnet.named_modules() if isinstance(m, nn.Conv2d)]
    assert [x[0] for x in _names(state_layout(resnet, ALL_CONVS))] == every + ["fc"]
    assert (
        state_layout(resnet, ALL_CONVS).bits
        == sum(m.out_channels for m in resnet.modules() if isinstance(m, nn.Conv2d)) + 512
    )

    cifar = build_model("cresnet18", (1, 28, 28), 10, width=32)
    names = [x[0] for x in _names(state_layout(cifar, PAPER))]
    assert names == [f"layers.{s}.{b}.conv2" for s in range(4) for b in range(2)][1:] + ["linear"]

    mlp = build_model("mlp", (1, 28, 28), 10)
    linears = [n for n, m in mlp.named_modules() if isinstance(m, nn.Linear)]
    assert _names(state_layout(mlp)) == _names(state_layout(mlp, HIDDEN))
    assert [x[0] for x in _names(state_layout(mlp))] == linears[1:]  # the pixels feeding the first layer stay
    assert [x[0] for x in _names(state_layout(mlp, ALL_CONVS))] == linears[-1:]


def test_paper_r_by_hand_with_a_linear_layer():
    model = small_net()  # conv 0: 4 filters 3x3, conv 3: 6 filters 3x3, Linear 8: 6 inputs -> 3 classes
    layout = state_layout(model)
    state = torch.ones(layout.bits, dtype=torch.bool)
    state[[0, 1]] = False  # conv 0 keeps 2 of 4
    state[[4]] = False  # conv 3 keeps 5 of 6
    state[[10, 11, 12]] = False  # classifier keeps 3 of 6 inputs
    kept = 2 * 9 + 5 * 9 + 3 * 3
    total = 4 * 9 + 6 * 9 + 6 * 3
    assert paper_keep_ratio(model, layout, state) == pytest.approx(kept / total)


@pytest.mark.parametrize(
    ("name", "bits"), [("resnet18", 6208), ("resnet34", 9920), ("resnet50", 32448), ("resnet101", 58560)]
)
def test_the_published_coverage_is_the_state_the_public_readme_counts(name, bits):
    """The public README's state sizes (its speed table) are 5e1a296's state: every conv's filters,
    the downsample BatchNorms' channels and the classifier's inputs."""
    import torchvision

    model = getattr(torchvision.models, name)(weights=None, num_classes=10)
    layout = state_layout(model, PUBLISHED)
    assert layout.bits == bits
    convs = sum(m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d))
    norms = [x for x in layout.layers if x.kind == SCALES]
    assert all(x.name.endswith(".downsample.1") for x in norms) and len(norms) == (
        3 if name in ("resnet18", "resnet34") else 4
    )
    assert convs + sum(x.units for x in norms) + model.fc.in_features == bits
    if name == "resnet18":
        assert (convs, sum(x.units for x in norms), model.fc.in_features) == (4800, 896, 512)


def test_published_coverage_on_our_cifar_resnet_gates_its_shortcut_norms():
    from trainer.models import build_model

    layout = state_layout(build_model("cresnet18", (1, 32, 32), 10), PUBLISHED)
    assert layout.bits == 6208  # the public realresnet's ResNet-18: the same 6,208 bits
    assert [x.name for x in layout.layers if x.kind == SCALES] == [f"layers.{s}.0.shortcut.1" for s in (1, 2, 3)]


def test_a_gated_shortcut_norm_channel_keeps_its_bias_and_masks_as_its_conv_filter():
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("downsample", nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4)))  # a shortcut's conv, norm
    model.add_module("flat", nn.Flatten())
    model.add_module("fc", nn.Linear(4 * 36, 3))
    with torch.no_grad():
        model.downsample[1].bias.copy_(torch.tensor([0.5, -1.0, 2.0, 0.25]))
    layout = state_layout(model, PUBLISHED)
    assert [(x.name, x.kind, x.units) for x in layout.layers] == [
        ("downsample.0", FILTERS, 4),
        ("downsample.1", SCALES, 4),
        ("fc", INPUTS, 144),
    ]
    state = torch.ones(layout.bits, dtype=torch.bool)
    state[[5, 7]] = False  # the norm's channels 1 and 3: their scale off, their bias on
    images = torch.randn(8, 1, 8, 8)
    model.train()
    with gated(model, layout, state):
        gated_out = model.downsample(images)
    assert torch.allclose(gated_out[:, 1], torch.tensor(-1.0)) and torch.allclose(gated_out[:, 3], torch.tensor(0.25))
    masks = state_masks(model, layout, state)
    assert set(masks) == {"downsample.0", "fc"}  # the norm's bits fold into its conv's filters
    assert masks["downsample.0"].reshape(4, -1).all(dim=1).tolist() == [True, False, True, False]
    masked = apply_masks(model, masks)  # in training mode the same network
    torch.testing.assert_close(gated_out, masked.downsample(images))
    lone = nn.Sequential()
    lone.add_module("stem", nn.Conv2d(1, 4, 1))
    lone.add_module("downsample", nn.Sequential(nn.Identity(), nn.BatchNorm2d(4)))
    lone.add_module("head", nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))
    lone_layout = state_layout(lone, PUBLISHED)
    with pytest.raises(PruningError, match="BatchNorm downsample.1 follows no convolution"):
        state_masks(lone, lone_layout, torch.ones(lone_layout.bits, dtype=torch.bool))


def test_published_r_weighs_a_filter_by_its_weights_plus_one_and_a_norm_channel_by_one():
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, bias=False), nn.BatchNorm2d(4), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)
    )
    layout = state_layout(model, PUBLISHED)
    assert [x.kind for x in layout.layers] == [FILTERS, INPUTS]  # a norm outside a shortcut is not gated
    state = torch.tensor([1, 0, 1, 1, 1, 1, 0, 1], dtype=torch.bool)  # filters 3/4, inputs 3/4
    kept = 3 * (9 * 2 + 1) + 3 * 3
    total = 4 * (9 * 2 + 1) + 4 * 3
    assert paper_keep_ratio(model, layout, state, PUBLISHED) == pytest.approx(kept / total)
    shortcut = nn.Sequential()
    shortcut.add_module("conv", nn.Conv2d(2, 4, 3, bias=False))
    shortcut.add_module("downsample", nn.Sequential(nn.Identity(), nn.BatchNorm2d(4)))
    shortcut.add_module("pool", nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()))
    shortcut.add_module("fc", nn.Linear(4, 3))
    layout = state_layout(shortcut, PUBLISHED)
    state = torch.tensor([1, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1], dtype=torch.bool)  # filters 3/4, norm 2/4, inputs 3/4
    kept = 3 * (9 * 2 + 1) + 2 * 1 + 3 * 3  # a norm channel's bit weighs 1
    total = 4 * (9 * 2 + 1) + 4 * 1 + 4 * 3
    assert paper_keep_ratio(shortcut, layout, state, PUBLISHED) == pytest.approx(kept / total)
