"""mlpkit export: every format reloaded from disk computes what the eager model computes, from
raw features (preprocessing in the graph), and the manifest says so."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest
import torch
from export_samples import command, houses, labelled, mlpkit, shops, train

from mlpkit.errors import ExportError
from mlpkit.export.inputs import UNKNOWN_CODE
from mlpkit.export.safetensors import load_serving
from mlpkit.runs import export as export_module
from mlpkit.runs import predict_run
from mlpkit.runs.export import export_run

FILES = {
    "onnx": "model.onnx",
    "pt2": "model.pt2",
    "torchscript": "model.torchscript.pt",
    "safetensors": "model.safetensors",
}


def copy_run(run: Path, tmp_path: Path) -> Path:
    """A run folder of the test's own, so that exports do not leak between tests."""
    target = tmp_path / run.name
    shutil.copytree(run, target, ignore=shutil.ignore_patterns("export", "checkpoints"))
    return target


def test_every_format_is_written_verified_and_listed_in_the_manifest(iris_run, tmp_path):
    run = copy_run(iris_run, tmp_path)
    written = export_run(run, "all")
    assert [w.format for w in written] == list(FILES)
    manifest = json.loads((run / "export" / "manifest.json").read_text())
    assert manifest["verification"]["batch_sizes"] == [1, 7, 256]
    assert "held-out rows of iris (test part)" in manifest["verification"]["rows"]
    for result in written:
        entry = manifest["files"][result.format]
        path = run / "export" / FILES[result.format]
        assert result.path == path and path.stat().st_size == entry["bytes"] == result.bytes
        assert entry["passed"] and entry["max_abs"] <= 1e-4
        assert set(entry["by_batch_size"]) == {"1", "7", "256"}
    assert (
        manifest["weights_sha256"] == json.loads((run / "model.json").read_text())["weights_sha256"]
    )
    assert {"mlpkit", "torch", "onnx", "onnxruntime"} <= set(manifest["versions"])
    # One self-contained ONNX file, checker-clean, with a dynamic batch.
    assert sorted(p.name for p in (run / "export").iterdir()) == sorted(
        [*FILES.values(), "manifest.json", "model.json"]
    )
    model = onnx.load(str(run / "export" / "model.onnx"))
    onnx.checker.check_model(model, full_check=True)
    (graph_input,) = model.graph.input
    assert graph_input.name == "features"
    assert graph_input.type.tensor_type.shape.dim[0].dim_param  # symbolic: any batch size
    assert [o.name for o in model.graph.output] == ["probabilities"]


def test_the_onnx_file_takes_raw_rows_with_missing_values_and_category_codes(
    houses_run, houses_csv, tmp_path
):
    run = copy_run(houses_run, tmp_path)
    export_run(run, "onnx")
    spec = json.loads((run / "export" / "model.json").read_text())
    inputs = spec["inputs"]
    assert inputs["features"]["columns"] == ["rooms", "age"]
    codes = inputs["categories"]["codes"]["town"]
    # The training part had towns missing: imputation gives them a category of their own.
    assert codes == ["east", "north", "south", "(missing)"]
    assert inputs["categories"]["missing"] == -1

    # What a user writes: raw numbers with NaN, and each town's position in its code table.
    rows = pd.DataFrame(
        {
            "rooms": [3.0, 5.0, 2.0, 4.0],
            "town": ["north", None, "west", "south"],  # missing, then never seen in training
            "age": [10.0, 40.0, np.nan, 70.0],
        }
    )
    town = [-1 if pd.isna(t) else codes.index(t) if t in codes else UNKNOWN_CODE for t in rows.town]
    session = ort.InferenceSession(str(run / "export" / "model.onnx"))
    (values,) = session.run(
        None,
        {
            "features": rows[["rooms", "age"]].to_numpy(np.float32),
            "categories": np.array(town, dtype=np.int64).reshape(-1, 1),
        },
    )
    rows.to_csv(tmp_path / "new.csv", index=False)
    eager = predict_run(run, tmp_path / "new.csv")["prediction"].to_numpy()
    assert values.shape == (4, 1)
    np.testing.assert_allclose(values[:, 0], eager, rtol=1e-5)  # in the price's own units
    assert 900 < eager.mean() < 1400


