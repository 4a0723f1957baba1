"""Learning-rate schedulers by name, checked against torch's own schedulers stepped by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch.optim import lr_scheduler

from mlpkit import MLP, SCHEDULERS, LRScheduler, fit
from mlpkit.callbacks import Callback
from mlpkit.config import build_config
from mlpkit.errors import ConfigError
from mlpkit.schedulers import Schedule
from samples import classes


class Rates(Callback):
    """The learning rate after every step and at the end of every epoch."""

    order = 20  # after the scheduler has stepped

    def __init__(self) -> None:
        self.per_step: list[float] = []
        self.per_epoch: list[float] = []

    def on_batch_end(self, state) -> None:
        self.per_step.append(state.optimizer.param_groups[0]["lr"])

    def on_epoch_end(self, state) -> None:
        self.per_epoch.append(state.optimizer.param_groups[0]["lr"])


def train(scheduler: LRScheduler, epochs=6, lr=0.1):
    rates = Rates()
    torch.manual_seed(0)
    history = fit(
        MLP(6, [8], 3),
        "cross_entropy",
        classes(),
        classes(seed=1),
        epochs=epochs,
        batch_size=16,  # 6 steps per epoch
        lr=lr,
        metrics=["accuracy"],
        callbacks=[scheduler, rates],
    )
    return rates, history


def torch_rates(make, steps, lr=0.1, metrics=None):
    """The learning rates torch's scheduler gives when stepped ``steps`` times by hand."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = make(optimizer)
    rates = []
    for step in range(steps):
        optimizer.step()
        scheduler.step(*([] if metrics is None else [metrics[step]]))
        rates.append(optimizer.param_groups[0]["lr"])
    return rates


def test_the_registry_names_the_six_schedulers():
    assert SCHEDULERS.names() == ["cosine", "coslog4", "flat_cos", "onecycle", "plateau", "step"]
    with pytest.raises(ConfigError, match="unknown scheduler 'cosin'; choose one of: cosine"):
        build_config({"scheduler": "cosin"})


def test_step_decays_every_step_size_epochs():
    rates, _ = train(LRScheduler("step", step_size=2, gamma=0.5))
    assert rates.per_epoch == pytest.approx([0.1, 0.05, 0.05, 0.025, 0.025, 0.0125])


def test_cosine_anneals_over_the_run_per_epoch():
    rates, _ = train(LRScheduler("cosine", min_lr=0.01))
    expected = [0.01 + 0.09 * (1 + math.cos(math.pi * e / 6)) / 2 for e in range(1, 7)]
    assert rates.per_epoch == pytest.approx(expected)
    assert len(set(rates.per_step[:6])) == 1  # constant within an epoch


def test_onecycle_steps_after_every_batch_to_the_end():
    rates, _ = train(LRScheduler("onecycle", max_lr=0.2))
    expected = torch_rates(lambda o: lr_scheduler.OneCycleLR(o, 0.2, total_steps=36), 36)
    assert rates.per_step == pytest.approx(expected)
    assert max(rates.per_step) == pytest.approx(0.2, rel=0.01)


def test_plateau_steps_on_the_monitored_metric():
    scheduler = LRScheduler("plateau", monitor="val_accuracy", patience=0, gamma=0.5)
    rates, history = train(scheduler, lr=1.0)  # large enough for the accuracy to stall
    values = history["val_accuracy"].tolist()

    def plateau(optimizer):
        return lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=0)

    assert rates.per_epoch == pytest.approx(torch_rates(plateau, 6, lr=1.0, metrics=values))
    assert len(set(rates.per_epoch)) > 1


def test_any_factory_returning_a_schedule_can_be_used():
    def exponential(optimizer, **_):
        return Schedule(lr_scheduler.ExponentialLR(optimizer, gamma=0.5))

    rates, _ = train(LRScheduler(exponential), epochs=3)
    assert rates.per_epoch == pytest.approx([0.05, 0.025, 0.0125])


def test_bad_options_are_refused_when_built():
    with pytest.raises(ConfigError, match="gamma must be in \\(0, 1\\) for plateau, got 1.5"):
        train(LRScheduler("plateau", gamma=1.5))
    with pytest.raises(ConfigError, match="step_size"):
        build_config({"scheduler": "step", "step_size": 0})


@pytest.mark.parametrize("name", ["coslog4", "flat_cos"])
def test_per_step_shapes_scale_each_group_by_the_progress_through_training(name):
    # RealMLP's shapes, stepped after every batch: the learning rate before step k is the
    # group's own times shape(k / total steps), so the groups keep their ratios.
    from mlpkit.schedulers import coslog4, flat_cos

    shape = {"coslog4": coslog4, "flat_cos": flat_cos}[name]
    weights = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
    groups = [{"params": [weights[0]], "lr": 1.0}, {"params": [weights[1]], "lr": 0.1}]
    optimizer = torch.optim.SGD(groups)
    schedule = SCHEDULERS.get(name)(optimizer, epochs=4, steps_per_epoch=5)
    assert schedule.per_batch and schedule.horizon == 4
    for step in range(20):
        assert optimizer.param_groups[0]["lr"] == pytest.approx(shape(step / 20))
        assert optimizer.param_groups[1]["lr"] == pytest.approx(0.1 * shape(step / 20))
        optimizer.step()
        schedule.scheduler.step()
    # coslog4 rises from 0 and falls back in each of its four cycles; flat_cos holds, then falls.
    assert coslog4(0.0) == 0.0 and coslog4((2**0.5 - 1) / 15) == pytest.approx(1.0)
    assert flat_cos(0.5) == 1.0 and flat_cos(1.0) == pytest.approx(0.0, abs=1e-12)
