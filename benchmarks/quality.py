"""Quality of the defaults: mlpkit's presets against a careful scikit-learn MLP pipeline, and
(where the `bench` extra is installed) LightGBM's defaults and pytabkit's RealMLP-TD
(`make bench-quality`; not part of the test suite).

Every table is available offline: scikit-learn's bundled sets, and make_classification /
make_friedman1 tables at two sizes with injected missing values, outliers and a
high-cardinality text category that carries signal, and (with the ``bench`` extra) real tables
shipped inside packages (palmerpenguins, pydataset), written to CSV. For every table and seed
one stratified (classification) 80/20 split is drawn and written to ``train.csv`` / ``test.csv``;
every system trains on the same training file and is scored on the same test file (accuracy,
or R2), with its wall time (for mlpkit: the whole ``mlpkit train`` process, start-up included).

    python benchmarks/quality.py                   # 3 seeds, every table; writes QUALITY.md
    python benchmarks/quality.py --quick           # 1 seed, two tables
    python benchmarks/quality.py --systems mlpkit-default,sklearn-mlp --tables wine
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
TARGET = "y"
PRESETS = ("default", "fast", "realmlp", "rtdl")
QUICK_TABLES = ("breast_cancer", "friedman_2k")


# -- tables ------------------------------------------------------------------------------------
def _bundled(loader: str) -> Callable[[int], tuple[pd.DataFrame, str]]:
    def load(_seed: int) -> tuple[pd.DataFrame, str]:
        import sklearn.datasets

        data = getattr(sklearn.datasets, loader)(as_frame=True)
        frame = data.frame.rename(columns={data.target.name: TARGET})
        task = "regression" if loader == "load_diabetes" else "classification"
        return frame, task

    return load


def _messy(kind: str, rows: int) -> Callable[[int], tuple[pd.DataFrame, str]]:
    """A synthetic table with 5% missing numbers, 1% outliers (x 50) and a 300-level text
    category whose level shifts the target (fixed data: the seed only draws the split)."""

    def load(_seed: int) -> tuple[pd.DataFrame, str]:
        from sklearn.datasets import make_classification, make_friedman1

        rng = np.random.default_rng(rows)
        if kind == "classification":
            X, y = make_classification(
                rows, n_features=20, n_informative=8, n_classes=3, random_state=rows
            )
        else:
            X, y = make_friedman1(rows, n_features=10, noise=1.0, random_state=rows)
        levels = rng.integers(0, 300, size=rows)
        effect = rng.normal(size=300)[levels]
        # The category flips some labels, or shifts the target.
        y = np.where(effect > 1.0, (y + 1) % 3, y) if kind == "classification" else y + 3 * effect
        frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
        outliers = rng.random(frame.shape) < 0.01
        frame = frame.mask(outliers, frame * 50)
        frame = frame.mask(rng.random(frame.shape) < 0.05)
        frame["city"] = [f"c{level:03d}" for level in levels]
        frame[TARGET] = y
        return frame, kind

    return load


def _packaged(package: str, member: str, target: str, task: str, rows: int | None = None):
    """A real table shipped inside a package from the package index (the ``bench`` extra),
    read from the installed files without importing the package (pydataset would unpack its
    archive into the home folder): ``member`` is a file of the package, or ``archive!file``
    inside one of its tar archives. Rows without a target are dropped; ``rows`` keeps a fixed
    sample of that many."""

    def load(_seed: int) -> tuple[pd.DataFrame, str]:
        import importlib.util
        import tarfile

        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"{package} is not installed (pip install -e '.[bench]')")
        folder = Path(list(spec.submodule_search_locations)[0])
        archive, _, inner = member.partition("!")
        if inner:
            with tarfile.open(folder / archive) as tar:
                frame = pd.read_csv(tar.extractfile(inner))
        else:
            frame = pd.read_csv(folder / archive)
        empty = [c for c in frame.columns if c.startswith("Unnamed") or frame[c].isna().all()]
        frame = frame.drop(columns=empty)  # row names, and a column with no value at all
        if TARGET in frame.columns and target != TARGET:  # a feature named like the target
            frame = frame.rename(columns={TARGET: TARGET + "_"})
        frame = frame.dropna(subset=[target]).rename(columns={target: TARGET})
        if rows is not None and len(frame) > rows:
            frame = frame.sample(rows, random_state=0)
        return frame.reset_index(drop=True), task

    load.package = package  # type: ignore[attr-defined]
    return load


RDATA = "resources.tar.gz!resources/rdata/csv/"
TABLES: dict[str, Callable[[int], tuple[pd.DataFrame, str]]] = {
    "breast_cancer": _bundled("load_breast_cancer"),
    "wine": _bundled("load_wine"),
    "digits": _bundled("load_digits"),
    "diabetes": _bundled("load_diabetes"),
    "classification_2k": _messy("classification", 2000),
    "classification_10k": _messy("classification", 10000),
    "friedman_2k": _messy("regression", 2000),
    "friedman_10k": _messy("regression", 10000),
    # Real tables from packages (the bench extra): penguins with gaps and text categories,
    # Belgian wages (heavy-tailed, a text column with gaps), professors' salaries, diamond
    # prices (heavy-tailed, ordered categories; a fixed 10,000-row sample of 53,940).
    "penguins": _packaged("palmerpenguins", "data/penguins.csv", "species", "classification"),
    "wages": _packaged("pydataset", RDATA + "Ecdat/Bwages.csv", "wage", "regression"),
    "salaries": _packaged("pydataset", RDATA + "car/Salaries.csv", "salary", "regression"),
    "diamonds_10k": _packaged(
        "pydataset", RDATA + "ggplot2/diamonds.csv", "price", "regression", rows=10000
    ),
}


def write_split(name: str, seed: int, work: Path) -> tuple[Path, Path, str]:
    """The table's 80/20 split for ``seed`` as train.csv / test.csv (the same for every system)."""
    from sklearn.model_selection import train_test_split

    frame, task = TABLES[name](seed)
    stratify = frame[TARGET] if task == "classification" else None
    train, test = train_test_split(frame, test_size=0.2, random_state=seed, stratify=stratify)
    folder = work / f"{name}-{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    return folder / "train.csv", folder / "test.csv", task


