"""RealMLP (Holzmüller et al., 2024): the network of the ``realmlp`` preset."""

from .inputs import input_plan
from .model import RealMLP

__all__ = ["RealMLP", "input_plan"]
