"""Timing training steps before training, to choose between ways of running them.

A matrix product timed alone can favour bf16 while a whole step does not: the fused fp32 step
saves more per step than bf16 products gain under autograd at small batch sizes. So the choice
is made on whole steps, each run on a copy of the model and optimizer (the run's own stay
untouched) and on one real batch of the training data.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .devices import cpu_threads

StepFactory = Callable[[nn.Module, torch.optim.Optimizer], Any]


def seconds_per_step(
    make_step: StepFactory,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: tuple[Any, Any],
    threads: Callable[[Any], int | None] = lambda step: None,
    steps: int = 10,
) -> float:
    """Median seconds of one step built by ``make_step(model_copy, optimizer_copy)`` on
    ``batch``, after a warm-up step, on ``threads(step)`` CPU threads (None: torch's setting)."""
    twin = copy.deepcopy(model).train()
    twin_optimizer = type(optimizer)(twin.parameters(), **optimizer.defaults)
    step = make_step(twin, twin_optimizer)
    inputs, targets = batch
    times = []
    with cpu_threads(threads(step)):
        for _ in range(steps + 1):
            started = time.perf_counter()
            loss, _ = step.train_batch(inputs, targets)
            float(loss)  # the step is done when its loss can be read
            times.append(time.perf_counter() - started)
    return statistics.median(times[1:])
