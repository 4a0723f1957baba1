"""What a run folder keeps about its model beside the weights (``model.json``), and the model's
inputs rebuilt from it: preprocessing, target scaling, input groups."""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from ..config import RunConfig
from ..data.fingerprint import data_files
from ..data.prepare import ModelInputs, PreparedData
from ..data.preprocess import Preprocessor
from ..data.target import TargetScaler
from ..losses import WeightedLoss
from .saved_checks import check_preprocessing


def model_metadata(config: RunConfig, prepared: PreparedData, loss: nn.Module) -> dict[str, Any]:
    source = prepared.source
    main_loss = loss.losses[0] if isinstance(loss, WeightedLoss) else loss
    class_weights = getattr(main_loss, "weight", None)
    groups = prepared.groups or {}
    return {
        "task": source.task,
        "data": source.name,
        "target": config.data.target or source.target,
        "feature_names": source.feature_names,
        "class_names": source.class_names,
        "image_shape": source.image_shape,
        "input_names": prepared.preprocessor.output_names_,
        "input_groups": {name: positions.tolist() for name, positions in groups.items()} or None,
        "class_weights": None if class_weights is None else class_weights.tolist(),
        # So that evaluate refuses to re-split a file that changed since (the test part could
        # then hold training rows), as a resume does.
        "data_files": data_files([config.data.name, config.data.val, config.data.test]),
        "preprocessing": {
            **prepared.preprocessor.to_dict(),
            "target": None if prepared.target_scaler is None else prepared.target_scaler.to_dict(),
        },
    }


def saved_preprocessing(metadata: dict[str, Any]) -> tuple[Preprocessor, TargetScaler | None]:
    """The fitted preprocessing ``model.json`` keeps, checked against the model first."""
    check_preprocessing(metadata)
    state = metadata["preprocessing"]
    target = state.get("target")
    return Preprocessor.from_dict(state), None if target is None else TargetScaler.from_dict(target)


def saved_inputs(metadata: dict[str, Any], preprocessor: Preprocessor) -> ModelInputs:
    """Raw features to the saved model's inputs: its preprocessing and input groups."""
    groups = metadata.get("input_groups") or {}
    positions = {name: np.asarray(p, dtype=np.int64) for name, p in groups.items()}
    return ModelInputs(preprocessor, positions or None)
