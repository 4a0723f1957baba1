"""The declared settings as a list: one ``Setting`` per field of the config sections.

Every surface is derived from this list: the command's flags (``mlpkit.cli.flags``), the flat
TOML keys, the keywords of ``mlpkit.fit`` and, later, tuning search spaces and estimator
parameters.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic_core import PydanticUndefined

from ..errors import ConfigError
from .sections import SECTIONS, RunConfig


@dataclass(frozen=True)
class Setting:
    """One declared setting: where it lives, its type, default and help text."""

    section: str
    name: str
    annotation: Any
    default: Any
    help: str
    flag: str  # the command-line flag without its dashes, as a flat key (``data``)
    cli: bool

    @property
    def path(self) -> str:
        """``section.name``, as errors name it."""
        return f"{self.section}.{self.name}"


def _declared() -> list[Setting]:
    found = []
    for section, model in {**SECTIONS, "run": RunConfig}.items():
        for name, info in model.model_fields.items():
            if section == "run" and name in SECTIONS:
                continue
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            default = info.default
            if default is PydanticUndefined and info.default_factory is not None:
                default = info.default_factory()  # type: ignore[call-arg]
            found.append(
                Setting(
                    section=section,
                    name=name,
                    annotation=info.annotation,
                    default=default,
                    help=info.description or "",
                    flag=str(extra.get("flag", name)),
                    cli=bool(extra.get("cli", True)),
                )
            )
    return found


SETTINGS: list[Setting] = _declared()

# Flat keys (in flat config files, and the flags' names) and the setting each stands for: the
# setting's own name, and its flag where that differs (``data`` for ``data.name``).
FLAT_KEYS: dict[str, Setting] = {
    **{s.name: s for s in SETTINGS if s.name != "name"},
    **{s.flag: s for s in SETTINGS},
}

# The settings ``mlpkit.fit`` takes as keywords: the optimization and training sections, but
# the loss, which is fit's own second argument.
FIT_SETTINGS: dict[str, Setting] = {
    s.name: s for s in SETTINGS if s.section in ("optim", "train") and s.name != "loss"
}


def value_kinds(annotation: Any) -> set[Any]:
    """The value types a setting's annotation allows, ``None`` left out.

    >>> sorted(k.__name__ for k in value_kinds(int | list[int] | None))
    ['int', 'list']
    """
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return set().union(
            *(value_kinds(a) for a in typing.get_args(annotation) if a is not type(None))
        )
    if origin is Literal:
        return {type(v) for v in typing.get_args(annotation)}
    return {origin or annotation}


def unknown(kind: str, name: str, known: list[str]) -> ConfigError:
    """The error for an unknown setting name, with the nearest known names."""
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"did you mean {' or '.join(close)}?" if close else f"known: {', '.join(sorted(known))}"
    return ConfigError(f"unknown {kind} {name!r}; {hint}")
