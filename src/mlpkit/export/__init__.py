"""Export: a run's model with its preprocessing baked in, as ONNX, torch.export (pt2),
TorchScript or safetensors, each verified against the eager model when written.

One module per format (``onnx``, ``pt2``, ``torchscript``, ``safetensors``), each with
``FILE`` (its name in ``RUN_DIR/export/``), ``NEEDS`` (optional packages), ``serialize``
and ``load``; ``serving`` is the exported module (raw features in, probabilities or values out);
``inputs`` its input layout and the encoding of raw features; ``verify`` and ``manifest`` the
checks and the record of them. ``mlpkit.runs.export.export_run`` puts them together.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import ConfigError, require

FORMATS = ("onnx", "pt2", "torchscript", "safetensors")


def format_module(name: str) -> ModuleType:
    """The module of an export format, by name.

    >>> format_module("pt2").FILE
    'model.pt2'
    """
    if name not in FORMATS:
        raise ConfigError(f"unknown export format {name!r}; choose one of: {', '.join(FORMATS)}")
    return importlib.import_module(f".{name}", __name__)


def formats(names: str | list[str] | tuple[str, ...]) -> list[str]:
    """Format names from a comma-separated list or ``all``, checked, in export order."""
    given = [names] if isinstance(names, str) else list(names)
    wanted = [n.strip().lower() for part in given for n in part.split(",") if n.strip()]
    if not wanted:
        raise ConfigError(f"no export format given; choose from: {', '.join(FORMATS)} or all")
    if "all" in wanted:
        return list(FORMATS)
    for name in wanted:
        format_module(name)
    return [n for n in FORMATS if n in wanted]


def check_installed(names: list[str]) -> None:
    """Refuse, before anything is written, formats whose optional packages are missing."""
    for name in names:
        for package in format_module(name).NEEDS:
            require(package, "export")


__all__ = ["FORMATS", "check_installed", "format_module", "formats"]
