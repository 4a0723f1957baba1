"""The noisy 1-D regression ``y = x + 2 sin(x) + noise``: a linear model against an MLP with
one tanh hidden layer, trained by SGD one sample at a time (reference chapter 000).

    python examples/03_noisy_regression.py [--epochs 200] [--plot DIR]

``--plot DIR`` draws each model's curve over the data (needs ``pip install 'mlpkit[plots]'``).
"""

import argparse
from pathlib import Path

import numpy as np
import torch

import mlpkit

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=200, help="the chapter: 20 linear, 200 tanh")
parser.add_argument("--plot", type=Path, help="a folder for linear.png and tanh.png")
args = parser.parse_args()

# Unscaled, as in the chapter: x runs from 0 to 20. A validation share scores the two models.
data = mlpkit.DataConfig(
    name="toy_regression", scale_features=False, scale_target=False, test_fraction=0.0
)
config = mlpkit.RunConfig(data=data)
prepared = mlpkit.prepare_data(config)

torch.manual_seed(0)  # the same initial weights on every run
models = {
    "linear": mlpkit.MLP(1, hidden=[], out_features=1),  # nn.Linear(1, 1)
    "tanh": mlpkit.MLP(1, hidden=[10], out_features=1, activation="tanh"),  # Linear, Tanh, Linear
}
for name, model in models.items():
    history = mlpkit.fit(
        model, "mse", prepared.train, prepared.val,
        epochs=args.epochs, batch_size=1, optimizer="sgd", lr=0.001, metrics=["mae"],
    )  # fmt: skip
    last = history.iloc[-1]
    print(f"{name}: validation mse {last['val_loss']:.3f}, mae {last['val_mae']:.3f}")
    if args.plot is not None:
        X, y = prepared.train
        curve = mlpkit.fitted_curve(
            X, y, lambda grid, m=model: mlpkit.predict(m, grid.astype(np.float32)).values,
            args.plot / f"{name}.png",
        )  # fmt: skip
        print(f"{name}: the fitted curve is in {curve}")
