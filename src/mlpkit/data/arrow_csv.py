"""CSV and TSV files read by pyarrow's multi-threaded reader, as pandas' reader reads them.

pyarrow reads a large file several times faster than pandas' C reader on a few cores and
builds each column once. The options here give the values pandas gives: the same texts read
as missing (also in text columns), the same words read as booleans, dates and times kept as
text, a column with no values as float NaN, and pandas' ``Unnamed: i`` for an empty header.
A file pyarrow refuses (a row shorter than the header, bad UTF-8) is left to pandas' reader,
which has its own rules and messages for them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pv

# The texts pandas' read_csv reads as missing (its documented default ``na_values``).
NA_TEXTS = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
]  # fmt: skip
_CONVERT = {
    "null_values": NA_TEXTS,
    "strings_can_be_null": True,
    "true_values": ["True", "TRUE", "true"],
    "false_values": ["False", "FALSE", "false"],
}


def read_csv(path: Path, sep: str) -> tuple[pd.DataFrame, list[str]] | None:
    """The table and its header's names as written, or None where pyarrow refuses the file.

    >>> read_csv(Path("houses.csv"), ",")[0].dtypes  # doctest: +SKIP
    """
    parse = pv.ParseOptions(delimiter=sep)
    try:
        table = pv.read_csv(
            path, parse_options=parse, convert_options=pv.ConvertOptions(**_CONVERT)
        )
        # pandas keeps dates and times as text: read those columns again, as text.
        temporal = {
            f.name: pa.string() for f in table.schema if pa.types.is_temporal(f.type) and f.name
        }
        if temporal:
            options = pv.ConvertOptions(**_CONVERT, column_types=temporal)
            table = pv.read_csv(path, parse_options=parse, convert_options=options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
        return None
    names = list(table.column_names)
    if any(pa.types.is_temporal(t) for t in table.schema.types):
        return None  # a date column without a name: pandas' reader
    columns = [c.cast(pa.float64()) if pa.types.is_null(c.type) else c for c in table.columns]
    table = pa.table(columns, names=[n or f"Unnamed: {i}" for i, n in enumerate(names)])
    # One column at a time, each buffer freed once converted: no second copy of the table.
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    return frame, names