def test_predict_gives_the_same_file_from_every_engine(houses_run, tmp_path, capsys):
    run = copy_run(houses_run, tmp_path)
    new = houses(40, seed=7).drop(columns="price")  # with missing values
    new.to_csv(tmp_path / "new.csv", index=False)
    assert command("export", run, "--format", "onnx,pt2,torchscript", capsys=capsys)[0] == 0
    frames = {}
    for engine in ("torch", "pt2", "torchscript", "onnx"):
        out = tmp_path / f"{engine}.csv"
        code, _, _ = command(
            "predict", run, tmp_path / "new.csv", "--engine", engine, "--output", out, capsys=capsys
        )
        assert code == 0
        frames[engine] = pd.read_csv(out)
    for engine, frame in frames.items():
        assert list(frame.columns) == ["prediction"], engine
        np.testing.assert_allclose(frame["prediction"], frames["torch"]["prediction"], rtol=1e-5)


def test_the_command_prints_one_line_per_file_with_its_size_and_difference(iris_run, tmp_path):
    run = copy_run(iris_run, tmp_path)
    result = mlpkit("export", run, "--format", "safetensors,torchscript", cwd=tmp_path)
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    for line, name in zip(lines, ["torchscript", "safetensors"], strict=True):
        fields = line.split()
        assert fields[0] == name and fields[1] == str(run / "export" / FILES[name])
        assert fields[3] in ("B", "kB", "MB") and "max diff" in line
        assert float(fields[6]) <= 1e-4
    assert result.stderr == ""


def test_a_classifier_trained_on_a_table_predicts_the_same_classes_from_every_engine(
    wide_deep_run, labelled_csv, tmp_path
):
    run = copy_run(wide_deep_run, tmp_path)
    export_run(run, "onnx,pt2,torchscript")
    new = labelled(50, seed=5).drop(columns="kind")
    new.to_csv(tmp_path / "new.csv", index=False)
    eager = predict_run(run, tmp_path / "new.csv", top_k=3)
    for engine in ("pt2", "torchscript", "onnx"):
        frame = predict_run(run, tmp_path / "new.csv", top_k=3, engine=engine)
        assert list(frame.columns) == list(eager.columns)
        assert (frame["class_1"] == eager["class_1"]).all(), engine
        np.testing.assert_allclose(frame["probability_1"], eager["probability_1"], atol=1e-6)
    # Wide & Deep takes the same named raw inputs; the groups are picked inside the graph.
    model = onnx.load(str(run / "export" / "model.onnx"))
    assert [i.name for i in model.graph.input] == ["features", "categories"]


def test_the_safetensors_export_rebuilds_the_whole_model_without_pickle(houses_run, tmp_path):
    run = copy_run(houses_run, tmp_path)
    export_run(run, "safetensors")
    serving = load_serving(run / "export" / "model.safetensors")
    features = torch.tensor([[3.0, float("nan")]])
    categories = torch.tensor([[-1]])
    value = serving(features=features, categories=categories)
    pd.DataFrame({"rooms": [3.0], "town": [None], "age": [np.nan]}).to_csv(
        tmp_path / "one.csv", index=False
    )
    eager = predict_run(run, tmp_path / "one.csv")["prediction"].iloc[0]
    assert float(value.detach()) == pytest.approx(eager, rel=1e-6)


def test_an_export_that_strays_from_the_eager_model_is_refused_and_not_written(
    iris_run, tmp_path, monkeypatch
):
    run = copy_run(iris_run, tmp_path)
    real = export_module.build_serving

    def off_by_a_little(model, metadata):
        serving = real(model, metadata)
        serving.mean += 0.01  # a preprocessing bug: standardised with the wrong means
        return serving

    monkeypatch.setattr(export_module, "build_serving", off_by_a_little)
    with pytest.raises(ExportError, match="differs from the eager model .* over the tolerance"):
        export_run(run, "onnx")
    assert not (run / "export" / "model.onnx").exists()
    assert [p.name for p in (run / "export").iterdir()] == ["model.json"]


def test_exporting_one_more_format_keeps_the_others_in_the_manifest(iris_run, tmp_path):
    run = copy_run(iris_run, tmp_path)
    export_run(run, "pt2")
    export_run(run, "safetensors")
    manifest = json.loads((run / "export" / "manifest.json").read_text())
    assert set(manifest["files"]) == {"pt2", "safetensors"}


def test_predict_refuses_an_export_of_other_weights(iris_run, tmp_path):
    run = copy_run(iris_run, tmp_path)
    export_run(run, "pt2")
    retrained = tmp_path / "retrained"
    train(data="iris", hidden=[16], lr=0.01, seed=1, out=str(retrained))
    for name in ("model.safetensors", "model.json"):  # the run was trained again since
        shutil.copy(retrained / name, run / name)
    data = pd.DataFrame(np.ones((2, 4)), columns=["a", "b", "c", "d"])
    data.to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(ExportError, match="exported from other weights.*mlpkit export"):
        predict_run(run, tmp_path / "x.csv", engine="pt2")


