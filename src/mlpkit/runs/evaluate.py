"""``evaluate_run``: test metrics of a finished run, on its own test split or on another file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..config import load_config, merge
from ..data.fingerprint import check_unchanged
from ..data.loading import load_data, select_features
from ..data.prepare import prepare_data
from ..errors import DataError
from ..inference.evaluation import evaluate
from ..io.atomic import write_text
from ..io.weights import load_model
from .build import run_loss, run_metrics
from .saved import saved_inputs, saved_preprocessing


def evaluate_run(
    run_dir: str | Path, data: str | None = None, target: str | None = None
) -> dict[str, float]:
    """Test metrics of a finished run: on its own test split, or on another file's data.

    The metrics are also written to ``evaluation.json`` in the run folder.
    """
    metrics = evaluation_metrics(run_dir, data, target)
    save_evaluation(run_dir, metrics)
    return metrics


def save_evaluation(run_dir: str | Path, metrics: dict[str, float]) -> None:
    """Write ``evaluation.json`` into the run folder."""
    write_text(Path(run_dir) / "evaluation.json", json.dumps(metrics, indent=2))


def evaluation_metrics(
    run_dir: str | Path, data: str | None = None, target: str | None = None
) -> dict[str, float]:
    """``evaluate_run``'s metrics, without writing them. The run's own test split is cut again
    from its data files, so those must be the ones it was trained on (their fingerprints)."""
    run_dir = Path(run_dir)
    model, metadata = load_model(run_dir)
    config = load_config(run_dir / "config.toml")
    preprocessor, target_scaler = saved_preprocessing(metadata)
    if data is not None:
        overrides: dict[str, Any] = {"data": data, "test_fraction": 0.0, "val_fraction": 0.0}
        overrides.update(val=None, test=None, target=target or metadata.get("target"))
        loaded = load_data(merge(config, overrides).data, classes=metadata.get("class_names"))
        raw = select_features(loaded.X, preprocessor, overrides["target"], loaded.name)
        y = loaded.y if target_scaler is None else target_scaler.transform(loaded.y)
        test = (saved_inputs(metadata, preprocessor)(raw, Path(data).name), y)
    else:
        files = [config.data.name, config.data.val, config.data.test]
        check_unchanged(metadata.get("data_files"), files, action="evaluate")
        test = prepare_data(config, preprocessor, target_scaler).test
        if test is None:
            raise DataError(f"{run_dir} has no test split; evaluate it on a file with --data")
    loss = run_loss(config, class_weights=metadata.get("class_weights"))
    return evaluate(model, test, run_metrics(config, target_scaler), loss=loss)
