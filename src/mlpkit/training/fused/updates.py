"""Parameter updates through PyTorch's fused optimizer kernels (``torch._fused_sgd_``,
``torch._fused_adam_``), on the optimizer's own state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor


def fused_update(
    opt: torch.optim.Optimizer, group: dict[str, Any], grad_of: dict[Tensor, Tensor]
) -> Callable[[], None] | None:
    """One fused kernel call for a param group, or None when only ``opt.step()`` will do."""
    params = group["params"]
    lr = group["lr"]
    if isinstance(lr, Tensor) or group.get("differentiable") or group.get("capturable"):
        return None
    try:
        grads = [grad_of[p] for p in params]
    except KeyError:  # a parameter added to the optimizer after the step was built
        return None
    if isinstance(opt, torch.optim.SGD):
        return _fused_sgd(opt, group, params, grads)
    if isinstance(opt, torch.optim.Adam):  # AdamW too
        return _fused_adam(opt, group, params, grads)
    return None


def _fused_sgd(
    opt: torch.optim.Optimizer, group: dict[str, Any], params: list[Tensor], grads: list[Tensor]
) -> Callable[[], None] | None:
    momentum = group["momentum"]
    buffers = []
    if momentum != 0:
        for p in params:
            state = opt.state.get(p)
            buffer = state.get("momentum_buffer") if state else None
            if buffer is None:
                return None
            buffers.append(buffer)

    def call() -> None:
        torch._fused_sgd_(
            params, grads, buffers, weight_decay=group["weight_decay"], momentum=momentum,
            lr=group["lr"], dampening=group["dampening"], nesterov=group["nesterov"],
            maximize=group["maximize"], is_first_step=False,
        )  # fmt: skip

    return call


def _fused_adam(
    opt: torch.optim.Optimizer, group: dict[str, Any], params: list[Tensor], grads: list[Tensor]
) -> Callable[[], None] | None:
    beta1, beta2 = group["betas"]
    if isinstance(beta1, Tensor) or isinstance(beta2, Tensor):
        return None
    amsgrad = group["amsgrad"]
    exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps = [], [], [], []
    for p in params:
        state = opt.state.get(p)
        if not state:
            return None
        exp_avgs.append(state["exp_avg"])
        exp_avg_sqs.append(state["exp_avg_sq"])
        steps.append(state["step"])
        if amsgrad:
            max_exp_avg_sqs.append(state["max_exp_avg_sq"])
    if steps and steps[0].device != params[0].device:  # a CPU step count beside CUDA params
        return None
    decoupled = group.get("decoupled_weight_decay", isinstance(opt, torch.optim.AdamW))
    kernel = torch._fused_adamw_ if decoupled else torch._fused_adam_

    def call() -> None:
        torch._foreach_add_(steps, 1)  # as torch's own fused Adam: the kernel reads the new count
        kernel(
            params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr=group["lr"],
            beta1=beta1, beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"],
            amsgrad=amsgrad, maximize=group["maximize"],
        )  # fmt: skip

    return call


def has_step_hooks(opt: torch.optim.Optimizer) -> bool:
    from torch.optim import optimizer as optim_module

    return bool(
        opt._optimizer_step_pre_hooks
        or opt._optimizer_step_post_hooks
        or optim_module._global_optimizer_pre_hooks
        or optim_module._global_optimizer_post_hooks
    )