def test_without_the_export_extra_the_command_names_it_and_writes_nothing(
    iris_run, tmp_path, capsys, monkeypatch
):
    run = copy_run(iris_run, tmp_path)
    monkeypatch.setitem(sys.modules, "onnx", None)  # what importing it does when not installed
    code, out, err = command("export", run, "--format", "all", capsys=capsys)
    assert code == 2
    assert err.splitlines() == [
        "error: onnx is not installed; install it with: pip install 'mlpkit[export]'"
    ]
    assert out == "" and not (run / "export").exists()


def test_a_run_whose_data_is_gone_is_verified_on_synthetic_rows(houses_run, tmp_path):
    run = copy_run(houses_run, tmp_path)
    config = (run / "config.toml").read_text()
    name = next(line for line in config.splitlines() if line.startswith("name = "))
    (run / "config.toml").write_text(config.replace(name, 'name = "gone.csv"'))
    with pytest.warns(RuntimeWarning, match="synthetic rows"):
        export_run(run, "pt2")
    manifest = json.loads((run / "export" / "manifest.json").read_text())
    assert manifest["verification"]["rows"].startswith("256 synthetic rows")
    assert manifest["files"]["pt2"]["passed"]


def test_a_default_run_with_gaps_and_a_capped_column_exports_to_every_graph_format(
    shops_run, tmp_path
):
    run = copy_run(shops_run, tmp_path)
    state = json.loads((run / "model.json").read_text())["preprocessing"]
    # The defaults this checks: robust scaling, indicators for the columns with gaps, and the
    # 9 rare streets on one level.
    assert state["numeric_scaling"] == "robust"
    assert state["missing_indicators"] == ["area", "staff"]
    assert state["categories"]["street"][-1] == "(other)"
    written = export_run(run, "onnx,pt2,torchscript")
    manifest = json.loads((run / "export" / "manifest.json").read_text())
    assert all(manifest["files"][w.format]["passed"] for w in written)
    assert manifest["files"]["torchscript"]["method"] == "scripted"
    spec = json.loads((run / "export" / "model.json").read_text())
    assert spec["inputs"]["features"] == {
        "dtype": "float32", "shape": ["batch", 2], "columns": ["area", "staff"], "missing": "NaN"
    }  # fmt: skip
    assert spec["inputs"]["categories"]["codes"] == state["categories"]

    new = shops(60, seed=9).drop(columns="busy")
    new.loc[:3, "street"] = "street 99"  # never seen: the (other) level, as in the eager model
    new.loc[4:6, "area"] = [np.nan, 1e9, 0.0]
    new.to_csv(tmp_path / "new.csv", index=False)
    eager = predict_run(run, tmp_path / "new.csv", top_k=2)
    for engine in ("pt2", "torchscript", "onnx"):
        frame = predict_run(run, tmp_path / "new.csv", top_k=2, engine=engine)
        assert (frame["class_1"] == eager["class_1"]).all(), engine
        np.testing.assert_allclose(frame["probability_1"], eager["probability_1"], atol=1e-5)


def test_quantile_scaling_exports_to_pt2_and_torchscript_and_onnx_is_refused(
    quantile_run, houses_csv, tmp_path, capsys
):
    run = copy_run(quantile_run, tmp_path)
    code, out, err = command("export", run, "--format", "onnx", capsys=capsys)
    assert code == 2 and out == ""
    assert err.splitlines() == [
        "error: the run's quantile scaling cannot be exported to onnx; retrain with "
        "--numeric-scaling robust or standard"
    ]
    assert not (run / "export" / "model.onnx").exists()
    with pytest.warns(UserWarning, match="skipping onnx"):  # all: the formats that can be
        written = export_run(run, "all")
    assert [w.format for w in written] == ["pt2", "torchscript", "safetensors"]
    manifest = json.loads((run / "export" / "manifest.json").read_text())
    assert all(manifest["files"][w.format]["passed"] for w in written)
    # Raw values meet the training quantiles as they are, not rounded to float32.
    spec = json.loads((run / "export" / "model.json").read_text())
    assert spec["inputs"]["features"]["dtype"] == "float64"
    new = houses(40, seed=3).drop(columns="price")
    new.loc[:2, "town"] = "west"
    new.to_csv(tmp_path / "new.csv", index=False)
    eager = predict_run(run, tmp_path / "new.csv")["prediction"].to_numpy()
    for engine in ("pt2", "torchscript"):
        values = predict_run(run, tmp_path / "new.csv", engine=engine)["prediction"].to_numpy()
        np.testing.assert_allclose(values, eager, rtol=1e-6)
