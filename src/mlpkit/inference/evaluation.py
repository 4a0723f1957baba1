"""Evaluation: the model in ``eval()`` mode under inference mode, over a whole set."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from ..data.batching import make_batches
from ..devices import resolve_device
from ..losses import resolve_loss
from ..metrics import compute_all, get_metrics
from ..nested import call_model, map_structure, primary

EVAL_BATCH_SIZE = 4096  # no gradients are kept, so large batches are cheap and fast


def _concat(parts: list[Any]) -> Any:
    if len(parts) == 1:  # one batch: no copy
        return parts[0]
    return map_structure(lambda *tensors: torch.cat(tensors), *parts)


def infer(model: nn.Module, batches, loss_fn: Callable | None = None):
    """Outputs and targets over every batch, and the mean loss if ``loss_fn`` is given.

    Batches are ``(inputs, targets)``; targets may be ``None`` when only outputs are wanted.

    The loss is summed on the device and read once, so no batch waits for the device.
    """
    was_training = model.training
    # Switching sets every submodule: a server's model, in eval already, is not switched per call.
    if any(module.training for module in model.modules()):
        model.eval()
    outputs, targets = [], []
    loss_sum, count = None, 0
    try:
        with torch.inference_mode():
            for inputs, target in batches:
                out = call_model(model, inputs)
                size = len(primary(out))
                if loss_fn is not None:
                    batch_loss = loss_fn(out, target).detach() * size
                    loss_sum = batch_loss if loss_sum is None else loss_sum + batch_loss
                count += size
                outputs.append(out)
                if target is not None:
                    targets.append(target)
    finally:
        if was_training:
            model.train()
    loss = None if loss_sum is None else float(loss_sum) / max(count, 1)
    return loss, _concat(outputs), _concat(targets) if targets else None


def evaluate(
    model: nn.Module,
    data: Any,
    metrics: Sequence[str | Callable] | str = (),
    *,
    loss: Any = None,
    batch_size: int = EVAL_BATCH_SIZE,
    device: str | torch.device | None = None,
) -> dict[str, float]:
    """Metrics (and the loss, if given) of a model on a data set, exact over the whole set.

    ``data`` is ``(X, y)``, a ``Dataset`` or a ``DataLoader``, as for ``fit``.

    >>> evaluate(model, (X_test, y_test), ["accuracy", "f1"])  # doctest: +SKIP
    {'accuracy': 0.97, 'f1': 0.97}
    """
    device = next(model.parameters()).device if device is None else resolve_device(device)
    model.to(device)
    batches = make_batches(data, batch_size, shuffle=False, device=device)
    loss_fn = None if loss is None else resolve_loss(loss)
    if isinstance(loss_fn, nn.Module):
        loss_fn.to(device)
    mean_loss, outputs, targets = infer(model, batches, loss_fn)
    results = {} if mean_loss is None else {"loss": mean_loss}
    results.update(compute_all(get_metrics(metrics), primary(outputs), primary(targets)))
    return results
