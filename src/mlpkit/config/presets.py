"""Presets: named sets of ordinary settings (``--preset rtdl``, ``preset = "rtdl"``).

A preset is expanded where a config is built (``mlpkit.config.loading.build_config``), beneath
the values given with it: any flag, TOML key or keyword overrides it, and a run's
``config.toml`` records the preset and every value that ran. Keys are flat setting names, as
in a flat config file.

- ``default``: the declared defaults (a budget of steps, best-epoch weights, early stopping).
- ``fast``: a smaller net, larger batches and at most 20 epochs.
- ``rtdl``: the MLP baseline of Gorishniy et al. (2021, "Revisiting deep learning models for
  tabular data"): quantile-transformed numeric features, AdamW, early stopping after 16 epochs
  without improvement, batch 128; three ReLU layers of 256 with dropout 0.1.
- ``realmlp``: RealMLP-TD (Holzmüller et al., 2024, "Better by default"): the ``realmlp``
  architecture (PBLD numerical embeddings, learned embeddings of categorical columns with more
  than 8 levels, a learnable front scale, NTK layers with data-dependent initialisation and
  RealMLP's per-parameter learning-rate and weight-decay factors, parametric SELU for
  classification and Mish for regression), three layers of 256, dropout 0.15 and weight decay
  0.02 on a flat-cosine schedule, AdamW with betas (0.9, 0.95) and a learning rate of 0.04
  (classification) or 0.2 (regression) on the coslog4 schedule, robust scaling with smooth
  clipping, batches of 256 (a smaller last one dropped) for 256 epochs with the best
  validation epoch's weights kept (by
  accuracy for classification, with label smoothing 0.1), regression outputs clamped to the
  training targets' range.

A preset's values by task (``TASK_VALUES``) are applied once the task is known, where the
setting was left unset (``None``, or ``"auto"`` for the activation).
"""

from __future__ import annotations

import copy
from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "fast": {"hidden": [128], "batch_size": 128, "epochs": 20, "early_stopping": 5},
    "rtdl": {
        "numeric_scaling": "quantile",
        "hidden": [256, 256, 256],
        "dropout": 0.1,
        "optimizer": "adamw",
        "weight_decay": 1e-5,
        "batch_size": 128,
        "early_stopping": 16,
    },
    "realmlp": {
        "architecture": "realmlp",
        "numeric_scaling": "robust",
        "hidden": [256, 256, 256],
        "activation": "auto",
        "dropout": 0.15,
        "optimizer": "adamw",
        "beta2": 0.95,
        "weight_decay": 0.02,
        "regularization_schedule": "flat_cos",
        "scheduler": "coslog4",
        "batch_size": 256,
        "drop_last": True,  # as RealMLP-TD: no small last batch at its high learning rates
        "epochs": 256,
        "early_stopping": 0,  # RealMLP-TD trains every epoch and keeps the best one
    },
}

TASK_VALUES: dict[str, dict[str, dict[str, Any]]] = {
    "realmlp": {
        "classification": {"activation": "selu", "lr": 0.04, "monitor": "val_accuracy"},
        "regression": {"activation": "mish", "lr": 0.2},
    },
}


def task_values(name: str, task: str) -> dict[str, Any]:
    """The flat settings of the preset ``name`` for a ``task`` (classification or regression).

    >>> task_values("realmlp", "regression")["activation"]
    'mish'
    """
    return copy.deepcopy(TASK_VALUES.get(name, {}).get(task, {}))


def preset_values(name: str) -> dict[str, Any]:
    """The flat settings of the preset ``name`` (a copy).

    >>> preset_values("fast")["hidden"]
    [128]
    """
    from .settings import unknown

    if name not in PRESETS:
        raise unknown("preset", name, list(PRESETS))
    return copy.deepcopy(PRESETS[name])
