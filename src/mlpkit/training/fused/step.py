"""A hand-written forward and backward pass for MLPs: the fast training step on a CPU.

For a small MLP on a CPU, autograd's bookkeeping (recording a graph, allocating every intermediate,
walking the graph back) costs about as much as the arithmetic. ``FusedMLPStep`` calls the same ATen
kernels autograd would (``addmm``, ``threshold_backward``, ``nll_loss_backward``, ...) into buffers
allocated once, then updates the parameters with PyTorch's fused optimizer kernels
(``torch._fused_sgd_``, ``torch._fused_adam_``) working on the optimizer's own state. The model's
parameters stay the single source of truth, ``optimizer.state`` stays what ``optimizer.step()``
would have left (checkpoints and exact resume keep working), ``p.grad`` holds the last gradients,
and ``param_groups[i]["lr"]`` is read on every step, so schedulers work.

Covered: ``nn.Sequential`` models (mlpkit's ``MLP``) of ``nn.Linear``, ``nn.BatchNorm1d``,
``nn.Dropout``, ``nn.Identity`` and the activations in ``ACTIVATION_KERNELS``; the losses in
``LOSS_HEADS``; the built-in torch optimizers except LBFGS and SparseAdam (SGD, Adam and AdamW use
a fused kernel, the others their own ``step()``). ``FusedMLPStep.why_not`` names anything else,
and the loop then uses ``AutogradStep``. Dropout draws its masks as autograd's CPU dropout does
(``bernoulli_`` then ``div_``, layer by layer), so with one seed both paths draw the same masks.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from ...errors import ConfigError, DataError
from .activations import ACTIVATION_KERNELS
from .stages import (
    LOSS_HEADS,
    REDUCTIONS,
    ActivationStage,
    BatchNormStage,
    DropoutStage,
    LinearStage,
)
from .updates import fused_update, has_step_hooks

logger = logging.getLogger(__name__)


# Built-in optimizers whose step needs no closure; SGD, Adam and AdamW have a fused update below.
_O = torch.optim
_OPTIMIZERS = (_O.SGD, _O.Adam, _O.AdamW, _O.Adamax, _O.NAdam, _O.RAdam, _O.RMSprop, _O.Adagrad)
_OPTIMIZERS += (_O.Adadelta, _O.ASGD, _O.Rprop)
_HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
_SUPPORTED_LAYERS = (nn.Linear, nn.BatchNorm1d, nn.Dropout, nn.Identity, *ACTIVATION_KERNELS)


class GradientSync(Protocol):
    """How a data-parallel run joins the ranks' gradients (``mlpkit.distributed``)."""

    def share(self, rows: int) -> float:
        """The factor on this rank's loss gradient for a batch of ``rows`` rows."""
        ...

    def reduce(self) -> None:
        """Sum the gradients over the ranks, in place."""
        ...