def _frames(train: Path, test: Path, task: str):
    a, b = pd.read_csv(train), pd.read_csv(test)
    X_train, X_test = a.drop(columns=TARGET), b.drop(columns=TARGET)
    y_train, y_test = a[TARGET].to_numpy(), b[TARGET].to_numpy()
    return X_train, X_test, y_train, y_test


def _score(task: str, y_true, y_pred) -> float:
    from sklearn.metrics import accuracy_score, r2_score

    return float(
        accuracy_score(y_true, y_pred) if task == "classification" else r2_score(y_true, y_pred)
    )


# -- systems -----------------------------------------------------------------------------------
def mlpkit_system(preset: str, *flags: str, in_process: bool = False) -> Callable[..., float]:
    """``mlpkit train --preset <preset> <flags>`` as a command (the time a user waits, Python's
    and torch's start included), or ``in_process``: the same command line run inside this
    process, mlpkit already imported, as pytabkit's RealMLP-TD and scikit-learn are timed."""

    def run(train: Path, test: Path, task: str, seed: int) -> float:
        name = "-".join(["mlpkit", preset, *flags, *(["in-process"] if in_process else [])])
        out = train.parent / name
        arguments = [
            "train", "--data", str(train), "--target", TARGET,
            "--test", str(test), "--task", task, "--preset", preset, "--seed", str(seed),
            "--out", str(out), "--overwrite", "--no-report", *flags,
        ]  # fmt: skip
        if in_process:
            _run_in_process(arguments)
        else:
            command = [sys.executable, "-m", "mlpkit", *arguments]
            env = {**os.environ, "PYTHONPATH": str(SRC)}
            done = subprocess.run(command, capture_output=True, text=True, env=env)
            if done.returncode != 0:
                raise RuntimeError(done.stderr.strip().splitlines()[-1])
        metrics = json.loads((out / "metrics.json").read_text())
        return float(metrics["accuracy" if task == "classification" else "r2"])

    return run


def _run_in_process(arguments: list[str]) -> None:
    import contextlib
    import io

    from mlpkit.cli.app import build_app

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        build_app(["train"])(arguments, standalone_mode=False)


def warm_in_process() -> None:
    """Import what an in-process mlpkit run needs before any is timed (a command pays its
    imports in its own time; an in-process run must not pay them for the others)."""
    sys.path.insert(0, str(SRC))
    import torch

    import mlpkit.cli.train  # noqa: F401
    import mlpkit.runs.train  # noqa: F401

    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # a first optimizer imports dynamo


