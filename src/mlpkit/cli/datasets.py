"""``mlpkit datasets``: the built-in and downloadable data sets."""

from __future__ import annotations

import os
import sys


def datasets() -> None:
    """List the built-in and downloadable data sets (to stdout, so that it can be piped)."""
    from rich.console import Console

    from ..data.loading import list_datasets
    from .console import datasets_table

    # Piped output is not cut to 80 columns: it is read by programs and people alike.
    width = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 120
    Console(width=width).print(datasets_table(list_datasets()), soft_wrap=True)
