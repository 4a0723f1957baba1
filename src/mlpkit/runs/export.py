"""``export_run``: a finished run's model, preprocessing included, written to ``RUN_DIR/export/``
in each asked-for format and verified against the eager model before it gets its real name.

The eager reference is the run's own prediction path (``model.json``'s preprocessing, the
model, then probabilities or un-scaled values); the rows are the run's held-out rows (its test
part, read again from its data), or rows drawn from the preprocessing statistics where the data
is no longer there.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..config import load_config
from ..data.batching import to_tensor
from ..data.loading import load_data, select_features
from ..data.preprocess import Preprocessor
from ..data.source import Features, take_rows
from ..data.split import split_indices
from ..errors import MlpkitError
from ..export import check_installed, format_module, formats
from ..export.inputs import graph_inputs
from ..export.manifest import current_entries, sha256, write_manifest
from ..export.serving import build_serving, serving_spec
from ..export.verify import BATCH_SIZES, TOLERANCE, check, compare, verification_record
from ..inference.evaluation import infer
from ..inference.prediction import class_probabilities
from ..io.atomic import atomic_write, write_text
from ..io.weights import load_model
from ..nested import map_structure, primary
from .saved import saved_inputs, saved_preprocessing

log = logging.getLogger(__name__)
ROWS = max(BATCH_SIZES)


@dataclass
class ExportedFile:
    """One written export: what ``mlpkit export`` prints."""

    format: str
    path: Path
    bytes: int
    max_abs: float
    max_rel: float


def export_run(
    run_dir: str | Path, format: str | list[str] = "all", opset: int | None = None
) -> list[ExportedFile]:
    """Export a run as ``format`` (onnx, pt2, torchscript, safetensors, a comma-separated list
    or all) into ``RUN_DIR/export/``, each file verified, with ``model.json`` (inputs, code
    tables, output) and ``manifest.json`` (sizes, checksums, differences, versions).

    >>> [f.path.name for f in export_run("runs/iris", "onnx")]  # doctest: +SKIP
    ['model.onnx']
    """
    run_dir = Path(run_dir)
    names = formats(format)
    check_installed(names)  # before anything is written
    model, metadata = load_model(run_dir)
    preprocessor, _ = saved_preprocessing(metadata)
    serving = build_serving(model, metadata)
    if getattr(serving, "quantile", False) and "onnx" in names and len(names) > 1:
        # Asked for with others (or all): the rest are written; asked for alone, it is refused.
        warnings.warn(
            "the run's quantile scaling cannot be exported to onnx; skipping onnx", stacklevel=2
        )
        names.remove("onnx")
    rows, described = held_out_rows(run_dir, preprocessor)
    inputs = graph_inputs(rows, preprocessor, described)
    expected = eager_outputs(model, metadata, rows, described)
    example = {name: torch.from_numpy(array[:7].copy()) for name, array in inputs.items()}
    spec = serving_spec(metadata, serving)
    folder = run_dir / "export"
    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / "model.json", _json(spec))
    weights = metadata.get("weights_sha256")
    entries = current_entries(folder, weights)
    written = []
    for name in names:
        module = format_module(name)
        data, info = module.serialize(serving, example, spec, opset)
        with tempfile.TemporaryDirectory(dir=folder, prefix=".verify-") as staging:
            staged = Path(staging) / module.FILE
            staged.write_bytes(data)
            differences = compare(module.load(staged), inputs, expected)
        check(name, differences)
        path = folder / module.FILE
        atomic_write(path, lambda file, data=data: file.write(data))
        record = verification_record(differences)
        entries[name] = {
            "path": module.FILE,
            "bytes": len(data),
            "sha256": sha256(path),
            **info,
            **record,
        }
        write_manifest(
            folder,
            entries,
            run=str(run_dir),
            weights_sha256=weights,
            rows=described,
            tolerance=TOLERANCE,
            batch_sizes=BATCH_SIZES,
        )
        written.append(ExportedFile(name, path, len(data), record["max_abs"], record["max_rel"]))
        log.info("exported %s to %s", name, path)
    return written


def eager_outputs(
    model: torch.nn.Module, metadata: dict[str, Any], rows: Features, source: str
) -> np.ndarray:
    """What the run's own prediction path computes on raw ``rows``: class probabilities, or
    regression values in the target's original units."""
    preprocessor, target_scaler = saved_preprocessing(metadata)
    X = saved_inputs(metadata, preprocessor)(rows, source)
    tensors = map_structure(lambda a: to_tensor(a), X)
    _, outputs, _ = infer(model, [(tensors, None)])
    outputs = primary(outputs).float()
    if metadata["task"] == "classification":
        return class_probabilities(outputs).numpy()
    values = outputs.reshape(len(outputs), -1).numpy()
    return values if target_scaler is None else target_scaler.inverse_transform(values)


def held_out_rows(run_dir: Path, preprocessor: Preprocessor) -> tuple[Features, str]:
    """``ROWS`` raw rows to verify on, and what they are: the run's test part (else its
    validation part) read again from its data, repeated to ``ROWS`` rows where it is smaller,
    or rows drawn from the preprocessing statistics where the data is not available."""
    try:
        raw, where = _run_rows(run_dir, preprocessor)
    except (MlpkitError, OSError, KeyError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        warnings.warn(
            f"verifying on {ROWS} synthetic rows drawn from the run's preprocessing, since its "
            f"data could not be read again ({reason})",
            RuntimeWarning,
            stacklevel=2,
        )
        return synthetic_rows(preprocessor), f"{ROWS} synthetic rows ({reason})"
    count = len(raw)
    picked = take_rows(raw, np.resize(np.arange(count), ROWS))
    repeated = f", repeated to {ROWS}" if count < ROWS else ""
    return picked, f"{count} held-out rows of {where}{repeated}"


def _run_rows(run_dir: Path, preprocessor: Preprocessor) -> tuple[Features, str]:
    from ..data.downloads import DOWNLOADABLE, is_cached

    config = load_config(run_dir / "config.toml")
    settings = config.data
    if settings.name in DOWNLOADABLE and not is_cached(settings.name):
        raise FileNotFoundError(f"{settings.name} is not in the download cache")
    data = load_data(settings)
    if data.test is not None:
        raw, where = data.test[0], f"{settings.test or data.name} (test)"
    else:
        parts = split_indices(
            data, settings.val_fraction, settings.test_fraction, config.train.seed
        )
        part, name = (parts.test, "test") if len(parts.test) else (parts.val, "validation")
        if not len(part):
            raise ValueError("the run kept no held-out rows")
        raw, where = take_rows(data.X, part), f"{data.name} ({name} part)"
    return select_features(raw, preprocessor, settings.target, where), where


def synthetic_rows(preprocessor: Preprocessor, count: int = ROWS, seed: int = 0) -> Features:
    """Rows like the training data as far as the preprocessing knows it: numeric columns drawn
    around their means with their scales, categories drawn from their code tables."""
    rng = np.random.default_rng(seed)
    scaler = preprocessor.scaler_
    numeric = scaler.mean + scaler.scale * rng.standard_normal((count, len(scaler.mean)))
    if preprocessor.input_ == "array":
        return numeric.astype(np.float32)
    columns: dict[str, Any] = {}
    numbers = iter(numeric.T)
    for column in preprocessor.columns_:
        table = preprocessor.categories_.get(column)
        columns[column] = rng.choice(table, count) if table is not None else next(numbers)
    return pd.DataFrame(columns)


def _json(value: Any) -> str:
    import json

    return json.dumps(value, indent=2)
