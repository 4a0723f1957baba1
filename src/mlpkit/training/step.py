"""One optimisation step on one batch. The loop picks a step once per run (``choose_step``).

``AutogradStep`` works for any module; ``mlpkit.training.fused.FusedMLPStep`` is the fast path
for mlpkit's own MLPs. Both return the batch loss and the model outputs, detached and left on
the device, so that the loop never waits for the device inside an epoch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from ..nested import Structure, call_model, map_structure
from ..stacked.predict import Ensemble
from .precision import autocast

log = logging.getLogger(__name__)


class AutogradStep:
    """forward, loss, backward, optional gradient clipping, optimizer update.

    With ``skip_nonfinite``, a batch whose loss or gradients are NaN or infinite changes
    nothing (no update, no optimizer state) and is reported with a NaN loss. Checking costs one
    wait for the device per step, so it is only done when asked for.

    ``forward`` replaces ``call_model(model, inputs)`` (``training.compiling.CompiledModel`` uses
    it); ``autocast_dtype`` runs the forward pass and loss under autocast, and hands the outputs
    back in float32 for the metrics.
    """

    name = "autograd"
    why: str | None = None  # why the fused step did not take the run, where it was wanted

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Callable[[Any, Any], torch.Tensor],
        optimizer: torch.optim.Optimizer,
        clip_grad_norm: float | None = None,
        skip_nonfinite: bool = False,
        *,
        forward: Callable[[Structure], Any] | None = None,
        autocast_dtype: torch.dtype | None = None,
    ) -> None:
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.clip_grad_norm = clip_grad_norm
        self.skip_nonfinite = skip_nonfinite
        self.forward = forward if forward is not None else partial(call_model, model)
        self.autocast_dtype = autocast_dtype
        self._device = next(model.parameters(), torch.empty(0)).device

    def train_batch(self, inputs: Structure, targets: Any) -> tuple[torch.Tensor, Any]:
        self.optimizer.zero_grad(set_to_none=True)
        with autocast(self._device, self.autocast_dtype):
            outputs = self.forward(inputs)
            loss = self.loss_fn(outputs, targets)
        loss.backward()
        outputs = _detach(outputs, to_float=self.autocast_dtype is not None)
        if self.skip_nonfinite and not self._finite(loss):
            self.optimizer.zero_grad(set_to_none=True)
            return torch.full_like(loss.detach(), float("nan")), outputs
        if self.clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_grad_norm)
        self.optimizer.step()
        return loss.detach(), outputs

    def _finite(self, loss: torch.Tensor) -> bool:
        checks = [loss.detach().isfinite().all()]
        checks += [p.grad.isfinite().all() for p in self.model.parameters() if p.grad is not None]
        return bool(torch.stack(checks).all())


def _detach(outputs: Structure, to_float: bool = False) -> Structure:
    def detach(value: Any) -> Any:
        if not isinstance(value, torch.Tensor):
            return value
        value = value.detach()
        return value.float() if to_float and value.is_floating_point() else value

    return map_structure(detach, outputs)


def choose_step(
    model,
    loss_fn,
    optimizer,
    step: str = "auto",
    clip_grad_norm=None,
    skip_nonfinite=False,
    *,
    autocast_dtype: torch.dtype | None = None,
    compile: bool = False,
):
    """The fused fast path where it applies (or is asked for), else the autograd step.

    bf16 autocast and ``torch.compile`` run through autograd: the fused step is fp32 and eager.
    """
    if step not in ("auto", "fused", "autograd"):
        raise ConfigError(f"unknown step {step!r}; use auto, fused or autograd")
    if isinstance(model, Ensemble):  # K stacked members: their own fused step
        from ..stacked.training import EnsembleStep

        reason = _autograd_needed(skip_nonfinite, autocast_dtype, compile)
        if reason is not None or step == "autograd":
            raise ConfigError(
                f"an ensemble trains with the stacked step only ({reason or 'step=autograd'}); "
                "leave that setting out"
            )
        return EnsembleStep(model, loss_fn, optimizer, clip_grad_norm)
    reason = _autograd_needed(skip_nonfinite, autocast_dtype, compile)
    if reason is None and step != "autograd":
        try:
            from .fused import FusedMLPStep
        except ImportError:
            reason = "the fused step is not built"
        else:
            reason = FusedMLPStep.why_not(model, loss_fn, optimizer)
            if reason is None:
                return FusedMLPStep(model, loss_fn, optimizer, clip_grad_norm=clip_grad_norm)
    if step == "fused":
        raise ConfigError(f"the fused step cannot train this run: {reason}; use step='auto'")
    if reason is not None:
        log.info("using the autograd step: %s", reason)
    forward = None
    if compile:
        from .compiling import CompiledModel

        forward = CompiledModel(model)
    chosen = AutogradStep(
        model,
        loss_fn,
        optimizer,
        clip_grad_norm=clip_grad_norm,
        skip_nonfinite=skip_nonfinite,
        forward=forward,
        autocast_dtype=autocast_dtype,
    )
    if step == "auto" and _autograd_needed(skip_nonfinite, autocast_dtype, compile) is None:
        chosen.why = reason  # what the fused step does not take, for the run summary
    return chosen


def _autograd_needed(skip_nonfinite: bool, autocast_dtype, compile: bool) -> str | None:
    if skip_nonfinite:
        # Skipping a batch means checking its loss and gradients before the update.
        return "skip_nonfinite checks each batch before its update"
    if autocast_dtype is not None:
        return f"{_dtype_name(autocast_dtype)} autocast runs through autograd"
    if compile:
        return "torch.compile runs through autograd"
    return None


def recommended_threads(step, device: torch.device, batches) -> int | None:
    """Threads for the fused step on a CPU (small steps run faster on fewer), else None."""
    recommend = getattr(step, "recommended_threads", None)
    batch_size = getattr(batches, "batch_size", None)
    if device.type != "cpu" or recommend is None or batch_size is None:
        return None
    return recommend(batch_size)


def _dtype_name(dtype: torch.dtype | None) -> str:
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, str(dtype))


def describe_step(step) -> str:
    """What ran, for the run summary: ``fused``, ``autograd``, ``autograd, bf16, compiled``,
    or ``autograd (the model is a RealMLP, ...)`` where the fused step was wanted."""
    parts = [step.name]
    if getattr(step, "autocast_dtype", None) is not None:
        parts.append(_dtype_name(step.autocast_dtype))
    if getattr(getattr(step, "forward", None), "active", False):
        parts.append("compiled")
    why = getattr(step, "why", None)
    return ", ".join(parts) + (f" ({why})" if why else "")
