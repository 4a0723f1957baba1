"""The ``mlpkit`` command: one module per command, each building a typed config from flags and
files and calling the library, which holds all the logic.

A run imports only the module of the command it runs (``mlpkit train`` never loads the tuning,
export or sweep commands); heavy imports (torch) happen inside the commands.
"""

from __future__ import annotations

import functools
import importlib
import sys
import warnings
from collections.abc import Iterable

import typer

# Each command by name: the module of this package that defines it (a function or, for a group
# of commands, a Typer app of the same name), in the order ``mlpkit --help`` lists them.
COMMANDS = {
    "train": "train",
    "evaluate": "evaluate",
    "predict": "predict",
    "datasets": "datasets",
    "report": "report",
    "compare": "report",
    "sweep": "sweep",
    "export": "export",
    "tune": "tune",
    "plot": "plot",
}


def build_app(names: Iterable[str] = COMMANDS) -> typer.Typer:
    """The ``mlpkit`` app with the commands ``names`` (by default all of them)."""
    app = typer.Typer(
        name="mlpkit",
        help="Train, evaluate and use fully-connected neural networks (MLPs) on PyTorch.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.callback()(lambda: None)  # a group even with one command: ``mlpkit train ...``
    for name in names:
        command = getattr(importlib.import_module(f".{COMMANDS[name]}", __package__), name)
        if isinstance(command, typer.Typer):
            app.add_typer(command, name=name)
        else:
            app.command()(command)
    return app


@functools.cache
def full_app() -> typer.Typer:
    """Every command, as ``mlpkit --help`` shows them."""
    return build_app()


def __getattr__(name: str):
    if name == "app":  # ``from mlpkit.cli.app import app``: the whole command line
        return full_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line each, without the source line Python would print."""
    typer.echo(f"warning: {message}", err=True)


def main() -> None:
    """Entry point: user errors end with one line on stderr and exit code 2, no traceback."""
    from ..errors import MlpkitError

    warnings.showwarning = _show_warning
    try:
        asked = sys.argv[1] if len(sys.argv) > 1 else None
        app = build_app([asked]) if asked in COMMANDS else full_app()
        code = app(standalone_mode=False)
    except MlpkitError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except typer.TyperException as exc:  # a bad flag or value: one line, with where to look
        command = " ".join(["mlpkit", *(a for a in sys.argv[1:2] if not a.startswith("-"))])
        message = exc.format_message().rstrip(".")
        typer.echo(f"error: {message}; see '{command} --help'", err=True)
        sys.exit(getattr(exc, "exit_code", 2))
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        typer.echo("interrupted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
