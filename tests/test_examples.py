"""Every script in ``examples/`` runs, with small settings, in a subprocess as a user runs it.

The examples that download a data set get small generated files in its real format, served
through ``file://`` URLs by the download code itself (``local_spec`` of the download tests), into
an empty cache named by ``MLPKIT_DATA``.
"""

from __future__ import annotations

import ast
import io
import math
import re
import subprocess
import tarfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import mlpkit
from mlpkit.data.downloads import DOWNLOADABLE
from mlpkit.data.idx import write_idx
from samples import run_command

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DOWNLOAD_TESTS = Path(__file__).resolve().parent / "data"

# Runs in the example's process before it: the data sets it downloads come from generated files
# (or, offline, from nowhere), then the script runs as ``python examples/NAME.py ARGS``.
PRELUDE = """
import dataclasses, runpy
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_downloads import local_spec
from mlpkit.data.downloads import DOWNLOADABLE
for name, folder in {sources!r}.items():
    DOWNLOADABLE[name] = local_spec(name, Path(folder))
for name in {offline!r}:
    files = [dataclasses.replace(f, urls=(Path('/nowhere', f.filename).as_uri(),))
             for f in DOWNLOADABLE[name].files]
    DOWNLOADABLE[name] = dataclasses.replace(DOWNLOADABLE[name], files=tuple(files))
sys.argv = [{script!r}, *sys.argv[1:]]
runpy.run_path({script!r}, run_name="__main__")
sys.exit(0)
"""


def number(pattern: str, text: str) -> float:
    """The number after ``pattern`` in the output (the first one, if it is printed again)."""
    found = re.search(pattern + r"\s*([-+0-9.e]+|nan|inf)", text)
    assert found, f"{pattern!r} not in:\n{text}"
    return float(found.group(1))


