"""Registries map names to factories; every name a real registry lists must build something."""

import math

import pytest
import torch
from torch import nn
from torch.optim import lr_scheduler

import mlpkit
from mlpkit.errors import ConfigError
from mlpkit.metrics import CLASSIFICATION_ONLY
from mlpkit.registry import Registry
from mlpkit.schedulers import SCHEDULERS, Schedule


@pytest.fixture
def shapes():
    shapes = Registry("shape")

    @shapes.register("square")
    def square(side):
        return side * side

    shapes.add("circle_area", lambda radius: math.pi * radius**2)
    return shapes


def test_a_factory_registers_by_decorator_or_by_add_and_the_decorator_returns_it(shapes):
    @shapes.register("cube")
    def cube(side):
        return side**3

    assert cube(2) == 8  # the decorated function is still usable under its own name
    assert shapes.get("cube") is cube
    assert shapes.get("square")(3) == 9
    assert shapes.get("circle_area")(1) == pytest.approx(math.pi)


@pytest.mark.parametrize("spelling", ["SQUARE", " square ", "Circle-Area", "circle_area\n"])
def test_names_are_found_whatever_their_case_surrounding_spaces_or_dashes(shapes, spelling):
    assert spelling in shapes
    assert shapes.get(spelling) is shapes.get(spelling.strip().lower().replace("-", "_"))


def test_registering_a_name_twice_is_refused_and_keeps_the_first_factory(shapes):
    first = shapes.get("square")
    with pytest.raises(ConfigError, match="shape 'Square' is registered twice"):
        shapes.add("Square", lambda side: 0)  # a different spelling of the same name
    assert shapes.get("square") is first


def test_an_unknown_name_is_refused_with_the_valid_names(shapes):
    with pytest.raises(
        ConfigError, match="unknown shape 'triangle'; choose one of: circle_area, square$"
    ):
        shapes.get("triangle")


def test_names_are_sorted_and_iteration_and_in_follow_them(shapes):
    shapes.add("Ball", lambda radius: 0)
    assert shapes.names() == ["ball", "circle_area", "square"]
    assert list(shapes) == shapes.names()
    assert "triangle" not in shapes
    assert 3 not in shapes  # not a name: no error, just absent


# The real registries: a name that is listed but does not build is a broken setting value.


@pytest.mark.parametrize("name", mlpkit.ACTIVATIONS.names())
def test_every_activation_builds_a_module_that_keeps_the_shape(name):
    activation = mlpkit.ACTIVATIONS.get(name)()
    assert isinstance(activation, nn.Module)
    assert activation(torch.randn(4, 3)).shape == (4, 3)


def _loss_inputs(name):
    logits, labels = torch.randn(8, 3), torch.arange(8) % 3
    return {
        "cross_entropy": (logits, labels),
        "nll": (torch.log_softmax(logits, dim=1), labels),
        "mse": (torch.randn(8, 1), torch.randn(8, 1)),
        "l1": (torch.randn(8, 1), torch.randn(8, 1)),
        "huber": (torch.randn(8, 1), torch.randn(8, 1)),
        "bce_with_logits": (torch.randn(8, 1), torch.arange(8) % 2),
    }[name]  # a KeyError here means a new loss needs suitable inputs in this table


@pytest.mark.parametrize("name", mlpkit.LOSSES.names())
def test_every_loss_builds_a_module_that_returns_a_finite_scalar(name):
    loss = mlpkit.make_loss(name)
    value = loss(*_loss_inputs(name))
    assert isinstance(loss, nn.Module)
    assert value.shape == () and torch.isfinite(value)


@pytest.mark.parametrize("name", mlpkit.OPTIMIZERS.names())
def test_every_optimizer_builds_with_the_given_lr_and_a_step_lowers_the_loss(name):
    weights = nn.Parameter(torch.ones(3))
    optimizer = mlpkit.make_optimizer(name, [weights], lr=0.1)
    assert isinstance(optimizer, torch.optim.Optimizer)
    assert optimizer.param_groups[0]["lr"] == 0.1
    before = (weights**2).sum()
    before.backward()
    optimizer.step()
    assert (weights**2).sum() < before


@pytest.mark.parametrize("name", mlpkit.METRICS.names())
def test_every_metric_gives_its_best_value_on_perfect_predictions(name):
    if name in CLASSIFICATION_ONLY or name == "accuracy":
        targets = torch.arange(12) % 3
        outputs = 10.0 * nn.functional.one_hot(targets, 3).float()
        best = 1.0
    else:
        targets = torch.linspace(-1.0, 1.0, 12)
        outputs = targets.clone()
        best = 1.0 if name == "r2" else 0.0
    assert mlpkit.get_metric(name).compute(outputs, targets) == pytest.approx(best)


def test_the_scheduler_registry_users_import_is_the_one_the_callback_reads():
    assert mlpkit.SCHEDULERS is SCHEDULERS


@pytest.mark.parametrize("name", SCHEDULERS.names())
def test_every_scheduler_builds_a_schedule_that_runs_its_whole_plan(name):
    optimizer = torch.optim.SGD([nn.Parameter(torch.ones(1))], lr=0.1)
    schedule = SCHEDULERS.get(name)(optimizer, epochs=3, steps_per_epoch=2)
    assert isinstance(schedule, Schedule)
    plateau = isinstance(schedule.scheduler, lr_scheduler.ReduceLROnPlateau)
    assert plateau or isinstance(schedule.scheduler, lr_scheduler.LRScheduler)
    # OneCycleLR raises if stepped past its total; the plan is what the callback steps through.
    for _ in range(3 * 2 if schedule.per_batch else 3):
        optimizer.step()
        if plateau:
            schedule.scheduler.step(1.0)  # it steps on the monitored value
        else:
            schedule.scheduler.step()
    assert math.isfinite(optimizer.param_groups[0]["lr"])


def test_the_default_learning_rate_follows_the_name_however_it_is_written():
    params = [torch.nn.Parameter(torch.zeros(1))]
    for name in ("sgd", " SGD ", "Sgd"):
        assert mlpkit.make_optimizer(name, params).defaults["lr"] == 0.01
    with pytest.raises(ConfigError, match="try 0.01"):
        mlpkit.make_optimizer("SGD", params, lr=-1)
