"""Seeds and random states: a seeded or resumed run draws exactly the numbers it drew before."""

import random

import numpy as np
import pytest
import torch

import mlpkit
from mlpkit.training.seeding import (
    deterministic_algorithms,
    random_states,
    restore_random_states,
    seed_everything,
)


def _draws():
    """A few numbers from every generator a run uses, Gaussians included (they cache a value)."""
    return (
        [random.random(), random.gauss(0.0, 1.0)],
        np.random.rand(3).tolist() + [np.random.randn()],
        torch.rand(3).tolist() + torch.randn(1).tolist(),
    )


def test_the_same_seed_draws_the_same_numbers_from_python_numpy_and_torch():
    seed_everything(123)
    first = _draws()
    _draws()  # move every generator on, so the second seeding has something to undo
    seed_everything(123)
    assert _draws() == first


def test_different_seeds_draw_different_numbers_from_each_generator():
    seed_everything(1)
    one = _draws()
    seed_everything(2)
    two = _draws()
    assert all(a != b for a, b in zip(one, two, strict=True))


def test_a_seed_beyond_numpys_range_still_seeds_every_generator():
    # numpy only takes seeds below 2**32; torch and Python take bigger ones.
    seed_everything(2**40 + 5)
    first = _draws()
    seed_everything(2**40 + 5)
    assert _draws() == first


def test_restoring_saved_states_draws_the_same_numbers_again():
    seed_everything(0)
    _draws()  # leave a cached Gaussian in Python's and numpy's state
    state = random_states()
    expected = _draws()
    _draws()
    restore_random_states(state)
    assert _draws() == expected


def test_saved_states_survive_a_safe_checkpoint_round_trip(tmp_path):
    seed_everything(7)
    _draws()
    # save_checkpoint refuses what weights_only loading would refuse, so saving is the check.
    mlpkit.save_checkpoint(tmp_path / "last.pt", {"model": {}, "random": random_states()})
    expected = _draws()
    seed_everything(99)
    restore_random_states(mlpkit.load_checkpoint(tmp_path / "last.pt")["random"])
    assert _draws() == expected


def _settings():
    return (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.benchmark,
    )


@pytest.fixture
def _restore_torch_settings(monkeypatch):
    # Each test below changes global torch settings; later tests must not see them.
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)  # the block sets it for CUDA
    before = _settings()
    yield
    torch.use_deterministic_algorithms(before[0], warn_only=before[1])
    torch.backends.cudnn.benchmark = before[2]


@pytest.mark.usefixtures("_restore_torch_settings")
def test_deterministic_mode_is_on_inside_the_block_and_off_again_after():
    torch.use_deterministic_algorithms(False)
    torch.backends.cudnn.benchmark = True
    with deterministic_algorithms(True):
        assert torch.are_deterministic_algorithms_enabled()
        assert not torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.backends.cudnn.benchmark is False  # benchmarking picks kernels by timing
    assert _settings() == (False, False, True)


@pytest.mark.usefixtures("_restore_torch_settings")
def test_a_setting_that_was_already_on_stays_on_after_the_block():
    torch.use_deterministic_algorithms(True, warn_only=True)
    with deterministic_algorithms(True):
        assert not torch.is_deterministic_algorithms_warn_only_enabled()
    assert _settings()[:2] == (True, True)


@pytest.mark.usefixtures("_restore_torch_settings")
def test_the_previous_settings_come_back_when_the_block_raises():
    torch.use_deterministic_algorithms(False)
    with pytest.raises(KeyError), deterministic_algorithms(True):
        assert torch.are_deterministic_algorithms_enabled()
        raise KeyError("stop")
    assert not torch.are_deterministic_algorithms_enabled()


@pytest.mark.usefixtures("_restore_torch_settings")
def test_disabled_leaves_torchs_settings_alone():
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = True
    with deterministic_algorithms(False):
        assert _settings() == (True, True, True)
    assert _settings() == (True, True, True)
