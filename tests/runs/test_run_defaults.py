"""What mlpkit train fills in and builds from a config: defaults written out in config.toml,
the model each loss needs, and a loss that does not fit the task refused before anything is
written."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer

from mlpkit import load_model
from mlpkit.config import build_config, load_config
from mlpkit.errors import ConfigError
from mlpkit.runs import predict_run, train_run


def config(tmp_path, data, loss, **settings):
    values = {"data": data, "loss": loss, "hidden": [16], "epochs": 30, "lr": 0.01, "seed": 0}
    return build_config({**values, **settings, "out": str(tmp_path / "run")})


def test_nll_trains_a_model_with_a_log_softmax_head(tmp_path):
    result = train_run(config(tmp_path, "iris", "nll"))
    assert isinstance(result.model[-1], torch.nn.LogSoftmax)
    losses = result.history["train_loss"]
    assert (losses > 0).all() and losses.iloc[-1] < losses.iloc[0] / 4  # a real likelihood
    assert result.test_metrics["accuracy"] > 0.9
    model, _ = load_model(tmp_path / "run")
    probabilities = model(torch.randn(5, 4)).exp().sum(dim=1)
    torch.testing.assert_close(probabilities, torch.ones(5))


def test_bce_with_logits_trains_one_output_for_two_classes(tmp_path):
    result = train_run(config(tmp_path, "breast_cancer", "bce_with_logits", epochs=10))
    assert result.model[-1].out_features == 1
    assert result.test_metrics["accuracy"] > 0.9
    bunch = load_breast_cancer(as_frame=True)
    bunch.frame.drop(columns="target").to_csv(tmp_path / "new.csv", index=False)
    predicted = predict_run(tmp_path / "run", tmp_path / "new.csv")
    truth = np.asarray(bunch.target_names)[bunch.target]
    assert (predicted["class"].to_numpy() == truth).mean() > 0.9
    assert predicted["probability"].between(0.5, 1.0).all()  # the chosen class's probability


@pytest.mark.parametrize(
    ("data", "loss", "message"),
    [
        ("iris", "mse", "loss mse is for regression, but iris is a classification task"),
        ("diabetes", "cross_entropy", "is for classification, but diabetes is a regression"),
        ("iris", "bce_with_logits", "bce_with_logits is for two classes, but iris has 3"),
    ],
)
def test_a_loss_that_does_not_fit_the_task_is_refused(tmp_path, data, loss, message):
    with pytest.raises(ConfigError, match=message):
        train_run(config(tmp_path, data, loss, epochs=1))
    assert not (tmp_path / "run").exists()


def test_config_toml_names_the_defaults_the_run_used(tmp_path):
    train_run(build_config({"data": "wine", "optimizer": "sgd", "epochs": 1, "out": str(tmp_path)}))
    saved = load_config(tmp_path / "config.toml")
    assert saved.optim.loss == "cross_entropy" and saved.optim.lr == 0.01
    assert saved.train.metrics == ["accuracy", "f1"] and saved.data.task == "classification"
