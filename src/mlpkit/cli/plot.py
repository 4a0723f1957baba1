"""``mlpkit plot ...``: plots that belong to no run (``mlpkit plot activations``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

plot = typer.Typer(help="Draw plots that belong to no run.", no_args_is_help=True)


@plot.command()
def activations(
    out: Annotated[Path, typer.Option(help="the PNG file to write")] = Path("activations.png"),
    names: Annotated[
        str | None, typer.Option(help="activations to draw, e.g. relu,tanh (default: all)")
    ] = None,
) -> None:
    """Draw the activation functions and their derivatives."""
    from ..plots import plot_activations

    chosen = [n.strip() for n in names.split(",") if n.strip()] if names else None
    typer.echo(str(plot_activations(out, chosen)))
