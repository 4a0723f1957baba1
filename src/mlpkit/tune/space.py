"""A search space made of the declared run settings (``mlpkit.config.SETTINGS``).

A space maps setting names (flat keys such as ``lr`` or paths such as ``optim.lr``) to ranges,
as written in a config's ``[tune.space]`` table:

.. code-block:: toml

    [tune.space]
    lr = { low = 1e-4, high = 0.1, log = true }      # a float setting: a float range
    epochs = { low = 5, high = 30 }                   # an int setting: an int range
    optimizer = ["adam", "adamw", "sgd"]              # any setting: a choice (or {choices = [...]})
    hidden = { depth = [1, 3], width = [32, 512], log = true }   # layers: a depth and widths

Each bound and choice is checked by the setting's own declaration, so a range the setting cannot
take is refused in one line before any trial runs. ``hidden`` draws one width per layer
(``widths = "each"``, the default) or one for all layers (``widths = "same"``); the widths of
every possible layer are drawn every trial, so that the space stays the same from trial to trial
(which Optuna's multivariate TPE needs).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..config import FLAT_KEYS, SETTINGS, Setting, build_config
from ..config.settings import unknown, value_kinds
from ..errors import ConfigError

# Settings a study must keep fixed: they decide what the trials are compared on (the data, the
# split, the monitored metrics) or where and how the run happens, not how well it learns.
FIXED = {
    "data.name", "data.target", "data.task", "data.features", "data.val", "data.test",
    "data.val_fraction", "data.test_fraction", "data.groups", "data.options", "data.stream",
    "train.seed", "train.device", "train.metrics", "train.monitor", "train.monitor_mode",
    "train.checkpoint_every", "train.keep_last", "train.threads", "train.num_workers",
    "train.compile", "train.step", "run.out", "run.report", "run.overwrite",
}  # fmt: skip
_PRIMITIVE = (str, int, float, bool, type(None))


def find_setting(name: str) -> Setting:
    """The declared setting a space names, by flat key (``lr``) or path (``optim.lr``)."""
    by_path = {s.path: s for s in SETTINGS}
    setting = FLAT_KEYS.get(name) or by_path.get(name)
    if setting is None:
        raise unknown("setting in the search space", name, [s.name for s in SETTINGS])
    if setting.path in FIXED:
        raise ConfigError(
            f"the search space cannot vary {setting.path}: every trial must be trained and "
            f"compared on the same terms; set it as a flag or config key instead"
        )
    return setting


def _checked(setting: Setting, value: Any, what: str) -> Any:
    """``value`` if the setting's declaration takes it, else its own message."""
    try:
        build_config({setting.path.split(".")[0]: {setting.name: value}})
    except ConfigError as exc:
        raise ConfigError(f"search space {setting.name}: {what} {value!r}: {exc}") from None
    return value


@dataclass(frozen=True)
class Range:
    """A float or int range, log-scaled or linear (``step``: a grid of linear values)."""

    low: float
    high: float
    log: bool = False
    step: float | None = None
    integer: bool = False

    def suggest(self, trial: Any, name: str) -> Any:
        if self.integer:
            return trial.suggest_int(
                name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log
            )
        return trial.suggest_float(name, self.low, self.high, step=self.step, log=self.log)

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"low": self.low, "high": self.high, "log": self.log}
        return found if self.step is None else {**found, "step": self.step}


@dataclass(frozen=True)
class Choice:
    choices: tuple[Any, ...]

    def suggest(self, trial: Any, name: str) -> Any:
        return trial.suggest_categorical(name, list(self.choices))

    def to_dict(self) -> dict[str, Any]:
        return {"choices": list(self.choices)}


