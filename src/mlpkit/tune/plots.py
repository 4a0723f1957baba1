"""A study's plots (PNG, in ``<study>/plots/``): Optuna's matplotlib visualizations of the
optimization history, parameter importances, parallel coordinates and slices."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from ..errors import MissingExtraError, require

log = logging.getLogger(__name__)

PLOTS = ("optimization_history", "param_importances", "parallel_coordinate", "slice")
SHOWN = 6  # parameters in the slice and parallel-coordinate plots


def _figure(axes: Any) -> Any:
    """The figure of what a plot function returned (an Axes, or an array of them)."""
    first = axes.flat[0] if hasattr(axes, "flat") else axes
    return first.get_figure()


def _most_important(study: Any, complete: list[Any]) -> list[str]:
    """The parameters the slice and parallel-coordinate plots show: the most important ones
    (at most ``SHOWN``), so that each stays readable (and quick to draw)."""
    import optuna

    names = sorted({name for trial in complete for name in trial.params})
    if len(names) <= SHOWN or len(complete) < 2:
        return names[:SHOWN]
    try:
        importances = optuna.importance.get_param_importances(study)
    except (ValueError, RuntimeError):
        return names[:SHOWN]
    return list(importances)[:SHOWN]


def write_plots(study: Any, spec: Any) -> list[Path]:
    """Write the plots a study's trials allow (importances need two complete trials and a
    parameter that varies); the paths written. A plot that cannot be drawn is logged, not
    raised: the study's results do not depend on it."""
    from optuna.trial import TrialState

    try:
        require("matplotlib", "tune")
    except MissingExtraError as exc:
        log.warning("no plots: %s", exc)
        return []
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo"):
        matplotlib.use("Agg")  # files only: no window, no display needed
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as visualize

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return []
    folder = Path(spec.study_dir) / "plots"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    shown = _most_important(study, complete)
    for name in PLOTS:
        if name == "param_importances" and len(complete) < 2:
            continue
        path = folder / f"{name}.png"
        options: dict[str, Any] = {"target_name": spec.metric}
        if name in ("parallel_coordinate", "slice"):
            options["params"] = shown
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                axes = getattr(visualize, f"plot_{name}")(study, **options)
            figure = _figure(axes)
            if name == "parallel_coordinate":  # one axis per parameter: give each room
                figure.set_size_inches(max(8.0, 1.2 * len(shown) + 2), 5.0)
            figure.savefig(path, dpi=100, bbox_inches="tight")
            plt.close(figure)
            written.append(path)
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:
            log.warning("no %s plot: %s", name, str(exc).splitlines()[0] if str(exc) else exc)
    plt.close("all")
    return written
