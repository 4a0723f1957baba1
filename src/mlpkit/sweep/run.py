"""``sweep``: one run per point of a grid of setting values, everything else fixed; a table of
final metrics, epochs and time (``sweep.csv``), the validation curves of every run overlaid,
and a page (``sweep.html``). Stopped part-way (Ctrl-C), the same sweep again skips the
finished runs and resumes the one that was stopped."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..callbacks.base import Callback
from ..config import RunConfig
from ..errors import ConfigError
from ..io.atomic import write_text
from ..report import html as h
from ..report.facts import FACTS
from ..runs.resume import resume_run
from ..runs.train import train_run
from .plan import WHOLE_SET, Point, check_name, grid, point_config

log = logging.getLogger(__name__)
PLAN, TABLE, PAGE = "sweep.json", "sweep.csv", "sweep.html"


@dataclass
class SweepResult:
    folder: Path
    table: pd.DataFrame
    page: Path


def sweep(
    base: RunConfig,
    params: dict[str, list[Any]],
    callbacks_for: Callable[[Point, int, int], list[Callback]] = lambda *_: [],
) -> SweepResult:
    """Train one run per combination of ``params`` values (``{"batch_size": [1, 32, "N"]}``)
    into ``base.out`` (default ``runs/sweep-<names>``), one folder per run.

    ``callbacks_for(point, index, total)`` gives each run its callbacks (a progress bar).

    >>> sweep(RunConfig(), {"depth": [1, 2, 4]}).table  # doctest: +SKIP
    """
    if not params or any(not values for values in params.values()):
        raise ConfigError(
            "a sweep needs a --param with --values, e.g. --param lr --values 0.1,0.01"
        )
    for name in params:
        check_name(name)
    folder = Path(base.out or f"runs/sweep-{'-'.join(params)}")
    _claim(folder, {"params": params, "base": base.model_dump(mode="json", exclude={"out"})})
    whole = WHOLE_SET in params.get("batch_size", [])
    train_rows = _train_rows(base) if whole else None
    points = grid(params)
    rows, histories = [], {}
    for index, point in enumerate(points):
        config = point_config(base, point, train_rows)
        run_dir = folder / point.name
        config.out = str(run_dir)
        history, metrics = _run(config, run_dir, callbacks_for(point, index, len(points)))
        histories[point.name] = history
        rows.append(_row(point, train_rows, history, metrics))
    table = pd.DataFrame(rows)
    write_text(folder / TABLE, table.to_csv(index=False))
    page = _page(folder, table, histories, points)
    return SweepResult(folder, table, page)


def _claim(folder: Path, plan: dict[str, Any]) -> None:
    """Write the plan into a new folder, or check that an existing one holds the same sweep."""
    text = json.dumps(plan, indent=2, sort_keys=True, default=str)
    existing = folder / PLAN
    if existing.is_file():
        if json.loads(existing.read_text()) != json.loads(text):
            raise ConfigError(
                f"{folder} holds another sweep (see {existing}); give another --out, or "
                "delete the folder to start this one there"
            )
        return
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(f"{folder} exists and is not a sweep's folder; give another --out")
    write_text(existing, text)


def _train_rows(base: RunConfig) -> int:
    """Training rows of the base run's split: what batch size ``N`` stands for."""
    from ..data.loading import load_data
    from ..data.split import split_indices

    data = load_data(base.data)
    settings = base.data
    parts = split_indices(data, settings.val_fraction, settings.test_fraction, base.train.seed)
    return len(parts.train)


def _run(config: RunConfig, run_dir: Path, callbacks: list[Callback]):
    """A finished run's history and test metrics: read back, resumed, or trained now."""
    if (run_dir / FACTS).is_file():  # written once the run is finished
        log.info("%s is finished already", run_dir)
        path = run_dir / "metrics.json"
        metrics = json.loads(path.read_text()) if path.is_file() else {}
        return pd.read_csv(run_dir / "history.csv"), metrics
    if (run_dir / "checkpoints" / "last.pt").is_file():
        result = resume_run(run_dir, callbacks=callbacks)
    else:
        # Stopped before its first checkpoint: nothing to resume, so the sweep's own folder
        # for this run is started again.
        shutil.rmtree(run_dir, ignore_errors=True)
        result = train_run(config, callbacks)
    return result.history, result.test_metrics


def _row(point: Point, train_rows: int | None, history: pd.DataFrame, metrics: dict) -> dict:
    row: dict[str, Any] = {}
    for name, value in point.values.items():
        shown = f"N={train_rows}" if value == WHOLE_SET else value
        row[name] = ",".join(map(str, shown)) if isinstance(shown, list) else shown
    last = history.iloc[-1]
    row["epochs"] = len(history)
    row["time_s"] = round(float(last["total_time"]), 3)
    for column in history.columns:
        if column.endswith("_loss") or column.startswith("val_"):
            row[f"final_{column}"] = float(last[column])
    row.update({f"test_{k}": v for k, v in metrics.items()})
    row["run"] = point.name
    return row


def _page(folder: Path, table: pd.DataFrame, histories: dict, points: list[Point]) -> Path:
    from ..plots import overlaid_curves, plots_available
    from ..report.run_plots import NO_PLOTS

    curves = f'<p class="note">No curves: {h.escape(NO_PLOTS)}.</p>'
    if plots_available():
        columns = [c for c in next(iter(histories.values())).columns if c.startswith("val_")]
        path = overlaid_curves(histories, columns or ["train_loss"], folder / "sweep_curves.png")
        curves = h.image(path, "validation curves", "one line per run")
    links = "".join(
        f'<li><a href="{h.escape(p.name)}/report.html">{h.escape(p.name)}</a></li>'
        for p in points
        if (folder / p.name / "report.html").is_file()
    )
    page = h.page(
        f"sweep {folder.name}",
        ", ".join(f"{k}" for k in points[0].values),
        h.section("Runs", h.table(list(table.columns), table.itertuples(index=False))),
        h.section("Validation curves", curves),
        h.section("Reports", f"<ul>{links}</ul>") if links else "",
    )
    write_text(folder / PAGE, page)
    return folder / PAGE
