"""Sweeps: the reference chapters' experiments (batch size, depth, width, any setting) as one
command, one run per value."""

from .plan import Point, grid, point_config
from .run import SweepResult, sweep

__all__ = ["Point", "SweepResult", "grid", "point_config", "sweep"]
