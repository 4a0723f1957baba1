"""A study's results in its folder: ``trials.csv`` (one row per trial) and ``best.json`` (the
best trial's parameters, value, number and full resolved config)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..io.atomic import write_text
from .study import StudySpec

STATES = ("complete", "pruned", "fail", "running")


def trial_rows(study: Any) -> pd.DataFrame:
    """One row per trial: number, state, value, duration, epochs run, the epoch of its best
    value, its parameters (``param_<name>``), why it failed and which process ran it."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        worker = attrs.get("worker") or {}
        row: dict[str, Any] = {
            "number": trial.number,
            "state": trial.state.name.lower(),
            "value": trial.value,
            "duration_s": None if trial.duration is None else trial.duration.total_seconds(),
            "epochs": attrs.get("epochs"),
            "best_epoch": attrs.get("best_epoch"),
        }
        row.update({f"param_{name}": value for name, value in trial.params.items()})
        row["fail_reason"] = attrs.get("fail_reason")
        row["worker"] = f"{worker['host']}:{worker['pid']}" if worker else None
        rows.append(row)
    frame = pd.DataFrame(rows)
    if len(frame):  # parameters after the fixed columns, then the reason and the worker
        fixed = ["number", "state", "value", "duration_s", "epochs", "best_epoch"]
        params = sorted(c for c in frame.columns if c.startswith("param_"))
        frame = frame[[*fixed, *params, "fail_reason", "worker"]]
        frame = frame.astype({"epochs": "Int64", "best_epoch": "Int64"})  # blank where none
    return frame


def best_trial(study: Any) -> Any | None:
    """The best complete trial, or None while there is none."""
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    return study.best_trial


def best_summary(study: Any, spec: StudySpec) -> dict[str, Any] | None:
    best = best_trial(study)
    if best is None:
        return None
    return {
        "number": best.number,
        "metric": spec.metric,
        "direction": spec.direction,
        "value": best.value,
        "params": best.params,
        "settings": _searched(best, spec),
        "best_epoch": best.user_attrs.get("best_epoch"),
        "epochs": best.user_attrs.get("epochs"),
        "config": best.user_attrs.get("config"),
    }


def _searched(best: Any, spec: StudySpec) -> dict[str, Any]:
    """The searched settings' values in the best trial's config (``hidden`` as its layers)."""
    from ..config import FLAT_KEYS

    config = best.user_attrs.get("config") or {}
    found = {}
    for name in spec.space:
        setting = FLAT_KEYS[name]
        section = config if setting.section == "run" else config.get(setting.section, {})
        found[name] = section.get(setting.name)
    return found


def write_results(study: Any, spec: StudySpec) -> dict[str, Path]:
    """Write ``trials.csv`` and (once a trial completed) ``best.json``; the paths written."""
    folder = Path(spec.study_dir)
    written = {"trials": folder / "trials.csv"}
    write_text(written["trials"], trial_rows(study).to_csv(index=False))
    best = best_summary(study, spec)
    if best is not None:
        written["best"] = folder / "best.json"
        write_text(written["best"], json.dumps(best, indent=2) + "\n")
    return written


@dataclass
class StudySummary:
    """The numbers the end-of-study table shows."""

    counts: dict[str, int]
    best: dict[str, Any] | None

    @classmethod
    def of(cls, study: Any, spec: StudySpec) -> StudySummary:
        states = Counter(t.state.name.lower() for t in study.get_trials(deepcopy=False))
        return cls({state: states.get(state, 0) for state in STATES}, best_summary(study, spec))