def _columns(X: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Numeric and text columns (text: object or pandas' string dtype)."""
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    return numeric, [c for c in X.columns if c not in numeric]


def sklearn_mlp(train: Path, test: Path, task: str, seed: int) -> float:
    """The pipeline a careful user writes: impute, one-hot, standardise, standardised target."""
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X_train, X_test, y_train, y_test = _frames(train, test, task)
    numeric, text = _columns(X_train)
    prepare = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                text,
            ),
        ]
    )
    if task == "classification":
        model = make_pipeline(prepare, MLPClassifier(random_state=seed))
    else:
        model = TransformedTargetRegressor(
            make_pipeline(prepare, MLPRegressor(random_state=seed)), transformer=StandardScaler()
        )
    model.fit(X_train, y_train)
    return _score(task, y_test, model.predict(X_test))


def _as_categories(X_train: pd.DataFrame, X_test: pd.DataFrame):
    _, text = _columns(X_train)
    for column in text:
        kinds = pd.CategoricalDtype(sorted(X_train[column].dropna().unique()))
        X_train[column], X_test[column] = (
            X_train[column].astype(kinds),
            X_test[column].astype(kinds),
        )
    return X_train, X_test


def lightgbm_defaults(train: Path, test: Path, task: str, seed: int) -> float:
    import lightgbm

    X_train, X_test, y_train, y_test = _frames(train, test, task)
    X_train, X_test = _as_categories(X_train, X_test)
    kind = lightgbm.LGBMClassifier if task == "classification" else lightgbm.LGBMRegressor
    model = kind(random_state=seed, verbose=-1).fit(X_train, y_train)
    return _score(task, y_test, model.predict(X_test))


def realmlp_td(train: Path, test: Path, task: str, seed: int) -> float:
    from pytabkit import RealMLP_TD_Classifier, RealMLP_TD_Regressor

    X_train, X_test, y_train, y_test = _frames(train, test, task)
    X_train, X_test = _as_categories(X_train, X_test)
    # pytabkit 1.8 refuses missing numbers: the training medians fill them (as SimpleImputer).
    numeric, _ = _columns(X_train)
    medians = X_train[numeric].median()
    X_train[numeric], X_test[numeric] = (
        X_train[numeric].fillna(medians),
        X_test[numeric].fillna(medians),
    )
    kind = RealMLP_TD_Classifier if task == "classification" else RealMLP_TD_Regressor
    model = kind(random_state=seed, device="cpu", verbosity=0).fit(X_train, y_train)
    return _score(task, y_test, model.predict(X_test))


SYSTEMS: dict[str, tuple[Callable[..., float], str | None]] = {
    **{f"mlpkit-{p}": (mlpkit_system(p), None) for p in PRESETS},
    # The default run as an ensemble of 8 stacked members (mlpkit train --ensemble 8).
    "mlpkit-ensemble8": (mlpkit_system("default", "--ensemble", "8"), None),
    # The default run inside this process, timed as RealMLP-TD and scikit-learn are.
    "mlpkit-default-in-process": (mlpkit_system("default", in_process=True), None),
    "sklearn-mlp": (sklearn_mlp, None),
    "lightgbm": (lightgbm_defaults, "lightgbm"),
    "realmlp-td": (realmlp_td, "pytabkit"),
}


def table_available(table: str) -> bool:
    import importlib.util

    package = getattr(TABLES[table], "package", None)
    return package is None or importlib.util.find_spec(package) is not None


def available(system: str) -> bool:
    import importlib.util

    package = SYSTEMS[system][1]
    return package is None or importlib.util.find_spec(package) is not None


# -- the run and its report --------------------------------------------------------------------
def run(tables: list[str], systems: list[str], seeds: list[int], work: Path) -> list[dict]:
    results = []
    if any(system.endswith("-in-process") for system in systems):
        warm_in_process()
    for table in tables:
        for seed in seeds:
            train, test, task = write_split(table, seed, work)
            for system in systems:  # interleaved: each seed's split, every system in turn
                start = time.perf_counter()
                try:
                    score, error = SYSTEMS[system][0](train, test, task, seed), None
                except Exception as exc:  # a failing system is reported, not fatal
                    score, error = float("nan"), f"{type(exc).__name__}: {exc}"[:200]
                seconds = time.perf_counter() - start
                row = dict(table=table, task=task, seed=seed, system=system, score=score)
                row.update(seconds=seconds, error=error)
                print(json.dumps(row), flush=True)
                results.append(row)
    return results


