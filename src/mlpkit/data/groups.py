"""Named input groups: feature columns sent to a model as separate keyword inputs.

A config declares groups by column name, possibly overlapping, as the reference chapters'
Wide & Deep model needs (TOML)::

    [data.groups]
    wide = ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population"]
    deep = ["AveRooms", "AveBedrms", "Population", "AveOccup", "Latitude", "Longitude"]

Batches are then dicts ``{"wide": (n, 5), "deep": (n, 6)}`` and ``fit`` calls
``model(wide=..., deep=...)``. Groups select columns of the preprocessed matrix: a categorical
column brings all its one-hot indicators (or name one indicator as ``column=category``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import ConfigError


def group_indices(
    groups: Mapping[str, Sequence[str]], output_columns: Sequence[str], output_names: Sequence[str]
) -> dict[str, np.ndarray]:
    """Each group's positions in the preprocessed matrix.

    ``output_columns`` names the input column of each output column and ``output_names`` the
    output column itself (as ``Preprocessor.output_columns_`` and ``output_names_``).

    >>> group_indices({"a": ["y", "x"]}, ["x", "y", "y"], ["x", "y=0", "y=1"])
    {'a': array([1, 2, 0])}
    """
    if not groups:
        raise ConfigError("groups is empty; name at least one group of columns or leave it out")
    known = list(dict.fromkeys(output_columns))
    index: dict[str, np.ndarray] = {}
    for name, columns in groups.items():
        if not name.isidentifier():
            raise ConfigError(
                f"input group name {name!r} is not a Python identifier; the model receives it "
                "as a keyword argument, so use e.g. 'wide' or 'deep'"
            )
        if not columns:
            raise ConfigError(f"input group {name!r} has no columns; list at least one")
        positions: list[int] = []
        for column in columns:
            found = [i for i, c in enumerate(output_columns) if c == column]
            found = found or [i for i, c in enumerate(output_names) if c == column]
            if not found:
                raise ConfigError(
                    f"input group {name!r} names unknown column {column!r}; choose from: "
                    f"{', '.join(known[:20])}{' ...' if len(known) > 20 else ''}"
                )
            positions += found
        index[name] = np.asarray(positions, dtype=np.int64)
    return index


def split_groups(X: np.ndarray, index: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The named inputs of a preprocessed matrix: one contiguous array per group.

    >>> split_groups(np.arange(6).reshape(2, 3), {"a": np.array([2, 0])})["a"].tolist()
    [[2, 0], [5, 3]]
    """
    return {name: np.ascontiguousarray(X[:, positions]) for name, positions in index.items()}
