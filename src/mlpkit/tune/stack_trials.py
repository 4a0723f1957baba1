"""Trials of one structure trained as one stacked model (``mlpkit tune --parallel-trials K``).

Each member of the stack is one trial, trained exactly as it would be alone (its own loss
gradient, learning rate, weight decay, dropout and label smoothing) through the one training
loop; after every epoch each member is validated on its own, reports its value to its trial,
and leaves the stack (masked, then compacted so that it stops costing arithmetic) when it is
pruned, stops early, fails (a NaN loss) or is done. Its ``trials/NNNN`` folder then holds what
a sequential trial's holds: ``config.toml``, ``history.csv``, ``metrics.json`` and its model
(a plain MLP, best epoch's weights as ``restore_best`` keeps them).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn

from ..callbacks.base import Callback, StopTraining, TrainingState
from ..callbacks.controls import training_controls
from ..callbacks.monitor import Monitor
from ..config import RunConfig
from ..data.batching import make_batches
from ..data.prepare import prepare_data
from ..devices import resolve_device
from ..inference.evaluation import EVAL_BATCH_SIZE, evaluate
from ..io.atomic import write_text
from ..io.weights import save_model
from ..metrics import compute_all, get_metrics
from ..runs.build import build_model, resolve, run_loss, run_metrics
from ..runs.saved import model_metadata
from ..runs.train import left_to_the_data
from ..stacked.model import StackedMLP
from ..stacked.step import StackedStep
from ..stacked.training import stacked_optimizer
from ..training.seeding import deterministic_algorithms, seed_everything
from ..training.trainer import Trainer
from .objective import Stop, StopIfSignalled, best_of

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Member:
    """One trial in a stack: its Optuna trial, resolved config, folder and progress."""

    trial: Any
    config: RunConfig
    run_dir: Path
    loss_fn: nn.Module = None  # type: ignore[assignment]
    monitor: Monitor = None  # type: ignore[assignment]
    rows: list[dict[str, Any]] = field(default_factory=list)
    best: list[Tensor] | None = None  # the best epoch's weights and biases (restore_best)
    wait: int = 0
    value: float = math.nan  # the best of the monitored column, once it left the stack
    outcome: str | None = None  # "complete", "pruned" or "fail" once it left the stack
    reason: str | None = None


class MemberSteps:
    """The stacked step (each member its own gradient) in the loop's terms, keeping what the
    epoch's rows need: each member's summed training loss and, with metrics, its outputs.

    The loss handed to the loop (the members' mean, which no row shows) is 0 where it is not
    finite, so that one member's NaN does not end the others' training: the epoch's last step
    sets such members apart (``MemberTrials.on_batch_end``)."""

    name = "stacked"

    def __init__(self, stack: StackedMLP, loss_fn: nn.Module, optimizer: Any, clip=None,
                 keep_outputs: bool = True) -> None:  # fmt: skip
        self.stack, self.loss_fn, self.optimizer, self.clip = stack, loss_fn, optimizer, clip
        self.keep_outputs = keep_outputs
        self.smoothing = getattr(loss_fn, "label_smoothing", None)
        self.inner = StackedStep(stack, loss_fn, optimizer, clip, own_gradients=True)
        self.start_epoch()

    def start_epoch(self) -> None:
        self.loss_sums: Tensor | float = 0.0
        self.rows = 0
        self.outputs: list[Tensor] = []
        self.targets: list[Tensor] = []

    def recommended_threads(self, batch_size: int) -> int:
        return self.inner.recommended_threads(batch_size)

    def train_batch(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        loss, outputs = self.inner.train_batch(inputs, targets)
        n = len(targets)
        self.loss_sums = self.inner.member_losses * n + self.loss_sums
        self.rows += n
        if self.keep_outputs:
            self.outputs.append(outputs)
            self.targets.append(targets)
        return torch.nan_to_num(loss, nan=0.0, posinf=0.0, neginf=0.0), outputs

    def compact(self) -> Tensor:
        """Drop the masked members (tensors, optimizer state, per-member smoothing)."""
        kept = self.stack.compact()
        self.optimizer.compact(kept)
        if isinstance(self.smoothing, Tensor):
            self.smoothing = self.smoothing[kept.cpu()]
            self.loss_fn.label_smoothing = self.smoothing
        self.inner = StackedStep(self.stack, self.loss_fn, self.optimizer, self.clip,
                                 own_gradients=True)  # fmt: skip
        return kept


class MemberTrials(Callback):
    """After each epoch: every member's row, report, pruning, early stopping and end."""

    order = 60  # after the learning-rate log and the scheduler

    def __init__(self, members: list[Member], steps: MemberSteps, val: Any, metrics: list,
                 spec: Any, finish: Callable[[Member, StackedMLP, int], None]) -> None:  # fmt: skip
        self.live = list(members)  # the members in the stack, by position
        self.steps, self.val, self.metrics, self.spec, self.finish = (
            steps, val, metrics, spec, finish,
        )  # fmt: skip

    def on_batch_end(self, state: TrainingState) -> None:
        if state.step != state.steps_per_epoch:
            return
        # Before the loop checks the weights: a member whose loss or weights are no longer
        # finite fails alone, its weights zeroed so that the others train on.
        stack = self.steps.stack
        sums = torch.as_tensor(self.steps.loss_sums).expand(stack.members)
        finite = torch.isfinite(sums)
        for p in [*stack.weights, *stack.biases]:
            finite &= torch.isfinite(p.detach()).flatten(1).all(1)
        bad = (~finite & stack.active).nonzero().flatten().tolist()
        for position in bad:
            member = self.live[position]
            member.outcome = "fail"
            member.reason = (
                f"the loss became nan at epoch {state.epoch + 1}; lower the learning rate, "
                "scale the inputs or clip gradients"
            )
            with torch.no_grad():
                for p in [*stack.weights, *stack.biases]:
                    p[position] = 0.0
        if bad:
            stack.mask(bad)

    def on_epoch_end(self, state: TrainingState) -> None:
        stack, steps = self.steps.stack, self.steps
        outputs, targets = self._validate(stack)
        train_outputs = torch.cat(steps.outputs, 1) if steps.outputs else None
        train_targets = torch.cat(steps.targets) if steps.targets else None
        extras = {k: v for k, v in state.row.items() if k not in ("epoch", "total_time")
                  and not k.startswith(("train_", "val_"))}  # fmt: skip
        losses = torch.as_tensor(steps.loss_sums).expand(stack.members) / max(steps.rows, 1)
        losses = losses.tolist()
        for position, member in enumerate(self.live):
            if member.outcome is not None:  # failed in this epoch's last step
                continue
            row: dict[str, Any] = {"epoch": state.epoch, "total_time": state.row["total_time"]}
            row["train_loss"] = losses[position]
            row["val_loss"] = float(member.loss_fn(outputs[position], targets))
            if train_outputs is not None:
                scores = compute_all(self.metrics, train_outputs[position], train_targets)
                row.update({f"train_{k}": v for k, v in scores.items()})
            scores = compute_all(self.metrics, outputs[position], targets)
            row.update({f"val_{k}": v for k, v in scores.items()})
            row.update(extras)
            member.rows.append(row)
            self._judge(member, position, state)
        done = [p for p, m in enumerate(self.live) if m.outcome is not None]
        for position in done:
            self.finish(self.live[position], stack, position)
        steps.start_epoch()
        if not done:
            return
        if len(done) == len(self.live):
            self.live = []
            raise StopTraining("every trial of the stack has finished")
        stack.mask(done)
        steps.compact()
        self.live = [m for m in self.live if m.outcome is None]

    def _judge(self, member: Member, position: int, state: TrainingState) -> None:
        row, trial = member.rows[-1], member.trial
        value = float(row[self.spec.metric])
        if math.isfinite(value):
            trial.report(value, state.epoch)
        train = member.config.train
        if member.monitor.update(row) and train.restore_best:
            stack = self.steps.stack
            member.best = [t[position].detach().clone()
                           for t in [*stack.weights, *stack.biases]]  # fmt: skip
        member.wait = 0 if member.monitor.progressed else member.wait + 1  # ties: no progress
        if trial.should_prune():
            member.outcome, member.reason = "pruned", f"pruned after epoch {state.epoch}"
        else:
            stopped = bool(train.early_stopping) and member.wait >= train.early_stopping
            if stopped or state.epoch >= state.epochs:
                member.outcome = "complete"

    def _validate(self, stack: StackedMLP) -> tuple[Tensor, Tensor]:
        was_training = stack.training
        stack.eval()
        outputs, targets = [], []
        try:
            with torch.inference_mode():
                for inputs, target in self.val:
                    outputs.append(stack(inputs))
                    targets.append(target)
        finally:
            stack.train(was_training)
        return torch.cat(outputs, 1), torch.cat(targets)


def train_stack(
    spec: Any, members: list[Member], tell: Callable[[Member], None], stop: Stop | None = None
) -> None:
    """Train ``members`` (trials of one structure, their configs merged over the base) as one
    stack; ``tell(member)`` is called as each one leaves it, its folder written. Raises
    ``TrainingInterrupted`` on SIGINT / SIGTERM, also one that came while the stack was set up
    (``stop``); the members not yet told are then the caller's."""
    first = members[0].config
    seed_everything(first.train.seed)
    prepared = prepare_data(first)
    # The weights a sequential trial starts from: its model built right after the data.
    rng = torch.get_rng_state()
    mlps = []
    for member in members:
        member.config = left_to_the_data(resolve(member.config, prepared.source), prepared)
        torch.set_rng_state(rng)
        mlps.append(build_model(member.config, prepared))
        member.loss_fn = run_loss(member.config, prepared.y_train)
        train = member.config.train
        member.monitor = Monitor(train.monitor, train.monitor_mode, train.min_delta)
        member.monitor.name = member.monitor.name or "val_loss"
    config = members[0].config
    device = resolve_device(config.train.device)
    stack = StackedMLP.from_members(mlps).to(device)
    loss_fn = run_loss(config, prepared.y_train).to(device)
    if config.optim.loss == "cross_entropy":
        loss_fn.label_smoothing = torch.tensor([m.config.optim.label_smoothing or 0.0
                                                for m in members])  # fmt: skip
    optim = config.optim
    optimizer = stacked_optimizer(
        optim.optimizer, stack.parameters(), lr=[m.config.optim.lr for m in members],
        momentum=optim.momentum, nesterov=optim.nesterov,
        weight_decay=[m.config.optim.weight_decay for m in members],
    )  # fmt: skip
    train = config.train
    seed_everything(train.seed)  # as fit seeds: the batch order and dropout from here
    batches = make_batches(prepared.train, train.batch_size, shuffle=True, device=device,
                           seed=train.seed, drop_last=train.drop_last)  # fmt: skip
    val = make_batches(prepared.val, max(train.batch_size, EVAL_BATCH_SIZE), shuffle=False,
                       device=device)  # fmt: skip
    metrics = get_metrics(run_metrics(config, prepared.target_scaler))
    steps = MemberSteps(stack, loss_fn, optimizer, optim.clip_grad_norm, bool(metrics))
    # The schedule is shared (every member's rate scaled alike); the rest is per member.
    shared = train.model_copy(update={"early_stopping": 0, "restore_best": False, "monitor": None})
    controls = training_controls(optim, shared, has_validation=False)

    def finish(member: Member, stack: StackedMLP, position: int) -> None:
        _write_trial(member, stack, position, prepared, metrics, spec)
        tell(member)

    trials = MemberTrials(members, steps, val, metrics, spec, finish)
    trainer = Trainer(
        stack, loss_fn, optimizer, batches, None, epochs=train.epochs, metrics=[],
        device=device, callbacks=[StopIfSignalled(stop or Stop()), *controls, trials],
        threads=train.threads, adaptive_threads=not train.deterministic,
    )  # fmt: skip
    trainer.step = steps  # the stacked step of the trials, in place of the one it picked
    with deterministic_algorithms(train.deterministic):
        trainer.fit()


def _write_trial(member: Member, stack: StackedMLP, position: int, prepared, metrics,
                 spec: Any) -> None:  # fmt: skip
    """The trial's folder and user attributes, as a sequential trial leaves them."""
    config, trial, run_dir = member.config, member.trial, member.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    resolved = config.model_copy(deep=True)
    resolved.out = str(run_dir)
    write_text(run_dir / "config.toml", resolved.to_toml())
    history = pd.DataFrame(member.rows)
    write_text(run_dir / "history.csv", history.to_csv(index=False))
    model = stack.member(position)
    if member.best is not None:
        linears = [m for m in model if isinstance(m, nn.Linear)]
        layers = len(linears)
        with torch.no_grad():
            for i, linear in enumerate(linears):
                linear.weight.copy_(member.best[i].t())
                linear.bias.copy_(member.best[layers + i][0])
    if member.outcome != "fail":
        test: dict[str, float] = {}
        if prepared.test is not None:
            test = evaluate(model, prepared.test, metrics, loss=member.loss_fn)
        write_text(run_dir / "metrics.json", json.dumps(test, indent=2))
        save_model(run_dir, model, model_metadata(config, prepared, member.loss_fn))
    values = [float(v) for v in history[spec.metric]] if len(history) else []
    member.value, epoch = best_of(values, spec.direction)
    trial.set_user_attr("epochs", len(history))
    trial.set_user_attr("best_epoch", epoch)
    trial.set_user_attr("config", resolved.model_dump(mode="json", exclude_none=True))
