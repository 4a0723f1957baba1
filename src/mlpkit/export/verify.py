"""Every export is checked when written: the file, reloaded from disk, against the eager model
on held-out rows at several batch sizes.

An element passes when ``|export - eager| <= 1e-4 * max(1, |eager|)``: absolute for
probabilities (and values up to 1), relative for larger regression values, whose float32
rounding grows with them. The largest absolute and relative differences are reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ExportError

TOLERANCE = 1e-4
BATCH_SIZES = (1, 7, 256)
Engine = Callable[[dict[str, np.ndarray]], np.ndarray]


@dataclass
class Difference:
    """The largest differences between an export's outputs and the eager model's."""

    max_abs: float
    max_rel: float
    worst: float  # the largest |a - b| / max(1, |b|), compared with the tolerance

    def to_dict(self) -> dict[str, float]:
        return {"max_abs": self.max_abs, "max_rel": self.max_rel}


def difference(actual: np.ndarray, expected: np.ndarray) -> Difference:
    """>>> difference(np.array([1.0, 200.0]), np.array([1.0, 199.0])).max_rel
    0.005025125628140704
    """
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        return Difference(np.inf, np.inf, np.inf)
    gap = np.abs(actual - expected)
    gap[np.isnan(actual) != np.isnan(expected)] = np.inf
    gap[np.isnan(actual) & np.isnan(expected)] = 0.0
    if gap.size == 0:
        return Difference(0.0, 0.0, 0.0)
    size = np.abs(np.nan_to_num(expected))
    relative = gap / np.maximum(size, np.finfo(np.float32).tiny)
    return Difference(
        float(gap.max()), float(relative.max()), float((gap / np.maximum(size, 1.0)).max())
    )


def compare(
    run: Engine,
    inputs: dict[str, np.ndarray],
    expected: np.ndarray,
    batch_sizes: tuple[int, ...] = BATCH_SIZES,
) -> dict[int, Difference]:
    """The differences at each batch size, the first ``size`` rows run as one batch."""
    found = {}
    for size in batch_sizes:
        batch = {name: np.ascontiguousarray(array[:size]) for name, array in inputs.items()}
        found[size] = difference(run(batch), expected[:size])
    return found


def overall(differences: dict[int, Difference]) -> Difference:
    """The largest of each difference over the batch sizes."""
    values = list(differences.values())
    return Difference(
        max(d.max_abs for d in values), max(d.max_rel for d in values), max(d.worst for d in values)
    )


def check(what: str, differences: dict[int, Difference]) -> None:
    """An ``ExportError`` naming the batch size where the export strays beyond the tolerance."""
    for size, found in differences.items():
        if not found.worst <= TOLERANCE:
            raise ExportError(
                f"the {what} export differs from the eager model by {found.max_abs:.3g} "
                f"(relative {found.max_rel:.3g}) at batch size {size}, over the tolerance "
                f"{TOLERANCE:g}; nothing was written. Report it with the run's model.json, or "
                "use another format"
            )


def verification_record(differences: dict[int, Difference]) -> dict[str, Any]:
    """What the manifest keeps of a verification."""
    worst = overall(differences)
    return {
        **worst.to_dict(),
        "by_batch_size": {str(size): d.to_dict() for size, d in differences.items()},
        "passed": worst.worst <= TOLERANCE,
    }
