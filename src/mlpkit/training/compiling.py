"""``torch.compile`` for training, falling back to the eager model when compiling fails.

Compiling needs a working backend (Inductor on a CPU needs a C++ compiler). A machine without
one should train as usual, not crash: the first failure is reported once, and from then on the
model runs eagerly. Errors in the model itself are not hidden: they surface from the eager call.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import torch
from torch import nn

from ..nested import call_model

log = logging.getLogger(__name__)


class CompiledModel:
    """Calls ``torch.compile(model)``; after a compiler failure, calls ``model`` itself.

    The compiled module shares the model's parameters, so the optimizer, checkpoints and
    saved weights see one set of tensors either way.
    """

    def __init__(self, model: nn.Module, **options: Any) -> None:
        self.model = model
        self.compiled: Any = None
        try:
            self.compiled = torch.compile(model, **{"dynamic": False, **options})
        except RuntimeError as exc:  # e.g. a Python version torch.compile does not support
            self._give_up(exc)

    @property
    def active(self) -> bool:
        """Whether calls still go through the compiled module."""
        return self.compiled is not None

    def __call__(self, inputs: Any) -> Any:
        if self.compiled is not None:
            try:
                return call_model(self.compiled, inputs)
            except torch._dynamo.exc.BackendCompilerFailed as exc:
                self._give_up(exc)
        return call_model(self.model, inputs)

    def _give_up(self, exc: Exception) -> None:
        self.compiled = None
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        warnings.warn(
            f"torch.compile failed ({reason}); training the model uncompiled. "
            "Install a C++ compiler (Inductor needs one on a CPU) or leave out --compile",
            RuntimeWarning,
            stacklevel=3,
        )
