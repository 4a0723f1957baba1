"""RealMLP: its parts against hand-written formulas and torch, and the realmlp preset end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from mlpkit import fit, load_model
from mlpkit.callbacks import Callback
from mlpkit.config import build_config
from mlpkit.data.preprocess import Preprocessor
from mlpkit.realmlp import RealMLP, input_plan
from mlpkit.realmlp.model import PBLD, NTKLinear
from mlpkit.runs import predict_run, resume_run, train_run
from mlpkit.schedulers import flat_cos
from samples import StopAfter, classes


def test_pbld_is_each_columns_own_periodic_network_followed_by_the_value():
    torch.manual_seed(0)
    pbld = PBLD(3, frequencies=5, width=4)
    x = torch.randn(7, 3)
    out = pbld(x)
    for j in range(3):
        periodic = torch.cos(2 * math.pi * x[:, j : j + 1] * pbld.frequency[j] + pbld.phase[j])
        expected = periodic @ pbld.weight[j] + pbld.bias[j]
        torch.testing.assert_close(out[:, 3 * j : 3 * j + 3], expected)
    torch.testing.assert_close(out[:, 9:], x)  # the densenet part: the values themselves


def test_the_first_training_batch_starts_layers_at_unit_spread_with_he5_biases():
    torch.manual_seed(0)
    model = RealMLP(6, [32, 16], 3, dropout=0.0)
    x = torch.randn(64, 6) * 5
    model.train()
    model(x)
    assert bool(model.initialized)
    h = model.front(x)
    first = model.layers[0]
    assert isinstance(first, NTKLinear)
    pre = h @ (first.weight / math.sqrt(first.in_features))
    torch.testing.assert_close(pre.std(dim=0, correction=0), torch.ones(32))
    # he+5: each bias is minus a convex combination of that output's values on the batch.
    assert bool((-first.bias >= pre.min(dim=0).values - 1e-5).all())
    assert bool((-first.bias <= pre.max(dim=0).values + 1e-5).all())
    before = [p.detach().clone() for p in model.parameters()]
    model(torch.randn(64, 6))  # later batches do not start again
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))

    loaded = RealMLP(6, [32, 16], 3, dropout=0.0)
    loaded.load_state_dict(model.state_dict())
    loaded.train()
    loaded(x)
    assert all(torch.equal(a, b) for a, b in zip(before, loaded.parameters(), strict=True))


def test_a_category_embedding_is_the_lookup_of_its_one_hot_block():
    torch.manual_seed(0)
    model = RealMLP(5, [8], 1, numeric=[0], embedded=[(1, 4)])
    x = torch.tensor([[0.5, 0.0, 0.0, 1.0, 0.0], [0.5, 0.0, 0.0, 0.0, 0.0]])
    table = model.embeddings[0].table
    front = model.front(x)  # PBLD (4), then the embedding (8); the scale starts at 1
    torch.testing.assert_close(front[0, 4:], table[2])
    torch.testing.assert_close(front[1, 4:], torch.zeros(8))  # an unseen category: all zeros


def test_param_groups_hold_each_parameter_once_with_realmlp_rates_and_decays():
    model = RealMLP(4, [8, 8], 2, numeric=[0, 1], embedded=[(2, 2)])
    groups = model.param_groups(lr=0.1, weight_decay=0.02)
    grouped = [id(p) for g in groups for p in g["params"]]
    assert sorted(grouped) == sorted(id(p) for p in model.parameters())
    rates = {g["kind"]: g["lr"] for g in groups}
    assert rates == pytest.approx(
        dict(weight=0.1, embedding=0.01, categories=0.1, scale=0.6, bias=0.01, activation=0.01)
    )
    # One AdamW step with zero gradients only decays: the scale 36 times as fast as a weight
    # (RealMLP's factors enter squared), a bias not at all.
    optimizer = torch.optim.AdamW(groups, betas=(0.9, 0.95))
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    weight, bias = model.layers[0].weight.detach().clone(), model.layers[0].bias.detach().clone()
    optimizer.step()
    torch.testing.assert_close(model.scale.detach(), torch.full_like(model.scale, 1 - 36 * 0.002))
    torch.testing.assert_close(model.layers[0].weight.detach(), weight * (1 - 0.002))
    torch.testing.assert_close(model.layers[0].bias.detach(), bias)


def test_gradients_are_those_of_the_formula():
    torch.manual_seed(0)
    model = RealMLP(4, [5], 2, numeric=[0, 1], embedded=[(2, 2)], dropout=0.0).double()
    x = torch.randn(6, 4, dtype=torch.float64)
    model.train()
    model(x)  # the data-dependent start
    names = [name for name, _ in model.named_parameters()]

    def outputs(*values):
        return torch.func.functional_call(model, dict(zip(names, values, strict=True)), (x,))

    values = tuple(p.detach().clone().requires_grad_() for p in model.parameters())
    assert torch.autograd.gradcheck(outputs, values)


def test_a_regression_model_predicts_within_its_training_range():
    torch.manual_seed(0)
    model = RealMLP(3, [8], 1, dropout=0.0, output_range=[[-1.0, 2.0]])
    x = torch.randn(50, 3) * 100
    model.train()
    with torch.no_grad():
        wide = model(x)
        model.eval()
        clamped = model(x)
    assert float(wide.min()) < -1.0 or float(wide.max()) > 2.0  # training outputs are not clamped
    assert float(clamped.min()) >= -1.0 and float(clamped.max()) <= 2.0
    torch.testing.assert_close(clamped, wide.clamp(-1.0, 2.0))


class Rates(Callback):
    order = 50  # after the schedule has set the next step's rates

    def __init__(self) -> None:
        self.seen: list[tuple[float, float]] = []

    def on_batch_end(self, state) -> None:
        dropout = next(m for m in state.model.modules() if isinstance(m, torch.nn.Dropout))
        self.seen.append((dropout.p, state.optimizer.param_groups[0]["weight_decay"]))


def test_flat_cos_regularization_holds_dropout_and_decay_then_brings_them_to_zero():
    X, y = classes(n=64)
    rates = Rates()
    model = RealMLP(6, [8], 3, dropout=0.2)
    fit(model, "cross_entropy", (X, y), epochs=4, batch_size=16, optimizer="adamw",
        weight_decay=0.1, regularization_schedule="flat_cos", callbacks=[rates])  # fmt: skip
    # After step k of 16, the next step's rates are the set ones times flat_cos(k / 16).
    for k, (p, decay) in enumerate(rates.seen, start=1):
        assert p == pytest.approx(0.2 * flat_cos(k / 16))
        assert decay == pytest.approx(0.1 * flat_cos(k / 16))


# -- the realmlp preset, end to end ------------------------------------------------------------
def table(n=240, seed=0, regression=False) -> pd.DataFrame:
    """Numbers with gaps, a 20-level category that shifts the target and a 3-level one."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.exponential(size=n) * 100})
    frame["city"] = [f"c{k:02d}" for k in rng.integers(0, 20, size=n)]
    frame["kind"] = rng.choice(["x", "y", "z"], size=n)
    effect = frame["city"].str[1:].astype(int).to_numpy() % 3
    signal = frame["a"].to_numpy() + effect
    frame["y"] = signal + 0.1 * rng.normal(size=n) if regression else (signal > 1).astype(int)
    frame.loc[rng.random(n) < 0.1, "a"] = np.nan
    return frame