@dataclass(frozen=True)
class Layers:
    """Hidden layers: a depth, and a width per layer (or one for all), each in a range."""

    depth: tuple[int, int]
    width: tuple[int, int]
    log: bool = True
    same: bool = False

    def suggest(self, trial: Any, name: str) -> list[int]:
        depth = trial.suggest_int(f"{name}_depth", *self.depth)
        low, high = self.width
        if self.same:
            return [trial.suggest_int(f"{name}_width", low, high, log=self.log)] * depth
        # Every layer's width is drawn, used or not: the space stays the same in every trial.
        widths = [
            trial.suggest_int(f"{name}_width_{i}", low, high, log=self.log)
            for i in range(1, self.depth[1] + 1)
        ]
        return widths[:depth]

    def to_dict(self) -> dict[str, Any]:
        return {
            "depth": list(self.depth),
            "width": list(self.width),
            "log": self.log,
            "widths": "same" if self.same else "each",
        }


Dimension = Range | Choice | Layers


class SearchSpace:
    """Declared settings and the values a study tries for each.

    >>> space = SearchSpace.from_dict({"lr": {"low": 1e-4, "high": 0.1, "log": True}})
    >>> space.names
    ['lr']
    >>> import optuna  # doctest: +SKIP
    >>> space.suggest(optuna.trial.FixedTrial({"lr": 0.01}))  # doctest: +SKIP
    {'lr': 0.01}
    """

    def __init__(self, dimensions: dict[str, Dimension]) -> None:
        self.dimensions = dimensions

    @property
    def names(self) -> list[str]:
        return list(self.dimensions)

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> SearchSpace:
        """Parse and check a ``[tune.space]`` table; one line for the first problem found."""
        if not isinstance(spec, dict) or not spec:
            raise ConfigError(
                "the search space is a table of settings, e.g. "
                "[tune.space] lr = { low = 1e-4, high = 0.1, log = true }"
            )
        dimensions: dict[str, Dimension] = {}
        for key, value in spec.items():
            setting = find_setting(key)
            if setting.name in dimensions:
                raise ConfigError(f"the search space names {setting.name} twice; keep one")
            dimensions[setting.name] = _dimension(setting, value)
        return cls(dimensions)

    def to_dict(self) -> dict[str, Any]:
        return {name: d.to_dict() for name, d in self.dimensions.items()}

    def suggest(self, trial: Any) -> dict[str, Any]:
        """One value per setting from ``trial`` (an Optuna trial), as flat config keys."""
        return {name: d.suggest(trial, name) for name, d in self.dimensions.items()}

    def without(self, names: set[str]) -> SearchSpace:
        return SearchSpace({k: v for k, v in self.dimensions.items() if k not in names})

    def __repr__(self) -> str:
        return f"SearchSpace({self.to_dict()})"


