"""The facts of a run its report shows, gathered when it trains and kept in ``run.json``: the
data (rows per split, features, classes and their counts, missing values filled), the model,
the step and precision that ran, the best epoch, versions and the machine.

``mlpkit report RUN_DIR`` rebuilds a report from the folder; what only the training process
knew (the step that ran, the machine) comes from ``run.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..callbacks.monitor import Monitor
from ..io.atomic import write_text

FACTS = "run.json"
SHOWN_FEATURES = 40  # feature names listed in full up to this many


def part_targets(part: Any) -> np.ndarray | None:
    """The targets of a prepared part: ``(inputs, y)`` in memory, or a streamed dataset."""
    if part is None:
        return None
    if isinstance(part, tuple):
        return np.asarray(part[1])
    return np.asarray(part.y)[part.rows]


def data_facts(config: Any, prepared: Any) -> dict[str, Any]:
    """Rows per split, features, classes with their counts per split, missing values filled."""
    source = prepared.source
    parts = {"training": prepared.y_train}
    for name, part in (("validation", prepared.val), ("test", prepared.test)):
        targets = part_targets(part)
        if targets is not None:
            parts[name] = targets
    facts: dict[str, Any] = {
        "name": source.name,
        "description": source.description,
        "task": source.task,
        "rows": {name: len(y) for name, y in parts.items()},
        "features": source.n_features,
        "feature_names": source.feature_names[:SHOWN_FEATURES],
        "model_inputs": prepared.n_inputs,
        "image_shape": list(source.image_shape) if source.image_shape else None,
        "target": config.data.target or source.target,
        "missing_filled": _missing_filled(config, source),
        "classes": None,
    }
    if source.task == "classification":
        names = source.class_names or [str(i) for i in range(source.n_outputs)]
        facts["classes"] = [
            {"name": str(name), **{p: int((y == i).sum()) for p, y in parts.items()}}
            for i, name in enumerate(names)
        ]
    return facts


def _missing_filled(config: Any, source: Any) -> dict[str, Any] | None:
    """How many missing values the imputer filled (None when imputation is off: missing values
    are refused then, so there were none)."""
    if config.data.impute in (None, "none"):
        return None
    tables = [source.X] + [part[0] for part in (source.val, source.test) if part is not None]
    count = 0
    for X in tables:
        if isinstance(X, pd.DataFrame):
            count += int(X.isna().to_numpy().sum())
        elif np.issubdtype(np.asarray(X[:0]).dtype, np.floating):
            count += int(sum(np.isnan(X[i : i + 65536]).sum() for i in range(0, len(X), 65536)))
    return {"strategy": config.data.impute, "values": count}


def model_facts(model: Any) -> dict[str, Any]:
    from ..models import count_parameters

    return {
        "architecture": type(model).__name__,
        "parameters": count_parameters(model),
        "layers": str(model),
    }


def training_facts(config: Any, history: pd.DataFrame) -> dict[str, Any]:
    """The step and precision that ran, device, threads, epochs, time, why it stopped."""
    attrs = history.attrs
    details = str(attrs.get("step_details", attrs.get("step", "")))
    last = history.iloc[-1] if len(history) else {}
    return {
        "step": details or None,
        "precision": "bf16" if "bf16" in details else "fp32",
        "precision_asked": config.train.precision,
        "device": attrs.get("device"),
        "threads": attrs.get("threads"),
        "processes": attrs.get("processes", 1),
        "members": attrs.get("members", 1),
        "member_scores": attrs.get("member_scores"),
        "member_batches": attrs.get("member_batches"),
        "stopped": attrs.get("stopped"),
        "epochs": len(history),
        "training_seconds": float(last["total_time"]) if "total_time" in history else None,
    }


def best_epoch(history: pd.DataFrame, monitor: str | None, mode: str = "auto") -> tuple:
    """The monitored column (default ``val_loss``, else ``train_loss``) and its best epoch
    (``None`` when the history lacks it or holds no finite value).

    >>> best_epoch(pd.DataFrame({"epoch": [1, 2], "val_loss": [0.5, 0.7]}), None)
    ('val_loss', 1)
    """
    if monitor is None:
        monitor = "val_loss" if "val_loss" in history else "train_loss"
    if monitor not in history or not len(history):
        return monitor, None
    tracker = Monitor(monitor, mode)  # the loop's own rule (NaN never best, accuracy ties later)
    for row in history.to_dict("records"):
        tracker.update(
            {"epoch": row["epoch"], monitor: pd.to_numeric(row[monitor], errors="coerce")}
        )
    return monitor, tracker.best_epoch


def machine_facts() -> dict[str, Any]:
    import torch

    from ..io.checkpoint_file import versions

    found = {**versions(), "python": platform.python_version(), "numpy": np.__version__}
    with contextlib.suppress(metadata.PackageNotFoundError):  # no import: it costs a second
        found["matplotlib"] = metadata.version("matplotlib")
    return {
        "versions": found,
        "machine": {
            "system": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
        },
    }


def run_facts(config: Any, prepared: Any, model: Any, history: pd.DataFrame) -> dict[str, Any]:
    """Everything ``run.json`` keeps, gathered at the end of training."""
    monitor, best = best_epoch(history, config.train.monitor, config.train.monitor_mode)
    return {
        "format": "mlpkit-run/1",
        "written": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "data": data_facts(config, prepared),
        "model": model_facts(model),
        "training": {**training_facts(config, history), "monitor": monitor, "best_epoch": best},
        **machine_facts(),
    }


def write_facts(run_dir: Path, facts: dict[str, Any]) -> None:
    write_text(run_dir / FACTS, json.dumps(facts, indent=2, default=str))


def read_facts(run_dir: Path) -> dict[str, Any] | None:
    """``run.json``, or None where the run predates it (or the file is damaged)."""
    try:
        return json.loads((run_dir / FACTS).read_text())
    except (OSError, ValueError):
        return None
