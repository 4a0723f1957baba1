"""An epoch's training so far, kept so that a signal can stop it part-way and a resume finish it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class EpochProgress:
    """An epoch's training so far: per-step losses (on the device), batch sizes, the outputs
    and targets kept for metrics, the loop's seconds, and the batch order's state at its start."""

    losses: torch.Tensor
    order: torch.Tensor | None
    sizes: list[int] = field(default_factory=list)
    outputs: list[Any] = field(default_factory=list)
    targets: list[Any] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def state_dict(self) -> dict[str, Any]:
        done = len(self.sizes)
        return {
            "steps": len(self.losses),
            "losses": self.losses[:done].cpu(),
            "sizes": list(self.sizes),
            "outputs": torch.cat(self.outputs).cpu() if self.outputs else None,
            "targets": torch.cat(self.targets).cpu() if self.targets else None,
            "seconds": self.seconds(),
        }

    def restore(self, state: dict[str, Any], device: torch.device) -> None:
        done = len(state["sizes"])
        self.losses[:done] = state["losses"].to(device)
        self.sizes.extend(int(n) for n in state["sizes"])
        if state["outputs"] is not None:
            self.outputs.append(state["outputs"].to(device))
            self.targets.append(state["targets"].to(device))
        self.started -= float(state["seconds"])

    def running_loss(self) -> float | None:
        """The mean training loss of the steps done so far (None before the first); NaN steps
        (skipped batches) are left out. It reads the losses from the device."""
        done = len(self.sizes)
        if not done:
            return None
        losses = self.losses[:done].cpu().double()
        sizes = torch.tensor(self.sizes, dtype=torch.float64)
        finite = torch.isfinite(losses)
        if not bool(finite.any()):
            return float("nan")
        return float((losses * sizes)[finite].sum() / sizes[finite].sum())