def _dimension(setting: Setting, value: Any) -> Dimension:
    if isinstance(value, list):
        value = {"choices": value}
    if not isinstance(value, dict):
        raise ConfigError(
            f"search space {setting.name}: give a range {{ low = ..., high = ... }} or a list "
            f"of choices, got {value!r}"
        )
    if setting.name == "hidden" and "choices" not in value:
        return _layers(setting, value)
    if "choices" in value:
        _only(setting, value, {"choices"})
        choices = value["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"search space {setting.name}: choices must be a non-empty list")
        for choice in choices:
            if not isinstance(choice, _PRIMITIVE):
                raise ConfigError(
                    f"search space {setting.name}: a choice is a number, text or boolean, "
                    f"got {choice!r}"
                )
            _checked(setting, choice, "choice")
        return Choice(tuple(choices))
    return _range(setting, value)


def _only(setting: Setting, value: dict[str, Any], keys: set[str]) -> None:
    extra = sorted(set(value) - keys)
    if extra:
        raise ConfigError(
            f"search space {setting.name}: unknown key {extra[0]!r}; use {', '.join(sorted(keys))}"
        )


def _range(setting: Setting, value: dict[str, Any]) -> Range:
    _only(setting, value, {"low", "high", "log", "step"})
    kinds = value_kinds(setting.annotation)
    integer = kinds & {int, float} == {int}
    if not kinds & {int, float} or bool in kinds:
        raise ConfigError(
            f"search space {setting.name}: a range needs a number setting; give choices instead, "
            f"e.g. {setting.name} = [..., ...]"
        )
    if "low" not in value or "high" not in value:
        raise ConfigError(f"search space {setting.name}: a range needs low and high")
    low, high, log, step = value["low"], value["high"], bool(value.get("log", False)), None
    for bound in (low, high):
        number = isinstance(bound, (int, float)) and not isinstance(bound, bool)
        if not number or (integer and int(bound) != bound) or not math.isfinite(bound):
            kind = "a whole number" if integer else "a number"
            raise ConfigError(
                f"search space {setting.name}: low and high are {kind}s, got {bound!r}"
            )
    if not low < high:
        raise ConfigError(
            f"search space {setting.name}: low must be below high, got {low} and {high}"
        )
    if log and low <= 0:
        raise ConfigError(
            f"search space {setting.name}: a log range needs low > 0, got {low}; "
            "raise low or drop log"
        )
    if "step" in value:
        step = value["step"]
        if log or not isinstance(step, (int, float)) or step <= 0 or step > high - low:
            raise ConfigError(
                f"search space {setting.name}: step is a positive number within the range, "
                "and not with log"
            )
    for bound in (low, high):
        _checked(setting, int(bound) if integer else float(bound), "bound")
    return Range(float(low), float(high), log, step, integer)


def _pair(setting: Setting, value: dict[str, Any], key: str, least: int) -> tuple[int, int]:
    pair = value.get(key)
    if isinstance(pair, int) and not isinstance(pair, bool):
        pair = [pair, pair]
    if (
        not isinstance(pair, list)
        or len(pair) != 2
        or not all(isinstance(n, int) and not isinstance(n, bool) for n in pair)
        or not least <= pair[0] <= pair[1]
    ):
        raise ConfigError(
            f"search space {setting.name}: {key} is [lowest, highest], whole numbers from "
            f"{least} up, e.g. {key} = [{least}, {least + 3}]; got {pair!r}"
        )
    return pair[0], pair[1]


def _layers(setting: Setting, value: dict[str, Any]) -> Layers:
    _only(setting, value, {"depth", "width", "log", "widths"})
    depth = _pair(setting, value, "depth", 0)
    width = _pair(setting, value, "width", 1)
    widths = value.get("widths", "each")
    if widths not in ("each", "same"):
        raise ConfigError(
            f"search space {setting.name}: widths is 'each' or 'same', got {widths!r}"
        )
    log = bool(value.get("log", True))
    if log and width[0] == width[1]:
        log = False  # a single width: nothing to scale
    return Layers(depth, width, log, widths == "same")


def default_space(task: str, config: Any, fixed: Iterable[str] = ()) -> SearchSpace:
    """The space searched when a study names none, for an MLP: learning rate (log), depth 1-4
    and widths 32-512 (log), dropout, weight decay (log), batch size, and label smoothing for
    cross-entropy; the settings in ``fixed`` (given as flags or keys) are left out.

    >>> from mlpkit.config import RunConfig
    >>> default_space("regression", RunConfig(), {"lr"}).names
    ['hidden', 'dropout', 'weight_decay', 'batch_size']
    """
    spec: dict[str, Any] = {
        "lr": {"low": 1e-4, "high": 1e-1, "log": True},
        "hidden": {"depth": [1, 4], "width": [32, 512], "log": True},
        "dropout": {"low": 0.0, "high": 0.5},
        "weight_decay": {"low": 1e-6, "high": 1e-2, "log": True},
        "batch_size": {"choices": [16, 32, 64, 128, 256]},
    }
    if task == "classification" and config.optim.loss in (None, "cross_entropy"):
        spec["label_smoothing"] = {"low": 0.0, "high": 0.2}
    return SearchSpace.from_dict(spec).without({FLAT_KEYS[f].name for f in fixed if f in FLAT_KEYS})
