"""``history.csv``: one row per epoch, as ``pandas.DataFrame(rows).to_csv(index=False)`` writes
it, without building a DataFrame.

A run rewrites the file after every epoch; through pandas that took about 4 ms an epoch, as long
as an epoch of a small table's training. The rows hold plain values only (what a checkpoint
stores): ints, floats, bools, strings and None.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from typing import Any


def history_csv(rows: Sequence[dict[str, Any]]) -> str:
    """The CSV text of ``rows``: columns in order of first appearance, a value missing from a
    row (absent, None or NaN) left empty, each column formatted as pandas formats its dtype (a
    column of whole numbers with a gap is a float column, so ``5`` is written ``5.0``).

    >>> print(history_csv([{"epoch": 1, "loss": 0.5}, {"epoch": 2}]), end="")
    epoch,loss
    1,0.5
    2,
    """
    columns = list(dict.fromkeys(key for row in rows for key in row))
    formats = {name: _column_format([row.get(name) for row in rows]) for name in columns}
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([formats[name](row.get(name)) for name in columns])
    return text.getvalue()


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _column_format(values: list[Any]):
    present = [v for v in values if not _missing(v)]
    kinds = {type(v) for v in present}
    gaps = len(present) < len(values)
    if kinds and kinds <= {int, float} and (float in kinds or gaps):
        return lambda v: "" if _missing(v) else repr(float(v))  # pandas' float64 column
    return lambda v: "" if _missing(v) else str(v)
