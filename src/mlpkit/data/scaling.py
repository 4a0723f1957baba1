"""Numeric feature scaling, fitted on the training part: standard, robust (RealMLP) or quantile
(RTDL).

Every scaling is an affine ``Standardizer`` ``(x - centre) / scale``, with a quantile transform
before it (``quantile``) or a smooth clip after it (``robust``):

- ``standard``: centre the mean, scale the standard deviation;
- ``robust``: centre the median, scale the interquartile range (the standard deviation where it
  is 0), then ``x / sqrt(1 + (x / 3) ** 2)``, which leaves ``|x| < 1`` nearly as is and bends
  outliers smoothly towards +-3 (RealMLP-TD, Holzmueller et al. 2024);
- ``quantile``: each column through its training quantiles to a standard normal (scikit-learn's
  ``QuantileTransformer(output_distribution="normal")``, as the RTDL baselines use).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DataError
from .encode import row_chunks

SCALINGS = ("standard", "robust", "quantile")
CLIP = 3.0  # the smooth clip's bend: |x| well below it is kept, far above it tends to CLIP
N_QUANTILES = 1000  # as scikit-learn's QuantileTransformer (fewer with fewer training rows)
BOUND = 1e-7  # QuantileTransformer's BOUNDS_THRESHOLD: the clipped tails of the normal
SAMPLE_VALUES = 1 << 18  # robust and quantile statistics of an array from about this many


@dataclass
class Standardizer:
    """Feature standardisation ``(x - mean) / std``; constant features keep a scale of 1.

    >>> s = Standardizer.fit(np.array([[0.0], [2.0]]))
    >>> s.transform(np.array([[2.0]]))
    array([[1.]], dtype=float32)
    """

    mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    scale: np.ndarray = field(default_factory=lambda: np.ones(0))

    @classmethod
    def fit(
        cls, X: np.ndarray, rows: np.ndarray | None = None, fill: np.ndarray | None = None
    ) -> Standardizer:
        """Statistics over ``X[rows]`` (all rows by default), in chunks of rows in float64.

        A memory-mapped ``X`` is read a chunk at a time, never copied whole. ``fill`` replaces
        missing values column by column first.
        """
        mean, m2, count, _ = moments(X, rows, fill)
        return cls.from_moments(mean, m2, count)

    @classmethod
    def from_moments(cls, mean: np.ndarray, m2: np.ndarray, count: int) -> Standardizer:
        scale = np.sqrt(m2 / max(count, 1))
        scale[scale < 1e-12] = 1.0
        return cls(mean, scale)

    @classmethod
    def identity(cls, n_features: int) -> Standardizer:
        return cls(np.zeros(n_features), np.ones(n_features))

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != len(self.mean):
            got = X.shape[1] if X.ndim == 2 else X.shape
            raise DataError(
                f"expected {len(self.mean)} features per row but got {got}; "
                "give the same feature columns the model was trained on"
            )
        # One new array, scaled in place: float32 inputs never make a float64 copy, and a large
        # image set is not allocated three times over (each fresh array costs page faults).
        dtype = np.float64 if X.dtype == np.float64 else np.float32
        out = np.subtract(X, self.mean.astype(dtype), dtype=dtype)
        out /= self.scale.astype(dtype)
        return out.astype(np.float32, copy=False)

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X) * self.scale + self.mean).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Standardizer:
        return cls(np.asarray(state["mean"], dtype=np.float64), np.asarray(state["scale"]))


@np.errstate(over="ignore", invalid="ignore")  # an overflow is refused by check_statistics
def moments(
    X: np.ndarray, rows: np.ndarray | None, fill: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Column means, sums of squared deviations, the row count and missing values per column,
    merged chunk by chunk in one pass (a memory-mapped file is read once)."""
    width = int(np.prod(X.shape[1:])) if X.ndim > 1 else 1
    mean, m2, count = np.zeros(width), np.zeros(width), 0
    missing = np.zeros(width, dtype=np.int64)
    for chunk in row_chunks(X, rows):
        block = chunk.astype(np.float64)
        nan = np.isnan(block)
        missing += nan.sum(axis=0)
        if fill is not None:
            np.copyto(block, fill, where=nan)
        b_count, b_mean = len(block), block.mean(axis=0)
        block -= b_mean
        b_m2 = np.einsum("ij,ij->j", block, block)
        # Chan et al.'s pairwise update: stable even for large means and many rows.
        total = count + b_count
        delta = b_mean - mean
        mean = mean + delta * b_count / total
        m2 = m2 + b_m2 + delta**2 * count * b_count / total
        count = total
    return mean, m2, count, missing


