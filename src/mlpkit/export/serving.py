"""The model as it is exported: the run's preprocessing in front, its output head behind.

``Serving`` takes raw features (see ``inputs.py``: ``features`` and, for categorical columns,
``categories``) and returns what a user reads: class probabilities, or regression values in
the target's original units. Everything the run fitted is a buffer of the module (fill values,
means and scales, training quantiles, code tables, input-group positions, target scaling), so
every format exports the same graph and the safetensors file holds all of it.

The graph computes what ``Preprocessor.transform`` computes (``data/preprocess.py``), in the
same order: missing-value indicators from the raw values, then the fill; standard, robust
(with the smooth clip) or quantile scaling (``data/scaling.py``); one indicator per level of
each categorical column, an unseen category on the column's ``(other)`` level where it has one.
Quantile scaling needs the inverse error function, which ONNX lacks: ``onnx.py`` refuses it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.levels import OTHER_LEVEL
from ..data.preprocess import Preprocessor
from ..data.scaling import BOUND, CLIP
from ..data.target import TargetScaler
from .inputs import MISSING_CODE, UNKNOWN_CODE, InputLayout


class Serving(nn.Module):
    """Raw features to probabilities (classification) or original-unit values (regression).

    ``groups`` (input-group positions in the preprocessed matrix) feed a Wide & Deep model its
    ``wide`` and ``deep`` inputs. An auxiliary output is left out: predictions use the main one.

    >>> serving = Serving(model, preprocessor, "classification")  # doctest: +SKIP
    >>> serving(features=torch.tensor([[5.1, 3.5, 1.4, 0.2]]))  # doctest: +SKIP
    """

    __jit_ignored_attributes__ = ["layout"]  # plain Python, for describe(); not in the graph
    # Fixed when the module is built, so that TorchScript compiles only the branches taken
    # (a module-level name would not compile: TorchScript reads constants off the module).
    __constants__ = [
        "impute",
        "indicators",
        "quantile",
        "robust_clip",
        "classification",
        "wide_deep",
        "reorder",
        "missing_code",
        "normal_low",
        "normal_high",
        "bound",
        "clip",
    ]
    missing_code = MISSING_CODE
    bound = BOUND
    clip = CLIP

    def __init__(
        self,
        model: nn.Module,
        preprocessor: Preprocessor,
        task: str,
        target_scaler: TargetScaler | None = None,
        groups: dict[str, list[int]] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.layout = InputLayout.of(preprocessor)
        self.impute = preprocessor.fill_ is not None
        self.classification = task == "classification"
        self.wide_deep = bool(groups)
        numeric, tables = self.layout.numeric, self.layout.categories
        fill = dict(zip(preprocessor.columns_, preprocessor.fill_ or [], strict=False))
        scaler = preprocessor.scaler_
        self.register_buffer("fill", _doubles([fill.get(c, 0.0) for c in numeric]))
        # Missing-value indicators: positions among the numeric columns, read before the fill.
        self.indicators = bool(preprocessor.indicators_)
        missing = [numeric.index(c) for c in preprocessor.indicators_]
        self.register_buffer("indicator_columns", _longs(missing))
        self.register_buffer("mean", _floats(scaler.mean))
        self.register_buffer("scale", _floats(scaler.scale))
        self.robust_clip = preprocessor.standardize and preprocessor.scaling == "robust"
        self._quantile_buffers(preprocessor.quantiles_)
        # One indicator per (categorical column, code), compared with that column's code.
        column_of = [j for j, c in enumerate(tables) for _ in tables[c]]
        code_of = [k for c in tables for k in range(len(tables[c]))]
        self.register_buffer("category_column", _longs(column_of))
        self.register_buffer("category_code", _longs(code_of))
        fill_codes = [
            tables[c].index(fill[c]) if fill.get(c) in tables[c] else MISSING_CODE for c in tables
        ]
        self.register_buffer("category_fill", _longs(fill_codes))
        # Where a code names no level, the column's (other) level if it has one, else none.
        other = [tables[c].index(OTHER_LEVEL) if OTHER_LEVEL in tables[c] else UNKNOWN_CODE
                 for c in tables]  # fmt: skip
        self.register_buffer("category_other", _longs(other))
        self.register_buffer("category_size", _longs([len(tables[c]) for c in tables]))
        order = _output_order(preprocessor, self.layout)
        # Columns already in the run's order (no categories, no indicators) are not copied again.
        self.reorder = order != list(range(len(order)))
        self.register_buffer("order", _longs(order))
        positions = groups or {}
        self.register_buffer("wide_positions", _longs(positions.get("wide", [])))
        self.register_buffer("deep_positions", _longs(positions.get("deep", [])))
        standardizer = None if target_scaler is None else target_scaler.standardizer
        outputs = getattr(model, "out_features", 1)
        self.register_buffer(
            "target_mean", _floats(np.zeros(outputs) if standardizer is None else standardizer.mean)
        )
        self.register_buffer(
            "target_scale",
            _floats(np.ones(outputs) if standardizer is None else standardizer.scale),
        )

    def _quantile_buffers(self, quantiles: np.ndarray | None) -> None:
        """The training quantiles, per column, for ``quantile_normal`` (in float64, as the
        float64 raw inputs of such a run: see ``inputs.py``)."""
        self.quantile = quantiles is not None
        q = np.zeros((1, 2)) if quantiles is None else np.asarray(quantiles, np.float64)
        references = np.linspace(0, 1, len(q))
        # Interpolating down is interpolating up through the negated, reversed quantiles.
        self.register_buffer("quantiles_up", _doubles(q.T))
        self.register_buffer("quantiles_down", _doubles(-q[::-1].T))
        self.register_buffer("references_up", _doubles(references))
        self.register_buffer("references_down", _doubles(-references[::-1]))
        self.normal_low, self.normal_high = 0.0, 0.0
        if self.quantile:  # the clip of data.scaling.quantile_normal, computed the same way
            from scipy.special import ndtri

            tail = BOUND - np.spacing(1)
            self.normal_low, self.normal_high = float(ndtri(tail)), float(ndtri(1 - tail))

    def forward(
        self, features: torch.Tensor | None = None, categories: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.head(self.main_output(self.preprocess(features, categories)))

    def preprocess(
        self, features: torch.Tensor | None, categories: torch.Tensor | None
    ) -> torch.Tensor:
        """Raw inputs to the matrix the model was trained on, columns as the run laid them out:
        ``[numeric columns, missing-value indicators, category indicators]`` reordered."""
        parts: list[torch.Tensor] = []
        gaps: list[torch.Tensor] = []
        if features is not None:
            x = features.to(torch.float64 if self.quantile else torch.float32)
            if self.indicators:  # of the raw values, before they are filled
                missing = torch.isnan(x).index_select(1, self.indicator_columns)
                gaps.append(missing.to(torch.float32))
            if self.impute:
                x = torch.where(torch.isnan(x), self.fill.to(x.dtype), x)
            parts.append(self.scale_numeric(x))
        parts += gaps
        if categories is not None:
            codes = categories.to(torch.int64)
            unknown = (codes != self.missing_code) & ((codes < 0) | (codes >= self.category_size))
            codes = torch.where(unknown, self.category_other, codes)
            if self.impute:
                codes = torch.where(codes == self.missing_code, self.category_fill, codes)
            chosen = codes.index_select(1, self.category_column)
            parts.append((chosen == self.category_code).to(torch.float32))
        # Each of these copies the whole batch: skipped where it would change nothing.
        out = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        return out.index_select(1, self.order) if self.reorder else out

    def scale_numeric(self, x: torch.Tensor) -> torch.Tensor:
        """Filled numeric columns scaled as ``Preprocessor._scale``: through the quantiles to a
        normal score, or ``(x - centre) / scale`` then the smooth clip (robust)."""
        if self.quantile:
            wide = quantile_normal(
                x,
                self.quantiles_up,
                self.quantiles_down,
                self.references_up,
                self.references_down,
                self.bound,
                self.normal_low,
                self.normal_high,
            )
            return ((wide - self.mean.to(torch.float64)) / self.scale.to(torch.float64)).to(
                torch.float32
            )
        # One new tensor, then worked on in place: TorchScript and pt2 run each step without a
        # new batch-sized allocation (the ONNX graph is the same as without the in-place steps).
        out = (x - self.mean).div_(self.scale)
        if self.robust_clip:
            out = smooth_clip(out, self.clip)
        return out

    def main_output(self, x: torch.Tensor) -> torch.Tensor:
        if self.wide_deep:
            out = self.model(
                x.index_select(1, self.wide_positions), x.index_select(1, self.deep_positions)
            )
        else:
            out = self.model(x)
        if isinstance(out, tuple):  # (main, auxiliary)
            return out[0]
        return out

    def head(self, out: torch.Tensor) -> torch.Tensor:
        """Probabilities as ``mlpkit.predict`` computes them, or values in original units."""
        if not self.classification:
            return out * self.target_scale + self.target_mean
        if out.shape[1] == 1:  # one logit: two classes
            positive = torch.sigmoid(out)
            return torch.cat([1 - positive, positive], dim=1)
        return torch.softmax(out, dim=1)

    def describe(self) -> dict[str, Any]:
        """Inputs and output, as the export's ``model.json`` lists them."""
        return {
            "inputs": self.layout.describe(),
            "output": {
                "name": "probabilities" if self.classification else "values",
                "dtype": "float32",
            },
        }


