"""The real ``mlpkit`` command on real files: bad data stops it cleanly, good data goes through."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (
            # Every data flag parses and validates; then the missing file stops the run.
            [
                "--data",
                "missing.csv",
                "--target",
                "price",
                "--features",
                "size,city",
                "--val",
                "v.csv",
                "--test",
                "t.csv",
                "--val-fraction",
                "0.1",
                "--test-fraction",
                "0.1",
                "--categorical",
                "rooms",
                "--impute",
                "median",
                "--unknown-category",
                "ignore",
                "--no-normalize",
                "--scale-target",
                "--stream",
                "--num-workers",
                "1",
                "--drop-last",
            ],
            "no file at missing.csv; check the path",
        ),  # fmt: skip
        (
            ["--data", "holes.csv", "--impute", "none"],
            "column 'rooms' of holes.csv is missing in 2 row(s)",
        ),
    ],
)
def test_bad_data_exits_2_with_one_line_and_no_run_folder(
    tmp_path, cli, make_houses, args, problem
):
    make_houses(30).to_csv(tmp_path / "houses.csv", index=False)
    holes = make_houses(30)
    holes.loc[[1, 2], "rooms"] = np.nan
    holes.to_csv(tmp_path / "holes.csv", index=False)

    done = cli("train", *args)

    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and problem in lines[0]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()


def test_train_predict_evaluate_on_a_table_with_categories_and_gaps(tmp_path, cli, make_houses):
    frame = make_houses(150)
    frame.loc[[4, 40], "city"] = None
    frame.to_csv(tmp_path / "houses.csv", index=False)
    new = pd.DataFrame({"size": [100.0, 100.0], "rooms": [2, 2], "city": ["lyon", "paris"]})
    new.to_csv(tmp_path / "new.csv", index=False)

    trained = cli(
        "train", "--data", "houses.csv", "--features", "size,rooms,city", "--impute",
        "most_frequent", "--scale-target", "--epochs", "30", "--hidden", "16", "--lr", "0.02",
        "--val-fraction", "0.2", "--test-fraction", "0.2", "--out", "run",
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    meta = json.loads((tmp_path / "run" / "model.json").read_text())
    # A categorical column's gaps are a category of their own, whatever the numeric strategy.
    assert meta["preprocessing"]["fill"][2] == "(missing)"
    assert "city=(missing)" in meta["input_names"]

    predicted = cli("predict", "run", "new.csv")
    assert predicted.returncode == 0, predicted.stderr
    lyon, paris = pd.read_csv(io.StringIO(predicted.stdout))["prediction"]
    assert 100_000 < paris - lyon < 300_000  # the city premium, in dollars: 200,000

    evaluated = cli("evaluate", "run")
    assert evaluated.returncode == 0, evaluated.stderr
    metrics = json.loads(evaluated.stdout.strip().splitlines()[-1])
    assert metrics == json.loads((tmp_path / "run" / "evaluation.json").read_text())
    assert metrics["r2"] > 0.8


def test_datasets_lists_shapes_and_cache_status(cli, tmp_path):
    from mlpkit.data.downloads import DOWNLOADABLE

    cached = tmp_path / "cache" / "mnist"  # the cli fixture's cache
    cached.mkdir(parents=True)
    for remote in DOWNLOADABLE["mnist"].files:
        (cached / remote.filename).write_bytes(b"")
    done = cli("datasets")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[1]: line for line in done.stdout.splitlines() if line.startswith("│")}
    assert "70000" in rows["fashion_mnist"] and "784" in rows["fashion_mnist"]
    assert "10" in rows["fashion_mnist"] and "download, not cached" in rows["fashion_mnist"]
    assert "download, cached" in rows["mnist"]
    assert "classification" in rows["digits"]  # not cut short
    assert "581012" in rows["covtype"] and "54" in rows["covtype"]
    assert "california_housing" in rows and "20640" in rows["california_housing"]
