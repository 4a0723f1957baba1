"""Built-in data sets: scikit-learn's bundled ones and the reference chapters' toys."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..registry import Registry
from .bundled import BUNDLED, read_bundled
from .source import LoadedData

BUILTIN: Registry[LoadedData] = Registry("data set")


def _bundled(name: str) -> Callable[..., LoadedData]:
    def load() -> LoadedData:
        table, task = read_bundled(name), BUNDLED[name].task
        y = table.y.astype(np.int64 if task == "classification" else np.float32)
        return LoadedData(
            name=name,
            X=table.X.astype(np.float32),
            y=y,
            task=task,
            feature_names=table.feature_names,
            class_names=table.class_names if task == "classification" else None,
            image_shape=(8, 8) if name == "digits" else None,
            description=table.title,
        )

    return load


for _name in BUNDLED:
    BUILTIN.add(_name, _bundled(_name))


@BUILTIN.register("moons")
def moons(n_samples: int = 1000, noise: float = 0.2, seed: int = 0) -> LoadedData:
    """Two interleaving half circles (the reference chapters' first classification problem)."""
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    return LoadedData(
        name="moons",
        X=X.astype(np.float32),
        y=y.astype(np.int64),
        task="classification",
        feature_names=["x1", "x2"],
        class_names=["0", "1"],
        description=f"two moons, {n_samples} samples, noise {noise}",
    )


@BUILTIN.register("toy_regression")
def toy_regression(n_samples: int = 200, noise: float = 1.0, seed: int = 0) -> LoadedData:
    """The reference chapters' noisy 1-D regression: ``y = x + 2 sin(x) + noise`` on [0, 20]."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 20, num=n_samples)
    y = x + np.sin(x) * 2 + rng.normal(scale=noise, size=x.shape)
    return LoadedData(
        name="toy_regression",
        X=x.reshape(-1, 1).astype(np.float32),
        y=y.astype(np.float32),
        task="regression",
        feature_names=["x"],
        description=f"y = x + 2 sin(x) + noise, {n_samples} samples",
    )
