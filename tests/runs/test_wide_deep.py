"""Wide & Deep: the reference chapters' model with two named inputs and an auxiliary output,
from the Python API and from ``mlpkit train`` (input groups, saving, evaluation, prediction,
resume)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from mlpkit import MLP, WideAndDeep, fit, load_model, resume_run
from mlpkit.config import build_config
from mlpkit.errors import ConfigError
from mlpkit.losses import WeightedLoss
from mlpkit.runs import evaluate_run, predict_run, train_run

SRC = str(Path(__file__).resolve().parents[2] / "src")


def table(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    """A regression target with a linear part in a, b and a non-linear part in c, d."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, 4)), columns=["a", "b", "c", "d"])
    frame["price"] = 3 * frame.a - 2 * frame.b + np.sin(2 * frame.c) * frame.d
    frame["price"] += rng.normal(scale=0.05, size=rows)
    return frame


@pytest.fixture(scope="module")
def csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wide_deep") / "houses.csv"
    table().to_csv(path, index=False)
    return path


def config(csv: Path, out: Path, epochs: int = 30, **overrides):
    settings = {
        "data": str(csv),
        "target": "price",
        "architecture": "wide_deep",
        "groups": {"wide": ["a", "b"], "deep": ["b", "c", "d"]},
        "hidden": [32, 16],
        "aux_weight": 0.2,
        "epochs": epochs,
        "batch_size": 32,
        "lr": 0.01,
        "scale_target": True,
        "seed": 3,
        "out": str(out),
    }
    return build_config({**settings, **overrides})


def test_the_wide_input_skips_the_deep_part_and_the_auxiliary_output_sees_only_it():
    torch.manual_seed(0)
    model = WideAndDeep(2, 3, [8], 1, aux_output=True)
    wide, deep = torch.randn(5, 2), torch.randn(5, 3)
    main, aux = model(wide=wide, deep=deep)
    hidden = model.deep(deep)
    expected = hidden @ model.output.weight[:, 2:].T + wide @ model.output.weight[:, :2].T
    torch.testing.assert_close(main, expected + model.output.bias)
    torch.testing.assert_close(aux, model.aux(hidden))
    single = WideAndDeep(4, hidden=[8], out_features=3)
    assert single(torch.randn(5, 4)).shape == (5, 3)  # one input feeds both paths


def test_one_target_is_shared_by_every_output_of_a_weighted_loss():
    main, aux, y = torch.randn(6, 1), torch.randn(6, 1), torch.randn(6, 1)
    loss = WeightedLoss([nn.MSELoss(), nn.MSELoss()], [0.8, 0.2])((main, aux), y)
    expected = 0.8 * nn.functional.mse_loss(main, y) + 0.2 * nn.functional.mse_loss(aux, y)
    torch.testing.assert_close(loss, expected)


def test_fit_trains_wide_and_deep_on_dict_batches_better_than_its_wide_part_alone():
    frame = table()
    X = torch.tensor(frame[["a", "b", "c", "d"]].to_numpy(), dtype=torch.float32)
    y = torch.tensor(frame[["price"]].to_numpy(), dtype=torch.float32)
    inputs = {"wide": X[:, :2], "deep": X[:, 1:]}
    train = ({k: v[:500] for k, v in inputs.items()}, y[:500])
    val = ({k: v[500:] for k, v in inputs.items()}, y[500:])
    torch.manual_seed(0)
    model = WideAndDeep(2, 3, [32, 16], 1, aux_output=True)
    history = fit(
        model, ["mse", "mse"], train, val, loss_weights=[0.8, 0.2], epochs=40,
        batch_size=32, optimizer="adam", lr=0.02, metrics=["r2"], seed=0,
    )  # fmt: skip
    assert history.attrs["step"] == "autograd"
    linear = fit(
        MLP(2, [], 1), "mse", (train[0]["wide"], train[1]), (val[0]["wide"], val[1]),
        epochs=40, batch_size=32, optimizer="adam", lr=0.02, metrics=["r2"], seed=0,
    )  # fmt: skip
    # The wide inputs alone explain about 94% of the variance: the deep part must add to it.
    assert history["val_r2"].iloc[-1] > linear["val_r2"].iloc[-1] + 0.02


def test_train_run_saves_a_model_that_predicts_and_evaluates_like_the_trained_one(csv, tmp_path):
    result = train_run(config(csv, tmp_path / "run"))
    assert result.test_metrics["r2"] > 0.95
    metadata = json.loads((tmp_path / "run" / "model.json").read_text())
    assert metadata["architecture"]["type"] == "WideAndDeep"
    assert metadata["input_groups"] == {"wide": [0, 1], "deep": [1, 2, 3]}
    model, _ = load_model(tmp_path / "run")
    assert isinstance(model, WideAndDeep) and model.aux_output
    # The same loss as in training (0.8 main + 0.2 auxiliary), on the same test split.
    evaluated = evaluate_run(tmp_path / "run")
    assert evaluated == pytest.approx(result.test_metrics, rel=1e-5)
    new = table(20, seed=9)
    predicted = predict_run(tmp_path / "run", _write(new.drop(columns="price"), tmp_path))
    assert np.corrcoef(predicted["prediction"], new["price"])[0, 1] > 0.97


def _write(frame: pd.DataFrame, folder: Path) -> Path:
    path = folder / "new.csv"
    frame.to_csv(path, index=False)
    return path


def test_wide_and_deep_resumes_to_the_run_that_would_have_been(csv, tmp_path):
    one_go = train_run(config(csv, tmp_path / "a", epochs=4, dropout=0.2))
    train_run(config(csv, tmp_path / "b", epochs=2, dropout=0.2))
    resumed = resume_run(tmp_path / "b", epochs=4)
    for (name, a), b in zip(
        one_go.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    columns = [c for c in one_go.history.columns if c != "total_time"]
    pd.testing.assert_frame_equal(one_go.history[columns], resumed.history[columns])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"architecture": "mlp", "aux_weight": 0.0}, "set architecture = 'wide_deep'"),
        ({"groups": {"wide": ["a"], "side": ["b"]}}, "takes the input groups wide and deep"),
        ({"groups": {"wide": ["a"], "deep": ["zz"]}}, "unknown column 'zz'"),
        ({"hidden": []}, "needs at least one hidden layer"),
        ({"architecture": "mlp"}, "aux_weight is for architecture = 'wide_deep'"),
    ],
)
def test_settings_that_cannot_build_a_wide_and_deep_run_say_what_to_do(
    csv, tmp_path, overrides, message
):
    with pytest.raises(ConfigError, match=message):
        train_run(config(csv, tmp_path / "run", epochs=1, **overrides))
    assert not (tmp_path / "run").exists()


def test_the_command_trains_wide_and_deep_from_column_flags(csv, tmp_path):
    args = [
        "train", "--data", csv, "--target", "price", "--architecture", "wide_deep",
        "--wide", "a,b", "--deep", "b,c,d", "--aux-weight", "0.2", "--hidden", "32,16",
        "--epochs", "3", "--out", "run",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "mlpkit"]
    done = subprocess.run(
        [*command, *map(str, args)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    saved = (tmp_path / "run" / "config.toml").read_text()
    assert 'architecture = "wide_deep"' in saved and "aux_weight = 0.2" in saved
    rerun = subprocess.run(
        [*command, "train", "run/config.toml", "--out", "again"],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    first = json.loads((tmp_path / "run" / "metrics.json").read_text())
    second = json.loads((tmp_path / "again" / "metrics.json").read_text())
    assert first == second
