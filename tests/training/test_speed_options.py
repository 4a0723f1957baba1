"""Speed options of fit: CPU threads, bf16 autocast with its fallback, torch.compile with its."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings

import pytest
import torch

import mlpkit
from mlpkit.callbacks import Callback
from mlpkit.config import build_config
from mlpkit.errors import ConfigError
from mlpkit.training.fused import recommended_num_threads
from mlpkit.training.precision import resolve_precision


class ThreadsSeen(Callback):
    """Records torch's thread count while training runs."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def on_epoch_end(self, state) -> None:
        self.seen.append(torch.get_num_threads())


def _fit(blobs, epochs=3, **options):
    X, y = blobs
    model = mlpkit.MLP(4, [16], 3)
    return mlpkit.fit(
        model, "cross_entropy", (X, y), epochs=epochs, batch_size=32, lr=0.1, seed=0, **options
    )


def test_threads_not_set_follow_the_chooser_and_are_restored_afterwards(blobs):
    seen = ThreadsSeen()
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the chooser starts from the work's own count, not torch's
    try:
        history = _fit(blobs, callbacks=[seen])
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert history.attrs["step"] == "fused"
    assert history.attrs["threads_adaptive"] is (len(os.sched_getaffinity(0)) > 1)
    assert history.attrs["threads"] in seen.seen
    assert set(seen.seen) <= {1, 2, recommended_num_threads(32, 4, [16, 3])}


def test_threads_asked_for_are_used_and_the_autograd_step_keeps_torchs_setting(blobs):
    seen = ThreadsSeen()
    before = torch.get_num_threads()
    history = _fit(blobs, threads=2, callbacks=[seen])
    assert history.attrs["threads"] == 2 and seen.seen == [2, 2, 2]
    assert history.attrs["threads_adaptive"] is False
    assert torch.get_num_threads() == before


def test_zero_threads_is_refused(blobs):
    with pytest.raises(
        ConfigError, match="train.threads: Input should be greater than or equal to 1"
    ):
        _fit(blobs, threads=0)


def test_bf16_trains_under_autocast_or_warns_once_and_trains_fp32(blobs):
    # Whether bf16 pays off depends on the CPU: both outcomes are checked for what users see.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = _fit(blobs, precision="bf16")
        second = _fit(blobs, precision="bf16")
    fallbacks = [w for w in caught if "training in fp32 instead" in str(w.message)]
    fp32 = _fit(blobs)
    if first.attrs["step_details"] == "autograd, bf16":
        assert not fallbacks
        # bf16 keeps about 3 significant digits: the curves agree to that.
        assert first["train_loss"].to_numpy() == pytest.approx(
            fp32["train_loss"].to_numpy(), rel=0.05
        )
    else:
        assert len(fallbacks) == 1  # once per device, not once per run
        assert first.attrs["step_details"] == "fused"
        assert first["train_loss"].tolist() == fp32["train_loss"].tolist()
    assert second.attrs["step_details"] == first.attrs["step_details"]


def test_fp32_needs_no_probe_and_unknown_precisions_are_refused():
    assert resolve_precision("fp32", torch.device("cpu")) is None
    with pytest.raises(ConfigError, match="unknown precision 'fp16'"):
        resolve_precision("fp16", torch.device("cpu"))
    with pytest.raises(ConfigError, match="precision"):
        build_config({"precision": "fp8"})
    assert build_config({"precision": "bf16", "compile": True}).train.compile


def test_compiled_training_follows_the_eager_loss_curve(blobs):
    compiled = _fit(blobs, compile=True)
    eager = _fit(blobs, step="autograd")
    assert compiled.attrs["step_details"] == "autograd, compiled"
    assert compiled["train_loss"].to_numpy() == pytest.approx(
        eager["train_loss"].to_numpy(), rel=1e-4
    )


def test_without_a_working_compiler_compile_warns_once_and_trains_eagerly(tmp_path):
    # A real compiler failure, in a fresh process with its own Inductor cache.
    script = textwrap.dedent(
        """
        import warnings, torch, mlpkit
        import torch._inductor.config as inductor
        inductor.cpp.cxx = ("/nonexistent/c++",)
        x, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history = mlpkit.fit(mlpkit.MLP(4, [8], 3), "cross_entropy", (x, y), epochs=2,
                                 batch_size=16, lr=0.1, compile=True)
        failures = [w for w in caught if "torch.compile failed" in str(w.message)]
        print(history.attrs["step_details"], len(failures), len(history))
        print(failures[0].message)
        """
    )
    env = {
        "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "inductor"),
        "TORCHINDUCTOR_FX_GRAPH_CACHE": "0",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr
    summary, message = done.stdout.strip().splitlines()[-2:]
    assert summary == "autograd 1 2"
    assert "C++ compiler" in message and "leave out --compile" in message


def test_the_autograd_step_under_bf16_autocast_follows_fp32_and_hands_back_fp32_outputs(blobs):
    from mlpkit.training.step import AutogradStep

    X, y = (torch.as_tensor(a) for a in blobs)
    losses = {}
    for dtype in (None, torch.bfloat16):
        torch.manual_seed(0)
        model = mlpkit.MLP(4, [16], 3)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        step = AutogradStep(model, torch.nn.CrossEntropyLoss(), opt, autocast_dtype=dtype)
        losses[dtype] = [float(step.train_batch(X, y)[0]) for _ in range(20)]
        _, outputs = step.train_batch(X, y)
        assert outputs.dtype == torch.float32
    assert losses[torch.bfloat16] == pytest.approx(losses[None], rel=0.03)
    assert losses[torch.bfloat16][-1] < losses[torch.bfloat16][0] / 2


def test_timing_bf16_against_fp32_steps_leaves_the_run_untouched(blobs):
    from mlpkit.data.batching import make_batches
    from mlpkit.training.step_timing import bf16_step_problem

    torch.manual_seed(0)
    model = mlpkit.MLP(4, [16], 3, dropout=0.1)  # dropout draws random numbers in each step
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    batches = make_batches(blobs, 32, shuffle=True, device=torch.device("cpu"), seed=0)
    rng = torch.get_rng_state()
    problem = bf16_step_problem(
        model, torch.nn.CrossEntropyLoss(), opt, batches, torch.device("cpu"), step="auto"
    )
    # Which way the timing goes depends on the CPU's bf16 units and its load; where bf16 loses,
    # the reason says so. What this test holds either way: the run is left untouched.
    assert problem is None or "bf16 steps are not clearly faster than fp32 steps" in problem
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    assert not opt.state and all(p.grad is None for p in model.parameters())
    assert torch.equal(torch.get_rng_state(), rng)