class FusedMLPStep:
    """The ``AutogradStep`` interface, with the forward and backward of an MLP written by hand.

    >>> from mlpkit.models import MLP
    >>> model = MLP(4, [8], 3)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> step = FusedMLPStep(model, nn.CrossEntropyLoss(), opt)
    >>> loss, outputs = step.train_batch(torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1]))
    >>> outputs.shape
    torch.Size([5, 3])

    ``fused_update=False`` updates through ``optimizer.step()`` instead of the fused kernels: on
    the 784-300-100-10 benchmark (2-core AMD EPYC, 2 threads, SGD with momentum) a step took 348
    against 395 microseconds at batch 32 and 1.74 against 1.79 ms at batch 256, so the fused
    kernels are the default. The first update, and any update while the optimizer has step hooks
    or lacks state, goes through ``optimizer.step()``.

    Buffers are sized by the largest batch seen; a smaller batch uses their first rows. The
    returned loss and outputs are new tensors on every batch, so callers may keep them.
    """

    name = "fused"

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Callable[[Any, Any], Tensor],
        optimizer: torch.optim.Optimizer,
        clip_grad_norm: float | None = None,
        *,
        fused_update: bool = True,
    ) -> None:

        reason = self.why_not(model, loss_fn, optimizer)
        if reason is not None:
            raise ConfigError(f"the fused step cannot train this model: {reason}")
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.clip_grad_norm = clip_grad_norm
        self.fused_update = fused_update
        self._stages, self._backward = _plan(model)
        self._params = [p for s in self._stages for p in s.params]
        self._grads = [g for s in self._stages for g in s.grads]
        self._param_grads = list(zip(self._params, self._grads, strict=True))
        self._grad_of = dict(self._param_grads)
        last = [s for s in self._stages if isinstance(s, LinearStage)][-1]
        self._loss = LOSS_HEADS[type(loss_fn)](loss_fn, last.weight.shape[0], last.weight)
        # A data-parallel run's gradient exchange (mlpkit.distributed.DataParallelStep).
        self.sync: GradientSync | None = None

    def flat_gradients(self, extra: int = 0) -> Tensor:
        """Keep every gradient in one flat buffer (each gradient a view into it), followed by
        ``extra`` free slots, so that one collective call can exchange them all."""
        sizes = [g.numel() for g in self._grads]
        flat = self._grads[0].new_zeros(sum(sizes) + extra)
        parts = flat[: sum(sizes)].split(sizes)
        views = [v.view_as(g) for v, g in zip(parts, self._grads, strict=True)]
        for stage in self._stages:
            count = len(stage.grads)
            if count:
                stage.grads = views[:count]
                views = views[count:]
        self._grads = [g for s in self._stages for g in s.grads]
        self._param_grads = list(zip(self._params, self._grads, strict=True))
        self._grad_of = dict(self._param_grads)
        return flat

    @classmethod
    def supports(cls, model: nn.Module, loss_fn: Any, optimizer: torch.optim.Optimizer) -> bool:
        """Whether this step can train ``model``; ``why_not`` says why not."""
        return cls.why_not(model, loss_fn, optimizer) is None

    @classmethod
    def why_not(
        cls, model: nn.Module, loss_fn: Any, optimizer: torch.optim.Optimizer
    ) -> str | None:
        """The reason this step cannot train ``model`` (then use ``AutogradStep``), or None.

        >>> model = nn.Sequential(nn.Linear(4, 1))
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> FusedMLPStep.why_not(model, nn.MSELoss(reduction="none"), opt)
        "the loss has reduction='none'; use 'mean' or 'sum'"
        """
        return (
            torch_problem()
            or _model_problem(model)
            or _loss_problem(loss_fn)
            or _optimizer_problem(model, optimizer)
        )

    def recommended_threads(self, batch_size: int) -> int:
        """``recommended_num_threads`` for this model at ``batch_size``."""
        linears = [s for s in self._stages if isinstance(s, LinearStage)]
        widths = [s.weight.shape[0] for s in linears]
        return recommended_num_threads(batch_size, linears[0].weight.shape[1], widths)

    def train_batch(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        if not isinstance(inputs, Tensor) or inputs.dim() != 2:
            raise DataError(
                "the fused step takes inputs as one (batch, features) tensor; "
                "for other inputs use the autograd step"
            )
        with torch.no_grad():
            x = inputs
            for stage in self._stages:
                x = stage.forward(x)
            loss, g = self._loss(x, targets)
            sync = self.sync
            if sync is not None:  # this rank's share of the whole batch's loss
                g = g.mul_(sync.share(x.shape[0]))  # the loss head's buffer, used once
            for stage in self._backward:
                g = stage.backward(g)
            if sync is not None:
                sync.reduce()
            for p, grad in self._param_grads:  # p.grad as autograd leaves it
                if p.grad is not grad:
                    p.grad = grad
            if self.clip_grad_norm is not None:
                nn.utils.clip_grad_norm_(self._params, self.clip_grad_norm)
            self._update()
        return loss, x

    def _update(self) -> None:
        opt = self.optimizer
        if self.fused_update and not has_step_hooks(opt):
            calls = [fused_update(opt, group, self._grad_of) for group in opt.param_groups]
            if all(call is not None for call in calls):
                for call in calls:
                    call()  # type: ignore[misc]
                # What opt.step() marks, for the LR schedulers' check that it ran first.
                opt._opt_called = True  # type: ignore[attr-defined]
                return
        # Also the first update: step() creates the optimizer's state exactly as torch does.
        opt.step()


def _plan(model: nn.Module) -> tuple[list[Any], list[Any]]:
    """Stages for the forward pass, and those the backward pass visits, in its order."""
    layers = [m for m in model if not isinstance(m, nn.Identity)]
    linears = [i for i, m in enumerate(layers) if isinstance(m, nn.Linear)]
    width, like = layers[linears[0]].in_features, layers[linears[0]].weight
    stages: list[Any] = []
    first_trainable = None
    for i, layer in enumerate(layers):
        fresh = i >= linears[-1]  # everything from the last Linear on feeds the returned output
        if isinstance(layer, nn.Linear):
            needs_input_grad = first_trainable is not None
            stages.append(LinearStage(layer, needs_input_grad, fresh))
            width = layer.out_features
        elif isinstance(layer, nn.BatchNorm1d):
            stages.append(BatchNormStage(layer))
        elif isinstance(layer, nn.Dropout):
            stages.append(DropoutStage(layer, width, like, fresh))
        else:
            kernels = ACTIVATION_KERNELS[type(layer)](layer)
            stages.append(ActivationStage(kernels, width, like, fresh))
        if first_trainable is None and stages[-1].params:
            first_trainable = len(stages) - 1
    return stages, stages[first_trainable:][::-1]


# The torch releases (major.minor) this step is tested with: it calls ATen kernels and fused
# optimizer kernels that are not public API, and whose signatures may change between releases.
TESTED_TORCH = ("2.13",)


def torch_problem(version: str | None = None) -> str | None:
    """Why the fused step cannot run on this torch (or ``version``), or None.

    >>> torch_problem("2.13.0+cpu") is None
    True
    >>> torch_problem("2.14.1").split(";")[0]
    'torch 2.14.1 is not a release the fused step is tested with (2.13)'

    """
    version = str(torch.__version__ if version is None else version)
    if ".".join(version.split("+")[0].split(".")[:2]) in TESTED_TORCH:
        return None
    return (
        f"torch {version} is not a release the fused step is tested with "
        f"({', '.join(TESTED_TORCH)}): it calls private torch kernels; install torch "
        f"{TESTED_TORCH[-1]} for the fused step"
    )


def _model_problem(model: Any) -> str | None:
    if not isinstance(model, nn.Sequential) or type(model).forward is not nn.Sequential.forward:
        return f"the model is a {type(model).__name__}, not an nn.Sequential such as mlpkit.MLP"
    from torch.nn.modules import module as module_globals

    for name in _HOOK_DICTS:
        if getattr(module_globals, "_global" + name, None):
            return f"a global module hook is registered (torch.nn.modules.module._global{name})"
    for name, module in model.named_modules():
        if any(getattr(module, hooks, None) for hooks in _HOOK_DICTS):
            return f"module {name or 'model'} has a forward or backward hook"
    layers = list(model)
    if not any(isinstance(m, nn.Linear) for m in layers):
        return "the model has no nn.Linear layer"
    seen: set[int] = set()
    for i, layer in enumerate(layers):
        if type(layer) not in _SUPPORTED_LAYERS:
            names = ", ".join(t.__name__ for t in _SUPPORTED_LAYERS)
            return f"layer {i} is a {type(layer).__name__}; supported: {names}"
        if nn.utils.parametrize.is_parametrized(layer):
            return f"layer {i} is parametrized (e.g. weight norm)"
        if isinstance(layer, nn.Dropout) and layer.p >= 1:
            return f"layer {i} drops everything (p={layer.p})"
        if next(layer.parameters(), None) is not None and id(layer) in seen:
            return f"layer {i} appears twice (shared weights)"
        seen.add(id(layer))
    params = list(model.parameters())
    for name, p in model.named_parameters():
        if isinstance(p, nn.parameter.UninitializedParameter):
            return f"parameter {name} is not initialised yet (a lazy module)"
        if not p.requires_grad:
            return f"parameter {name} is frozen (requires_grad=False)"
        if not p.is_floating_point() or p.dtype != params[0].dtype or p.device != params[0].device:
            return f"parameter {name} differs in dtype or device from the others"
    return None


def _loss_problem(loss_fn: Any) -> str | None:
    if type(loss_fn) not in LOSS_HEADS:
        names = ", ".join(t.__name__ for t in LOSS_HEADS)
        return f"the loss is a {type(loss_fn).__name__}; supported: {names}"
    if loss_fn.reduction not in REDUCTIONS:
        return f"the loss has reduction={loss_fn.reduction!r}; use 'mean' or 'sum'"
    if any(getattr(loss_fn, hooks, None) for hooks in _HOOK_DICTS):
        return "the loss module has a hook"
    return None


def _optimizer_problem(model: nn.Module, optimizer: Any) -> str | None:
    if type(optimizer) not in _OPTIMIZERS:
        names = ", ".join(t.__name__ for t in _OPTIMIZERS)
        return f"the optimizer is a {type(optimizer).__name__}; supported: {names}"
    owned = {id(p) for p in model.parameters()}
    if any(id(p) not in owned for g in optimizer.param_groups for p in g["params"]):
        return "the optimizer holds parameters that are not the model's"
    return None


def step_flops(batch_size: int, in_features: int, widths: Sequence[int]) -> int:
    """Multiply-add FLOPs of one training step's matrix products (forward, then backward).

    Each layer costs 2*B*m*n forward and again for its weight gradient; all layers but the first
    also pass a gradient to their input (2*B*m*n more).

    >>> step_flops(1, 784, [300, 100, 10])
    1126800
    """
    sizes = list(zip([in_features, *widths[:-1]], widths, strict=True))
    products = [m * n for m, n in sizes]
    return 2 * batch_size * (2 * sum(products) + sum(products[1:]))


# Each this many FLOPs per step can keep one more thread busy (measured, see below).
_FLOPS_PER_THREAD = 5_000_000


def recommended_num_threads(batch_size: int, in_features: int, widths: Sequence[int]) -> int:
    """Threads for ``torch.set_num_threads`` when training this MLP with the fused step.

    One thread per 5 MFLOP of matrix products per step (``step_flops``), at most one per core.
    Measured with ``FusedMLPStep`` on a 2-core AMD EPYC (Zen 5, AVX-512), idle machine, microseconds
    per step with 1 and 2 threads:

    ============================  ======  ======  ======
    model, batch                  MFLOP   1 thr   2 thr
    ============================  ======  ======  ======
    4-16-16-3, 32                 0.07    60      74
    20-64-64-2, 32                0.97    72      82
    64-128-128-10, 32             4.4     124     120
    20-64-64-2, 256               7.8     173     159
    784-300-100-10, 8             9.0     237     218
    784-300-100-10, 32            36      523     351
    784-300-100-10, 256           288     3167    1772
    ============================  ======  ======  ======

    Only 1 and 2 threads were measured. Call it once per run: while other processes keep the
    cores busy, extra threads wait for each other and a step can take many times longer.

    >>> recommended_num_threads(8, 4, [8, 1])
    1
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    work = step_flops(batch_size, in_features, widths)
    return max(1, min(cores, 1 + work // _FLOPS_PER_THREAD))
