"""Every setting is declared once: each surface (flag, TOML key, fit keyword) has it, with the
same default, and refuses the same bad value with the same message."""

from __future__ import annotations

import inspect
import typing
from typing import Any, Literal

import pytest
import typer

import mlpkit
from mlpkit.cli.app import full_app
from mlpkit.cli.flags import GROUP_FLAGS, PANELS
from mlpkit.config import (
    FIT_SETTINGS,
    FLAT_KEYS,
    SECTIONS,
    SETTINGS,
    RunConfig,
    Setting,
    build_config,
    fit_settings,
    load_config,
)
from mlpkit.errors import ConfigError
from samples import classes, command_error

# Settings whose names must come from a registry: a made-up name is refused.
REGISTERED = {"activation", "loss", "optimizer", "scheduler", "metrics"}


def train_options() -> dict[str, Any]:
    """The train command's options by name, as typer built them from the declarations."""
    command = typer.main.get_command(full_app()).commands["train"]  # type: ignore[attr-defined]
    return {p.name: p for p in command.params if p.opts[0].startswith("--")}


def field(setting: Setting):
    model = RunConfig if setting.section == "run" else SECTIONS[setting.section]
    return model.model_fields[setting.name]


def bad_value(setting: Setting) -> Any:
    """A value of the right type that the declaration refuses (None: any value of the type
    is valid, as for a free column name or a seed)."""
    if setting.name in REGISTERED:
        return ["no_such_thing"] if setting.name == "metrics" else "no_such_thing"
    if setting.name == "hidden":
        return [64, 0]
    if setting.name == "class_weights":
        return "heavy"
    for check in field(setting).metadata:
        for bound, offset in (("ge", -1), ("gt", 0), ("lt", 0), ("le", 1)):
            if hasattr(check, bound):
                return getattr(check, bound) + offset
    choices = [a for a in typing.get_args(setting.annotation) if typing.get_origin(a) is Literal]
    if typing.get_origin(setting.annotation) is Literal or choices:
        return "no_such_choice"
    return None


