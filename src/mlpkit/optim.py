"""Optimizers by name. Each factory checks its settings; torch checks the rest."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from .errors import ConfigError
from .registry import Registry

OPTIMIZERS: Registry[torch.optim.Optimizer] = Registry("optimizer")

# Learning rates that work out of the box (torch's own defaults where it has one).
DEFAULT_LR = {
    "sgd": 0.01,
    "adam": 1e-3,
    "adamw": 1e-3,
    "rmsprop": 1e-2,
    "adagrad": 1e-2,
    "adadelta": 1.0,
}


@OPTIMIZERS.register("sgd")
def _sgd(params, lr, momentum=0.0, weight_decay=0.0, nesterov=False, **_ignored):
    if nesterov and momentum <= 0:
        raise ConfigError("nesterov needs momentum > 0; set momentum, e.g. 0.9")
    return torch.optim.SGD(
        params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov
    )


@OPTIMIZERS.register("adam")
def _adam(params, lr, weight_decay=0.0, betas=(0.9, 0.999), **_ignored):
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, betas=tuple(betas))


@OPTIMIZERS.register("adamw")
def _adamw(params, lr, weight_decay=0.01, betas=(0.9, 0.999), **_ignored):
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=tuple(betas))


@OPTIMIZERS.register("rmsprop")
def _rmsprop(params, lr, momentum=0.0, weight_decay=0.0, **_ignored):
    return torch.optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


@OPTIMIZERS.register("adagrad")
def _adagrad(params, lr, weight_decay=0.0, **_ignored):
    return torch.optim.Adagrad(params, lr=lr, weight_decay=weight_decay)


@OPTIMIZERS.register("adadelta")
def _adadelta(params, lr, weight_decay=0.0, **_ignored):
    return torch.optim.Adadelta(params, lr=lr, weight_decay=weight_decay)


def default_lr(optimizer: str) -> float:
    """The learning rate an optimizer trains with when none is given.

    >>> default_lr("SGD"), default_lr("adam")
    (0.01, 0.001)
    """
    return DEFAULT_LR.get(Registry.key(optimizer), 1e-3)


def make_optimizer(
    optimizer: str | Callable[[Iterable[torch.nn.Parameter]], torch.optim.Optimizer],
    params: Iterable[torch.nn.Parameter],
    *,
    lr: float | None = None,
    **options: Any,
) -> torch.optim.Optimizer:
    """Build an optimizer by name (or call a factory ``params -> optimizer``).

    Options an optimizer does not use (``momentum`` for Adam) are ignored, so one set of
    settings serves every optimizer.

    >>> make_optimizer("sgd", torch.nn.Linear(2, 1).parameters(), lr=0.1, momentum=0.9)
    SGD (...)
    """
    if not isinstance(optimizer, str):
        return optimizer(params)
    factory = OPTIMIZERS.get(optimizer)
    lr = default_lr(optimizer) if lr is None else lr
    if lr <= 0:
        raise ConfigError(f"lr must be positive, got {lr}; try {default_lr(optimizer)}")
    for name in ("momentum", "weight_decay"):
        if options.get(name, 0.0) < 0:
            raise ConfigError(f"{name} must be >= 0, got {options[name]}")
    return factory(params, lr, **options)
