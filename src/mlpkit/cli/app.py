"""The ``mlpkit`` command: one module per command, each building a typed config from flags and
files and calling the library, which holds all the logic.

A run imports only the module of the command it runs (``mlpkit train`` never loads the tuning,
export or sweep commands), and ``mlpkit --help`` none of them (it lists ``SUMMARIES``); heavy
imports (torch) happen inside the commands.
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
    "cv": "cv",
    "plot": "plot",
}


# What ``mlpkit --help`` lists for each command: the first paragraph of its help (docstring),
# so that listing the commands imports none of their modules (each pulls in the settings and
# more). tests/cli/test_cli.py checks the table against the commands themselves.
SUMMARIES = {
    "train": "Train a model; with no arguments, an MLP on the built-in digits data.",
    "evaluate": (
        "Metrics of a trained run on its test split (or on --data); saved to evaluation.json."
    ),
    "predict": "Predict with a trained run: classes with names and probabilities, or values.",
    "datasets": (
        "List the built-in and downloadable data sets (to stdout, so that it can be piped)."
    ),
    "report": "Rebuild a run's report.html and its plots from the run folder.",
    "compare": (
        "Compare runs: the settings that differ, metrics side by side, learning curves overlaid."
    ),
    "sweep": "Train one run per value of a setting, or per point of a grid of several.",
    "export": (
        "Export a trained run: raw features in, probabilities (or original-unit values) out."
    ),
    "tune": (
        "Tune hyperparameters with Optuna: trials are runs of mlpkit train's settings, some "
        "drawn\nfrom a search space (default: learning rate, layers, dropout, weight decay, "
        "batch size)."
    ),
    "cv": (
        "Cross-validate a run: K folds trained as one stacked model, each metric's mean and spread."
    ),
    "plot": "Draw plots that belong to no run.",
}


def _empty_app(plain: bool = False) -> typer.Typer:
    app = typer.Typer(
        name="mlpkit",
        help="Train, evaluate and use fully-connected neural networks (MLPs) on PyTorch.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None if plain else "rich",
    )
    app.callback()(lambda: None)  # a group even with one command: ``mlpkit train ...``
    return app


def listing_app(plain: bool = True) -> typer.Typer:
    """The ``mlpkit`` app as ``mlpkit --help`` lists it: every command by name and summary,
    none of their modules imported. It runs no command: ``main`` gives a named command its
    real module. The list is plain text unless ``plain=False``: drawing it with Rich took
    half of the 0.38 s that ``mlpkit --help`` took on a 2-core machine (a command's own help
    keeps Rich's panels)."""
    app = _empty_app(plain)
    for name in COMMANDS:
        # Plain help would cut a summary at 45 characters; its short_help is printed whole.
        short = SUMMARIES[name] if plain else None
        app.command(name, help=SUMMARIES[name], short_help=short)(_listed)
    return app


def _listed() -> None:
    """A command as listed only (``main`` runs the real one)."""


def build_app(names: Iterable[str] = COMMANDS) -> typer.Typer:
    """The ``mlpkit`` app with the commands ``names`` (by default all of them)."""
    app = _empty_app()
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


def _left_to_the_launcher(exc: Exception) -> bool:
    """A rank of ``mlpkit train --nproc`` that lost the others leaves its error to the launcher,
    which says once what ended the run."""
    from ..errors import DistributedError

    if not isinstance(exc, DistributedError):
        return False
    from ..distributed.launch import hand_to_launcher

    return hand_to_launcher(str(exc))


def main() -> None:
    """Entry point: user errors end with one line on stderr and exit code 2, no traceback."""
    from ..errors import MlpkitError

    warnings.showwarning = _show_warning
    try:
        asked = sys.argv[1] if len(sys.argv) > 1 else None
        # Anything but a command's name (``--help``, nothing, a typo) needs only the list.
        app = build_app([asked]) if asked in COMMANDS else listing_app()
        code = app(standalone_mode=False)
    except MlpkitError as exc:
        if not _left_to_the_launcher(exc):
            typer.echo(f"error: {exc}", err=True)
        sys.exit(getattr(exc, "exit_code", 2))
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
