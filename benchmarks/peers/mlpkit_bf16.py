"""``mlpkit.fit(..., precision="bf16")``: bf16 autocast where the probe finds it faster.

Where bf16 is not faster, fit warns and trains in fp32 with the fused step, as users get it.
"""

from __future__ import annotations

from peers.mlpkit_fit import fit_epoch

LABEL = "mlpkit.fit, precision=bf16"
REQUIRES = ("mlpkit",)


def make_epoch(batch_size: int):
    return fit_epoch(batch_size, precision="bf16")
