"""Training: ``fit``, the one loop (``Trainer``) and the steps it runs."""

from .fit import fit
from .trainer import Trainer

__all__ = ["Trainer", "fit"]
