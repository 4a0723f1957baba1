"""Presets: each is a set of declared settings, expanded beneath what is given with it."""

from __future__ import annotations

import typing

import pytest

from mlpkit.config import FLAT_KEYS, RunConfig, build_config, load_config, merge
from mlpkit.config.presets import PRESETS, preset_values
from mlpkit.errors import ConfigError
from samples import run_command


def value(config: RunConfig, key: str):
    setting = FLAT_KEYS[key]
    section = config if setting.section == "run" else getattr(config, setting.section)
    return getattr(section, setting.name)


def test_every_preset_key_is_a_declared_setting_and_every_name_a_choice():
    choices = typing.get_args(RunConfig.model_fields["preset"].annotation)
    assert set(choices) == set(PRESETS)
    for name, values in PRESETS.items():
        for key in values:
            assert key in FLAT_KEYS, f"preset {name}: {key} is not a declared setting"
            assert FLAT_KEYS[key].section != "run", f"preset {name}: {key} names no training"


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_a_preset_sets_its_values(name):
    config = build_config({"preset": name})
    assert config.preset == name
    for key, expected in PRESETS[name].items():
        assert value(config, key) == expected, (name, key)


def test_the_default_preset_is_the_declared_defaults():
    assert build_config({"preset": "default"}).model_dump() == RunConfig().model_dump()


def test_an_explicit_flag_or_key_overrides_the_preset(tmp_path):
    flat = build_config({"preset": "rtdl", "early_stopping": 4, "hidden": [32]})
    assert (flat.train.early_stopping, flat.model.hidden) == (4, [32])
    assert flat.optim.optimizer == "adamw"  # the rest of the preset stays

    sectioned = build_config({"preset": "rtdl", "train": {"batch_size": 8}})
    assert sectioned.train.batch_size == 8

    flags = merge(RunConfig(), {"preset": "fast", "epochs": 3})  # what mlpkit train does
    assert (flags.preset, flags.train.epochs, flags.model.hidden) == ("fast", 3, [128])

    path = tmp_path / "run.toml"
    path.write_text('preset = "fast"\n[model]\nhidden = [16]\n')
    from_file = merge(load_config(path), {"batch_size": 4})
    assert (from_file.model.hidden, from_file.train.batch_size) == ([16], 4)
    assert from_file.train.epochs == PRESETS["fast"]["epochs"]


def test_a_preset_flag_goes_beneath_a_config_files_own_values(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("[model]\nhidden = [16]\n")
    config = merge(load_config(path), {"preset": "fast"})
    assert config.model.hidden == [16]  # the file's
    assert config.train.batch_size == PRESETS["fast"]["batch_size"]  # the preset's


def test_an_unknown_preset_is_refused_with_the_known_ones():
    with pytest.raises(ConfigError, match="bad setting run.preset: .*'fast'"):
        build_config({"preset": "fastest"})
    with pytest.raises(ConfigError, match="unknown preset 'fastest'; did you mean fast"):
        preset_values("fastest")


def test_preset_values_are_a_copy():
    preset_values("rtdl")["hidden"].append(1)
    assert PRESETS["rtdl"]["hidden"] == [256, 256, 256]


def test_the_run_records_the_preset_in_config_toml_and_the_summary(tmp_path):
    args = "train --data iris --preset fast --epochs 2 --hidden 8 --no-report --out run"
    result = run_command(*args.split(), cwd=tmp_path, env={"COLUMNS": "120"})
    config = load_config(tmp_path / "run" / "config.toml")
    assert config.preset == "fast"
    assert config.train.batch_size == PRESETS["fast"]["batch_size"]  # from the preset
    assert (config.train.epochs, config.model.hidden) == (2, [8])  # from the flags
    summary = [line for line in result.stderr.splitlines() if "preset" in line]
    assert summary and "fast" in summary[0]
