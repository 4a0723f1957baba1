"""The fused step against the oracle: autograd on a copy of the same model, fed the same batches."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable

import pytest
import torch
from torch import nn

from mlpkit.errors import ConfigError, DataError
from mlpkit.models import ACTIVATIONS, MLP
from mlpkit.training.fused import FusedMLPStep, recommended_num_threads
from mlpkit.training.step import AutogradStep

MakeOptimizer = Callable[[list[nn.Parameter]], torch.optim.Optimizer]

OPTIMIZERS: dict[str, MakeOptimizer] = {
    "sgd": lambda ps: torch.optim.SGD(ps, lr=0.1),
    "sgd-momentum": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-2),
    "sgd-nesterov": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.8, nesterov=True),
    "adam": lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=1e-2),
    "adam-amsgrad": lambda ps: torch.optim.Adam(ps, lr=0.01, amsgrad=True),
    "adamw": lambda ps: torch.optim.AdamW(ps, lr=0.01, betas=(0.8, 0.9), weight_decay=0.1),
    "rmsprop": lambda ps: torch.optim.RMSprop(ps, lr=0.01),  # through optimizer.step()
}
LOSSES: dict[str, Callable[[], nn.Module]] = {
    "ce": nn.CrossEntropyLoss,
    "ce-sum": lambda: nn.CrossEntropyLoss(reduction="sum"),
    "ce-weighted": lambda: nn.CrossEntropyLoss(weight=torch.tensor([0.2, 1.0, 3.0])),
    "ce-smoothing": lambda: nn.CrossEntropyLoss(label_smoothing=0.1),
    "mse": nn.MSELoss,
    "mse-sum": lambda: nn.MSELoss(reduction="sum"),
    "l1": nn.L1Loss,
    "huber": nn.HuberLoss,
}


def batches(loss: nn.Module, sizes: list[int], dtype: torch.dtype, seed: int = 0):
    """Input and target batches for a 5-feature, 3-output problem of the loss's kind."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for n in sizes:
        x = torch.randn(n, 5, generator=gen, dtype=dtype)
        if isinstance(loss, nn.CrossEntropyLoss):
            y = torch.randint(0, 3, (n,), generator=gen)
        else:
            y = torch.randn(n, 3, generator=gen, dtype=dtype)
        out.append((x, y))
    return out


def twin_steps(model: nn.Module, loss: nn.Module, make_opt: MakeOptimizer, **kwargs):
    """An autograd step and a fused step on two copies of one model, with their own optimizers."""
    twin = copy.deepcopy(model)
    reference = AutogradStep(model, loss, make_opt(list(model.parameters())), **kwargs)
    fused = FusedMLPStep(twin, loss, make_opt(list(twin.parameters())), **kwargs)
    return reference, fused


def assert_same_training(
    model: nn.Module,
    loss: nn.Module,
    make_opt: MakeOptimizer,
    sizes: tuple[int, ...] = (8, 8, 8, 3),
    dtype: torch.dtype = torch.float64,
    tol: float = 1e-10,
    **kwargs,
) -> tuple[list[float], list[float]]:
    """Step both twins on the same batches; compare loss, outputs, gradients and parameters."""
    model = model.to(dtype)
    loss = loss.to(dtype)
    reference, fused = twin_steps(model, loss, make_opt, **kwargs)
    curves: tuple[list[float], list[float]] = ([], [])
    for i, (x, y) in enumerate(batches(loss, list(sizes), dtype)):
        results = []
        for step, curve in zip((reference, fused), curves, strict=True):
            torch.manual_seed(100 + i)  # the same dropout masks for both
            batch_loss, outputs = step.train_batch(x, y)
            curve.append(batch_loss.item())
            results.append((batch_loss, outputs))
        (ref_loss, ref_out), (loss_, out) = results
        torch.testing.assert_close(loss_, ref_loss, atol=tol, rtol=tol)
        torch.testing.assert_close(out, ref_out, atol=tol, rtol=tol)
        pairs = zip(reference.model.named_parameters(), fused.model.parameters(), strict=True)
        for (name, p_ref), p in pairs:
            assert p.grad is not None, name
            torch.testing.assert_close(p.grad, p_ref.grad, atol=tol, rtol=tol, msg=name)
            torch.testing.assert_close(p, p_ref, atol=tol, rtol=tol, msg=name)
        for b_ref, b in zip(reference.model.buffers(), fused.model.buffers(), strict=True):
            torch.testing.assert_close(b, b_ref, atol=tol, rtol=tol)  # BatchNorm running stats
    assert_same_state(reference.optimizer, fused.optimizer, tol)
    return curves


