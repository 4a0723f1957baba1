"""Optimizers for stacked parameters (dimension 0 is the member), with a learning rate and a
weight decay per member.

They are ``torch.optim.Optimizer``s (``state_dict``, ``load_state_dict`` and checkpoints work
as for any other), whose updates match ``torch.optim.SGD``, ``Adam`` and ``AdamW`` run on each
member alone. ``group["lr"]`` is one number, which LR schedulers may change: member k learns at
``group["lr"] * group["lr_scale"][k]``, so a schedule scales every member's rate alike. Per-member
values are (K, 1, 1) tensors, which broadcast over each parameter's other dimensions.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor

from ..errors import ConfigError
from .model import member_values

Number = float | Sequence[float] | Tensor


class StackedOptimizer(torch.optim.Optimizer, metaclass=abc.ABCMeta):
    """What the stacked optimizers share: per-member learning rates and weight decays, and the
    members they leave alone (``step(active=...)``)."""

    def __init__(self, params: Iterable[Tensor], lr: Number, weight_decay: Number, **options):
        params = list(params)
        if not params or any(p.dim() < 2 for p in params):
            raise ConfigError(
                "a stacked optimizer takes stacked parameters (members first, at least 2 "
                "dimensions), e.g. StackedMLP.parameters()"
            )
        k = params[0].shape[0]
        if any(p.shape[0] != k for p in params):
            raise ConfigError("every parameter must stack the same number of members")
        rates = member_values("lr", lr, k)
        decays = member_values("weight_decay", weight_decay, k)
        if not bool((rates > 0).all()) or not bool((decays >= 0).all()):
            raise ConfigError(
                f"learning rates must be > 0 and weight decays >= 0, got lr={lr}, "
                f"weight_decay={weight_decay}"
            )
        top = float(rates.max())  # group["lr"]: the largest rate, each member a share of it
        device = params[0].device
        defaults = dict(lr=top, lr_scale=(rates / top).to(device), weight_decay=decays.to(device),
                        **options)  # fmt: skip
        super().__init__(params, defaults)
        self._cached_settings: dict[int, _Settings] = {}

    @property
    def members(self) -> int:
        return self.param_groups[0]["params"][0].shape[0]

    def member_lr(self, group: dict[str, Any] | None = None) -> Tensor:
        """Each member's learning rate now, (K, 1, 1)."""
        group = self.param_groups[0] if group is None else group
        return group["lr"] * group["lr_scale"]

    def compact(self, kept: Tensor) -> None:
        """Keep the state and settings of the members at positions ``kept`` only, after the
        model dropped the others (``StackedMLP.compact``)."""
        for group in self.param_groups:
            for name in ("lr_scale", "weight_decay"):
                group[name] = group[name][kept]
            for p in group["params"]:
                state = self.state.get(p, {})
                for name, value in state.items():
                    if isinstance(value, Tensor) and value.dim() > 0:
                        state[name] = value[kept.to(value.device)]
        self._deltas = {}
        self._cached_settings = {}

    @torch.no_grad()
    def step(self, closure: Any = None, *, active: Tensor | None = None) -> Any:
        """One update of every parameter with a gradient; members where ``active`` is False
        do not move."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self.update(active)
        return loss

    def update(self, active: Tensor | None = None) -> None:
        """``step()`` without torch's step wrapper and hooks, for the fused stacked step."""
        for group in self.param_groups:
            pairs = [(p, p.grad) for p in group["params"] if p.grad is not None]
            if pairs:
                params, grads = [p for p, _ in pairs], [g for _, g in pairs]
                self._update(group, params, grads, self._settings(group, active))
        # What opt.step() marks, for the LR schedulers' check that it ran first.
        self._opt_called = True  # type: ignore[attr-defined]

    def _settings(self, group: dict[str, Any], active: Tensor | None) -> _Settings:
        """The group's per-member settings with the masked members' rates at 0; computed again
        only when a setting tensor or the mask is replaced or changed in place."""
        tensors = [group["lr_scale"], group["weight_decay"]]
        if active is not None:
            tensors.append(active)
        key = tuple((id(t), t._version) for t in tensors)
        cached = self._cached_settings.get(id(group))
        if cached is not None and cached.key == key:
            return cached
        scale, decay = group["lr_scale"], group["weight_decay"]
        if active is not None:
            scale = scale * active.view(-1, 1, 1)
        flat_scale, flat_decay = scale.flatten(), decay.flatten()
        uniform = bool((flat_scale == flat_scale[0]).all() & (flat_decay == flat_decay[0]).all())
        settings = _Settings(key, scale, decay, uniform, float(flat_scale[0]), float(flat_decay[0]))
        self._cached_settings[id(group)] = settings
        return settings

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._cached_settings = {}

    @abc.abstractmethod
    def _update(
        self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor], s: _Settings
    ) -> None:
        """Update ``params`` of one group from ``grads`` with the members' settings ``s``: what
        each optimizer (SGD, Adam, AdamW) defines."""


