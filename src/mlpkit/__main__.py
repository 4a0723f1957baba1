"""``python -m mlpkit`` is the ``mlpkit`` command."""

from .cli import main

main()