def assert_same_state(ref: torch.optim.Optimizer, opt: torch.optim.Optimizer, tol: float) -> None:
    ref_state, state = ref.state_dict(), opt.state_dict()
    assert state["param_groups"] == ref_state["param_groups"]
    assert state["state"].keys() == ref_state["state"].keys()
    for key, ref_entry in ref_state["state"].items():
        assert state["state"][key].keys() == ref_entry.keys()
        for name, value in ref_entry.items():
            torch.testing.assert_close(state["state"][key][name], value, atol=tol, rtol=tol)


def mlp(**kwargs) -> MLP:
    torch.manual_seed(0)
    return MLP(5, [7, 6], 3, **kwargs)


@pytest.mark.parametrize("activation", ACTIVATIONS.names())
@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_every_activation_matches_autograd(activation: str, loss: str) -> None:
    assert_same_training(mlp(activation=activation), LOSSES[loss](), OPTIMIZERS["sgd-momentum"])


@pytest.mark.parametrize("loss", LOSSES)
def test_every_loss_matches_autograd(loss: str) -> None:
    assert_same_training(mlp(activation="tanh"), LOSSES[loss](), OPTIMIZERS["adamw"])


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_matches_autograd(optimizer: str) -> None:
    assert_same_training(mlp(activation="relu"), nn.CrossEntropyLoss(), OPTIMIZERS[optimizer])


@pytest.mark.parametrize("optimizer", ["sgd-momentum", "adam"])
def test_optimizer_step_path_matches_fused_kernels(optimizer: str) -> None:
    kwargs = {"fused_update": False}
    reference, fused = twin_steps(mlp(), nn.CrossEntropyLoss(), OPTIMIZERS[optimizer])
    slow = FusedMLPStep(reference.model, reference.loss_fn, reference.optimizer, **kwargs)
    for x, y in batches(nn.CrossEntropyLoss(), [8] * 4, torch.float32):
        slow.train_batch(x, y)
        fused.train_batch(x, y)
    for p_slow, p in zip(slow.model.parameters(), fused.model.parameters(), strict=True):
        torch.testing.assert_close(p, p_slow)
    assert_same_state(slow.optimizer, fused.optimizer, tol=1e-5)


def test_first_gradients_equal_autograd_before_any_update() -> None:
    model, loss = mlp(activation="gelu"), nn.CrossEntropyLoss()
    (x, y), *_ = batches(loss, [6], torch.float32)
    expected = torch.autograd.grad(loss(model(x), y), list(model.parameters()))
    step = FusedMLPStep(model, loss, torch.optim.SGD(model.parameters(), lr=0.0))
    step.train_batch(x, y)
    for p, grad in zip(model.parameters(), expected, strict=True):
        torch.testing.assert_close(p.grad, grad)