def report(results: list[dict], seeds: list[int], quick: bool, skipped: list[str]) -> str:
    frame = pd.DataFrame(results)
    systems = list(dict.fromkeys(frame["system"]))
    tables = list(dict.fromkeys(frame["table"]))
    means = frame.groupby(["table", "system"])["score"].mean().unstack()[systems].loc[tables]
    ranks = means.rank(axis=1, ascending=False)
    lines = [
        "# Quality of the defaults",
        "",
        "Written by `benchmarks/quality.py`"
        + (
            " in `--quick` mode (one seed, two tables): a smoke run, not a result."
            if quick
            else "."
        ),
        f"Seeds {', '.join(map(str, seeds))}; the same 80/20 split per table and seed for every "
        "system; score = test accuracy (classification) or R2 (regression), mean ± standard "
        "deviation over the seeds; time = wall seconds per fit (mlpkit: the whole command).",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; shared with other work while measured, so times are noisy.",
        "",
        "| table | task | " + " | ".join(systems) + " |",
        "|---|---|" + "---|" * len(systems),
    ]
    for table in tables:
        part = frame[frame["table"] == table]
        cells = []
        for system in systems:
            rows = part[part["system"] == system]
            scores, seconds = rows["score"].dropna(), rows["seconds"]
            if scores.empty:
                cells.append("failed")
                continue
            spread = f" ± {statistics.stdev(scores):.3f}" if len(scores) > 1 else ""
            cells.append(f"{scores.mean():.3f}{spread} ({seconds.mean():.1f} s)")
        lines.append(f"| {table} | {part['task'].iloc[0]} | " + " | ".join(cells) + " |")
    lines.append(
        "| **mean rank** | | " + " | ".join(f"{ranks[s].mean():.2f}" for s in systems) + " |"
    )
    lines += targets(frame)
    errors = frame.dropna(subset=["error"])
    if len(errors):
        lines += ["", "Failures:", ""]
        lines += [
            f"- {r.system} on {r.table} (seed {r.seed}): {r.error}" for r in errors.itertuples()
        ]
    if skipped:
        lines += ["", f"Not installed (the `bench` extra): {', '.join(skipped)}."]
    return "\n".join(lines + NOTES) + "\n"


def targets(frame: pd.DataFrame) -> list[str]:
    """The issue's targets, each table's figures side by side: the default against
    scikit-learn's MLP (a standard error of the seeds' differences), the realmlp preset
    against pytabkit's RealMLP-TD, and the default's time as a fraction of RealMLP-TD's."""
    systems = set(frame["system"])
    lines: list[str] = []

    def paired(a: str, b: str, table: str) -> tuple[float, float, int]:
        part = frame[frame["table"] == table].pivot_table(
            index="seed", columns="system", values="score"
        )
        if a not in part or b not in part:
            return float("nan"), float("nan"), 0
        gaps = (part[a] - part[b]).dropna()
        spread = statistics.stdev(gaps) / len(gaps) ** 0.5 if len(gaps) > 1 else float("nan")
        return float(gaps.mean()), spread, len(gaps)

    def seconds(system: str, table: str) -> float:
        rows = frame[(frame["table"] == table) & (frame["system"] == system)]
        return float(rows["seconds"].mean())

    pairs = [("mlpkit-default", "sklearn-mlp"), ("mlpkit-default", "realmlp-td"),
             ("mlpkit-realmlp", "realmlp-td")]  # fmt: skip
    pairs = [(a, b) for a, b in pairs if {a, b} <= systems]
    if not pairs:
        return lines
    # The default's time over RealMLP-TD's: as a command, and run inside the harness as
    # RealMLP-TD is (mlpkit already imported).
    times = [t for t in ("mlpkit-default", "mlpkit-default-in-process")
             if {t, "realmlp-td"} <= systems]  # fmt: skip
    lines += ["", "## Against the targets", "",
              "Score differences (mean over the seeds, ± one standard error of the paired "
              "differences); time: the first system's wall time over the second's.", "",
              "| table | " + " | ".join([f"{a} − {b}" for a, b in pairs]
                                       + [f"time {t} / realmlp-td" for t in times]) + " |",
              "|---|" + "---|" * (len(pairs) + len(times))]  # fmt: skip
    for table in dict.fromkeys(frame["table"]):
        cells = []
        for a, b in pairs:
            gap, error, n = paired(a, b, table)
            cells.append("" if n == 0 else f"{gap:+.3f}" + (f" ± {error:.3f}" if n > 1 else ""))
        ratios = [f"{seconds(timed, table) / seconds('realmlp-td', table):.2f}" for timed in times]
        lines.append(f"| {table} | " + " | ".join(cells + ratios) + " |")
    # Means over the table-seed pairs both systems scored (each table weighs its seeds).
    wide = frame.pivot_table(index=["task", "table", "seed"], columns="system", values="score")
    lines += ["", "Mean over the tables both scored (each table's seeds first):", ""]
    for a, b in pairs:
        common = wide[[a, b]].dropna().groupby(level=["task", "table"]).mean()
        parts = []
        for task, part in common.groupby(level="task"):
            gap = float((part[a] - part[b]).mean())
            parts.append(f"{task} {part[a].mean():.4f} against {part[b].mean():.4f} "
                         f"({gap:+.4f}, {len(part)} tables)")  # fmt: skip
        lines.append(f"- {a} against {b}: " + "; ".join(parts))
    return lines