def as_flag_text(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


FLAGGED = [s for s in SETTINGS if s.cli and s.name != "groups"]
CHECKED = [s for s in SETTINGS if bad_value(s) is not None]


def test_every_setting_has_a_flag_in_its_section_of_the_help():
    options = train_options()
    for setting in FLAGGED:
        option = options[setting.flag]
        assert f"--{setting.flag.replace('_', '-')}" in option.opts, setting.path
        assert option.rich_help_panel == PANELS[setting.section], setting.path  # type: ignore
        assert setting.help and setting.help in (option.help or ""), setting.path
    for group in GROUP_FLAGS:  # data.groups: one flag per input group
        assert options[group].rich_help_panel == PANELS["data"]  # type: ignore[attr-defined]
    assert [s.name for s in SETTINGS if not s.cli] == ["options"]  # data set options: TOML


def toml_file(tmp_path, setting: Setting, value: Any):
    """A config file that sets one setting in its section's table (``out`` at the top)."""
    import tomli_w

    values = {setting.name: value}
    path = tmp_path / "config.toml"
    path.write_text(
        tomli_w.dumps(values if setting.section == "run" else {setting.section: values})
    )
    return path


FREE_SAMPLES = {str: "x.csv", int: 7, list: ["a", "b"], dict: {"wide": ["a"], "deep": ["b"]}}


def test_free_settings_and_switches_are_toml_keys_sectioned_and_flat(tmp_path):
    # The others are read from TOML files in the bad-value test below.
    for setting in SETTINGS:
        if bad_value(setting) is not None:
            continue
        kinds = {typing.get_origin(a) or a for a in typing.get_args(setting.annotation)}
        kinds |= {typing.get_origin(setting.annotation) or setting.annotation}
        if bool in kinds:
            value: Any = setting.default is not True
        else:
            value = FREE_SAMPLES[next(k for k in (dict, list, int, str) if k in kinds)]
        if setting.name == "groups":
            value = {"wide": ["a"], "deep": ["b"]}
        if setting.name == "options":
            value = {"noise": 0.3}
        loaded = load_config(toml_file(tmp_path, setting, value))
        flat = build_config({setting.flag: value})
        for config in (loaded, flat):
            section = config if setting.section == "run" else getattr(config, setting.section)
            assert getattr(section, setting.name) == value, setting.path
        assert FLAT_KEYS[setting.flag] is setting


def test_every_training_setting_is_a_keyword_of_fit_with_the_same_default():
    parameters = inspect.signature(mlpkit.fit).parameters
    expected = {s.name for s in SETTINGS if s.section in ("optim", "train")} - {"loss"}
    assert set(FIT_SETTINGS) == expected
    assert list(parameters)[:2] == ["model", "loss"]  # optim.loss is fit's second argument
    optim, train = fit_settings({})
    defaults = RunConfig()
    assert optim == defaults.optim and train == defaults.train
    for name, setting in FIT_SETTINGS.items():
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY, name
        assert parameters[name].default == setting.default, name
        assert f"``{name}=" in (mlpkit.fit.__doc__ or ""), name


def test_defaults_agree_between_fit_and_the_command():
    # No flags: the command trains on the declared defaults, as fit does.
    from mlpkit.cli.flags import given_settings

    flags = {p.name: None for p in train_options().values() if p.name not in ("resume", "help")}
    assert given_settings(flags) == {}
    command = RunConfig()
    optim, train = fit_settings({})
    assert (train.epochs, train.batch_size, optim.optimizer, optim.label_smoothing) == (
        command.train.epochs,
        command.train.batch_size,
        command.optim.optimizer,
        command.optim.label_smoothing,
    )


@pytest.mark.parametrize("setting", CHECKED, ids=lambda s: s.path)
def test_a_bad_value_gets_the_same_message_from_every_surface(setting, tmp_path, capsys):
    bad = bad_value(setting)
    with pytest.raises(ConfigError) as from_toml:
        load_config(toml_file(tmp_path, setting, bad))
    message = str(from_toml.value)
    assert message.startswith(f"bad setting {setting.path}"), message
    with pytest.raises(ConfigError) as from_flat_key:
        build_config({setting.flag: bad})
    assert str(from_flat_key.value) == message

    flag = f"--{setting.flag.replace('_', '-')}"
    code, stderr = command_error(["train", flag, as_flag_text(bad)], capsys)
    assert code == 2
    assert stderr.splitlines() == [f"error: {message}"]

    if setting.name in FIT_SETTINGS:
        with pytest.raises(ConfigError) as from_fit:
            mlpkit.fit(mlpkit.MLP(6, [4], 3), "cross_entropy", classes(n=8), **{setting.name: bad})
        assert str(from_fit.value) == message
    assert not (tmp_path / "runs").exists()


# Settings that take any value of their type: file paths and column names (checked against the
# data when it is read), switches, and the device and monitored column (checked when training
# starts, against the machine and the history's columns). The seed is bounded (0 to 2**32 - 1,
# what every random generator it seeds takes).
FREE = {
    "data.name", "data.target", "data.features", "data.val", "data.test", "data.categorical",
    "data.groups", "data.options", "run.out", "train.device", "train.monitor",
}  # fmt: skip


def test_every_setting_but_free_text_and_switches_has_a_value_it_refuses():
    unchecked = {s.path for s in SETTINGS if bad_value(s) is None}
    switches = {
        s.path for s in SETTINGS if bool in typing.get_args(s.annotation) or s.annotation is bool
    }
    assert unchecked == FREE | switches


def test_a_misspelt_keyword_of_fit_gets_the_nearest_names():
    with pytest.raises(ConfigError, match="unknown keyword of fit 'epoch'; did you mean epochs"):
        mlpkit.fit(mlpkit.MLP(6, [4], 3), "cross_entropy", classes(n=8), epoch=3)
    with pytest.raises(ConfigError, match="unknown setting 'batchsize'; did you mean batch_size"):
        build_config({"batchsize": 8})
