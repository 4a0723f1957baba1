"""The model as it is exported: the run's preprocessing in front, its output head behind.

``Serving`` takes raw features (see ``inputs.py``: ``features`` and, for categorical columns,
``categories``) and returns what a user reads: class probabilities, or regression values in
the target's original units. Everything the run fitted is a buffer of the module (fill values,
means and scales, code tables, input-group positions, target scaling), so every format exports
the same graph and the safetensors file holds all of it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.preprocess import Preprocessor
from ..data.target import TargetScaler
from .inputs import MISSING_CODE, InputLayout


class Serving(nn.Module):
    """Raw features to probabilities (classification) or original-unit values (regression).

    ``groups`` (input-group positions in the preprocessed matrix) feed a Wide & Deep model its
    ``wide`` and ``deep`` inputs. An auxiliary output is left out: predictions use the main one.

    >>> serving = Serving(model, preprocessor, "classification")  # doctest: +SKIP
    >>> serving(features=torch.tensor([[5.1, 3.5, 1.4, 0.2]]))  # one row of probabilities
    """

    __jit_ignored_attributes__ = ["layout"]  # plain Python, for describe(); not in the graph
    # Fixed when the module is built, so that TorchScript compiles only the branches taken.
    __constants__ = ["impute", "classification", "wide_deep"]

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
        self.register_buffer("fill", _floats([fill.get(c, 0.0) for c in numeric]))
        self.register_buffer("mean", _floats(scaler.mean))
        self.register_buffer("scale", _floats(scaler.scale))
        # One indicator per (categorical column, code), compared with that column's code.
        column_of = [j for j, c in enumerate(tables) for _ in tables[c]]
        code_of = [k for c in tables for k in range(len(tables[c]))]
        self.register_buffer("category_column", _longs(column_of))
        self.register_buffer("category_code", _longs(code_of))
        fill_codes = [
            tables[c].index(fill[c]) if fill.get(c) in tables[c] else MISSING_CODE for c in tables
        ]
        self.register_buffer("category_fill", _longs(fill_codes))
        self.register_buffer("order", _longs(_output_order(preprocessor, self.layout)))
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

    def forward(
        self, features: torch.Tensor | None = None, categories: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.head(self.main_output(self.preprocess(features, categories)))

    def preprocess(
        self, features: torch.Tensor | None, categories: torch.Tensor | None
    ) -> torch.Tensor:
        """Raw inputs to the matrix the model was trained on, columns as the run laid them out."""
        parts: list[torch.Tensor] = []
        if features is not None:
            x = features.to(torch.float32)
            if self.impute:
                x = torch.where(torch.isnan(x), self.fill, x)
            parts.append((x - self.mean) / self.scale)
        if categories is not None:
            codes = categories.to(torch.int64)
            if self.impute:
                codes = torch.where(codes == MISSING_CODE, self.category_fill, codes)
            chosen = codes.index_select(1, self.category_column)
            parts.append((chosen == self.category_code).to(torch.float32))
        return torch.cat(parts, dim=1).index_select(1, self.order)

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


def _output_order(preprocessor: Preprocessor, layout: InputLayout) -> list[int]:
    """Positions in ``[numeric columns, indicators]`` of each preprocessed column, in the run's
    order (columns as in the data, each categorical one widened in place)."""
    order, numeric = [], 0
    indicator = len(layout.numeric)
    for column in preprocessor.columns_:
        if column in layout.categories:
            width = len(layout.categories[column])
            order += range(indicator, indicator + width)
            indicator += width
        else:
            order.append(numeric)
            numeric += 1
    return order


def _floats(values: Any) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values, dtype=np.float32).reshape(-1))


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
