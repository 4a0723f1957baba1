"""The ``mlpkit train`` flags, derived from the declared settings (``mlpkit.config.SETTINGS``).

Each setting becomes one flag named like it (``--batch-size``), with its help text, grouped in
``--help`` by section; a flag's text is turned into the setting's type here and validated by
the config, so a bad value gets the same message from a flag, a TOML key or a ``fit`` keyword.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Annotated, Any

import typer

from ..config import SETTINGS, Setting
from ..config.settings import value_kinds

PANELS = {
    "data": "Data",
    "model": "Model",
    "optim": "Optimization",
    "train": "Training",
    "run": "Run",
}
# Input groups (``data.groups``) are given one flag per group that a model takes by name.
GROUP_FLAGS = {
    "wide": "wide_deep: columns of the wide input, e.g. rooms,age",
    "deep": "wide_deep: columns of the deep input",
}


def _flag_type(setting: Setting) -> type:
    kinds = value_kinds(setting.annotation)
    for kind in (bool, int, float):
        if kinds == {kind}:
            return kind
    return str  # names, choices, lists: parsed by ``setting_value``


def setting_value(setting: Setting, text: Any) -> Any:
    """A flag's value as the setting's type: ``"128,64"`` -> ``[128, 64]`` for a list of ints.

    >>> from mlpkit.config import FLAT_KEYS
    >>> setting_value(FLAT_KEYS["hidden"], "128,64"), setting_value(FLAT_KEYS["metrics"], "f1")
    ([128, 64], ['f1'])
    """
    if not isinstance(text, str) or _flag_type(setting) is not str:
        return text
    kinds = value_kinds(setting.annotation)
    if list not in kinds:
        return text
    items = [item.strip() for item in text.split(",") if item.strip()]
    item_kinds = value_kinds(typing.get_args(_list_annotation(setting.annotation))[0])
    for kind in (int, float):
        if item_kinds == {kind}:
            try:
                return [kind(item) for item in items]
            except ValueError:  # the config names the bad value, as for a TOML value
                return text if str in kinds else items
    return items


def _list_annotation(annotation: Any) -> Any:
    if typing.get_origin(annotation) is list:
        return annotation
    return next(a for a in typing.get_args(annotation) if typing.get_origin(a) is list)


def _dashed(name: str) -> str:
    return name.replace("_", "-")


def _help(setting: Setting) -> str:
    default = setting.default
    if "default" in setting.help or default is None or default == [] or default == {}:
        return setting.help  # the help text says what happens by default
    if isinstance(default, bool):
        shown = "on" if default else "off"
    else:
        shown = ",".join(map(str, default)) if isinstance(default, list) else default
    return f"{setting.help} (default: {shown})"


def _option(name: str, kind: type, help: str, panel: str) -> inspect.Parameter:
    flag = f"--{_dashed(name)}"
    declarations = [f"{flag}/--no-{_dashed(name)}"] if kind is bool else [flag]
    option = typer.Option(*declarations, help=help, rich_help_panel=panel, show_default=False)
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[kind | None, option],
    )


def flag_parameters() -> list[inspect.Parameter]:
    """One command-line option per declared setting (and one per input group)."""
    parameters = []
    for setting in SETTINGS:
        if setting.name == "groups":
            parameters += [
                _option(group, str, help, PANELS["data"]) for group, help in GROUP_FLAGS.items()
            ]
        elif setting.cli:
            kind = _flag_type(setting)
            parameters.append(_option(setting.flag, kind, _help(setting), PANELS[setting.section]))
    return parameters


def with_setting_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give ``command`` (which takes ``**flags``) a flag for every setting, for typer to read."""
    own = inspect.signature(command, eval_str=True)
    fixed = [p for p in own.parameters.values() if p.kind is not p.VAR_KEYWORD]
    parameters = [*fixed, *flag_parameters()]
    command.__signature__ = own.replace(parameters=parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    return command


def given_settings(flags: dict[str, Any]) -> dict[str, Any]:
    """The flags that were given, as flat config keys with values of the settings' types."""
    by_flag = {s.flag: s for s in SETTINGS}
    values: dict[str, Any] = {}
    groups = {g: setting_value(by_flag["features"], flags.pop(g, None)) for g in GROUP_FLAGS}
    groups = {name: columns for name, columns in groups.items() if columns is not None}
    if groups:
        values["groups"] = groups
    for name, value in flags.items():
        if value is not None:
            values[name] = setting_value(by_flag[name], value)
    return values


def out_names(folder_help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator for a command whose ``--out`` names another folder than a run's (a study's,
    a cross-validation's), with its own help; put it above ``with_setting_flags``."""

    def relabel(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = command.__signature__  # type: ignore[attr-defined]
        parameters = []
        for parameter in signature.parameters.values():
            if parameter.name == "out":
                option = typer.Option(
                    "--out", help=folder_help, rich_help_panel=PANELS["run"], show_default=False
                )
                parameter = parameter.replace(annotation=Annotated[str | None, option])
            parameters.append(parameter)
        command.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in parameters}
        return command

    return relabel
