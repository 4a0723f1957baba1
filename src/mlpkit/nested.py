"""Nested batches: a tensor, or a tuple, list or dict of them (several inputs or outputs).

The one walker over such structures; batching, steps, evaluation and metrics all use it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Structure = Any  # a tensor (or array), or a tuple / list / dict of them


def map_structure(fn: Callable[..., Any], first: Structure, *others: Structure) -> Structure:
    """Apply ``fn`` to the leaves of one structure, or to the matching leaves of several.

    >>> map_structure(lambda a, b: a + b, {"x": 1, "y": (2, 3)}, {"x": 10, "y": (20, 30)})
    {'x': 11, 'y': (22, 33)}
    """
    if isinstance(first, Mapping):
        return {k: map_structure(fn, v, *(o[k] for o in others)) for k, v in first.items()}
    if isinstance(first, (tuple, list)):
        parts = zip(first, *others, strict=True)
        return type(first)(map_structure(fn, *group) for group in parts)
    return fn(first, *others)


def leaves(value: Structure) -> list[Any]:
    """The leaves of a structure, in order.

    >>> leaves({"a": 1, "b": [2, 3]})
    [1, 2, 3]
    """
    found: list[Any] = []
    map_structure(found.append, value)
    return found


def primary(value: Structure) -> Structure:
    """The first output (or target) of a model with several: metrics are reported on it."""
    if isinstance(value, Mapping):
        return next(iter(value.values()))
    if isinstance(value, (tuple, list)):
        return value[0]
    return value


def call_model(model: Callable[..., Any], inputs: Structure) -> Any:
    """Call a model on a batch of inputs: a tensor, a tuple (positional) or a dict (keywords)."""
    if isinstance(inputs, Mapping):
        return model(**inputs)
    if isinstance(inputs, (tuple, list)):
        return model(*inputs)
    return model(inputs)
