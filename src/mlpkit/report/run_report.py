"""``report.html``: one self-contained page per run with its config, data, model, the step and
precision that ran, final and test metrics, the history, every plot, versions and the machine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..io.atomic import write_text
from ..plots.curves import quantities
from . import html as h
from .run_plots import NO_PLOTS, Plot

REPORT = "report.html"


def metric_rows(
    history: pd.DataFrame, test_metrics: dict[str, float], best: int | None
) -> list[list[Any]]:
    """One row per quantity: final training, final validation, validation at the best epoch
    and test values (blank where there is none)."""
    last = history.iloc[-1] if len(history) else pd.Series(dtype=float)
    best_row = history.loc[history["epoch"] == best].iloc[0] if best else None
    names = quantities(history) + [n for n in test_metrics if n not in quantities(history)]
    rows = []
    for name in names:
        train, val = last.get(f"train_{name}"), last.get(f"val_{name}")
        at_best = None if best_row is None else best_row.get(f"val_{name}")
        rows.append([name, train, val, at_best, test_metrics.get(name)])
    return rows


def _data_section(data: dict[str, Any]) -> str:
    rows, description = data["rows"], str(data.get("description") or "")
    summary = {
        "data": data["name"],
        "description": None if description.startswith("..") else description or None,
        "task": data["task"],
        "target": data.get("target"),
        "rows": ", ".join(f"{n:,} {part}" for part, n in rows.items()),
        "features": data["features"],
        "model inputs (after encoding)": data.get("model_inputs"),
        "image shape": "x".join(map(str, data["image_shape"])) if data.get("image_shape") else None,
    }
    filled = data.get("missing_filled")
    summary["missing values filled"] = (
        f"{filled['values']:,} ({filled['strategy']})" if filled else "none (imputation off)"
    )
    parts = [h.pairs(summary)]
    names = data.get("feature_names") or []
    if names and not data.get("image_shape"):
        more = data["features"] - len(names)
        listed = ", ".join(names) + (f" and {more} more" if more > 0 else "")
        parts.append(f"<h3>Features</h3><p>{h.escape(listed)}</p>")
    if data.get("classes"):
        header = ["class", *rows]
        table_rows = [[c["name"], *(c.get(part, 0) for part in rows)] for c in data["classes"]]
        parts.append("<h3>Classes</h3>" + h.table(header, table_rows, tall=True))
    return h.section("Data", *parts, anchor="data")


def _training_section(training: dict[str, Any]) -> str:
    precision = training.get("precision")
    asked = training.get("precision_asked")
    if asked and asked != precision:
        precision = f"{precision} (asked for {asked}, which was slower here)"
    seconds = training.get("training_seconds")
    values = {
        "step": training.get("step") or "not recorded",
        "precision": precision,
        "device": training.get("device"),
        "threads": training.get("threads"),
        "epochs": training.get("epochs"),
        "training time": None if seconds is None else f"{seconds:.2f} s",
        "best epoch": training.get("best_epoch"),
        "monitored": training.get("monitor"),
        "stopped early": training.get("stopped"),
    }
    return h.section("Training", h.pairs(values), anchor="training")


def build_report(
    config_text: str,
    history: pd.DataFrame,
    test_metrics: dict[str, float],
    facts: dict[str, Any],
    plots: list[Plot],
    title: str,
) -> str:
    """The page's HTML from what the run folder holds and the plots drawn for it."""
    data, training = facts["data"], facts["training"]
    best = training.get("best_epoch")
    subtitle = f"{data['name']} · {data['task']} · {facts.get('written', '')}"
    headline = {f"test {k}": v for k, v in test_metrics.items()}
    if not headline and len(history):
        last = history.iloc[-1]
        headline = {k: last[k] for k in history.columns if k.startswith("val_")}
    headline.update(epochs=training.get("epochs"), parameters=facts["model"]["parameters"])
    header = ["metric", "final training", "final validation", f"validation, best epoch {best}",
              "test"]  # fmt: skip
    metrics = h.section(
        "Metrics", h.table(header, metric_rows(history, test_metrics, best)), anchor="metrics"
    )
    figures = [h.image(p.path, p.title, p.caption) for p in plots]
    if not plots:
        figures = [f'<p class="note">No plots: {h.escape(NO_PLOTS)}, then run mlpkit report.</p>']
    titled = [f"<h3>{h.escape(p.title)}</h3>{f}" for p, f in zip(plots, figures, strict=False)]
    plot_section = h.section("Plots", *(titled or figures), anchor="plots")
    model = facts["model"]
    model_section = h.section(
        "Model",
        h.pairs({"architecture": model["architecture"], "parameters": f"{model['parameters']:,}"}),
        "<h3>Layers</h3>",
        h.preformatted(model["layers"]),
        anchor="model",
    )
    history_section = h.section(
        "History",
        h.table(list(history.columns), history.itertuples(index=False), tall=True),
        anchor="history",
    )
    config_section = h.section("Config (config.toml)", h.preformatted(config_text), anchor="config")
    system = h.section(
        "Versions and machine",
        h.pairs(facts.get("versions", {})),
        "<h3>Machine</h3>",
        h.pairs(facts.get("machine", {})),
        anchor="machine",
    )
    return h.page(
        title,
        subtitle,
        h.cards(headline),
        metrics,
        plot_section,
        _data_section(data),
        model_section,
        _training_section(training),
        history_section,
        config_section,
        system,
    )


def write_report(run_dir: Path, test_metrics: dict[str, float], facts: dict, plots: list[Plot]):
    """Write ``run_dir/report.html`` from the folder's config and history; returns its path."""
    history = pd.read_csv(run_dir / "history.csv")
    text = (run_dir / "config.toml").read_text()
    page = build_report(text, history, test_metrics, facts, plots, f"run {run_dir.name}")
    write_text(run_dir / REPORT, page)
    return run_dir / REPORT
