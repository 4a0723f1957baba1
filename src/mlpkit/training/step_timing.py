"""Timing training steps before training, to choose between ways of running them.

A matrix product timed alone can favour bf16 while a whole step does not: the fused fp32 step
saves more per step than bf16 products gain under autograd at small batch sizes. So the choice
is made on whole steps, each run on a copy of the model and optimizer (the run's own stay
untouched) and on one real batch of the training data.
"""

from __future__ import annotations

import copy
import logging
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..data.batching import TensorBatcher, rows_of
from ..devices import cpu_threads
from .step import choose_step, recommended_threads

log = logging.getLogger(__name__)

StepFactory = Callable[[nn.Module, torch.optim.Optimizer], Any]


def seconds_per_step(
    factories: dict[Any, StepFactory],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: tuple[Any, Any],
    threads: Callable[[Any], int | None] = lambda step: None,
    rounds: int = 4,
    steps: int = 5,
) -> dict[Any, float]:
    """Median seconds of one step for each ``factories[key](model_copy, optimizer_copy)``, on
    ``batch``, with ``threads(step)`` CPU threads (None: torch's setting).

    Each step warms up for 3 steps, then the steps take turns, ``steps`` at a time for
    ``rounds`` rounds: a slow spell of the machine (a first start of its threads, a neighbour
    on a shared host) then falls on every candidate rather than on the one timed first.
    """
    inputs, targets = batch
    candidates = {}
    for key, make_step in factories.items():
        twin = copy.deepcopy(model).train()
        candidates[key] = make_step(twin, type(optimizer)(twin.parameters(), **optimizer.defaults))
    times: dict[Any, list[float]] = {key: [] for key in candidates}

    def run(key: Any, count: int) -> None:
        step = candidates[key]
        with cpu_threads(threads(step)):
            for _ in range(count):
                started = time.perf_counter()
                loss, _ = step.train_batch(inputs, targets)
                float(loss)  # the step is done when its loss can be read
                times[key].append(time.perf_counter() - started)

    for key in candidates:
        run(key, 3)
        times[key].clear()
    for _ in range(rounds):
        for key in candidates:
            run(key, steps)
    return {key: statistics.median(seconds) for key, seconds in times.items()}


# bf16 is kept when its steps take at most this share of the fp32 steps' time.
BF16_MIN_SAVING = 0.9

# Per model shape, batch size and step settings: whether bf16 steps lost to fp32 steps, and why.
_step_probes: dict[tuple, str | None] = {}


def bf16_step_problem(
    model: nn.Module,
    loss_fn: Callable,
    optimizer: torch.optim.Optimizer,
    batches,
    device: torch.device,
    **step_options: Any,
) -> str | None:
    """Why bf16 autocast should not train this run on a CPU: its steps are not at least 10%
    faster than the fp32 steps the run would take otherwise (often the fused step). None when
    they are.

    Both are timed on copies of the model and optimizer, on the first training batch, with the
    random state put back afterwards. ``step_options`` are ``choose_step``'s and ``threads``.
    """
    if device.type != "cpu" or not isinstance(batches, TensorBatcher):
        return None
    threads = step_options.pop("threads", None)
    size = batches.batch_size
    shapes = tuple(tuple(p.shape) for p in model.parameters())
    key = (type(model).__name__, shapes, size, threads, *sorted(step_options.items()))
    if key not in _step_probes:
        batch = (rows_of(batches.inputs, slice(0, size)), rows_of(batches.targets, slice(0, size)))
        with torch.random.fork_rng(devices=[]):
            seconds = seconds_per_step(
                {
                    dtype: lambda twin, twin_optimizer, dtype=dtype: choose_step(
                        twin, loss_fn, twin_optimizer, autocast_dtype=dtype, **step_options
                    )
                    for dtype in (None, torch.bfloat16)
                },
                model,
                optimizer,
                batch,
                threads=lambda step: threads or recommended_threads(step, device, batches),
            )
        fp32, bf16 = seconds[None], seconds[torch.bfloat16]
        log.info("steps of %d: fp32 %.0f us, bf16 %.0f us", size, fp32 * 1e6, bf16 * 1e6)
        # bf16 costs precision: it has to save a clear share of the step, beyond timing noise.
        _step_probes[key] = (
            None
            if bf16 < BF16_MIN_SAVING * fp32
            else f"bf16 steps are not clearly faster than fp32 steps here ({bf16 * 1e6:.0f} vs "
            f"{fp32 * 1e6:.0f} us per batch of {size})"
        )
    return _step_probes[key]
