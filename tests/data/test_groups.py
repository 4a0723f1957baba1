"""Named input groups: batches are dicts that reach a two-input model by keyword."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from mlpkit import fit
from mlpkit.config import load_config
from mlpkit.data.batching import make_batches
from mlpkit.data.prepare import prepare_data
from mlpkit.data.split import split_indices
from mlpkit.errors import ConfigError
from mlpkit.runs import train_run

GROUPS_TOML = """
[data]
name = "{path}"
target = "price"
scale_target = true

[data.groups]
wide = ["size", "rooms"]
deep = ["rooms", "city"]
"""


class WideAndDeep(nn.Module):
    """The reference chapters' model: the wide inputs skip the hidden layers."""

    def __init__(self, n_wide: int, n_deep: int) -> None:
        super().__init__()
        self.deep_stack = nn.Sequential(nn.Linear(n_deep, 16), nn.ReLU(), nn.Linear(16, 8))
        self.output_layer = nn.Linear(n_wide + 8, 1)

    def forward(self, wide: torch.Tensor, deep: torch.Tensor) -> torch.Tensor:
        return self.output_layer(torch.cat([wide, self.deep_stack(deep)], dim=1))


@pytest.fixture
def groups_config(tmp_path, houses_csv):
    path = tmp_path / "config.toml"
    path.write_text(GROUPS_TOML.format(path=houses_csv))
    return load_config(path)


def test_groups_select_overlapping_columns_with_their_one_hot_indicators(groups_config):
    prepared = prepare_data(groups_config)
    inputs, _ = prepared.train

    assert prepared.preprocessor.output_names_ == [
        "size", "rooms", "city=lyon", "city=nice", "city=paris"
    ]  # fmt: skip
    rows = split_indices(prepared.source, seed=0).train
    full = prepared.preprocessor.transform(prepared.source.X.iloc[rows])
    assert set(inputs) == {"wide", "deep"}
    np.testing.assert_array_equal(inputs["wide"], full[:, [0, 1]])
    np.testing.assert_array_equal(inputs["deep"], full[:, [1, 2, 3, 4]])


def test_a_two_input_model_trains_on_dict_batches_from_groups(groups_config):
    prepared = prepare_data(groups_config)
    torch.manual_seed(0)
    model = WideAndDeep(n_wide=2, n_deep=4)
    seen = []

    class Spy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, wide, deep):
            seen.append((wide.shape[1], deep.shape[1]))
            return self.inner(wide=wide, deep=deep)

    history = fit(Spy(), "mse", prepared.train, prepared.val, epochs=15, lr=0.03, optimizer="adam")

    assert set(seen) == {(2, 4)}
    assert history["val_loss"].iloc[-1] < 0.2 * history["val_loss"].iloc[0]


def test_streamed_batches_are_dicts_too(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "d.npy", rng.random((50, 5), dtype=np.float32))
    path = tmp_path / "c.toml"
    path.write_text(
        f'[data]\nname = "{tmp_path / "d.npy"}"\nstream = true\n'
        '[data.groups]\nwide = ["x0"]\ndeep = ["x1", "x2", "x3"]\n'
    )
    prepared = prepare_data(load_config(path))
    inputs, targets = next(iter(make_batches(prepared.train, 8, shuffle=True, device="cpu")))
    assert inputs["wide"].shape == (8, 1) and inputs["deep"].shape == (8, 3)
    assert targets.shape == (8, 1)


def test_unknown_group_column_lists_the_known_ones(tmp_path, houses_csv):
    path = tmp_path / "c.toml"
    path.write_text(f'[data]\nname = "{houses_csv}"\n[data.groups]\nwide = ["sise"]\n')
    with pytest.raises(ConfigError, match="unknown column 'sise'; choose from: size, rooms, city"):
        prepare_data(load_config(path))


def test_mlpkit_train_refuses_groups_before_writing_anything(groups_config, tmp_path):
    groups_config.out = str(tmp_path / "run")
    with pytest.raises(ConfigError, match="input groups feed a model that takes named inputs"):
        train_run(groups_config)
    assert not (tmp_path / "run").exists()
