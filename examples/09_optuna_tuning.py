"""Hyperparameter tuning with Optuna: the learning rate (log scale, 1e-5 to 0.1) and the width of
two hidden layers (20 to 300 units, the same for both) of an SGD-trained MLP, by TPE with median
pruning; each trial is an ordinary run (reference chapter 001; needs ``mlpkit[tune]``).

The chapter tunes on Fashion-MNIST; the bundled digits keep this example offline (``--data
fashion_mnist`` follows the chapter). Run it again with more ``--trials`` to continue the study.

    python examples/09_optuna_tuning.py [--trials 5] [--epochs 10] [--out DIR] [--no-plots]
"""

import argparse
from pathlib import Path

import mlpkit

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", default="digits")
parser.add_argument("--trials", type=int, default=5, help="trials in the study when done")
parser.add_argument("--epochs", type=int, default=10, help="epochs per trial")
parser.add_argument("--out", type=Path, default=Path("studies/example"))
parser.add_argument("--plots", action=argparse.BooleanOptionalAction, default=True)
args = parser.parse_args()

# Every trial starts from this config; the space draws the rest from the declared settings.
config = mlpkit.RunConfig(
    data=mlpkit.DataConfig(name=args.data),
    optim=mlpkit.OptimConfig(optimizer="sgd", label_smoothing=0.0),
    train=mlpkit.TrainConfig(epochs=args.epochs),
    report=False,  # one page per trial is more than a study needs
)
options = mlpkit.TuneConfig(
    trials=args.trials,
    startup_trials=min(5, args.trials),  # random trials before TPE models the space
    plots=args.plots,  # optimization history, importances... (PNG, in the study folder)
    space={
        "lr": {"low": 1e-5, "high": 0.1, "log": True},
        "hidden": {"depth": [2, 2], "width": [20, 300], "widths": "same"},
    },
)
if (args.out / "study.json").is_file():
    spec = mlpkit.resume_study(args.out, options)  # the trials done count towards --trials
else:
    spec = mlpkit.start_study(config, options, study_dir=args.out)
result = mlpkit.tune_study(spec, options)

best = result.summary.best
print(f"trials: {result.summary.counts}")
print(f"best: trial {best['number']}, {best['metric']} {best['value']:.4f}, {best['settings']}")
print(f"results in {args.out}: {', '.join(sorted(p.name for p in result.files.values()))}")