# -- generated data sets in their published formats ---------------------------------------------
def images(folder: Path, n_train: int = 400, n_test: int = 100) -> str:
    """IDX files of 28x28 images whose class is a bright bar in its own place, on noise."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    names = [remote.filename for remote in DOWNLOADABLE["mnist"].files]  # Fashion-MNIST's too
    arrays = []
    for n in (n_train, n_test):
        labels = (np.arange(n) % 10).astype(np.uint8)
        pictures = rng.integers(0, 60, (n, 28, 28), dtype=np.uint8)
        for row in range(12, 16):
            pictures[np.arange(n), row, 2 * labels + 4] = 255
        arrays += [pictures, labels]
    for filename, array in zip(names, arrays, strict=True):
        write_idx(folder / filename, array)
    return str(folder)


def housing(folder: Path, n: int = 300) -> str:
    """``cal_housing.tgz`` as published: nine columns, the house value mostly from income."""
    rng = np.random.default_rng(1)
    households = rng.integers(50, 900, n)
    income = rng.uniform(0.5, 15, n)
    rows = np.column_stack([
        rng.uniform(-124.3, -114.3, n), rng.uniform(32.5, 42.0, n), rng.integers(1, 53, n),
        households * rng.uniform(2, 8, n), households * rng.uniform(0.5, 1.5, n),
        households * rng.uniform(1, 5, n), households, income,
        30_000 * income + rng.normal(0, 20_000, n) + 50_000,
    ])  # fmt: skip
    text = "\n".join(",".join(f"{v:.6f}" for v in row) for row in rows).encode()
    folder.mkdir(parents=True)
    with tarfile.open(folder / "cal_housing.tgz", "w:gz") as tar:
        info = tarfile.TarInfo("CaliforniaHousing/cal_housing.data")
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text))
    return str(folder)


@dataclass(frozen=True)
class Case:
    """One example as a test runs it: its arguments and the data sets it downloads."""

    script: str
    args: tuple[str, ...] = ()
    sources: dict[str, Callable[[Path], str]] = field(default_factory=dict)  # name: generator
    offline: tuple[str, ...] = ()


# Keyed by the test that checks the output.
CASES = {
    "test_linear_regression_by_hand_agrees_with_nn_linear_and_fit": Case(
        "01_linear_regression.py", ("--epochs", "5")
    ),
    "test_momentum_written_out_equals_torch_optim_sgd": Case("02_momentum.py", ("--steps", "10")),
    "test_noisy_regression_trains_both_models_and_draws_their_curves": Case(
        "03_noisy_regression.py", ("--epochs", "3", "--plot", "plots")
    ),
    "test_moons_with_batch_sizes_1_32_and_n": Case(
        "04_moons_batch_sizes.py", ("--samples", "400", "--epochs", "2")
    ),
    "test_breast_cancer_80_20": Case("05_breast_cancer.py", ("--epochs", "3")),
    "test_mnist_one_hidden_layer_with_a_20_percent_validation_split": Case(
        "06_mnist.py", ("--epochs", "3"), {"mnist": images}
    ),
    "test_an_example_that_needs_a_download_says_so_offline": Case(
        "06_mnist.py", offline=("mnist",)
    ),
    "test_california_housing_wide_and_deep_with_an_auxiliary_output": Case(
        "07_california_wide_deep.py", ("--epochs", "5"), {"california_housing": housing}
    ),
    "test_fashion_mnist_log_softmax_nll_dropout_and_top_3": Case(
        "08_fashion_mnist.py", ("--epochs", "2"), {"fashion_mnist": images}
    ),
    "test_optuna_tuning": Case(
        "09_optuna_tuning.py", ("--trials", "1", "--epochs", "2", "--out", "study", "--no-plots")
    ),
    "test_export_predicts_as_the_trained_model": Case(
        "10_export.py", ("--epochs", "2", "--formats", "torchscript", "--out", "run")
    ),
}


def run_example(case: Case, folder: Path) -> subprocess.CompletedProcess:
    """``python examples/SCRIPT ARGS`` in ``folder``, with an empty data cache there."""
    folder.mkdir()
    sources = {name: make(folder / "source" / name) for name, make in case.sources.items()}
    script = str(EXAMPLES / case.script)
    prelude = PRELUDE.format(
        tests=str(DOWNLOAD_TESTS), sources=sources, offline=list(case.offline), script=script
    )
    env = {"MLPKIT_DATA": str(folder / "cache"), "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return run_command(*case.args, cwd=folder, env=env, prelude=prelude, check=False)


@pytest.fixture(scope="module")
def finished(request, tmp_path_factory):
    """The examples of the tests selected here, run two at a time: each is mostly an interpreter
    starting and importing torch, on one core."""
    here = [item.name for item in request.session.items if item.module.__name__ == __name__]
    root = tmp_path_factory.mktemp("examples")
    with ThreadPoolExecutor(max_workers=2) as pool:
        started = {name: pool.submit(run_example, CASES[name], root / name) for name in here
                   if name in CASES}  # fmt: skip
        yield {name: (future, root / name) for name, future in started.items()}


@pytest.fixture
def example(request, finished):
    """This test's example: its output, and the folder it ran in."""
    future, folder = finished[request.node.name]
    done = future.result()
    return done, folder


def output(example) -> str:
    done, _ = example
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr}"
    return done.stdout


# -- the examples ---------------------------------------------------------------------------------
def test_linear_regression_by_hand_agrees_with_nn_linear_and_fit(example):
    out = output(example)
    assert number("nn.Linear differs from the by-hand weights by", out) < 1e-5
    assert number("mlpkit.fit differs from the by-hand weights by", out) < 1e-4
    assert 0 < number("test mse", out) < 2  # a standardised target: 1 is a constant guess


def test_momentum_written_out_equals_torch_optim_sgd(example):
    out = output(example)
    assert "torch.optim.SGD" in out and "mlpkit.make_optimizer" in out
    assert out.count("equal: True") == 2, out


def test_noisy_regression_trains_both_models_and_draws_their_curves(example):
    out, folder = output(example), example[1]
    for name in ("linear", "tanh"):
        # y = x + 2 sin(x) + noise over [0, 20] varies by about 36: both do better than a mean.
        assert 0 < number(f"{name}: validation mse", out) < 30
        assert (folder / "plots" / f"{name}.png").stat().st_size > 1000


