"""The ``mlpkit`` command: one module per command, each building a typed config from flags and
files and calling the library, which holds all the logic.

Heavy imports (torch) happen inside the commands, so ``mlpkit --help`` stays fast.
"""

from __future__ import annotations

import sys
import warnings

import typer

from .datasets import datasets
from .evaluate import evaluate
from .export import export
from .plot import plot
from .predict import predict
from .report import compare, report
from .sweep import sweep
from .train import train
from .tune import tune

app = typer.Typer(
    name="mlpkit",
    help="Train, evaluate and use fully-connected neural networks (MLPs) on PyTorch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for command in (train, evaluate, predict, datasets, report, compare, sweep):
    app.command()(command)
app.command()(export)
app.command()(tune)
app.add_typer(plot, name="plot")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line each, without the source line Python would print."""
    typer.echo(f"warning: {message}", err=True)


def main() -> None:
    """Entry point: user errors end with one line on stderr and exit code 2, no traceback."""
    from ..errors import MlpkitError

    warnings.showwarning = _show_warning
    try:
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
