"""Activations of the stacked step, by name: a forward and a backward ATen kernel each.

The same kernels as ``mlpkit.training.fused.activations`` (which is keyed by module type and
lives above this folder in the layout), for the default settings of mlpkit's activation names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

aten = torch.ops.aten


@dataclass(frozen=True)
class Kernels:
    """``forward(z, out)`` writes the activation of ``z`` into ``out``; ``backward(g, saved,
    out)`` the gradient with respect to ``z``. With ``uses_result`` the backward needs only the
    output (``saved`` is it, and the forward may run in place), else ``saved`` is ``z``."""

    forward: Callable[[Tensor, Tensor], Tensor]
    backward: Callable[[Tensor, Tensor, Tensor], Tensor]
    uses_result: bool


_SLOPE = 0.01  # nn.LeakyReLU's default, which ACTIVATIONS["leaky_relu"] builds

KERNELS: dict[str, Kernels] = {
    "relu": Kernels(
        lambda z, out: aten.relu.out(z, out=out),
        lambda g, r, out: aten.threshold_backward.grad_input(g, r, 0, grad_input=out),
        uses_result=True,
    ),
    "leaky_relu": Kernels(
        lambda z, out: aten.leaky_relu.out(z, _SLOPE, out=out),
        lambda g, r, out: aten.leaky_relu_backward.grad_input(g, r, _SLOPE, True, grad_input=out),
        uses_result=True,
    ),
    "elu": Kernels(
        lambda z, out: aten.elu.out(z, 1.0, 1, 1, out=out),
        lambda g, r, out: aten.elu_backward.grad_input(g, 1.0, 1, 1, True, r, grad_input=out),
        uses_result=True,
    ),
    "tanh": Kernels(
        lambda z, out: aten.tanh.out(z, out=out),
        lambda g, r, out: aten.tanh_backward.grad_input(g, r, grad_input=out),
        uses_result=True,
    ),
    "sigmoid": Kernels(
        lambda z, out: aten.sigmoid.out(z, out=out),
        lambda g, r, out: aten.sigmoid_backward.grad_input(g, r, grad_input=out),
        uses_result=True,
    ),
    "gelu": Kernels(
        lambda z, out: aten.gelu.out(z, approximate="none", out=out),
        lambda g, z, out: aten.gelu_backward.grad_input(g, z, approximate="none", grad_input=out),
        uses_result=False,
    ),
    "silu": Kernels(
        lambda z, out: aten.silu.out(z, out=out),
        lambda g, z, out: aten.silu_backward.grad_input(g, z, grad_input=out),
        uses_result=False,
    ),
}