NOTES = [
    "",
    "Systems: `mlpkit-<preset>` is `mlpkit train --preset <preset>` with every other setting "
    "left to its default (its validation part comes out of the training file); `sklearn-mlp` "
    "is `MLPClassifier` / `MLPRegressor` (defaults) after `SimpleImputer` (median; most "
    "frequent for text), `OneHotEncoder(handle_unknown='ignore')` and `StandardScaler`, the "
    "regressor in a `TransformedTargetRegressor` with a `StandardScaler`; `lightgbm` is "
    "`LGBMClassifier` / `LGBMRegressor` with defaults (text columns as pandas categories); "
    "`realmlp-td` is pytabkit's `RealMLP_TD_Classifier` / `RealMLP_TD_Regressor` with defaults.",
    "",
    "The `realmlp` preset is RealMLP-TD rebuilt in mlpkit (see `src/mlpkit/realmlp/` and "
    "`src/mlpkit/config/presets.py`): PBLD numerical embeddings, learned embeddings of "
    "categorical columns with more than 8 levels, the front scale, NTK layers started from "
    "the first training batch, parametric SELU (classification) or Mish (regression), its "
    "learning-rate and weight-decay factors, coslog4 and flat-cosine schedules, AdamW (0.9, "
    "0.95), batch 256 for 256 epochs, the best validation epoch kept. It differs from "
    "pytabkit's in what mlpkit's preprocessing does: missing numbers are filled with the "
    "median beside an indicator (RealMLP learns a value), small categories are one-hot "
    "without scaling (a binary one as two inputs), the data-dependent start uses the first "
    "training batch, and scaling falls back to the standard deviation for a column with no "
    "interquartile range.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, two tables")
    parser.add_argument("--tables", help=f"comma-separated, of {', '.join(TABLES)}")
    parser.add_argument("--systems", help=f"comma-separated, of {', '.join(SYSTEMS)}")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", type=Path, default=HERE / "QUALITY.md")
    parser.add_argument("--rows", type=Path, help="rebuild the report from a run's printed rows")
    args = parser.parse_args()
    if args.rows is not None:
        results = [
            json.loads(line) for line in args.rows.read_text().splitlines() if line[:1] == "{"
        ]
        seeds = sorted({r["seed"] for r in results})
        args.out.write_text(report(results, seeds, args.quick, []))
        print(f"wrote {args.out}")
        return
    tables = args.tables.split(",") if args.tables else list(TABLES)
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.quick:
        tables, seeds = list(args.tables.split(",") if args.tables else QUICK_TABLES), seeds[:1]
    wanted = args.systems.split(",") if args.systems else list(SYSTEMS)
    systems = [s for s in wanted if available(s)]
    skipped = [s for s in wanted if s not in systems]
    skipped += [f"table {t}" for t in tables if not table_available(t)]
    tables = [t for t in tables if table_available(t)]
    with tempfile.TemporaryDirectory(prefix="mlpkit-quality-") as work:
        results = run(tables, systems, seeds, Path(work))
    args.out.write_text(report(results, seeds, args.quick, skipped))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
