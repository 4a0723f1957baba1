"""Save, load and export: train a run, export it (torch.export, TorchScript, and ONNX when
``mlpkit[export]`` is installed), then check that each exported file predicts, from raw
features, what the trained model predicts (reference chapter 001: saving and loading,
TorchScript, ONNX).

    python examples/10_export.py [--epochs 20] [--formats pt2,torchscript,onnx] [--out DIR]

The same from the command line: ``mlpkit train --data iris --out DIR``, ``mlpkit export DIR``,
``mlpkit predict DIR new.csv --engine pt2``.
"""

import argparse
import importlib.util
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_iris

import mlpkit

has_onnx = importlib.util.find_spec("onnxruntime") is not None
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--formats", default="pt2,torchscript" + (",onnx" if has_onnx else ""))
parser.add_argument("--out", type=Path, default=Path("runs/export-example"))
args = parser.parse_args()

config = mlpkit.RunConfig(
    data=mlpkit.DataConfig(name="iris"),
    train=mlpkit.TrainConfig(epochs=args.epochs),
    out=str(args.out),
    overwrite=True,  # this example's own folder: each run replaces the last
    report=False,
)
run = mlpkit.train_run(config).run_dir
for file in mlpkit.export_run(run, args.formats):  # each file verified as it is written
    print(f"exported {file.format}: {file.path} ({file.bytes} bytes)")

# A run folder keeps the weights as safetensors beside model.json (architecture, preprocessing,
# class names): load_model rebuilds the model from them, with nothing unpickled.
model, metadata = mlpkit.load_model(run)
print(f"loaded {model!r}")
# The chapter's state_dict round trip; weights_only=True refuses anything but tensors.
torch.save(model.state_dict(), run / "state_dict.pt")
model.load_state_dict(torch.load(run / "state_dict.pt", weights_only=True))

# New flowers as raw measurements in centimetres: the exports standardise them in the graph.
rows = load_iris(as_frame=True).frame.drop(columns="target").sample(5, random_state=0)
rows.to_csv(run / "new.csv", index=False)
eager = mlpkit.predict_run(run, run / "new.csv")  # the trained model, its preprocessing
print(eager.to_string(index=False))


def onnx_probabilities(path: Path, features: torch.Tensor) -> np.ndarray:
    import onnxruntime  # mlpkit[export]

    session = onnxruntime.InferenceSession(str(path))
    return session.run(None, {"features": features.numpy()})[0]


# Each file takes the raw numeric columns as "features" and returns class probabilities.
features = torch.tensor(rows.to_numpy(), dtype=torch.float32)
folder = run / "export"
runners = {
    "pt2": lambda: torch.export.load(folder / "model.pt2").module()(features=features),
    "torchscript": lambda: torch.jit.load(folder / "model.torchscript.pt")(features=features),
    "onnx": lambda: onnx_probabilities(folder / "model.onnx", features),
}
for name in args.formats.split(","):
    with torch.no_grad():
        probabilities = np.asarray(runners[name](), dtype=np.float64)
    classes = np.asarray(metadata["class_names"])[probabilities.argmax(axis=1)]
    gap = np.abs(probabilities.max(axis=1) - eager["probability"].to_numpy()).max()
    agree = bool((classes == eager["class"].to_numpy()).all())
    print(f"{name}: the same classes as the trained model: {agree}, largest difference {gap:.1e}")