def test_moons_with_batch_sizes_1_32_and_n(example):
    out = output(example)
    accuracies = {b: number(rf"B={b}:.*?validation accuracy", out) for b in ("1", "32", "N")}
    assert all(0 <= a <= 1 for a in accuracies.values())
    # In as many epochs, B=1 takes hundreds of steps, B=32 a few and B=N two: it gets furthest.
    assert accuracies["1"] > 0.6 and accuracies["1"] >= max(accuracies["32"], accuracies["N"])
    assert number("B=1:", out) == 2 * 340  # steps: 85% of 400 rows train, two epochs


def test_breast_cancer_80_20(example):
    out = output(example)
    assert "trained on 455 rows, tested on 114" in out
    assert number("test accuracy", out) > 0.85
    assert number("test ROC AUC", out) > 0.9


def test_mnist_one_hidden_layer_with_a_20_percent_validation_split(example):
    out = output(example)
    assert "320 training and 80 validation images" in out
    assert number("lr 0.1: val_loss .*?val_accuracy", out) > 0.5
    assert number("test accuracy", out) > 0.5


def test_an_example_that_needs_a_download_says_so_offline(example):
    done, folder = example
    assert done.returncode == 1
    assert done.stderr.startswith("this example needs MNIST, which could not be downloaded")
    assert str(folder / "cache" / "mnist") in done.stderr  # where to put the files by hand
    assert "Traceback" not in done.stderr


def test_california_housing_wide_and_deep_with_an_auxiliary_output(example):
    out = output(example)
    assert "{'wide': (210, 5), 'deep': (210, 6)} -> (210,)" in out
    rmse = number(r"test rmse", out)
    assert math.isfinite(rmse) and 0 < rmse < 3  # in $100,000; the values span about 4.5
    assert len(re.findall(r"[-0-9.]+", out.splitlines()[-1].split(":")[-1])) == 3


def test_fashion_mnist_log_softmax_nll_dropout_and_top_3(example):
    out = output(example)
    assert number("test accuracy", out) > 0.5
    assert number("top-5 accuracy", out) >= number("test accuracy", out)
    top = [line for line in out.splitlines() if line.startswith("true ")]
    assert [line.split(":")[0] for line in top] == ["true T-shirt/top", "true Trouser",
                                                     "true Pullover"]  # fmt: skip
    for line in top:
        probabilities = [float(p) for p in re.findall(r" (\d\.\d\d)(?:,|$)", line)]
        assert len(probabilities) == 3 and probabilities == sorted(probabilities, reverse=True)


def test_optuna_tuning(example):
    pytest.importorskip("optuna")
    out, folder = output(example), example[1]
    assert "trials: {'complete': 1" in out
    assert 0 <= number("val_accuracy", out) <= 1
    best = re.search(r"'hidden': \[(\d+), (\d+)\]", out)
    assert best and best[1] == best[2] and 20 <= int(best[1]) <= 300  # two layers, one width
    assert (folder / "study" / "trials.csv").is_file()


def test_export_predicts_as_the_trained_model(example):
    out, folder = output(example), example[1]
    assert "torchscript: the same classes as the trained model: True" in out
    assert number("largest difference", out) < 1e-4
    assert (folder / "run" / "export" / "model.torchscript.pt").is_file()


# -- what the examples rely on --------------------------------------------------------------------
def test_every_example_is_tested_and_listed_in_the_readme():
    scripts = sorted(p.name for p in EXAMPLES.glob("*.py"))
    tested = {case.script for case in CASES.values()}
    readme = (EXAMPLES / "README.md").read_text()
    assert set(scripts) <= tested
    assert [s for s in scripts if f"({s})" not in readme] == []


def test_every_public_name_imports_and_the_examples_use_only_those():
    for name in mlpkit.__all__:
        assert getattr(mlpkit, name) is not None, name
    used = set()
    for script in EXAMPLES.glob("*.py"):
        for node in ast.walk(ast.parse(script.read_text())):
            if isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == "mlpkit":
                used.add(node.attr)
    assert used and used <= set(mlpkit.__all__), used - set(mlpkit.__all__)