class _Settings:
    """A group's per-member learning-rate shares (0 for masked members) and weight decays,
    and whether every member has the same (then one fused kernel call does the update)."""

    def __init__(self, key: tuple, scale: Tensor, decay: Tensor, uniform: bool, scale0: float,
                 decay0: float) -> None:  # fmt: skip
        self.key, self.scale, self.decay = key, scale, decay
        self.uniform, self.scale0, self.decay0 = uniform, scale0, decay0


def _per_member(value: Tensor, params: list[Tensor]) -> list[Tensor]:
    """A (K, 1, 1) value shaped to broadcast over each parameter."""
    k = value.shape[0]
    return [value.view(k, *[1] * (p.dim() - 1)) for p in params]


class StackedSGD(StackedOptimizer):
    """``torch.optim.SGD`` (momentum, dampening, Nesterov) with per-member ``lr`` and
    ``weight_decay`` (an L2 penalty added to the gradient, as SGD's).

    >>> from mlpkit.stacked import StackedMLP
    >>> opt = StackedSGD(StackedMLP(3, 4, [8], 2).parameters(), lr=[0.1, 0.01, 0.001])
    >>> opt.member_lr().flatten().tolist()
    [0.10000000149011612, 0.009999999776482582, 0.0010000000474974513]
    """

    def __init__(self, params: Iterable[Tensor], lr: Number = 0.01, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: Number = 0.0,
                 nesterov: bool = False) -> None:  # fmt: skip
        if not 0 <= momentum < 1:
            raise ConfigError(f"momentum must be in [0, 1), got {momentum}; use e.g. 0.9")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ConfigError("nesterov needs momentum > 0 and no dampening; set momentum=0.9")
        super().__init__(params, lr, weight_decay, momentum=momentum, dampening=dampening,
                         nesterov=nesterov)  # fmt: skip

    def _update(self, group, params, grads, s) -> None:
        momentum, dampening, nesterov = group["momentum"], group["dampening"], group["nesterov"]
        states = [self.state[p] for p in params]
        first = momentum != 0 and any("momentum_buffer" not in st for st in states)
        if momentum and first:
            for p, st in zip(params, states, strict=True):
                st["momentum_buffer"] = torch.empty_like(p)  # the kernel copies the gradient in
        buffers = [st["momentum_buffer"] for st in states] if momentum else []
        if s.uniform:  # one rate and one decay for all: torch's own fused SGD, as SGD(fused=True)
            torch._fused_sgd_(
                params, grads, buffers, weight_decay=s.decay0, momentum=momentum,
                lr=group["lr"] * s.scale0, dampening=dampening, nesterov=nesterov,
                maximize=False, is_first_step=first,
            )  # fmt: skip
            return
        # d = g + weight_decay * p, as SGD computes it; new tensors: p.grad stays the gradient.
        d = torch._foreach_addcmul(grads, params, _per_member(s.decay, params))
        if momentum:
            if first:
                torch._foreach_copy_(buffers, d)
            else:
                torch._foreach_mul_(buffers, momentum)
                torch._foreach_add_(buffers, d, alpha=1 - dampening)
            if nesterov:
                torch._foreach_add_(d, buffers, alpha=momentum)
            else:
                d = buffers
        torch._foreach_addcmul_(params, d, _per_member(s.scale * -group["lr"], params))


