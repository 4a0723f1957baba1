"""The stacked step against the oracle: K separate nn.Linear MLPs, trained by autograd and
torch.optim on the mean of their losses, fed the same batches."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from mlpkit.errors import ConfigError, DataError
from mlpkit.stacked import StackedAdam, StackedAdamW, StackedMLP, StackedSGD, StackedStep

K, IN, HIDDEN, OUT = 3, 5, [7, 6], 3
LR = [0.05, 0.02, 0.01]
DECAY = [0.0, 1e-2, 0.1]

# name -> (stacked optimizer, the torch optimizer of member k)
OPTIMIZERS: dict[str, tuple[Callable, Callable]] = {
    "sgd-momentum": (
        lambda ps: StackedSGD(ps, lr=LR, momentum=0.9, weight_decay=DECAY),
        lambda ps, k: torch.optim.SGD(ps, lr=LR[k], momentum=0.9, weight_decay=DECAY[k]),
    ),
    "sgd-nesterov": (
        lambda ps: StackedSGD(ps, lr=LR, momentum=0.8, nesterov=True),
        lambda ps, k: torch.optim.SGD(ps, lr=LR[k], momentum=0.8, nesterov=True),
    ),
    "sgd-dampening": (
        lambda ps: StackedSGD(ps, lr=LR, momentum=0.5, dampening=0.3),
        lambda ps, k: torch.optim.SGD(ps, lr=LR[k], momentum=0.5, dampening=0.3),
    ),
    "adam": (
        lambda ps: StackedAdam(ps, lr=LR, weight_decay=DECAY),
        lambda ps, k: torch.optim.Adam(ps, lr=LR[k], weight_decay=DECAY[k]),
    ),
    "adamw": (
        lambda ps: StackedAdamW(ps, lr=LR, betas=(0.8, 0.9), weight_decay=DECAY),
        lambda ps, k: torch.optim.AdamW(ps, lr=LR[k], betas=(0.8, 0.9), weight_decay=DECAY[k]),
    ),
    # One rate and one decay for every member: torch's own fused kernels do the update.
    "sgd-uniform": (
        lambda ps: StackedSGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-2),
        lambda ps, k: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-2),
    ),
    "adam-uniform": (
        lambda ps: StackedAdam(ps, lr=0.02, weight_decay=1e-2),
        lambda ps, k: torch.optim.Adam(ps, lr=0.02, weight_decay=1e-2),
    ),
    "adamw-uniform": (
        lambda ps: StackedAdamW(ps, lr=0.02),
        lambda ps, k: torch.optim.AdamW(ps, lr=0.02),
    ),
}
LOSSES: dict[str, Callable[[], nn.Module]] = {
    "ce": nn.CrossEntropyLoss,
    "ce-smoothing": lambda: nn.CrossEntropyLoss(label_smoothing=0.1),
    "mse": nn.MSELoss,
}


def plain_mlp(stack: StackedMLP, k: int) -> nn.Sequential:
    """Member k as nn.Linear layers, its weights copied from the stacked tensors directly."""
    layers: list[nn.Module] = []
    for i, (weight, bias) in enumerate(zip(stack.weights, stack.biases, strict=True)):
        linear = nn.Linear(weight.shape[1], weight.shape[2])
        with torch.no_grad():
            linear.weight.copy_(weight[k].t())
            linear.bias.copy_(bias[k, 0])
        layers.append(linear)
        if i < len(stack.weights) - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def batches(loss: nn.Module, count: int, per_member: bool, n: int = 8):
    """Batches of inputs and targets, shared by the members or one per member; the last one is
    smaller, as an epoch's last batch often is."""
    gen = torch.Generator().manual_seed(1)
    lead = (K,) if per_member else ()
    out = []
    for i in range(count):
        rows = n if i < count - 1 else n - 3
        x = torch.randn(*lead, rows, IN, generator=gen)
        if isinstance(loss, nn.CrossEntropyLoss):
            y = torch.randint(0, OUT, (*lead, rows), generator=gen)
        else:
            y = torch.randn(*lead, rows, OUT, generator=gen)
        out.append((x, y))
    return out


def member_batch(x: torch.Tensor, y: torch.Tensor, k: int, per_member: bool):
    return (x[k], y[k]) if per_member else (x, y)


