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
- ``realmlp``: as near RealMLP-TD (Holzmüller et al., 2024, "Better by default") as mlpkit's
  settings allow: robust scaling with smooth clipping, three layers of 256, SiLU (near its
  Mish and SELU), dropout 0.15, AdamW with betas (0.9, 0.95) as far as the settings go (the
  betas are not a setting: torch's 0.9, 0.999 run), a cosine schedule (RealMLP's is
  flat-cosine), batch 256 for up to 256 epochs with the best epoch's weights kept, label
  smoothing 0.1 (cross-entropy only, so classification only). Not reproduced: its numerical
  embeddings (PBLD), the NTK parametrization with its per-layer learning rates, the learnable
  front scaling layer, parametric activations, its schedules of dropout and weight decay, and
  its learning rates (0.04 and 0.14 are for the NTK parametrization; here AdamW's 1e-3 runs).
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
        "numeric_scaling": "robust",
        "hidden": [256, 256, 256],
        "activation": "silu",
        "dropout": 0.15,
        "optimizer": "adamw",
        "weight_decay": 0.0,
        "scheduler": "cosine",
        "batch_size": 256,
        "epochs": 256,
        "early_stopping": 0,  # RealMLP-TD trains every epoch and keeps the best one
        "label_smoothing": 0.1,
    },
}


def preset_values(name: str) -> dict[str, Any]:
    """The flat settings of the preset ``name`` (a copy).

    >>> preset_values("fast")["hidden"]
    [128]
    """
    from .settings import unknown

    if name not in PRESETS:
        raise unknown("preset", name, list(PRESETS))
    return copy.deepcopy(PRESETS[name])