def robust_standardizer(X: np.ndarray) -> Standardizer:
    """Centre the median, scale the interquartile range (the standard deviation where it is 0,
    1 for a constant column), for the filled training values ``X``.

    >>> robust_standardizer(np.array([[1.0], [2.0], [3.0], [4.0], [100.0]])).to_dict()
    {'mean': [3.0], 'scale': [2.0]}
    """
    X = np.asarray(X, dtype=np.float64)
    low, centre, high = np.percentile(X, [25, 50, 75], axis=0) if len(X) else np.zeros((3, 0))
    scale = high - low
    flat = scale < 1e-12
    scale[flat] = X[:, flat].std(axis=0) if len(X) else 1.0
    scale[scale < 1e-12] = 1.0
    return Standardizer(centre, scale)


def smooth_clip(x: np.ndarray) -> np.ndarray:
    """``x / sqrt(1 + (x / 3) ** 2)``, in place for float arrays: near the identity for small
    values, and never beyond +-3.

    >>> smooth_clip(np.array([0.0, 3.0, 1e6])).round(4).tolist()
    [0.0, 2.1213, 3.0]
    """
    # x / sqrt(1 + (x / c) ** 2) as x / (hypot(c, x) / c): no square to overflow float32, and a
    # value beyond float32 (infinite after scaling) becomes NaN, which transform then refuses
    # with the column and row (the graphs' faster form would clip it to +-3 without a word).
    x /= np.hypot(CLIP, x) / CLIP
    return x


def fit_quantiles(X: np.ndarray) -> np.ndarray:
    """Each column's quantiles ``(n_quantiles, columns)`` at evenly spaced probabilities, as
    ``QuantileTransformer.fit`` computes them (made non-decreasing)."""
    X = np.asarray(X, dtype=np.float64)
    count = max(2, min(N_QUANTILES, len(X)))
    quantiles = np.percentile(X, np.linspace(0, 100, count), axis=0)
    return np.maximum.accumulate(quantiles, axis=0)


def quantile_normal(X: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Values to standard-normal scores through the training ``quantiles``, as
    ``QuantileTransformer(output_distribution="normal").transform``: the mean of interpolating
    up and down (ties get the middle rank), the tails clipped at about +-5.2 sd."""
    from scipy.special import ndtri

    X = np.asarray(X, dtype=np.float64)
    out = np.empty_like(X)
    references = np.linspace(0, 1, len(quantiles))
    for j in range(X.shape[1]):
        q, x = quantiles[:, j], X[:, j]
        ranks = 0.5 * (np.interp(x, q, references) - np.interp(-x, -q[::-1], -references[::-1]))
        ranks[x + BOUND > q[-1]] = 1.0
        ranks[x - BOUND < q[0]] = 0.0
        out[:, j] = ranks
    tail = BOUND - np.spacing(1)
    return np.clip(ndtri(out), ndtri(tail), ndtri(1 - tail))


def sample_rows(X: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    """Training rows of an array for order statistics: all of them, or evenly spaced ones up to
    ``SAMPLE_VALUES`` values (a large memory-mapped file is never read whole)."""
    rows = np.arange(len(X)) if rows is None else np.asarray(rows)
    width = int(np.prod(X.shape[1:])) if X.ndim > 1 else 1
    most = max(1000, SAMPLE_VALUES // max(width, 1))
    if len(rows) > most:
        rows = rows[np.linspace(0, len(rows) - 1, most).astype(np.int64)]
    block = np.asarray(X[np.sort(rows)], dtype=np.float64)
    return block.reshape(len(block), width)
