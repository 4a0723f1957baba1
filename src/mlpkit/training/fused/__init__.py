"""The fused step: a hand-written forward and backward pass for MLPs, the fast path on a CPU."""

from .activations import ACTIVATION_KERNELS, ActivationKernels
from .stages import LOSS_HEADS
from .step import FusedMLPStep, recommended_num_threads, step_flops

__all__ = [
    "ACTIVATION_KERNELS",
    "LOSS_HEADS",
    "ActivationKernels",
    "FusedMLPStep",
    "recommended_num_threads",
    "step_flops",
]
