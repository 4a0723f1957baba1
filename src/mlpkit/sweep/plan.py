"""A sweep's plan: which settings take which values, as a grid of runs with everything else
fixed. Any declared setting can be swept by its name (``lr``, ``batch_size``, ``activation``),
and two more names stand for the chapters' experiments: ``depth`` (hidden layers, at the base
run's first width) and ``width`` (units per hidden layer, at the base run's depth).
``batch_size`` takes ``N``, the whole training set (full-batch gradient descent)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

from ..config import FLAT_KEYS, RunConfig, merge
from ..config.settings import unknown

SHAPES = ("depth", "width")  # not settings: they shape model.hidden
NOT_SWEPT = ("out", "report", "groups", "options")
WHOLE_SET = "N"


@dataclass(frozen=True)
class Point:
    """One run of a sweep: the swept values by name, and its folder's name."""

    values: dict[str, Any]

    @property
    def name(self) -> str:
        parts = [f"{k}={_text(v)}" for k, v in self.values.items()]
        return re.sub(r"[^A-Za-z0-9=.,_+-]", "_", "_".join(parts))


def _text(value: Any) -> str:
    return "-".join(map(str, value)) if isinstance(value, list) else str(value)


def check_name(name: str) -> None:
    """Refuse a name that is neither a setting nor ``depth`` / ``width``, with the nearest."""
    if name not in SHAPES and (name in NOT_SWEPT or name not in FLAT_KEYS):
        known = [k for k in FLAT_KEYS if k not in NOT_SWEPT] + list(SHAPES)
        raise unknown("setting to sweep", name, known)


def grid(params: dict[str, list[Any]]) -> list[Point]:
    """Every combination of the values, the first parameter varying slowest.

    >>> [p.name for p in grid({"depth": [1, 2], "lr": [0.1]})]
    ['depth=1_lr=0.1', 'depth=2_lr=0.1']
    """
    names = list(params)
    return [
        Point(dict(zip(names, combo, strict=True))) for combo in itertools.product(*params.values())
    ]


def point_config(base: RunConfig, point: Point, train_rows: int | None) -> RunConfig:
    """The base config with the point's values (``N`` resolved to ``train_rows``), validated
    as any config is, so a bad value gets the setting's own message."""
    overrides: dict[str, Any] = {}
    hidden = list(base.model.hidden)
    depth = point.values.get("depth", len(hidden))
    width = point.values.get("width", hidden[0] if hidden else 32)
    if "depth" in point.values or "width" in point.values:
        overrides["hidden"] = [width] * depth
    for name, value in point.values.items():
        if name in SHAPES:
            continue
        overrides[name] = train_rows if value == WHOLE_SET else value
    return merge(base, overrides)