def smooth_clip(x: torch.Tensor, clip: float) -> torch.Tensor:
    """``data.scaling.smooth_clip``: ``x / sqrt(1 + (x / 3) ** 2)``, in six element-wise steps
    (each one a pass over the batch in ONNX Runtime), two of them on new tensors and the rest
    in place. ``x`` is first held within ``+-1e18``, where the result is already 3 to float32
    precision, so that no square overflows float32 (an infinite value gives +-3, a missing one
    stays NaN); ``x`` itself is left as it is."""
    held = torch.clamp(x, -1e18, 1e18)  # a literal: TorchScript reads no global float
    root = held / clip
    root.mul_(root).add_(1.0).sqrt_()
    return held.div_(root)


def interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """``np.interp`` of each row of ``x`` ``(columns, n)`` through that column's increasing
    ``xp`` ``(columns, points)`` onto ``fp`` ``(points,)``: the right-most point at or below a
    value (so a tied point gives its last ``fp``), the ends held beyond the range."""
    last = xp.shape[1] - 1
    j = torch.searchsorted(xp, x, right=True) - 1
    k = j.clamp(0, last - 1)
    x0, x1 = xp.gather(1, k), xp.gather(1, k + 1)
    f0, f1 = fp[k], fp[k + 1]
    inside = (f1 - f0) / (x1 - x0) * (x - x0) + f0
    out = torch.where(j >= last, fp[last], inside)
    return torch.where(j < 0, fp[0], out)


