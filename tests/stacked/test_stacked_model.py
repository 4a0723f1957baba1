"""StackedMLP: its members are plain MLPs, built as mlpkit.MLP builds them, and its ensemble's
prediction is the mean of theirs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mlpkit.errors import ConfigError
from mlpkit.models import MLP
from mlpkit.stacked import (
    Ensemble,
    StackedAdamW,
    StackedMLP,
    StackedStep,
    ensemble_mean,
)


def test_member_k_starts_as_a_plain_mlp_built_with_seed_k():
    stack = StackedMLP(3, 6, [10, 4], 2, activation="tanh")
    for k in range(3):
        torch.manual_seed(k)
        plain = MLP(6, [10, 4], 2, activation="tanh")
        mine = stack.member(k).state_dict()
        assert mine.keys() == plain.state_dict().keys()
        for key, value in plain.state_dict().items():
            assert torch.equal(mine[key], value), key


def test_seeds_choose_the_members_initial_weights():
    stack = StackedMLP(2, 6, [10], 1, seeds=[5, 5])
    assert torch.equal(stack.weights[0][0], stack.weights[0][1])
    torch.manual_seed(5)
    assert torch.equal(stack.member(0)[0].weight, MLP(6, [10], 1)[0].weight)


def test_building_a_stack_draws_nothing_from_the_global_generator():
    torch.manual_seed(0)
    StackedMLP(4, 3, [8], 2).member(2)
    after = torch.rand(1)
    torch.manual_seed(0)
    assert torch.equal(torch.rand(1), after)


@pytest.mark.parametrize("activation", ["relu", "gelu", "silu", "leaky_relu", "elu", "sigmoid"])
def test_forward_is_each_members_own_forward(activation):
    stack = StackedMLP(4, 5, [9, 7], 3, activation=activation).eval()
    shared, own = torch.randn(6, 5), torch.randn(4, 6, 5)
    out_shared, out_own = stack(shared), stack(own)
    assert out_shared.shape == (4, 6, 3)
    for k in range(4):
        member = stack.member(k).eval()
        torch.testing.assert_close(out_shared[k], member(shared))
        torch.testing.assert_close(out_own[k], member(own[k]))


def test_from_members_stacks_mlps_and_member_hands_them_back():
    mlps = [MLP(4, [8], 3, dropout=d) for d in (0.0, 0.1, 0.2)]
    stack = StackedMLP.from_members(mlps)
    assert stack.dropout_rates.flatten().tolist() == pytest.approx([0.0, 0.1, 0.2])
    for k, mlp in enumerate(mlps):
        back = stack.member(k)
        assert back.dropout == pytest.approx(mlp.dropout)
        for key, value in mlp.state_dict().items():
            assert torch.equal(back.state_dict()[key], value)


def test_from_members_refuses_mlps_of_other_shapes():
    with pytest.raises(ConfigError, match="MLP 1 cannot join the stack: its shape"):
        StackedMLP.from_members([MLP(4, [8], 3), MLP(4, [9], 3)])
    with pytest.raises(ConfigError, match="batch normalisation"):
        StackedMLP.from_members([MLP(4, [8], 3, batch_norm=True)])


def test_bad_settings_are_refused_with_what_to_do():
    with pytest.raises(ConfigError, match="members must be a positive"):
        StackedMLP(0, 4, [8], 2)
    with pytest.raises(ConfigError, match="hidden layer width"):
        StackedMLP(2, 4, [0], 2)
    with pytest.raises(ConfigError, match="dropout must be in"):
        StackedMLP(2, 4, [8], 2, dropout=[0.1, 1.0])
    with pytest.raises(ConfigError, match="one activation name"):
        StackedMLP(2, 4, [8], 2, activation=["relu"])
    with pytest.raises(ConfigError, match="member 3 does not exist"):
        StackedMLP(2, 4, [8], 2).member(3)


def test_the_ensemble_averages_the_active_members_probabilities_or_values():
    stack = StackedMLP(3, 4, [8], 2).eval()
    x, y = torch.randn(5, 4), torch.tensor([0, 1, 1, 0, 1])
    members = [stack.member(k).eval()(x) for k in range(3)]
    probabilities = torch.stack([torch.softmax(m, 1) for m in members]).mean(0)
    torch.testing.assert_close(ensemble_mean(stack(x), "classification"), probabilities)
    # The ensemble module's outputs are its logits: softmax gives its probabilities, and
    # cross-entropy its negative log-likelihood.
    logits = Ensemble(stack, "classification")(x)
    torch.testing.assert_close(logits.softmax(1), probabilities)
    nll = -probabilities[torch.arange(5), y].log().mean()
    torch.testing.assert_close(nn.functional.cross_entropy(logits, y), nll)
    torch.testing.assert_close(Ensemble(stack, "regression")(x), torch.stack(members).mean(0))
    stack.mask([0])
    kept = torch.stack([torch.softmax(m, 1) for m in members[1:]]).mean(0)
    torch.testing.assert_close(Ensemble(stack, "classification")(x).softmax(1), kept)
    with pytest.raises(ConfigError, match="classification or regression"):
        ensemble_mean(stack(x), "ranking")


def test_a_stack_learns_and_its_ensemble_beats_chance(blobs):
    X, y = (torch.from_numpy(a) for a in blobs)
    stack = StackedMLP(4, 4, [16], 3)
    step = StackedStep(stack, nn.CrossEntropyLoss(), StackedAdamW(stack.parameters(), lr=0.01))
    for _ in range(5):
        for start in range(0, len(X), 32):
            step.train_batch(X[start : start + 32], y[start : start + 32])
    stack.eval()
    with torch.no_grad():
        accuracy = (Ensemble(stack, "classification")(X).argmax(1) == y).float().mean()
        members = (stack(X).argmax(2) == y).float().mean(1)
    assert accuracy > 0.95
    assert bool((members > 0.9).all())
