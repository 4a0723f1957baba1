"""Checks of a training checkpoint's contents before a resume uses them.

A checkpoint that passes its CRCs and loads safely can still be crafted or come from another
run: an epoch that is not a count, random states missing, an optimizer state shaped for other
parameters. Each is refused with one line naming the record, instead of a traceback from deep
inside the resume (or, for a negative epoch, a resume that silently trains too long).
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import CheckpointError

_FIX = "resume from another checkpoint (epoch-NNNN.pt, best.pt) or retrain"
_RANDOM = ("python", "numpy", "torch")


def _bad(source: Any, what: str) -> CheckpointError:
    return CheckpointError(f"{source} is not a usable checkpoint ({what}); {_FIX}")


def check_progress(state: dict[str, Any], source: Any) -> None:
    """Refuse a training checkpoint whose progress records are missing or of the wrong kind."""
    epoch = state.get("epoch")
    if type(epoch) is not int or epoch < 0:
        raise _bad(source, f"its epoch is {epoch!r}, not a count of epochs done")
    total_time = state.get("total_time", 0.0)
    if type(total_time) not in (int, float) or not total_time >= 0:
        raise _bad(source, f"its total_time is {total_time!r}, not a number of seconds")
    random = state.get("random")
    if not isinstance(random, dict) or any(k not in random for k in _RANDOM):
        raise _bad(source, "it lacks the random states (python, numpy, torch)")
    optimizer = state.get("optimizer")
    if not isinstance(optimizer, dict) or not isinstance(optimizer.get("param_groups"), list):
        raise _bad(source, "it lacks the optimizer state")


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: Any, source: Any) -> None:
    """``optimizer.load_state_dict(state)``, refusing a state saved for other parameters (another
    architecture's, or another optimizer's) rather than failing at the first step."""
    try:
        groups = state["param_groups"]
        saved = state.get("state", {})
        if len(groups) != len(optimizer.param_groups):
            raise ValueError(f"{len(groups)} parameter groups, the optimizer has "
                             f"{len(optimizer.param_groups)}")  # fmt: skip
        for group, own in zip(groups, optimizer.param_groups, strict=True):
            if len(group["params"]) != len(own["params"]):
                raise ValueError(
                    f"a group of {len(group['params'])} parameters, the model's has "
                    f"{len(own['params'])}"
                )
            for key, param in zip(group["params"], own["params"], strict=True):
                for name, value in saved.get(key, {}).items():
                    shaped = isinstance(value, torch.Tensor) and value.ndim > 0
                    if shaped and value.shape != param.shape:
                        raise ValueError(
                            f"{name} of shape {tuple(value.shape)} for a parameter of shape "
                            f"{tuple(param.shape)}"
                        )
        optimizer.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(
            f"{source} holds an optimizer state that does not fit this model and optimizer "
            f"({reason}); resume with the settings the run was started with, or retrain"
        ) from None
