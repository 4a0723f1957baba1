"""``fit``: the loop assembled from what a user passes (model, loss, data, settings).

Its keywords are the optimization and training settings declared in ``mlpkit.config``, with
the same defaults and checks as ``mlpkit train``'s flags and TOML keys.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..callbacks.base import Callback
from ..callbacks.checkpoint import Checkpoint
from ..callbacks.controls import training_controls
from ..callbacks.early_stopping import EarlyStopping
from ..config import FIT_SETTINGS, OptimConfig, TrainConfig, fit_settings
from ..data.batching import TensorBatcher, make_batches, rows_of
from ..devices import resolve_device
from ..distributed.group import join
from ..distributed.sharding import shard_batches
from ..errors import ConfigError, DataError
from ..inference.evaluation import EVAL_BATCH_SIZE
from ..io.checkpoint_checks import check_progress
from ..io.checkpoint_file import load_checkpoint
from ..losses import named_loss, resolve_loss
from ..metrics import check_labels, get_metrics
from ..nested import call_model, leaves, primary
from ..optim import default_lr, make_optimizer
from ..stacked.model import StackedMLP
from ..stacked.predict import Ensemble
from ..stacked.training import member_scores, stacked_optimizer, task_of
from .defaults import resolve_label_smoothing, resolve_training
from .precision import fall_back_to_fp32, resolve_precision
from .seeding import deterministic_algorithms, seed_everything
from .step_timing import bf16_step_problem
from .trainer import Trainer

log = logging.getLogger(__name__)


def fit(
    model: nn.Module,
    loss: Any,
    train: Any,
    val: Any = None,
    *,
    checkpoint: str | Path | Checkpoint | None = None,
    callbacks: Iterable[Callback] = (),
    loss_weights: Any = None,
    resume_from: str | Path | dict[str, Any] | None = None,
    persistent_workers: bool | None = None,
    **settings: Any,
):
    """Train ``model`` and return the history: a DataFrame with one row per epoch.

    Columns: ``epoch``, ``total_time`` (training seconds so far), ``train_loss``, ``val_loss``
    and ``train_<metric>`` / ``val_<metric>`` for each metric. ``train`` and ``val`` are
    ``(X, y)`` arrays or tensors, a ``Dataset`` or a ``DataLoader``; ``X`` may be a tuple or a
    dict of inputs, ``y`` a tuple or dict of targets (give ``loss`` as a list or dict then,
    with ``loss_weights``). ``df.attrs["step"]`` says whether the fused or autograd step ran,
    ``df.attrs["epochs"]`` how many were planned and ``df.attrs["kept_epoch"]`` whose weights
    the model ends with (the best validation epoch's, by default).
    A ``Dataset`` streams through a ``DataLoader`` with ``num_workers`` worker processes, kept
    alive across epochs unless ``persistent_workers=False``.

    ``checkpoint`` is a folder (or a ``Checkpoint``): ``last.pt`` is written there after every
    epoch (``checkpoint_every``, ``keep_last`` and ``monitor`` say what else is kept).
    ``resume_from`` (a checkpoint file, a folder, or a loaded checkpoint) continues that run up
    to ``epochs`` in total, exactly as if it had not stopped, given the same arguments. SIGINT /
    SIGTERM stop training after the current step with ``TrainingInterrupted``.

    By default the epochs come from the data size (``mlpkit.training.defaults``: about 2,000
    steps), training stops early once the monitored value has not improved for a fifth of them
    (``val_accuracy`` with the accuracy metric and validation data, then with label smoothing
    0.1 for a cross-entropy given by name; else ``val_loss``), and the best validation epoch's
    weights are restored (``restore_best``). A model with ``param_groups(lr, weight_decay)``
    (``RealMLP``) gets its own learning-rate and weight-decay factors per parameter group.

    Every other keyword is a setting of ``mlpkit train`` (the same defaults and checks): the
    optimizer and its options, ``label_smoothing`` and ``class_weights`` for a loss given by
    name, the ``scheduler`` and its options, ``early_stopping``, ``precision="bf16"`` (autocast
    where its steps run faster, timed on the first batch), ``compile=True``, ``threads``...; the
    list is below and in ``mlpkit.config.FIT_SETTINGS``.

    >>> model = mlpkit.MLP(4, [16], 3)  # doctest: +SKIP
    >>> history = mlpkit.fit(model, "cross_entropy", (X, y), epochs=5, lr=0.1, metrics=["accuracy"])
    """
    optim, run = fit_settings(settings)
    device = resolve_device(run.device)
    seed_everything(run.seed)
    group = join(run.dist_timeout)  # a data-parallel run (torchrun, mlpkit train --nproc)
    # The optimizer is built after the move, so that its state lives on the same device.
    model.to(device)
    # K members trained as one: a StackedMLP (wrapped below) or its Ensemble.
    stack = model.stack if isinstance(model, Ensemble) else model
    stack = stack if isinstance(stack, StackedMLP) else None
    build_optimizer = make_optimizer if stack is None else stacked_optimizer
    options: dict[str, Any] = dict(
        lr=optim.lr,
        momentum=optim.momentum,
        nesterov=optim.nesterov,
        weight_decay=optim.weight_decay,
    )
    params: Any = model.parameters()  # an Ensemble's are its stack's
    if stack is None:
        options["betas"] = (0.9, optim.beta2)
        if hasattr(model, "param_groups") and isinstance(optim.optimizer, str):
            # A model with learning-rate and weight-decay factors per parameter (RealMLP).
            lr = default_lr(optim.optimizer) if optim.lr is None else optim.lr
            params = model.param_groups(lr, optim.weight_decay)
    elif optim.beta2 != OptimConfig().beta2:
        raise ConfigError("an ensemble's Adam keeps torch's beta2 of 0.999; leave out beta2")
    opt = build_optimizer(optim.optimizer, params, **options)
    train_batches = make_batches(
        train,
        run.batch_size,
        shuffle=True,
        device=device,
        seed=run.seed,
        drop_last=run.drop_last,
        num_workers=run.num_workers,
        persistent_workers=persistent_workers,
    )
    _no_lone_batchnorm_rows(model, train_batches)
    if (
        stack is not None
        and run.member_batches == "own"
        and isinstance(train_batches, TensorBatcher)
    ):
        train_batches.per_member(stack.members)  # each member its own shuffle order
    threads = run.threads
    if group is not None:
        shard_batches(train_batches, group, run.seed)
        threads = threads or group.threads_per_rank()
    # epochs and early stopping left to the data (None) are decided from the steps per epoch.
    run = resolve_training(run, len(train_batches), has_validation=val is not None)
    val_batches = None
    if val is not None:
        val_batches = make_batches(
            val,
            max(run.batch_size, EVAL_BATCH_SIZE),
            shuffle=False,
            device=device,
            num_workers=run.num_workers,
            persistent_workers=persistent_workers,
        )
        if group is not None:
            shard_batches(val_batches, group, run.seed)
    smoothing = resolve_label_smoothing(optim, run)
    loss_fn = _loss(loss, loss_weights, optim, settings, train_batches, smoothing)
    if isinstance(loss_fn, nn.Module):
        loss_fn.to(device)
    if stack is not None and not isinstance(model, Ensemble):
        model = Ensemble(stack, task_of(loss_fn))  # validated and measured as the members' mean
    _labels_as_indices(loss_fn, train_batches, val_batches)
    _check_model_fits_data(model, train_batches)
    autocast_dtype = resolve_precision(run.precision, device, _probe_shape(model, run.batch_size))
    if autocast_dtype is not None and not run.compile:
        problem = bf16_step_problem(
            model,
            loss_fn,
            opt,
            train_batches,
            device,
            step=run.step,
            clip_grad_norm=optim.clip_grad_norm,
            skip_nonfinite=run.skip_nonfinite,
            threads=run.threads,
        )
        if problem is not None:
            fall_back_to_fp32(device, problem)
            autocast_dtype = None
    callbacks = list(callbacks)
    # A user's own EarlyStopping decides on stopping and best weights instead of the settings.
    own_stopping = any(isinstance(c, EarlyStopping) for c in callbacks)
    controls = training_controls(
        optim,
        run.model_copy(update={"early_stopping": 0}) if own_stopping else run,
        has_validation=val is not None and not own_stopping,
    )
    callbacks = [*controls, *callbacks]
    if checkpoint is not None:
        callbacks.append(_checkpoint(checkpoint, run))
    trainer = Trainer(
        model,
        loss_fn,
        opt,
        train_batches,
        val_batches,
        epochs=run.epochs,
        metrics=get_metrics(run.metrics),
        device=device,
        callbacks=callbacks,
        step=run.step,
        clip_grad_norm=optim.clip_grad_norm,
        skip_nonfinite=run.skip_nonfinite,
        autocast_dtype=autocast_dtype,
        compile=run.compile,
        threads=threads,
        adaptive_threads=not run.deterministic,
        group=group,
    )
    if resume_from is not None:
        _resume(trainer, resume_from, run.epochs)
    if group is not None and group.rank:
        # Each rank its own dropout masks (the weights come from rank 0).
        torch.manual_seed(run.seed + 1_000_003 * group.rank)
    with deterministic_algorithms(run.deterministic):
        history = trainer.fit()
    if isinstance(loss, str) and loss == "cross_entropy":
        history.attrs["label_smoothing"] = smoothing
    if stack is not None:
        history.attrs["members"] = stack.members
        own = getattr(train_batches, "member_rows", None) is not None
        history.attrs["member_batches"] = "own" if own else "shared"
        if val_batches is not None:  # how each member scores alone, beside the ensemble
            history.attrs["member_scores"] = member_scores(
                stack, val_batches, loss_fn, trainer.metrics
            )
    return history


def _loss(
    loss: Any,
    loss_weights: Any,
    optim: OptimConfig,
    given: dict[str, Any],
    batches,
    smoothing: float,
):
    """The loss function: by name with the run's label smoothing and class weights, or the
    user's own (which then owns those options)."""
    if isinstance(loss, str):
        targets = batches.targets if isinstance(batches, TensorBatcher) else None
        return named_loss(loss, smoothing, optim.class_weights, targets)
    if optim.class_weights is not None:
        raise ConfigError("class_weights applies to a loss given by name, e.g. 'cross_entropy'")
    if "label_smoothing" in given and not isinstance(loss, (list, tuple, dict)):
        raise ConfigError(
            "label_smoothing applies to a loss given by name ('cross_entropy'); "
            "set it on your own loss instead"
        )
    return resolve_loss(loss, loss_weights, smoothing)


def _checkpoint(checkpoint: str | Path | Checkpoint, run: TrainConfig) -> Checkpoint:
    """A folder gets the checkpoints the settings ask for; a ``Checkpoint`` keeps its own."""
    if isinstance(checkpoint, Checkpoint):
        return checkpoint
    return Checkpoint.from_settings(checkpoint, run)


def _resume(trainer: Trainer, resume_from: str | Path | dict[str, Any], epochs: int) -> None:
    state = resume_from
    if not isinstance(state, dict):
        # On the CPU: random states must stay there; load_state_dict moves the rest.
        state = load_checkpoint(resume_from, map_location="cpu")
    check_progress(state, "the checkpoint given as resume_from")
    trainer.load_state_dict(state)
    if trainer.epoch > epochs:
        raise ConfigError(
            f"the checkpoint has {trainer.epoch} epochs done; ask for epochs >= {trainer.epoch}"
        )
    log.info("resumed after epoch %d", trainer.epoch)


def _labels_as_indices(loss_fn: Any, *batchers: Any) -> None:
    """Cross-entropy and NLL take class indices: float labels of shape ``(n, 1)`` or ``(n,)``
    holding whole numbers (as the reference chapters build them) become those indices."""
    if type(loss_fn) not in (nn.CrossEntropyLoss, nn.NLLLoss):
        return
    for batches in batchers:
        labels = getattr(batches, "targets", None) if isinstance(batches, TensorBatcher) else None
        if not isinstance(labels, torch.Tensor) or not torch.is_floating_point(labels):
            continue
        if labels.ndim == 2 and labels.shape[1] == 1:  # (n,) floats arrive as (n, 1)
            if not bool((labels == labels.round()).all()):
                raise DataError(
                    "cross-entropy takes class indices, but the labels are real numbers that are "
                    "not whole; give integer class labels 0..classes-1 of shape (n,)"
                )
            batches.targets = labels.reshape(-1).long()


def _no_lone_batchnorm_rows(model: nn.Module, batches: Any) -> None:
    """BatchNorm cannot normalise a training batch of one row (it has no spread): a last batch
    of one row is dropped each epoch (as ``drop_last`` would), and one-row batches refused."""
    if not isinstance(batches, TensorBatcher) or batches.drop_last:
        return
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return
    if batches.batch_size == 1 or batches.num_samples == 1:
        raise ConfigError(
            "BatchNorm cannot train on batches of one row; give batch_size 2 or more (and two "
            "or more training samples), or leave out batch_norm"
        )
    if batches.num_samples % batches.batch_size == 1:
        batches.drop_last = True
        log.warning(
            "the last training batch of each epoch would hold one row, which BatchNorm cannot "
            "normalise; it is dropped (give drop_last=True or another batch size to choose)"
        )


def _probe_shape(model: nn.Module, batch_size: int) -> tuple[int, int, int]:
    """A matrix product typical of one step of ``model``: its largest linear layer's."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        return (batch_size, 256, 256)
    largest = max(linears, key=lambda m: m.weight.numel())
    return (batch_size, largest.in_features, largest.out_features)


def _check_model_fits_data(model: nn.Module, batches) -> None:
    """Run one sample through the model so that shape and label errors say what is wrong."""
    if not isinstance(batches, TensorBatcher):
        return
    inputs = rows_of(batches.inputs, slice(0, 1))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = primary(call_model(model, inputs))
    except RuntimeError as exc:
        widths = [tuple(t.shape[1:]) for t in leaves(inputs)]
        raise DataError(
            f"the model cannot take inputs of shape {widths} ({str(exc).splitlines()[0]}); "
            "give the model as many input features as the data has"
        ) from None
    finally:
        model.train(was_training)
    labels = primary(batches.targets)
    if not torch.is_floating_point(labels) and out.ndim == 2 and out.shape[1] > 1:
        check_labels(labels, out.shape[1])


def _signature() -> inspect.Signature:
    """fit's signature with every setting keyword spelled out, for ``help()`` and editors."""
    own = inspect.signature(fit)
    fixed = [p for p in own.parameters.values() if p.kind is not p.VAR_KEYWORD]
    keywords = [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=s.default, annotation=s.annotation
        )
        for name, s in FIT_SETTINGS.items()
    ]
    return own.replace(parameters=[*fixed, *keywords])


fit.__signature__ = _signature()  # type: ignore[attr-defined]
fit.__doc__ = (
    (fit.__doc__ or "")
    + "\n    Settings (keyword, default: meaning):\n"
    + "".join(f"\n    - ``{name}={s.default!r}``: {s.help}" for name, s in FIT_SETTINGS.items())
)