@pytest.mark.parametrize(
    ("task", "activation", "lr"), [("classification", "selu", 0.04), ("regression", "mish", 0.2)]
)
def test_the_realmlp_preset_trains_saves_and_predicts_new_rows(tmp_path, task, activation, lr):
    regression = task == "regression"
    table(regression=regression).to_csv(tmp_path / "train.csv", index=False)
    run_dir = tmp_path / "run"
    config = build_config({"data": str(tmp_path / "train.csv"), "target": "y", "task": task,
                           "preset": "realmlp", "epochs": 4, "out": str(run_dir),
                           "report": False})  # fmt: skip
    result = train_run(config)
    assert (
        result.step == "autograd (the model is a RealMLP, not an nn.Sequential such as mlpkit.MLP)"
    )
    saved = result.config
    assert (saved.model.architecture, saved.model.activation, saved.optim.lr) == (
        "realmlp",
        activation,
        lr,
    )
    assert saved.train.monitor == (None if regression else "val_accuracy")
    assert (saved.optim.beta2, saved.optim.scheduler) == (0.95, "coslog4")
    assert saved.optim.regularization_schedule == "flat_cos"
    toml = (run_dir / "config.toml").read_text()
    assert f'activation = "{activation}"' in toml
    architecture = json.loads((run_dir / "model.json").read_text())["architecture"]
    assert architecture["type"] == "RealMLP"
    assert architecture["embedded"] == [[3, 20]]  # a, a's gap indicator, b, then city's block
    assert architecture["numeric"] == [0, 2]

    model, _ = load_model(run_dir)
    assert isinstance(model, RealMLP) and bool(model.initialized)
    new = table(n=30, seed=5, regression=regression).drop(columns="y")
    new.loc[0, "city"] = "never seen"
    new.to_csv(tmp_path / "new.csv", index=False)
    predictions = predict_run(run_dir, tmp_path / "new.csv")
    assert len(predictions) == 30
    if regression:
        y = table(regression=True)["y"]
        values = predictions.iloc[:, 0].to_numpy()
        assert y.min() - 1e-4 <= values.min() and values.max() <= y.max() + 1e-4


