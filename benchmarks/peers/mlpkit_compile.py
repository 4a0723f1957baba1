"""``mlpkit.fit(..., compile=True)``: the autograd step through torch.compile.

The warm-up epoch compiles; the timed epoch reuses the compiled graphs.
"""

from __future__ import annotations

from peers.mlpkit_fit import fit_epoch

LABEL = "mlpkit.fit, compile=True"
REQUIRES = ("mlpkit",)


def make_epoch(batch_size: int):
    return fit_epoch(batch_size, compile=True)
