"""TorchScript: scripted where it can be, traced with a warning where it cannot."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from mlpkit.data.preprocess import Preprocessor
from mlpkit.export import torchscript
from mlpkit.export.serving import Serving


class TwoHeads(nn.Module):
    """Sums two linear maps with a generator expression, which TorchScript cannot compile."""

    def __init__(self) -> None:
        super().__init__()
        self.heads = nn.ModuleList([nn.Linear(3, 2), nn.Linear(3, 2)])
        self.out_features = 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sum(head(x) for head in self.heads)  # type: ignore[return-value]


def test_a_model_that_cannot_be_scripted_is_traced_with_a_warning_and_still_matches(tmp_path):
    X = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    serving = Serving(TwoHeads(), Preprocessor().fit(X), "classification").eval()
    example = {"features": torch.from_numpy(X[:7])}
    with pytest.warns(RuntimeWarning, match="traced it instead.*branches on input values"):
        data, info = torchscript.serialize(serving, example, {}, None)
    assert info == {"method": "traced"}
    (tmp_path / torchscript.FILE).write_bytes(data)
    run = torchscript.load(tmp_path / torchscript.FILE)
    with torch.no_grad():
        expected = serving(features=torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(run({"features": X}), expected, atol=1e-6)  # any batch size


def test_mlpkit_models_are_scripted(tmp_path):
    X = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    from mlpkit.models import MLP, WideAndDeep

    for model, groups in (
        (MLP(3, [4], 2), None),
        (WideAndDeep(2, 3, [4], 2), {"wide": [0, 1], "deep": [0, 1, 2]}),
    ):
        serving = Serving(model, Preprocessor().fit(X), "classification", groups=groups).eval()
        _, info = torchscript.serialize(serving, {"features": torch.from_numpy(X[:7])}, {}, None)
        assert info == {"method": "scripted"}, type(model).__name__
