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


@pytest.mark.parametrize("scaling", ["robust", "quantile", "standard"])
def test_mlpkit_models_are_scripted_with_imputation_and_indicators(tmp_path, scaling):
    X = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    X[[2, 5], 0] = np.nan  # imputed, with a missing-value indicator
    from mlpkit.models import MLP, WideAndDeep

    preprocessor = Preprocessor(scaling=scaling).fit(X)
    assert preprocessor.fill_ is not None and preprocessor.indicators_ == ["x0"]
    features = X.astype(np.float64 if scaling == "quantile" else np.float32)
    for model, groups in (
        (MLP(4, [4], 2), None),
        (WideAndDeep(2, 4, [4], 2), {"wide": [0, 1], "deep": [0, 1, 2, 3]}),
    ):
        serving = Serving(model, preprocessor, "classification", groups=groups).eval()
        data, info = torchscript.serialize(
            serving, {"features": torch.from_numpy(features[:7])}, {}, None
        )
        assert info == {"method": "scripted"}, type(model).__name__
        (tmp_path / torchscript.FILE).write_bytes(data)
        with torch.no_grad():
            expected = serving(features=torch.from_numpy(features)).numpy()
        run = torchscript.load(tmp_path / torchscript.FILE)
        np.testing.assert_allclose(run({"features": features}), expected, atol=1e-6)
