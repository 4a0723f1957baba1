"""``compare_runs``: several run folders side by side on one self-contained page: the settings
that differ, the metrics, and the learning curves overlaid."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import SETTINGS, load_config
from ..errors import ConfigError, DataNotFoundError
from ..io.atomic import write_text
from . import html as h

# Where a run is written and whether it writes a report are not settings of what it learned.
NOT_COMPARED = {"run.out", "run.report"}


@dataclass
class Comparison:
    """What ``compare_runs`` found: run labels, the differing settings (one row per setting,
    a value per run), the metrics (one row per metric) and the page it wrote."""

    labels: list[str]
    settings: list[list[Any]] = field(default_factory=list)
    metrics: list[list[Any]] = field(default_factory=list)
    path: Path | None = None


def _labels(run_dirs: list[Path]) -> list[str]:
    names = [d.name for d in run_dirs]
    return names if len(set(names)) == len(names) else [str(d) for d in run_dirs]


def _settings(config: Any) -> dict[str, Any]:
    values = {}
    for setting in SETTINGS:
        if setting.path in NOT_COMPARED:
            continue
        section = config if setting.section == "run" else getattr(config, setting.section)
        value = getattr(section, setting.name)
        values[setting.path] = ",".join(map(str, value)) if isinstance(value, list) else value
    return values


def _read_run(run_dir: Path) -> tuple[dict[str, Any], pd.DataFrame, dict[str, float]]:
    for name in ("config.toml", "history.csv"):
        if not (run_dir / name).is_file():
            raise DataNotFoundError(
                f"no {name} in {run_dir}; give folders of runs mlpkit train finished"
            )
    metrics_path = run_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    config = load_config(run_dir / "config.toml")
    return _settings(config), pd.read_csv(run_dir / "history.csv"), metrics


def _metric_rows(histories: list[pd.DataFrame], tests: list[dict[str, float]]) -> list[list]:
    rows: list[list[Any]] = [
        ["epochs", *(len(h) for h in histories)],
        ["training time (s)", *(float(h["total_time"].iloc[-1]) for h in histories)],
    ]
    finals = []
    for history in histories:
        last = history.iloc[-1]
        finals.append({k: float(last[k]) for k in history.columns if k.startswith("val_")})
    for name in dict.fromkeys(k for final in finals for k in final):
        rows.append([f"final {name}", *(final.get(name) for final in finals)])
    for name in dict.fromkeys(k for test in tests for k in test):
        rows.append([f"test {name}", *(test.get(name) for test in tests)])
    return rows


def compare_runs(run_dirs: list[str | Path], out: str | Path = "compare.html") -> Comparison:
    """Compare finished runs; writes the page to ``out`` (its curves need ``mlpkit[plots]``).

    >>> compare_runs(["runs/moons", "runs/moons-2"]).settings  # doctest: +SKIP
    [['model.hidden', '32,32', '8']]
    """
    paths = [Path(d) for d in run_dirs]
    if len(paths) < 2:
        raise ConfigError("compare takes two or more run folders, e.g. runs/a runs/b")
    labels = _labels(paths)
    runs = [_read_run(p) for p in paths]
    settings = [r[0] for r in runs]
    differing = [
        [path, *(s.get(path) for s in settings)]
        for path in settings[0]
        if len({json.dumps(s.get(path), default=str) for s in settings}) > 1
    ]
    histories = [r[1] for r in runs]
    comparison = Comparison(labels, differing, _metric_rows(histories, [r[2] for r in runs]))
    out = Path(out)
    figures = _curves(dict(zip(labels, histories, strict=True)))
    sources = ", ".join(str(p) for p in paths)
    settings_part = (
        h.table(["setting", *labels], differing) if differing else "<p>every setting is equal</p>"
    )
    page = h.page(
        f"comparison of {len(paths)} runs",
        sources,
        h.section("Settings that differ", settings_part),
        h.section("Metrics", h.table(["", *labels], comparison.metrics)),
        h.section("Learning curves", figures),
    )
    write_text(out, page)
    comparison.path = out
    return comparison


def _curves(histories: dict[str, pd.DataFrame]) -> str:
    from ..plots import overlaid_curves, plots_available
    from .run_plots import NO_PLOTS

    if not plots_available():
        return f'<p class="note">No curves: {h.escape(NO_PLOTS)}.</p>'
    columns = [
        c for frame in histories.values() for c in frame.columns if c.startswith("val_")
    ] or ["train_loss"]
    columns = list(dict.fromkeys(columns))
    with tempfile.TemporaryDirectory() as folder:
        path = overlaid_curves(histories, columns, Path(folder) / "curves.png")
        return h.image(path, "learning curves", "one line per run")
