"""The ``mlpkit`` command line: ``main`` runs it; ``mlpkit.cli.app.full_app()`` is the Typer
app with every command."""

from .app import main

__all__ = ["main"]