def test_float32_loss_curve_matches_autograd() -> None:
    torch.manual_seed(0)
    model = MLP(5, [32, 16], 3, activation="relu")
    ref, fused = assert_same_training(
        model, nn.CrossEntropyLoss(), OPTIMIZERS["sgd-momentum"], (16,) * 20, torch.float32, 1e-5
    )
    assert ref[-1] < ref[0]  # it does learn
    assert fused == pytest.approx(ref, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_batch_norm_and_dropout_match_autograd(dropout: float) -> None:
    model = mlp(activation="silu", batch_norm=True, dropout=dropout)
    assert_same_training(model, nn.MSELoss(), OPTIMIZERS["adam"])


def test_dropout_and_batch_norm_in_eval_mode() -> None:
    model = mlp(batch_norm=True, dropout=0.5)
    model(torch.randn(16, 5))  # some running statistics
    model.eval()
    assert_same_training(model, nn.CrossEntropyLoss(), OPTIMIZERS["sgd"])


def test_gradient_clipping_matches_autograd() -> None:
    model = mlp(activation="leaky_relu")
    assert_same_training(model, nn.MSELoss(), OPTIMIZERS["sgd-momentum"], clip_grad_norm=0.1)


def test_linear_model_without_bias_or_hidden_layers() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4, bias=False), nn.Tanh(), nn.Linear(4, 3, bias=False))
    assert_same_training(model, nn.CrossEntropyLoss(), OPTIMIZERS["adam"])
    assert_same_training(MLP(5, [], 3), nn.MSELoss(), OPTIMIZERS["sgd-momentum"])


def test_smaller_batches_and_kept_outputs() -> None:
    model, loss = mlp(), nn.CrossEntropyLoss()
    step = FusedMLPStep(model, loss, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    data = batches(loss, [8, 3, 8, 1, 12], torch.float32)
    kept = []
    for x, y in data:
        batch_loss, outputs = step.train_batch(x, y)
        assert outputs.shape == (len(x), 3)
        kept.append((batch_loss.clone(), outputs.clone(), batch_loss, outputs))
    for loss_copy, out_copy, batch_loss, outputs in kept:  # later batches overwrote nothing
        assert torch.equal(batch_loss, loss_copy) and torch.equal(outputs, out_copy)
    assert_same_training(mlp(), loss, OPTIMIZERS["adam"], sizes=(8, 3, 8, 1, 12))


def test_learning_rate_changes_are_honoured() -> None:
    model, loss = mlp(), nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    step = FusedMLPStep(model, loss, opt)
    (x, y), *_ = batches(loss, [8], torch.float32)
    step.train_batch(x, y)
    step.train_batch(x, y)
    opt.param_groups[0]["lr"] = 0.0
    before = [p.clone() for p in model.parameters()]
    step.train_batch(x, y)
    assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before, strict=True))


def test_scheduled_training_matches_autograd() -> None:
    model, loss = mlp(), nn.CrossEntropyLoss()
    reference, fused = twin_steps(model, loss, OPTIMIZERS["adam"])
    schedulers = [torch.optim.lr_scheduler.StepLR(s.optimizer, 2, 0.1) for s in (reference, fused)]
    for x, y in batches(loss, [8] * 6, torch.float32):
        for step, scheduler in zip((reference, fused), schedulers, strict=True):
            step.train_batch(x, y)
            scheduler.step()
    for p_ref, p in zip(reference.model.parameters(), fused.model.parameters(), strict=True):
        torch.testing.assert_close(p, p_ref)


@pytest.mark.parametrize("optimizer", ["sgd-momentum", "adamw"])
def test_resume_from_state_dicts_continues_exactly(optimizer: str) -> None:
    loss = nn.CrossEntropyLoss()
    data = batches(loss, [8] * 6, torch.float32)
    model = mlp()
    step = FusedMLPStep(model, loss, OPTIMIZERS[optimizer](list(model.parameters())))
    for x, y in data[:3]:
        step.train_batch(x, y)
    saved = copy.deepcopy((model.state_dict(), step.optimizer.state_dict()))
    for x, y in data[3:]:
        step.train_batch(x, y)

    resumed = mlp()
    resumed.load_state_dict(saved[0])
    opt = OPTIMIZERS[optimizer](list(resumed.parameters()))
    opt.load_state_dict(saved[1])
    step2 = FusedMLPStep(resumed, loss, opt)
    for x, y in data[3:]:
        step2.train_batch(x, y)
    for p, p_resumed in zip(model.parameters(), resumed.parameters(), strict=True):
        torch.testing.assert_close(p_resumed, p, atol=0, rtol=0)


