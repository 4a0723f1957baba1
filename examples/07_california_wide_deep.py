"""California housing with a Wide & Deep model: five features take the wide path straight to the
output, six go through the deep part, and an auxiliary output on the deep part alone regularises
it with a fifth of the loss (reference chapter 001).

California housing is downloaded on first use (about 0.5 MB) into ``$MLPKIT_DATA`` or
``~/.cache/mlpkit``. The same model from the command line::

    mlpkit train --data california_housing --architecture wide_deep --wide MedInc,... \
                 --deep AveRooms,... --aux-weight 0.2

Run it as::

    python examples/07_california_wide_deep.py [--epochs 20]
"""

import argparse
import sys

import torch

import mlpkit

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=20)
args = parser.parse_args()

# The chapter's X[:, :5] and X[:, 2:], by name; they overlap in AveRooms, AveBedrms, Population.
wide = ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population"]
deep = ["AveRooms", "AveBedrms", "Population", "AveOccup", "Latitude", "Longitude"]
data = mlpkit.DataConfig(
    name="california_housing", groups={"wide": wide, "deep": deep}, scale_target=False
)
try:
    prepared = mlpkit.prepare_data(mlpkit.RunConfig(data=data))
except mlpkit.DownloadError as error:
    sys.exit(f"this example needs California housing, which could not be downloaded: {error}")
inputs, y_train = prepared.train  # inputs: {"wide": (n, 5), "deep": (n, 6)}, scaled
print({name: array.shape for name, array in inputs.items()}, "->", y_train.shape)

torch.manual_seed(0)  # the same initial weights on every run
model = mlpkit.WideAndDeep(len(wide), len(deep), hidden=[50, 40], aux_output=True)
# The model returns (main, auxiliary); both predict the same target, so one target serves both,
# and the loss is 0.8 * main + 0.2 * auxiliary. Metrics and predictions use the main output.
history = mlpkit.fit(
    model, ["mse", "mse"], prepared.train, prepared.val, loss_weights=[0.8, 0.2],
    epochs=args.epochs, batch_size=32, optimizer="sgd", lr=0.002, metrics=["rmse"],
)  # fmt: skip
print(history[["epoch", "train_loss", "val_loss", "val_rmse"]].tail(3).to_string(index=False))

test = mlpkit.evaluate(model, prepared.test, ["rmse", "r2"])
print(f"test rmse {test['rmse']:.3f} ($100,000), r2 {test['r2']:.3f}")
X_new = {name: array[:3] for name, array in prepared.test[0].items()}
print("predicted values of three test districts:", mlpkit.predict(model, X_new).values.ravel())