def quantile_normal(
    x: torch.Tensor,
    up: torch.Tensor,
    down: torch.Tensor,
    references_up: torch.Tensor,
    references_down: torch.Tensor,
    bound: float,
    low: float,
    high: float,
) -> torch.Tensor:
    """``data.scaling.quantile_normal`` on float64 ``x`` ``(n, columns)``: the mean of the
    ranks interpolated up and down, the tails at 0 and 1, then the normal quantile
    ``sqrt(2) * erfinv(2p - 1)`` clipped to ``[low, high]``; ``bound`` as ``data.scaling.BOUND``."""
    columns = x.t().contiguous()
    ranks = 0.5 * (interp(columns, up, references_up) - interp(-columns, down, references_down))
    ranks = torch.where(columns + bound > up[:, -1:], torch.ones_like(ranks), ranks)
    ranks = torch.where(columns - bound < up[:, :1], torch.zeros_like(ranks), ranks)
    normal = torch.erfinv(2.0 * ranks - 1.0) * math.sqrt(2.0)
    return normal.clamp(low, high).t()


def _output_order(preprocessor: Preprocessor, layout: InputLayout) -> list[int]:
    """Positions in ``[numeric columns, missing-value indicators, category indicators]`` of each
    preprocessed column, in the run's order (columns as in the data, each numeric one followed
    by its missing-value indicator, each categorical one widened in place)."""
    gaps = preprocessor.indicators_
    order, numeric = [], 0
    indicator = len(layout.numeric) + len(gaps)
    for column in preprocessor.columns_:
        if column in layout.categories:
            width = len(layout.categories[column])
            order += range(indicator, indicator + width)
            indicator += width
        else:
            order.append(numeric)
            numeric += 1
            if column in gaps:
                order.append(len(layout.numeric) + gaps.index(column))
    return order


def _floats(values: Any) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values, dtype=np.float32).reshape(-1))


def _doubles(values: Any) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(values, dtype=np.float64))


def _longs(values: Any) -> torch.Tensor:
    array = np.asarray(values, dtype=np.int64).reshape(-1)
    # An unused table (no categories, no input groups) holds one 0: a pt2 archive cannot hold
    # an empty tensor, and the branch that would read it is never taken.
    return torch.as_tensor(array if array.size else np.zeros(1, np.int64))


def build_serving(model: nn.Module, metadata: dict[str, Any]) -> Serving:
    """A run's ``Serving`` module from its model and ``model.json`` metadata (or an export's
    ``model.json``, which keeps the same keys)."""
    state = metadata["preprocessing"]
    target = state.get("target")
    return Serving(
        model,
        Preprocessor.from_dict(state),
        metadata["task"],
        None if target is None else TargetScaler.from_dict(target),
        metadata.get("input_groups"),
    ).eval()


# What an export's model.json keeps of the run's model.json: enough to rebuild ``Serving``
# and to read its output (class names), plus where it came from.
SPEC_KEYS = (
    "architecture",
    "task",
    "data",
    "target",
    "feature_names",
    "class_names",
    "input_groups",
    "preprocessing",
    "weights_sha256",
)


def serving_spec(metadata: dict[str, Any], serving: Serving) -> dict[str, Any]:
    """The export's ``model.json``: the graph's inputs and output, and the run's metadata that
    rebuilds the module without pickle."""
    kept = {key: metadata.get(key) for key in SPEC_KEYS}
    if kept["class_names"] is not None and serving.classification:
        serving_output = {**serving.describe()["output"], "classes": kept["class_names"]}
    else:
        serving_output = serving.describe()["output"]
    return {
        "format": "mlpkit-export/1",
        "inputs": serving.layout.describe(),
        "output": serving_output,
        **kept,
    }
