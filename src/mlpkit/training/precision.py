"""Training precision: fp32, or bf16 autocast where this device runs it correctly and faster.

bf16 halves the bytes a matrix product moves, but not every CPU gains from it: without native
bf16 instructions the products are emulated and slower than fp32, and on some machines oneDNN
fails to create its bf16 primitives at all. ``resolve_precision`` runs one small probe per
device and shape before training and, when bf16 fails or is not faster, warns once and trains in
fp32 instead of crashing or slowing down. (``fit`` then also times whole steps on a CPU: see
``step_timing.bf16_step_problem``.)
"""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from collections.abc import Iterator

import torch

from ..errors import ConfigError

log = logging.getLogger(__name__)

PRECISIONS = {"fp32": None, "32": None, "bf16": torch.bfloat16, "bf16-mixed": torch.bfloat16}

# Probe results per (device, rows, inner, cols), so that a process probes each shape once.
_probed: dict[tuple[str, int, int, int], str | None] = {}
_warned: set[str] = set()


def resolve_precision(
    precision: str, device: torch.device, shape: tuple[int, int, int] = (256, 784, 256)
) -> torch.dtype | None:
    """The autocast dtype to train with on ``device``: None for fp32.

    ``shape`` (rows, inner, columns) is a typical matrix product of one step, which the probe
    times in both precisions.

    >>> resolve_precision("fp32", torch.device("cpu")) is None
    True
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}; use {', '.join(PRECISIONS)}")
    dtype = PRECISIONS[precision]
    if dtype is None:
        return None
    key = (str(device), *shape)
    if key not in _probed:
        _probed[key] = _bf16_problem(device, shape)
    problem = _probed[key]
    if problem is None:
        return dtype
    fall_back_to_fp32(device, problem)
    return None


def fall_back_to_fp32(device: torch.device, problem: str) -> None:
    """Say, once per device, that bf16 was asked for but fp32 runs, and why."""
    if str(device) not in _warned:
        _warned.add(str(device))
        warnings.warn(
            f"precision bf16 asked for, but {problem}; training in fp32 instead",
            RuntimeWarning,
            stacklevel=3,
        )


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype | None) -> Iterator[None]:
    """Autocast to ``dtype`` on ``device``; nothing when ``dtype`` is None."""
    if dtype is None:
        yield
        return
    with torch.autocast(device.type, dtype=dtype):
        yield


def _bf16_problem(device: torch.device, shape: tuple[int, int, int]) -> str | None:
    """Why bf16 should not be used on ``device`` (None when it works and is faster)."""
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return f"{torch.cuda.get_device_name(device)} has no bf16 support"
    rows, inner, cols = shape
    a = torch.randn(rows, inner, device=device)
    b = torch.randn(inner, cols, device=device, requires_grad=True)
    try:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            product = a @ b
        product.float().sum().backward()
    except RuntimeError as exc:
        return f"bf16 matrix products fail on this {device.type} ({str(exc).splitlines()[0]})"
    if device.type != "cpu":
        return None  # accelerators with bf16 support gain from it
    fp32, bf16 = _seconds(a, b.detach(), None), _seconds(a, b.detach(), torch.bfloat16)
    log.info("bf16 probe %s: fp32 %.0f us, bf16 %.0f us", shape, fp32 * 1e6, bf16 * 1e6)
    if bf16 >= fp32:
        return (
            f"bf16 matrix products are not faster than fp32 on this CPU "
            f"({bf16 * 1e6:.0f} vs {fp32 * 1e6:.0f} us for a {rows}x{inner} @ {inner}x{cols})"
        )
    return None


def _seconds(a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype | None, reps: int = 20) -> float:
    """Best time of one product, as autocast would run it."""
    if dtype is not None:
        a, b = a.to(dtype), b.to(dtype)
    a @ b  # warm-up: oneDNN creates its primitives on the first call
    best = float("inf")
    for _ in range(reps):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return best
