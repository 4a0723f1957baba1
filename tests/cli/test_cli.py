"""The mlpkit command end to end, in a subprocess, on real files."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from samples import run_command

SRC = str(Path(__file__).resolve().parents[2] / "src")


def mlpkit(*args, cwd, check=True):
    return run_command(*args, cwd=cwd, env={"COLUMNS": "120"}, check=check)


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    args = "train --data iris --epochs 40 --hidden 16 --batch-size 16 --lr 0.01 --out runs/iris"
    result = mlpkit(*args.split(), cwd=folder)
    return folder, folder / "runs" / "iris", result


def test_train_writes_the_run_folder(iris_run):
    _, run, result = iris_run
    for name in (
        "config.toml",
        "history.csv",
        "metrics.json",
        "model.safetensors",
        "model.json",
        "checkpoints/last.pt",
    ):
        assert (run / name).is_file(), name
    history = pd.read_csv(run / "history.csv")
    assert history["epoch"].tolist() == list(range(1, 41))
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.85
    meta = json.loads((run / "model.json").read_text())
    assert meta["class_names"] == ["setosa", "versicolor", "virginica"]
    assert len(meta["preprocessing"]["standardize"]["mean"]) == 4
    assert meta["versions"]["torch"].startswith("2.13")
    assert "test_accuracy" in result.stderr  # the summary table
    assert result.stdout.strip().endswith("runs/iris")


def test_config_toml_reruns_the_same_run(iris_run):
    folder, run, _ = iris_run
    mlpkit("train", run / "config.toml", "--out", "runs/again", cwd=folder)
    first = pd.read_csv(run / "history.csv")
    again = pd.read_csv(folder / "runs" / "again" / "history.csv")
    pd.testing.assert_series_equal(first["train_loss"], again["train_loss"])


def test_evaluate_prints_and_saves_the_test_metrics(iris_run):
    folder, run, _ = iris_run
    result = mlpkit("evaluate", run, cwd=folder)
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    saved = json.loads((run / "evaluation.json").read_text())
    trained = json.loads((run / "metrics.json").read_text())
    assert printed == saved
    assert saved == pytest.approx(trained)  # the loss too: evaluated as in training


def test_predict_reads_csv_with_named_columns_and_applies_preprocessing(iris_run):
    from sklearn.datasets import load_iris

    folder, run, _ = iris_run
    bunch = load_iris(as_frame=True)
    frame = bunch.frame.sample(30, random_state=0)
    frame.to_csv(folder / "new.csv", index=False)  # has the target column too: ignored
    out = folder / "predictions.csv"
    mlpkit("predict", run, folder / "new.csv", "--top-k", "2", "--output", out, cwd=folder)
    predictions = pd.read_csv(out)
    assert len(predictions) == 30
    truth = np.array(bunch.target_names)[frame["target"].to_numpy()]
    assert (predictions["class_1"].to_numpy() == truth).mean() > 0.85
    np.testing.assert_array_less(predictions["probability_2"], predictions["probability_1"] + 1e-9)


def test_predict_reads_npy_and_prints_csv(iris_run):
    from sklearn.datasets import load_iris

    folder, run, _ = iris_run
    np.save(folder / "x.npy", load_iris().data[:5].astype(np.float32))
    result = mlpkit("predict", run, folder / "x.npy", cwd=folder)
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "class,class_index,probability" and len(lines) == 6


def test_predict_with_the_wrong_feature_count_fails_with_one_line(iris_run):
    folder, run, _ = iris_run
    np.save(folder / "bad.npy", np.zeros((3, 7), np.float32))
    result = mlpkit("predict", run, folder / "bad.npy", cwd=folder, check=False)
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("error: bad.npy has 7 features")
    assert "trained on 4" in line


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "nope"], "unknown data set 'nope'"),
        (["--optimizer", "adma"], "unknown optimizer 'adma'"),
        (["--data", "missing.csv"], "no file at missing.csv"),
        (["--epochs", "0"], "train.epochs"),
    ],
)
def test_user_errors_exit_2_with_one_line_and_no_run_folder(tmp_path, args, message):
    result = mlpkit("train", *args, cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1  # no blank line either
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()


def test_regression_on_a_csv_file(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["price"] = 3 * frame["a"] - frame["b"] + 0.1 * rng.normal(size=300)
    frame.to_csv(tmp_path / "houses.csv", index=False)
    args = "train --data houses.csv --target price --epochs 60 --hidden 16 --lr 0.01 --out run"
    mlpkit(*args.split(), cwd=tmp_path)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert set(metrics) == {"loss", "rmse", "mae", "r2"}
    assert metrics["r2"] > 0.95


def test_help_lists_the_commands(tmp_path):
    result = mlpkit("--help", cwd=tmp_path)
    for command in ("train", "evaluate", "predict", "datasets"):
        assert command in result.stdout


def test_a_command_loads_only_its_own_module_of_the_command_line(tmp_path):
    # A start-up cost every run pays: mlpkit datasets must not import tune, export or sweep.
    prelude = (
        "import atexit\natexit.register(lambda: print('MODULES', "
        "sorted(m for m in sys.modules if m.startswith('mlpkit.cli.'))))"
    )
    result = run_command("datasets", cwd=tmp_path, prelude=prelude)
    loaded = result.stdout.split("MODULES", 1)[1]
    assert "'mlpkit.cli.datasets'" in loaded
    for other in ("train", "tune", "export", "sweep", "predict", "report"):
        assert f"'mlpkit.cli.{other}'" not in loaded, other
    assert "train" in mlpkit("--help", cwd=tmp_path).stdout  # the full list is still there


def test_the_help_lists_each_command_as_its_own_help_says_without_importing_it(tmp_path):
    from typer.testing import CliRunner

    from mlpkit.cli.app import SUMMARIES, full_app, listing_app

    # The static list (mlpkit --help) against the help the commands' own modules give.
    listed = CliRunner().invoke(listing_app(plain=False), ["--help"], env={"COLUMNS": "120"})
    real = CliRunner().invoke(full_app(), ["--help"], env={"COLUMNS": "120"})
    assert listed.exit_code == real.exit_code == 0
    assert listed.output == real.output
    prelude = (
        "import atexit\natexit.register(lambda: print('MODULES', "
        "sorted(m for m in sys.modules if m.startswith(('mlpkit.', 'torch', 'typer.')))))"
    )
    result = run_command("--help", cwd=tmp_path, prelude=prelude)
    loaded = result.stdout.split("MODULES", 1)[1]
    assert "sweep" in result.stdout.split("MODULES", 1)[0]
    for module in ("train", "evaluate", "predict", "datasets", "report", "sweep", "export"):
        assert f"'mlpkit.cli.{module}'" not in loaded, module
    assert "'torch'" not in loaded and "'mlpkit.config'" not in loaded
    assert "typer.rich_utils" not in loaded  # Rich's help drawing: half of the list's time
    shown = "".join(result.stdout.split("MODULES", 1)[0].split())  # wrapped at any width
    for summary in SUMMARIES.values():  # each summary whole, not cut at 45 characters
        assert "".join(summary.split()) in shown
