"""Device choice and the CPU thread count, on whatever hardware runs the tests (no mocks)."""

import pytest
import torch

from mlpkit.devices import cpu_threads, resolve_device
from mlpkit.errors import ConfigError

HAS_CUDA = torch.cuda.is_available()
HAS_MPS = torch.backends.mps.is_available()


def test_auto_picks_cuda_then_mps_then_cpu():
    expected = "cuda" if HAS_CUDA else "mps" if HAS_MPS else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device() == resolve_device("auto")  # auto is the default


@pytest.mark.skipif(HAS_CUDA or HAS_MPS, reason="only a CPU-only machine falls back to the cpu")
def test_auto_on_a_cpu_only_machine_is_exactly_the_cpu():
    assert resolve_device("auto") == torch.device("cpu")


@pytest.mark.parametrize("device", ["cpu", "cpu:0"])
def test_an_explicit_cpu_is_used_as_given(device):
    assert resolve_device(device) == torch.device(device)


@pytest.mark.parametrize("device", [torch.device("cpu"), torch.device("cpu", 0)])
def test_a_torch_device_passes_through_unchanged(device):
    assert resolve_device(device) is device


@pytest.mark.parametrize("device", ["gpu", "CUDA0", ""])
def test_an_unknown_device_name_is_refused_with_the_names_to_use(device):
    with pytest.raises(ConfigError, match="use auto, cpu, cuda, cuda:N or mps") as error:
        resolve_device(device)
    assert f"unknown device {device!r}" in str(error.value)


@pytest.mark.skipif(HAS_CUDA, reason="needs a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_without_cuda_is_refused_and_says_to_use_auto_or_cpu(device):
    message = f"device {device!r} asked for but CUDA is not available; use auto or cpu"
    with pytest.raises(ConfigError, match=message):
        resolve_device(device)


@pytest.mark.skipif(HAS_MPS, reason="needs a machine without MPS")
def test_mps_without_mps_is_refused_and_says_to_use_auto_or_cpu():
    with pytest.raises(ConfigError, match="MPS is not available; use auto or cpu"):
        resolve_device("mps")


def test_a_device_error_can_be_caught_as_a_value_error():
    with pytest.raises(ValueError):
        resolve_device("gpu")


def test_cpu_threads_sets_the_count_inside_the_block_and_restores_it_after():
    before = torch.get_num_threads()
    inside = before + 1  # differs from the current count, so the change is visible
    with cpu_threads(inside):
        assert torch.get_num_threads() == inside
    assert torch.get_num_threads() == before


def test_cpu_threads_restores_the_count_when_the_block_raises():
    before = torch.get_num_threads()
    with pytest.raises(KeyError), cpu_threads(before + 1):
        raise KeyError("stop")
    assert torch.get_num_threads() == before


def test_cpu_threads_none_leaves_the_count_alone():
    before = torch.get_num_threads()
    with cpu_threads(None):
        assert torch.get_num_threads() == before
        torch.set_num_threads(before + 1)  # a change made inside the block is the caller's own
    try:
        assert torch.get_num_threads() == before + 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("count", [0, -2])
def test_cpu_threads_below_one_is_refused_before_changing_anything(count):
    before = torch.get_num_threads()
    with pytest.raises(ConfigError, match=f"threads must be >= 1, got {count}"), cpu_threads(count):
        pass
    assert torch.get_num_threads() == before


@pytest.mark.skipif(torch.cuda.is_available(), reason="the machine has CUDA")
def test_a_torch_device_is_checked_like_its_name():
    with pytest.raises(ConfigError, match="CUDA is not available; use auto or cpu"):
        resolve_device(torch.device("cuda"))