@pytest.mark.parametrize("loss_name", list(LOSSES))
@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
@pytest.mark.parametrize("per_member", [False, True], ids=["shared", "per-member"])
def test_updates_match_separate_autograd_models(loss_name, opt_name, per_member):
    stack = StackedMLP(K, IN, HIDDEN, OUT)
    make_stacked, make_torch = OPTIMIZERS[opt_name]
    loss_fn = LOSSES[loss_name]()
    step = StackedStep(stack, loss_fn, make_stacked(stack.parameters()))
    models = [plain_mlp(stack, k) for k in range(K)]
    opts = [make_torch(m.parameters(), k) for k, m in enumerate(models)]
    for x, y in batches(loss_fn, 4, per_member):
        loss, outputs = step.train_batch(x, y)
        for opt in opts:
            opt.zero_grad()
        member_losses = []
        for k, model in enumerate(models):
            xk, yk = member_batch(x, y, k, per_member)
            member_losses.append(loss_fn(model(xk), yk))
        expected = torch.stack(member_losses).mean()  # TabM: the mean of the members' losses
        expected.backward()
        torch.testing.assert_close(loss, expected.detach(), atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(step.member_losses, torch.stack(member_losses).detach())
        for k, model in enumerate(models):
            linears = [m for m in model if isinstance(m, nn.Linear)]
            for i, linear in enumerate(linears):  # gradients, before the update
                torch.testing.assert_close(stack.weights[i].grad[k], linear.weight.grad.t(),
                                           atol=1e-6, rtol=1e-5)  # fmt: skip
                torch.testing.assert_close(stack.biases[i].grad[k, 0], linear.bias.grad,
                                           atol=1e-6, rtol=1e-5)  # fmt: skip
            torch.testing.assert_close(outputs[k], model(member_batch(x, y, k, per_member)[0]))
        for opt in opts:
            opt.step()
        for k, model in enumerate(models):
            linears = [m for m in model if isinstance(m, nn.Linear)]
            for i, linear in enumerate(linears):
                torch.testing.assert_close(stack.weights[i][k], linear.weight.t(), atol=1e-5,
                                           rtol=0)  # fmt: skip
                torch.testing.assert_close(stack.biases[i][k, 0], linear.bias, atol=1e-5, rtol=0)


def test_own_gradients_train_each_member_as_if_alone():
    stack = StackedMLP(K, IN, HIDDEN, OUT)
    step = StackedStep(stack, nn.MSELoss(), StackedSGD(stack.parameters(), lr=LR),
                       own_gradients=True)  # fmt: skip
    models = [plain_mlp(stack, k) for k in range(K)]
    opts = [torch.optim.SGD(m.parameters(), lr=LR[k]) for k, m in enumerate(models)]
    for x, y in batches(nn.MSELoss(), 3, per_member=False):
        loss, _ = step.train_batch(x, y)
        losses = []
        for model, opt in zip(models, opts, strict=True):
            opt.zero_grad()
            losses.append(nn.functional.mse_loss(model(x), y))
            losses[-1].backward()  # alone: the gradient of its own loss, not of the mean
            opt.step()
        torch.testing.assert_close(loss, torch.stack(losses).mean().detach())
    for k, model in enumerate(models):
        torch.testing.assert_close(stack.weights[0][k], model[0].weight.t(), atol=1e-5, rtol=0)


def test_dropout_draws_the_masks_of_the_models_own_forward():
    # Per-member rates, the first member without dropout; with one seed, the step and autograd
    # through StackedMLP.forward draw the same masks, so they must give the same gradients.
    stack = StackedMLP(K, IN, HIDDEN, OUT, dropout=[0.0, 0.3, 0.6])
    twin = StackedMLP(K, IN, HIDDEN, OUT, dropout=[0.0, 0.3, 0.6])
    step = StackedStep(stack, nn.CrossEntropyLoss(), StackedSGD(stack.parameters(), lr=0.1))
    x, y = torch.randn(16, IN), torch.randint(0, OUT, (16,))
    torch.manual_seed(5)
    loss, _ = step.train_batch(x, y)
    torch.manual_seed(5)
    out = twin(x)
    expected = torch.stack([nn.functional.cross_entropy(out[k], y) for k in range(K)]).mean()
    expected.backward()
    torch.testing.assert_close(loss, expected.detach())
    for mine, theirs in zip(stack.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(mine.grad, theirs.grad, atol=1e-6, rtol=1e-5)
    # The member without dropout gets exactly its gradient without any.
    plain = plain_mlp(twin, 0)
    nn.functional.cross_entropy(plain(x), y).div(K).backward()
    torch.testing.assert_close(stack.weights[0].grad[0], plain[0].weight.grad.t())


def test_dropout_rates_are_each_members_own():
    # 4000 hidden units that are all 1 before dropout, summed by the output layer: the output
    # counts the units kept (each scaled by 1 / keep).
    rates = torch.tensor([0.0, 0.25, 0.75])
    stack = StackedMLP(3, 2, [4000], 1, dropout=rates)
    with torch.no_grad():
        stack.weights[0].zero_()
        stack.biases[0].fill_(1.0)
        stack.weights[1].fill_(1.0)
        stack.biases[1].zero_()
    kept = stack(torch.zeros(1, 2))[:, 0, 0] * (1 - rates) / 4000
    torch.testing.assert_close(1 - kept, rates, atol=0.02, rtol=0)
    stack.eval()  # evaluation mode: no dropout
    torch.testing.assert_close(stack(torch.zeros(1, 2))[:, 0, 0], torch.full((3,), 4000.0))


def test_gradients_are_clipped_per_member_as_separate_runs_would_clip_them():
    stack = StackedMLP(K, IN, HIDDEN, OUT)
    step = StackedStep(stack, nn.MSELoss(), StackedSGD(stack.parameters(), lr=0.1),
                       clip_grad_norm=0.05, own_gradients=True)  # fmt: skip
    models = [plain_mlp(stack, k) for k in range(K)]
    x, y = torch.randn(8, IN) * 3, torch.randn(8, OUT)
    step.train_batch(x, y)
    for k, model in enumerate(models):
        nn.functional.mse_loss(model(x), y).backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.05)
        torch.testing.assert_close(stack.weights[1].grad[k], model[2].weight.grad.t())


def test_a_masked_member_stops_learning_and_counting_in_the_loss():
    stack = StackedMLP(K, IN, HIDDEN, OUT)
    step = StackedStep(stack, nn.MSELoss(), StackedAdamW(stack.parameters(), lr=0.01))
    x, y = torch.randn(8, IN), torch.randn(8, OUT)
    stack.mask([1])
    before = [p.detach().clone() for p in stack.parameters()]
    loss, _ = step.train_batch(x, y)
    for p, old in zip(stack.parameters(), before, strict=True):
        assert torch.equal(p[1], old[1])  # not a single weight moved, not even by decay
        assert not torch.equal(p[0], old[0])
    torch.testing.assert_close(loss, step.member_losses[[0, 2]].mean())


def test_compacting_drops_members_and_the_rest_train_on_unchanged():
    def trained(compact: bool) -> StackedMLP:
        stack = StackedMLP(4, IN, HIDDEN, OUT)
        opt = StackedAdam(stack.parameters(), lr=[0.01, 0.02, 0.03, 0.04])
        step = StackedStep(stack, nn.CrossEntropyLoss(), opt)
        data = batches(nn.CrossEntropyLoss(), 4, per_member=False)
        for i, (x, y) in enumerate(data):
            if i == 2:
                stack.mask([0, 2])
                if compact:
                    assert step.compact().tolist() == [1, 3]
            step.train_batch(x, y)
        return stack

    compacted, masked = trained(True), trained(False)
    assert compacted.members == 2 and compacted.member_ids.tolist() == [1, 3]
    assert compacted.weights[0].shape == (2, IN, HIDDEN[0])
    for small, full in zip(compacted.parameters(), masked.parameters(), strict=True):
        torch.testing.assert_close(small, full[[1, 3]], atol=1e-6, rtol=0)


def test_the_optimizer_resumes_exactly_from_its_state_dict():
    def run(resume: bool) -> torch.Tensor:
        stack = StackedMLP(K, IN, HIDDEN, OUT)
        opt = StackedAdamW(stack.parameters(), lr=LR, weight_decay=DECAY)
        step = StackedStep(stack, nn.MSELoss(), opt)
        data = batches(nn.MSELoss(), 4, per_member=False)
        for i, (x, y) in enumerate(data):
            if resume and i == 2:
                saved = {"model": stack.state_dict(), "opt": opt.state_dict()}
                stack = StackedMLP(K, IN, HIDDEN, OUT, seeds=[7, 8, 9])
                stack.load_state_dict(saved["model"])
                opt = StackedAdamW(stack.parameters(), lr=0.5)
                opt.load_state_dict(saved["opt"])
                step = StackedStep(stack, nn.MSELoss(), opt)
            step.train_batch(x, y)
        return torch.cat([p.detach().flatten() for p in stack.parameters()])

    assert torch.equal(run(True), run(False))


def test_a_scheduler_scales_every_members_rate_alike():
    stack = StackedMLP(2, IN, [], 1)
    opt = StackedSGD(stack.parameters(), lr=[0.1, 0.05])
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    StackedStep(stack, nn.MSELoss(), opt).train_batch(torch.randn(4, IN), torch.randn(4, 1))
    scheduler.step()
    torch.testing.assert_close(opt.member_lr().flatten(), torch.tensor([0.05, 0.025]))


def test_what_the_step_refuses_and_why():
    stack = StackedMLP(K, IN, HIDDEN, OUT)
    with pytest.raises(ConfigError, match="StackedAdamW"):
        StackedStep(stack, nn.MSELoss(), torch.optim.Adam(stack.parameters()))
    opt = StackedAdam(stack.parameters())
    with pytest.raises(ConfigError, match="reduction='sum'"):
        StackedStep(stack, nn.MSELoss(reduction="sum"), opt)
    with pytest.raises(ConfigError, match="L1Loss"):
        StackedStep(stack, nn.L1Loss(), opt)
    step = StackedStep(stack, nn.CrossEntropyLoss(), opt)
    with pytest.raises(DataError, match=r"\(n, 5\) inputs shared"):
        step.train_batch(torch.randn(4, 6), torch.zeros(4, dtype=torch.long))
    with pytest.raises(DataError, match="class indices"):
        step.train_batch(torch.randn(4, IN), torch.zeros(4))
    with pytest.raises(ConfigError, match="one per member"):
        StackedSGD(stack.parameters(), lr=[0.1, 0.2])
