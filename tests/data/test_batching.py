"""The in-memory batcher: every row once per epoch, rows and targets kept together, seeded."""

from __future__ import annotations

import pytest
import torch

from mlpkit.data.batching import TensorBatcher, make_batches
from mlpkit.errors import DataError


def numbered(n: int = 103):
    """Row i holds (i, 2i, 3i) and target i, so any mix-up between X and y shows."""
    index = torch.arange(n)
    return torch.stack([index, 2 * index, 3 * index], dim=1).float(), index


def test_each_epoch_is_a_new_permutation_of_all_rows_with_targets_aligned():
    X, y = numbered()
    batches = make_batches((X, y), 10, shuffle=True, device="cpu", seed=1)
    assert isinstance(batches, TensorBatcher) and len(batches) == 11
    orders = []
    for _ in range(2):
        seen = [(inputs, targets) for inputs, targets in batches]
        inputs = torch.cat([b[0] for b in seen])
        targets = torch.cat([b[1] for b in seen])
        assert torch.equal(inputs[:, 0].long(), targets) and torch.equal(
            inputs[:, 2], 3 * inputs[:, 0]
        )
        assert sorted(targets.tolist()) == list(range(103))
        orders.append(targets.tolist())
    assert orders[0] != orders[1]


def test_the_same_seed_gives_the_same_order_and_another_seed_another():
    X, y = numbered()

    def order(seed):
        batches = make_batches((X, y), 16, shuffle=True, device="cpu", seed=seed)
        return [t for _, targets in batches for t in targets.tolist()]

    assert order(3) == order(3) and order(3) != order(4)


def test_drop_last_and_unshuffled_views():
    X, y = numbered(103)
    kept = make_batches((X, y), 10, shuffle=True, device="cpu", drop_last=True)
    assert [len(t) for _, t in kept] == [10] * 10
    plain = make_batches((X, y), 50, shuffle=False, device="cpu")
    assert [t.tolist()[0] for _, t in plain] == [0, 50, 100]


def test_a_shuffled_batch_is_a_copy_that_can_be_changed_safely():
    X, y = numbered()
    before = X.clone()
    for inputs, _ in make_batches((X, y), 32, shuffle=True, device="cpu"):
        inputs.mul_(0)  # e.g. an in-place augmentation
    assert torch.equal(X, before)


def test_dict_inputs_stay_aligned_per_key():
    X, y = numbered(40)
    data = ({"wide": X[:, :1].numpy(), "deep": X[:, 1:].numpy()}, y.numpy())
    for inputs, targets in make_batches(data, 7, shuffle=True, device="cpu"):
        assert torch.equal(inputs["wide"][:, 0].long(), targets)
        assert torch.equal(inputs["deep"][:, 0], 2 * inputs["wide"][:, 0])


def test_per_member_batches_give_each_member_its_own_order_of_its_own_rows():
    X, y = numbered(60)
    rows = [torch.arange(0, 40), torch.arange(20, 60), torch.arange(0, 60, 2)]  # 40, 40, 30
    batches = make_batches((X, y), 8, shuffle=True, device="cpu", seed=2)
    batches.per_member(3, rows)
    assert batches.num_samples == 30 and len(batches) == 4  # the fewest rows set the epoch
    epochs = []
    for _ in range(2):
        seen = list(batches)
        inputs = torch.cat([x for x, _ in seen], dim=1)  # (K, 30, 3)
        targets = torch.cat([t.view(3, -1) for _, t in seen], dim=1)  # (K, 30)
        assert inputs.shape == (3, 30, 3)
        assert torch.equal(inputs[:, :, 0].long(), targets)  # each row with its own target
        for k in range(3):
            mine = set(targets[k].tolist())
            assert len(mine) == 30 and mine <= set(rows[k].tolist())
        assert targets[0].tolist() != targets[1].tolist()
        epochs.append(targets)
    assert not torch.equal(epochs[0], epochs[1])  # a new order every epoch
    again = make_batches((X, y), 8, shuffle=True, device="cpu", seed=2)
    again.per_member(3, rows)
    assert torch.equal(torch.cat([t.view(3, -1) for _, t in again], dim=1), epochs[0])


def test_per_member_inputs_give_each_member_rows_of_its_own_matrix():
    X, y = numbered(12)
    own = torch.stack([X, -X])  # member 1 sees its inputs negated (say, scaled on its fold)
    batches = make_batches((X, y), 5, shuffle=True, device="cpu", seed=0)
    batches.per_member(2, inputs=own)
    for inputs, targets in batches:
        rows = targets.view(2, -1)
        assert torch.equal(inputs[0, :, 0].long(), rows[0])
        assert torch.equal(-inputs[1, :, 0].long(), rows[1])
    with pytest.raises(DataError, match=r"shape \(2, 12, \.\.\.\)"):
        batches.per_member(2, inputs=torch.zeros(3, 12, 3))
