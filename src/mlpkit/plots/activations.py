"""The activation functions mlpkit knows (``mlpkit.ACTIVATIONS``) and their derivatives."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .figure import COLORS, grid_shape, new_figure, save_png


def activation_values(name: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An activation's values at ``x`` and its derivative there, by autograd.

    >>> activation_values("relu", np.array([-1.0, 2.0]))
    (array([0., 2.]), array([0., 1.]))
    """
    import torch

    from ..models import ACTIVATIONS

    module = ACTIVATIONS.get(name)()
    inputs = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    values = module(inputs)
    (derivative,) = torch.autograd.grad(values.sum(), inputs)
    return values.detach().numpy(), derivative.numpy()


def plot_activations(
    path: str | Path, names: Sequence[str] | None = None, low: float = -4.0, high: float = 4.0
) -> Path:
    """One panel per activation (default: every registered one): the function and its
    derivative over ``[low, high]``.

    >>> plot_activations("activations.png", ["relu", "tanh"])  # doctest: +SKIP
    """
    from ..models import ACTIVATIONS

    names = list(names) if names else ACTIVATIONS.names()
    for name in names:
        ACTIVATIONS.get(name)  # an unknown name is refused with the known ones, before drawing
    x = np.linspace(low, high, 401)
    rows, columns = grid_shape(len(names), 4)
    figure, axes = new_figure(3.2 * columns, 2.7 * rows, rows=rows, columns=columns)
    for ax in axes.flat[len(names) :]:
        ax.set_visible(False)
    for ax, name in zip(axes.flat, names, strict=False):
        values, derivative = activation_values(name, x)
        ax.plot(x, values, color=COLORS[0], label=name)
        ax.plot(x, derivative, "--", color=COLORS[1], label="derivative")
        ax.axhline(0, color="#999999", linewidth=0.6)
        ax.axvline(0, color="#999999", linewidth=0.6)
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize="x-small")
    return save_png(figure, path)
