"""A run folder's report: written at the end of ``train_run`` (``report = false`` skips the
page), rebuilt from the folder by ``report_run`` (``mlpkit report RUN_DIR``)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import RunConfig, load_config
from ..data.prepare import prepare_data
from ..errors import DataNotFoundError
from ..io.weights import load_model
from ..report import read_facts, run_facts, run_plots, write_facts, write_report
from ..report.facts import best_epoch, data_facts, model_facts
from .saved import saved_preprocessing

log = logging.getLogger(__name__)


def finish_run(
    run_dir: Path,
    config: RunConfig,
    prepared: Any,
    model: Any,
    history: pd.DataFrame,
    test_metrics: dict[str, float],
) -> Path | None:
    """Write ``run.json`` and, unless ``config.report`` is off, the plots and ``report.html``."""
    facts = run_facts(config, prepared, model, history)
    write_facts(run_dir, facts)
    if not config.report:
        return None
    plots = run_plots(run_dir, config, prepared, model, history, facts)
    path = write_report(run_dir, test_metrics, facts, plots)
    log.info("wrote %s", path)
    return path


def report_run(run_dir: str | Path) -> Path:
    """Rebuild ``report.html`` (and its plots) from a finished run's folder; returns its path.

    >>> report_run("runs/digits")  # doctest: +SKIP
    PosixPath('runs/digits/report.html')
    """
    run_dir = Path(run_dir)
    for name in ("config.toml", "history.csv"):
        if not (run_dir / name).is_file():
            raise DataNotFoundError(
                f"no {name} in {run_dir}; give the folder of a run mlpkit train finished"
            )
    model, metadata = load_model(run_dir)
    config = load_config(run_dir / "config.toml")
    preprocessor, target_scaler = saved_preprocessing(metadata)
    prepared = prepare_data(config, preprocessor, target_scaler)
    history = pd.read_csv(run_dir / "history.csv")
    facts = read_facts(run_dir) or _facts_from_folder(config, prepared, model, history)
    metrics_path = run_dir / "metrics.json"
    test_metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    plots = run_plots(run_dir, config, prepared, model, history, facts)
    return write_report(run_dir, test_metrics, facts, plots)


def _facts_from_folder(config: RunConfig, prepared: Any, model: Any, history: pd.DataFrame):
    """What can be known of a run without its ``run.json`` (one trained before it existed)."""
    from ..report.facts import machine_facts

    monitor, best = best_epoch(history, config.train.monitor, config.train.monitor_mode)
    return {
        "data": data_facts(config, prepared),
        "model": model_facts(model),
        "training": {"epochs": len(history), "monitor": monitor, "best_epoch": best},
        **machine_facts(),
    }