class Square(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * x


def _sgd(model: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=0.1)


@pytest.mark.parametrize(
    ("model", "loss", "make_opt", "reason"),
    [
        (nn.Sequential(nn.Linear(5, 4), Square()), nn.MSELoss(), _sgd, "Square"),
        (nn.Sequential(nn.Linear(5, 4), nn.Softmax(1)), nn.MSELoss(), _sgd, "Softmax"),
        (nn.Sequential(nn.BatchNorm1d(5)), nn.MSELoss(), _sgd, "no nn.Linear"),
        (nn.Linear(5, 4), nn.MSELoss(), _sgd, "not an nn.Sequential"),
        (mlp(), nn.KLDivLoss(), _sgd, "KLDivLoss"),
        (mlp(), nn.MSELoss(reduction="none"), _sgd, "reduction='none'"),
        (mlp(), nn.functional.mse_loss, _sgd, "function"),
        (mlp(), nn.MSELoss(), lambda m: torch.optim.LBFGS(m.parameters()), "LBFGS"),
        (mlp(), nn.MSELoss(), lambda m: torch.optim.SGD([nn.Parameter(torch.ones(1))]), "not"),
    ],
)
def test_unsupported_cases_say_why(model, loss, make_opt, reason: str) -> None:
    opt = make_opt(model)
    assert not FusedMLPStep.supports(model, loss, opt)
    assert reason in FusedMLPStep.why_not(model, loss, opt)
    with pytest.raises(ConfigError, match="fused step cannot"):
        FusedMLPStep(model, loss, opt)


def test_frozen_parameters_and_hooks_are_refused() -> None:
    model = mlp()
    model[0].bias.requires_grad_(False)
    assert "frozen" in FusedMLPStep.why_not(model, nn.MSELoss(), _sgd(model))
    model = mlp()
    model[2].register_forward_hook(lambda *args: None)
    assert "hook" in FusedMLPStep.why_not(model, nn.MSELoss(), _sgd(model))


def test_mlp_is_supported() -> None:
    model = MLP(4, [8, 8], 2, activation="gelu", dropout=0.1, batch_norm=True)
    for opt in OPTIMIZERS.values():
        assert (
            FusedMLPStep.why_not(model, nn.CrossEntropyLoss(), opt(list(model.parameters())))
            is None
        )


def test_inputs_must_be_one_matrix() -> None:
    model = mlp()
    step = FusedMLPStep(model, nn.MSELoss(), _sgd(model))
    with pytest.raises(DataError, match="autograd step"):
        step.train_batch((torch.randn(2, 5),), torch.randn(2, 3))


def test_recommended_num_threads() -> None:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    for batch in (1, 32, 256, 4096):
        threads = recommended_num_threads(batch, 784, [300, 100, 10])
        assert 1 <= threads <= cores
    assert recommended_num_threads(8, 4, [8, 1]) == 1  # far too little work to share
    assert recommended_num_threads(256, 784, [300, 100, 10]) == cores  # 288 MFLOP a step


def test_the_fused_step_refuses_a_torch_it_is_not_tested_with():
    from mlpkit.training.fused.step import TESTED_TORCH, torch_problem

    # It calls private ATen and fused-optimizer kernels, whose signatures change between releases.
    assert torch_problem("2.13.0+cpu") is None and "2.13" in TESTED_TORCH
    problem = torch_problem("2.14.1")
    assert problem is not None and problem.startswith("torch 2.14.1 is not a release")
    assert problem.endswith("install torch 2.13 for the fused step")