class StackedAdam(StackedOptimizer):
    """``torch.optim.Adam`` (L2 ``weight_decay`` added to the gradient) with per-member ``lr``
    and ``weight_decay``; ``StackedAdamW`` decays the weights instead.

    With one rate and one decay for all members the update is torch's fused Adam kernel. With
    rates of their own, the moments go through that kernel at a learning rate of 1 on a zero
    tensor, which leaves the step there; each member then moves by its own rate times it.
    """

    decoupled = False

    def __init__(self, params: Iterable[Tensor], lr: Number = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: Number = 0.0) -> None:  # fmt: skip
        if not all(0 <= b < 1 for b in betas) or eps < 0:
            raise ConfigError(f"betas must be in [0, 1) and eps >= 0, got {betas}, {eps}")
        super().__init__(params, lr, weight_decay, betas=tuple(betas), eps=eps)
        self._deltas: dict[Tensor, Tensor] = {}

    def _update(self, group, params, grads, s) -> None:
        states = [self._state(p) for p in params]
        # Every parameter of a stack steps together: one count for all of them (one add, not
        # one per tensor), shared again after a load_state_dict has copied it apart.
        step = states[0]["step"]
        if any(st["step"] is not step for st in states):
            for st in states:
                st["step"] = step
        step.add_(1)  # as torch's fused Adam: the kernel reads the new count
        steps = [step] * len(states)
        beta1, beta2 = group["betas"]
        kernel = torch._fused_adamw_ if self.decoupled else torch._fused_adam_
        moments = [st["exp_avg"] for st in states], [st["exp_avg_sq"] for st in states]
        options = dict(beta1=beta1, beta2=beta2, eps=group["eps"], amsgrad=False, maximize=False)
        if (
            s.uniform
        ):  # one rate and one decay for all: torch's own fused kernel, as Adam(fused=True)
            lr = group["lr"] * s.scale0
            kernel(params, grads, *moments, [], steps, lr=lr, weight_decay=s.decay0, **options)
            return
        lr = s.scale * group["lr"]
        if self.decoupled:  # p *= 1 - lr * weight_decay, before the step, as AdamW does
            torch._foreach_addcmul_(params, params, _per_member(-lr * s.decay, params))
        elif bool((s.decay != 0).any()):  # an L2 penalty, into new tensors: p.grad stays
            grads = torch._foreach_addcmul(grads, params, _per_member(s.decay, params))
        deltas = [self._delta(p) for p in params]
        torch._foreach_zero_(deltas)
        kernel(deltas, grads, *moments, [], steps, lr=1.0, weight_decay=0.0, **options)
        torch._foreach_addcmul_(params, deltas, _per_member(lr, params))

    def _state(self, p: Tensor) -> dict[str, Tensor]:
        state = self.state[p]
        if not state:  # as torch's Adam lays its state out
            state["step"] = torch.tensor(0.0, dtype=torch.float32, device=p.device)
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state

    def _delta(self, p: Tensor) -> Tensor:
        delta = self._deltas.get(p)
        if delta is None or delta.shape != p.shape:
            delta = self._deltas[p] = torch.empty_like(p)
        return delta


class StackedAdamW(StackedAdam):
    """``torch.optim.AdamW`` (decoupled weight decay, default 0.01) with per-member ``lr`` and
    ``weight_decay``."""

    decoupled = True

    def __init__(self, params: Iterable[Tensor], lr: Number = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: Number = 1e-2) -> None:  # fmt: skip
        super().__init__(params, lr, betas, eps, weight_decay)