def test_a_flag_overrides_the_presets_task_values(tmp_path):
    table().to_csv(tmp_path / "train.csv", index=False)
    config = build_config({"data": str(tmp_path / "train.csv"), "target": "y",
                           "preset": "realmlp", "epochs": 2, "activation": "relu", "lr": 0.01,
                           "out": str(tmp_path / "run"), "report": False})  # fmt: skip
    saved = train_run(config).config
    assert (saved.model.activation, saved.optim.lr) == ("relu", 0.01)


def test_the_input_plan_follows_the_preprocessed_columns():
    frame = table().drop(columns="y")
    plan = input_plan(Preprocessor().fit(frame))
    assert plan == ([0, 2], [(3, 20)])  # kind (3 levels) stays one-hot
    assert input_plan(Preprocessor().fit(frame), one_hot_levels=2) == ([0, 2], [(3, 20), (23, 3)])


def test_a_stopped_realmlp_run_resumes_to_the_same_weights(tmp_path):
    # The data-dependent start, the per-step schedules and the tied-best rule all resume exactly.
    table().to_csv(tmp_path / "train.csv", index=False)

    def config(out):
        return build_config({"data": str(tmp_path / "train.csv"), "target": "y",
                             "preset": "realmlp", "epochs": 4, "batch_size": 32, "threads": 1,
                             "out": str(tmp_path / out), "report": False})  # fmt: skip

    whole = train_run(config("whole"))
    train_run(config("parted"), callbacks=[StopAfter(2)])
    resumed = resume_run(tmp_path / "parted", epochs=4)
    pairs = zip(whole.model.state_dict().values(), resumed.model.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    columns = ["epoch", "train_loss", "val_loss", "val_accuracy"]
    pd.testing.assert_frame_equal(whole.history[columns], resumed.history[columns])


def test_an_ensemble_of_realmlps_is_refused_with_what_to_do():
    from mlpkit.errors import ConfigError

    with pytest.raises(ConfigError, match="an ensemble stacks plain MLPs, not .*'realmlp'"):
        build_config({"preset": "realmlp", "ensemble": 4})
