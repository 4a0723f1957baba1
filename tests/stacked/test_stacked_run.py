"""``mlpkit train --ensemble K``: a run of K stacked members, saved, reloaded, predicted with and
exported as one model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import mlpkit
from mlpkit.config import RunConfig, merge
from mlpkit.errors import ConfigError
from mlpkit.runs.export import export_run
from mlpkit.runs.predict import predict_run
from mlpkit.runs.train import train_run
from mlpkit.stacked import Ensemble


def test_an_ensemble_run_is_saved_reloaded_and_predicts_as_one_model(tmp_path):
    config = merge(
        RunConfig(),
        {"data": "iris", "ensemble": 3, "epochs": 4, "report": False, "threads": 1,
         "out": str(tmp_path / "run")},
    )  # fmt: skip
    result = train_run(config)
    assert result.step == "stacked"
    summary = dict(result.training)["ensemble"]
    assert summary.startswith("3 members, own batch orders; alone val_loss")
    facts = json.loads((result.run_dir / "run.json").read_text())["training"]
    assert facts["members"] == 3 and len(facts["member_scores"]) == 3
    model, metadata = mlpkit.load_model(result.run_dir)
    assert isinstance(model, Ensemble) and metadata["architecture"]["members"] == 3
    features = np.random.default_rng(0).normal(size=(7, 4)).astype(np.float32)
    np.save(tmp_path / "rows.npy", features)
    predictions = predict_run(result.run_dir, tmp_path / "rows.npy", top_k=3)
    probabilities = predictions.filter(like="probability").to_numpy()
    np.testing.assert_allclose(probabilities.sum(1), 1.0, atol=1e-5)  # the 3 classes' share
    with torch.no_grad():  # the mean of the members' probabilities, highest first
        stack_probabilities = torch.softmax(model.stack(model_inputs(result, features)), 2)
    assert np.allclose(np.sort(stack_probabilities.mean(0).numpy(), 1)[:, ::-1], probabilities,
                       atol=1e-5)  # fmt: skip
    # Exported as one model, verified against the eager ensemble when written.
    pytest.importorskip("onnxruntime")
    exported = export_run(result.run_dir, "onnx,pt2")
    assert [f.format for f in exported] == ["onnx", "pt2"]
    assert all(f.max_abs < 1e-4 for f in exported)
    onnx = predict_run(result.run_dir, tmp_path / "rows.npy", top_k=3, engine="onnx")
    np.testing.assert_allclose(onnx.filter(like="probability"), probabilities, atol=1e-4)


def model_inputs(result, features: np.ndarray) -> torch.Tensor:
    """The run's preprocessing applied to raw rows, as the model sees them."""
    from mlpkit.runs.predict import open_predictor

    predictor = open_predictor(result.run_dir, "torch")
    return torch.as_tensor(predictor.inputs(features, "the rows"))


def test_an_ensemble_takes_plain_mlps_and_a_loss_it_can_average():
    with pytest.raises(ConfigError, match="stacks plain MLPs"):
        merge(RunConfig(), {"ensemble": 2, "batch_norm": True})
    config = merge(RunConfig(), {"data": "iris", "ensemble": 2, "loss": "nll", "report": False})
    with pytest.raises(ConfigError, match="cross_entropy or mse"):
        train_run(config)
