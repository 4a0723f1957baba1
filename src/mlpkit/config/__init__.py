"""Typed run configuration, each setting declared once (``sections``), validated when built.

Only the CLI reads config files and flags; the library takes these objects.
"""

from .loading import build_config, describe, fit_settings, load_config, merge, validated
from .sections import (
    SECTIONS,
    DataConfig,
    ModelConfig,
    OptimConfig,
    RunConfig,
    TrainConfig,
    setting,
)
from .settings import FIT_SETTINGS, FLAT_KEYS, SETTINGS, Setting

__all__ = [
    "FIT_SETTINGS",
    "FLAT_KEYS",
    "SECTIONS",
    "SETTINGS",
    "DataConfig",
    "ModelConfig",
    "OptimConfig",
    "RunConfig",
    "Setting",
    "TrainConfig",
    "build_config",
    "describe",
    "fit_settings",
    "load_config",
    "merge",
    "setting",
    "validated",
]
