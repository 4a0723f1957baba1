"""``mlpkit sweep``: one run per value of one or more settings (a grid), everything else as the
train flags and config file say; prints the table and writes sweep.csv and sweep.html."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import ConfigError
from .flags import _flag_type, given_settings, setting_value, with_setting_flags

WHOLE_SET = "N"


@with_setting_flags
def sweep(
    config: Annotated[Path | None, typer.Argument(help="a TOML config for the base run")] = None,
    param: Annotated[
        list[str],
        typer.Option(
            help="a setting to sweep (any train flag's name, or depth, width); repeat for a grid",
            rich_help_panel="Sweep",
        ),
    ] = [],  # noqa: B006  (typer reads the default, never mutates it)
    values: Annotated[
        list[str],
        typer.Option(
            help="its values, e.g. 1,32,N (N: the whole training set); a list "
            "setting's values are separated by ';'",
            rich_help_panel="Sweep",
        ),
    ] = [],  # noqa: B006
    **flags: Any,
) -> None:
    """Train one run per value of a setting, or per point of a grid of several.

    --param batch_size --values 1,32,N (N: the whole training set), --param depth --values
    1,2,4, --param width, or any setting by its name; other flags fix the rest.
    """
    from ..config import RunConfig, load_config, merge
    from ..sweep import sweep as run_sweep
    from .console import console
    from .progress import ProgressBar

    if len(param) != len(values):
        raise ConfigError(
            f"got {len(param)} --param and {len(values)} --values; give one --values per --param"
        )
    params = {name.replace("-", "_"): parse_values(name.replace("-", "_"), text)
              for name, text in zip(param, values, strict=True)}  # fmt: skip
    settings = given_settings(flags)
    base = load_config(config) if config is not None else RunConfig()
    if config is not None and "out" not in settings:
        base.out = None  # the sweep gets a folder of its own
    base = merge(base, settings)
    from ..training.interrupt import TrainingInterrupted

    bars: list[ProgressBar] = []

    def callbacks_for(point, index, total):
        if bars:
            bars[-1].stop()
        bars.append(ProgressBar())
        typer.echo(f"run {index + 1}/{total}: {point.name}", err=True)
        return [bars[-1]]

    try:
        result = run_sweep(base, params, callbacks_for)
    except TrainingInterrupted as stop:
        command = shlex.join(["mlpkit", *sys.argv[1:]])
        typer.echo(f"{stop}", err=True)
        typer.echo(f"the finished runs are kept; resume the sweep with: {command}", err=True)
        raise typer.Exit(stop.exit_code) from None
    finally:
        for bar in bars:
            bar.stop()
    from rich.table import Table

    table = Table(title=f"sweep {result.folder}", show_header=True, header_style="bold")
    for column in result.table.columns:
        table.add_column(str(column), justify="left" if column == "run" else "right")
    for row in result.table.itertuples(index=False):
        table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
    console.print(table)
    typer.echo(str(result.page))


def parse_values(name: str, text: str) -> list[Any]:
    """``--values`` text as the setting's values: ``"1,32,N"`` -> ``[1, 32, "N"]``; a list
    setting's values are separated by ``;`` (``"64;64,64"`` -> ``[[64], [64, 64]]``).

    >>> parse_values("lr", "0.1,0.01"), parse_values("hidden", "8;8,8")
    ([0.1, 0.01], [[8], [8, 8]])
    """
    from ..config import FLAT_KEYS
    from ..sweep.plan import SHAPES, check_name

    check_name(name)
    if name in SHAPES:
        return [_scalar(int, t, name) for t in text.split(",") if t.strip()]
    setting = FLAT_KEYS[name]
    is_list = "list" in str(setting.annotation)
    items = [t.strip() for t in text.split(";" if is_list else ",") if t.strip()]
    if not items:
        raise ConfigError(f"--values for {name} is empty; give e.g. --values 1,2")
    kind = _flag_type(setting)
    if name == "batch_size":
        return [WHOLE_SET if t.upper() == WHOLE_SET else _scalar(kind, t, name) for t in items]
    if kind is str:
        return [setting_value(setting, t) for t in items]
    return [_scalar(kind, t, name) for t in items]


def _scalar(kind: type, text: str, name: str) -> Any:
    text = text.strip()
    if kind is bool:
        words = {"true": True, "on": True, "yes": True, "false": False, "off": False, "no": False}
        if text.lower() in words:
            return words[text.lower()]
        raise ConfigError(f"--values for {name} are true or false; got {text!r}")
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"--values for {name} are {kind.__name__}s; got {text!r}") from None
