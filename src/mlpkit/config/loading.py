"""Building a validated ``RunConfig`` from sectioned or flat keys, TOML files and keywords.

A config file is TOML with one table per section (as ``config.toml`` in a run folder), or flat
keys named like the command-line flags (``hidden = [128, 64]``, ``lr = 0.001``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ConfigError
from .presets import PRESETS, preset_values
from .sections import SECTIONS, OptimConfig, RunConfig, TrainConfig
from .settings import FIT_SETTINGS, FLAT_KEYS, unknown


def build_config(values: dict[str, Any]) -> RunConfig:
    """A validated ``RunConfig`` from sectioned and/or flat keys; one line per bad field.

    A ``preset`` (``mlpkit.config.presets``) is expanded beneath the other values: they
    override it.

    >>> build_config({"hidden": [32], "train": {"epochs": 5}}).model.hidden
    [32]
    >>> build_config({"preset": "fast", "epochs": 3}).train.epochs
    3
    """
    nested = _sectioned(values)
    preset = nested.get("preset")
    if isinstance(preset, str) and preset in PRESETS:  # an unknown name: refused by validation
        nested = _beneath(_sectioned(preset_values(preset)), nested)
    return validated(RunConfig, nested)


def _sectioned(values: dict[str, Any]) -> dict[str, Any]:
    """Sectioned and/or flat keys as one table per section (run settings at the top)."""
    nested: dict[str, Any] = {}
    for key, value in values.items():
        key = key.replace("-", "_")
        if key in SECTIONS and isinstance(value, dict):
            nested.setdefault(key, {}).update(value)
        elif key in FLAT_KEYS and FLAT_KEYS[key].section == "run":  # out, report: at the top
            nested[key] = value
        elif key in FLAT_KEYS:
            setting = FLAT_KEYS[key]
            nested.setdefault(setting.section, {})[setting.name] = value
        else:
            raise unknown("setting", key, [*FLAT_KEYS, "out"])
    return nested


def _beneath(preset: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """``given`` over ``preset``, section by section."""
    merged = {
        key: dict(value) if isinstance(value, dict) else value for key, value in preset.items()
    }
    for key, value in given.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key].update(value)
        else:
            merged[key] = value
    return merged


def validated(model: type[Any], values: dict[str, Any]) -> Any:
    """``model`` built from ``values``, or a ``ConfigError`` naming every bad field."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        # A setting of the run itself (out, preset, ...) is named run.NAME, as Setting.path does.
        raise ConfigError(describe(exc, top="run" if model is RunConfig else None)) from None


def fit_settings(keywords: dict[str, Any]) -> tuple[OptimConfig, TrainConfig]:
    """The optimization and training sections from ``mlpkit.fit``'s keywords, validated by the
    same declarations as the command's flags and TOML keys (same defaults, same messages).

    >>> optim, train = fit_settings({"lr": 0.1, "epochs": 5})
    >>> optim.optimizer, train.epochs
    ('adam', 5)
    """
    sections: dict[str, dict[str, Any]] = {"optim": {}, "train": {}}
    for name, value in keywords.items():
        if name not in FIT_SETTINGS:
            raise unknown("keyword of fit", name, list(FIT_SETTINGS))
        sections[FIT_SETTINGS[name].section][name] = value
    config = validated(RunConfig, sections)
    return config.optim, config.train


def merge(config: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """``config`` with flat or sectioned ``overrides`` applied, validated again.

    A preset among the overrides goes beneath the values ``config`` was given (a config
    file's), which the other overrides then override.
    """
    if any(key.replace("-", "_") == "preset" for key in overrides):
        given = _beneath(config.model_dump(exclude_unset=True), _sectioned(overrides))
        return build_config(given)
    base = config.model_dump(exclude_none=True)
    changes = build_config(overrides).model_dump(exclude_unset=True)
    for section, values in changes.items():
        if isinstance(values, dict) and section in base:
            base[section].update(values)
        else:
            base[section] = values
    return build_config(base)


def load_config(path: str | Path) -> RunConfig:
    """A config from a TOML file (a run folder's ``config.toml`` reruns that run)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"no config file at {path}; give a TOML file such as runs/NAME/config.toml"
        )
    try:
        values = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}; fix the file") from None
    return build_config(values)


def describe(exc: ValidationError, top: str | None = None) -> str:
    """A pydantic validation error as one line: ``bad setting train.epochs: ...``; a field of
    the model itself is named ``top.field`` where ``top`` is given."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        if top and len(error["loc"]) == 1 and where not in SECTIONS:
            where = f"{top}.{where}"
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {message}")
    return "bad setting " + "; ".join(problems)
