"""Losses by name, and the weighted sum used for models with several outputs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .errors import ConfigError
from .registry import Registry

LossFn = Callable[[Any, Any], torch.Tensor]

LOSSES: Registry[nn.Module] = Registry("loss")


class BCEWithLogits(nn.BCEWithLogitsLoss):
    """``BCEWithLogitsLoss`` that also takes integer 0/1 labels of shape ``(n,)``."""

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return super().forward(input, target.to(input.dtype).reshape(input.shape))


def _class_weights(class_weights: Any, targets: Any) -> torch.Tensor | None:
    if class_weights is None:
        return None
    if isinstance(class_weights, str):
        if class_weights != "balanced":
            raise ConfigError(
                f"class_weights must be 'balanced' or a list of numbers, got {class_weights!r}"
            )
        if targets is None:
            raise ConfigError("class_weights='balanced' needs the training labels (targets=...)")
        from sklearn.utils.class_weight import compute_class_weight

        labels = np.asarray(targets.cpu() if isinstance(targets, torch.Tensor) else targets)
        classes = np.arange(int(labels.max()) + 1)
        present = np.unique(labels)
        weights = np.ones(len(classes))
        weights[present] = compute_class_weight("balanced", classes=present, y=labels)
        return torch.as_tensor(weights, dtype=torch.float32)
    return torch.as_tensor(list(class_weights), dtype=torch.float32)


@LOSSES.register("cross_entropy")
def _cross_entropy(
    label_smoothing: float = 0.0, class_weights: Any = None, targets: Any = None
) -> nn.Module:
    if not 0.0 <= label_smoothing < 1.0:
        raise ConfigError(f"label_smoothing must be in [0, 1), got {label_smoothing}; try 0.1")
    weight = _class_weights(class_weights, targets)
    return nn.CrossEntropyLoss(weight=weight, label_smoothing=label_smoothing)


@LOSSES.register("nll")
def _nll(class_weights: Any = None, targets: Any = None) -> nn.Module:
    # NLLLoss expects log-probabilities: pair it with a LogSoftmax head.
    return nn.NLLLoss(weight=_class_weights(class_weights, targets))


LOSSES.add("mse", lambda: nn.MSELoss())
LOSSES.add("l1", lambda: nn.L1Loss())
LOSSES.add("huber", lambda delta=1.0: nn.HuberLoss(delta=delta))
LOSSES.add("bce_with_logits", lambda: BCEWithLogits())

CLASSIFICATION_LOSSES = frozenset({"cross_entropy", "nll", "bce_with_logits"})


def make_loss(name: str, **options: Any) -> nn.Module:
    """Build a loss by name; options go to its factory, unknown options are refused.

    >>> make_loss("cross_entropy", label_smoothing=0.1)
    CrossEntropyLoss()
    """
    factory = LOSSES.get(name)
    try:
        return factory(**{k: v for k, v in options.items() if v is not None})
    except TypeError as exc:
        raise ConfigError(f"loss {name!r} does not take these options: {exc}") from None


class WeightedLoss(nn.Module):
    """A weighted sum of one loss per output, for models with several outputs.

    Outputs and targets are matched by position (tuples) or by key (dicts); a single target
    tensor is every output's target (as for an auxiliary output predicting the main target).

    >>> loss = WeightedLoss([nn.MSELoss(), nn.MSELoss()], weights=[0.9, 0.1])
    """

    def __init__(
        self,
        losses: Sequence[LossFn] | Mapping[str, LossFn],
        weights: Sequence[float] | Mapping[str, float] | None = None,
    ) -> None:
        super().__init__()
        self.keys: list[Any] = (
            list(losses) if isinstance(losses, Mapping) else list(range(len(losses)))
        )
        self.losses = dict(losses) if isinstance(losses, Mapping) else dict(enumerate(losses))
        if weights is None:
            weights = {key: 1.0 for key in self.keys}
        elif not isinstance(weights, Mapping):
            if len(weights) != len(self.keys):
                raise ConfigError(
                    f"got {len(weights)} loss weights for {len(self.keys)} outputs; give one each"
                )
            weights = dict(zip(self.keys, weights, strict=True))
        self.weights = {key: float(weights[key]) for key in self.keys}
        # Registered so .to(device) moves class weights held by the inner losses.
        self._modules_list = nn.ModuleList(
            [f for f in self.losses.values() if isinstance(f, nn.Module)]
        )

    def forward(self, outputs: Any, targets: Any) -> torch.Tensor:
        if not isinstance(outputs, (tuple, list, dict)):
            raise ConfigError(
                "the model returned one output but several losses were given; "
                "return a tuple or dict of outputs, or give one loss"
            )
        shared = not isinstance(targets, (tuple, list, dict))
        total = 0.0
        for key in self.keys:
            target = targets if shared else targets[key]
            total = total + self.weights[key] * self.losses[key](outputs[key], target)
        return total  # type: ignore[return-value]


def named_loss(
    name: str, label_smoothing: float = 0.0, class_weights: Any = None, targets: Any = None
) -> nn.Module:
    """A loss by name with the run's options: ``label_smoothing`` where the loss smooths
    (cross_entropy), ``class_weights`` (``"balanced"`` needs the training ``targets``).

    >>> named_loss("cross_entropy", label_smoothing=0.1)
    CrossEntropyLoss()
    """
    options: dict[str, Any] = {}
    if name == "cross_entropy" and label_smoothing:
        options["label_smoothing"] = label_smoothing
    if class_weights is not None:
        options.update(class_weights=class_weights, targets=targets)
    return make_loss(name, **options)


def resolve_loss(loss: Any, loss_weights: Any = None, label_smoothing: float = 0.0) -> LossFn:
    """Turn what a user passed as ``loss`` into a callable ``loss(outputs, targets)``; losses
    given by name smooth labels by ``label_smoothing`` where they can."""
    if isinstance(loss, str):
        return named_loss(loss, label_smoothing)
    if isinstance(loss, Mapping):
        parts = {k: resolve_loss(v, label_smoothing=label_smoothing) for k, v in loss.items()}
        return WeightedLoss(parts, loss_weights)
    if isinstance(loss, (list, tuple)):
        parts = [resolve_loss(v, label_smoothing=label_smoothing) for v in loss]
        return WeightedLoss(parts, loss_weights)
    if callable(loss):
        return loss
    raise ConfigError(
        f"loss must be a name, a callable or a list of them, got {type(loss).__name__}"
    )
