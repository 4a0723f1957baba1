"""A raw table to the float32 matrix a model takes, written once.

The fitted preprocessing (``Preprocessor`` in ``preprocess.py``) says what each column becomes:
a numeric column one scaled input (and its missing-value indicator where the training part had
gaps), a categorical column one indicator per level. Here those inputs are written straight into
one preallocated matrix, a few thousand rows at a time, so that a large table is never copied
(neither whole nor as a float64 or object intermediate) and the matrix is not concatenated from
parts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .encode import CHUNK_VALUES, category_text, numeric_column
from .levels import level_codes


@dataclass
class TableLayout:
    """Where each feature column's inputs go: ``columns`` in order, ``categories`` (levels of
    each categorical column), numeric columns with an indicator (``indicators``), and the
    ``fills`` of each column (None: not filled).

    >>> layout = TableLayout(["size", "color"], {"color": ["blue", "red"]}, [], {})
    >>> table = pd.DataFrame({"size": [1.0, 3.0], "color": ["red", "blue"]})
    >>> layout.matrix(table, "ignore", lambda x: x.astype(np.float32), "t.csv").tolist()
    [[1.0, 0.0, 1.0], [3.0, 1.0, 0.0]]
    """

    columns: list[str]
    categories: dict[str, list[str]]
    indicators: list[str]
    fills: dict[str, Any]

    def matrix(
        self,
        frame: pd.DataFrame,
        unknown: str,
        scale: Callable[[np.ndarray], np.ndarray],
        source: str,
        rows: np.ndarray | None = None,
    ) -> np.ndarray:
        """The inputs of ``frame``'s ``rows`` (all by default): numeric columns filled and passed
        through ``scale`` as a float64 block, categories one-hot (``unknown``: unseen ones
        refused, ``"error"``, or all zeros, ``"ignore"``, where a column has no ``(other)``)."""
        numeric, at, gaps_at, codes = [], [], [], {}
        offset = 0
        for column in self.columns:
            if column in self.categories:
                levels = self.categories[column]
                text = category_text(frame[column])
                text = text if rows is None else text.iloc[rows]
                fill = self.fills.get(column)
                codes[offset] = level_codes(text, levels, unknown, column, source, fill)
                offset += len(levels)
                continue
            numeric.append(numeric_column(frame, column, source))
            at.append(offset)
            offset += 1
            if column in self.indicators:
                gaps_at.append((len(numeric) - 1, offset))
                offset += 1
        fill = np.array(
            [self.fills.get(c) for c in self.columns if c not in self.categories], dtype=np.float64
        )
        filled = any(self.fills.get(c) is not None for c in self.columns)
        n = len(frame) if rows is None else len(rows)
        out = np.zeros((n, offset), dtype=np.float32)
        step = max(1, 8 * CHUNK_VALUES // max(offset, 1))  # 16 MB of the output at a time
        for start in range(0, n, step):
            chunk = slice(start, min(start + step, n))
            taken = chunk if rows is None else rows[chunk]
            if numeric:
                block = np.stack([values[taken] for values in numeric], axis=1)
                gaps = np.isnan(block)
                for j, position in gaps_at:
                    out[chunk, position] = gaps[:, j]
                if filled:
                    np.copyto(block, fill, where=gaps)
                out[chunk, at] = scale(block)
            for position, found in codes.items():
                level = found[chunk]
                hit = np.flatnonzero(level >= 0)
                out[start + hit, position + level[hit]] = 1.0
        return out
