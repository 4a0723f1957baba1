"""Checks of what ``model.json`` keeps against the model it describes: every stored statistic
must have one value per input (or output) of the model, be finite, and scales be positive.

A statistic of the wrong length would otherwise broadcast (one scale for every feature) and give
wrong predictions and metrics without a word.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import CheckpointError

_FIX = "restore the run's model.json or retrain the run"


def corrupted(what: str) -> CheckpointError:
    return CheckpointError(f"the run's model.json is corrupted ({what}); {_FIX}")


def check_preprocessing(metadata: dict[str, Any]) -> None:
    """Refuse a ``model.json`` whose preprocessing does not fit its architecture."""
    state = metadata.get("preprocessing")
    if not isinstance(state, dict) or not isinstance(state.get("standardize"), dict):
        raise corrupted("it has no preprocessing statistics")
    columns = state.get("columns")
    if columns is None and "mean" in state["standardize"]:  # the older, array-only form
        columns = [None] * len(state["standardize"]["mean"] or [])
    categories = state.get("categories") or {}
    if not isinstance(columns, list) or not isinstance(categories, dict):
        raise corrupted("its preprocessing lists no columns")
    if not set(categories) <= set(columns) or not all(
        isinstance(v, list) for v in categories.values()
    ):
        raise corrupted("its categories are not lists for columns it has")
    numeric = len(columns) - len(categories)
    _check_scaling(state["standardize"], numeric, "feature scaling")
    fill = state.get("fill")
    if fill is not None and (not isinstance(fill, list) or len(fill) != len(columns)):
        raise corrupted(f"its fill values are not one per column ({len(columns)})")
    indicators = len(state.get("missing_indicators") or [])  # one input per numeric column
    _check_input_width(metadata, numeric + indicators + sum(len(v) for v in categories.values()))
    target = state.get("target")
    if target is not None:
        outputs = metadata.get("architecture", {}).get("out_features")
        _check_scaling(target, outputs, "target scaling")


def _check_scaling(state: Any, width: int | None, what: str) -> None:
    try:
        mean = np.asarray(state["mean"], dtype=np.float64)
        scale = np.asarray(state["scale"], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        raise corrupted(f"its {what} is not two lists of numbers") from None
    for name, values in (("mean", mean), ("scale", scale)):
        if values.ndim != 1 or (width is not None and len(values) != width):
            raise corrupted(f"its {what} has {values.size} {name} value(s) for {width} column(s)")
        if not np.isfinite(values).all():
            raise corrupted(f"its {what} has a {name} that is not a finite number")
    if (scale <= 0).any():
        raise corrupted(f"its {what} has a scale that is not positive")


def _check_input_width(metadata: dict[str, Any], width: int) -> None:
    """The preprocessing's output width against the model's inputs (or its input groups)."""
    architecture = metadata.get("architecture") or {}
    groups = metadata.get("input_groups") or {}
    if architecture.get("type") == "WideAndDeep":
        for name in ("wide", "deep"):
            size = architecture.get(f"{name}_features")
            positions = groups.get(name)
            found = width if positions is None else len(positions)
            if found != size:
                raise corrupted(f"its {name} inputs number {found}, the model takes {size}")
    elif architecture.get("in_features") != width:
        raise corrupted(
            f"its preprocessing gives {width} inputs, the model takes "
            f"{architecture.get('in_features')}"
        )
    for name, positions in groups.items():
        if not isinstance(positions, list) or any(
            not isinstance(p, int) or not 0 <= p < width for p in positions
        ):
            raise corrupted(f"its input group {name} names inputs the preprocessing lacks")
