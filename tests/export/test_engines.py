"""The prediction engines as a server keeps them open: one predictor, many calls, each giving
what ``mlpkit predict`` gives for the whole file; ONNX Runtime's session (one thread, no
spinning, a large batch in chunks on as many workers as torch has threads); the cheaper graph
pieces (the smooth clip in six steps, no reordering copy where the columns are in order) still
computing what the preprocessing computes."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from export_samples import houses

from mlpkit.data.loading import read_features
from mlpkit.data.preprocess import Preprocessor
from mlpkit.data.scaling import smooth_clip as eager_smooth_clip
from mlpkit.errors import DataError
from mlpkit.export import onnx as onnx_format
from mlpkit.export.engines import EnginePredictor, run_batched
from mlpkit.export.inputs import InputLayout, graph_inputs
from mlpkit.export.serving import Serving, smooth_clip
from mlpkit.runs import predict_run
from mlpkit.runs.export import export_run
from mlpkit.runs.predict import EagerPredictor, open_predictor


@pytest.fixture(scope="module")
def exported_iris(iris_run, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("engines") / "iris"
    shutil.copytree(iris_run, run, ignore=shutil.ignore_patterns("export", "checkpoints"))
    export_run(run, "onnx,pt2,torchscript")
    return run


def iris_rows(run: Path, rows: int = 40) -> np.ndarray:
    from sklearn.datasets import load_iris

    X = load_iris().data[:rows]
    return X.astype(np.float32)


@pytest.mark.parametrize("engine", ["torch", "pt2", "torchscript", "onnx"])
def test_an_open_predictor_gives_the_files_predictions_call_after_call(
    exported_iris, tmp_path, engine
):
    X = iris_rows(exported_iris)
    path = tmp_path / "new.npy"
    np.save(path, X)
    expected = predict_run(exported_iris, path, top_k=2, engine=engine)
    predictor = open_predictor(exported_iris, engine)
    assert isinstance(predictor, EagerPredictor if engine == "torch" else EnginePredictor)
    raw = read_features(path, predictor.preprocessor, None)
    for _ in range(2):  # the second call reuses what the first opened
        pd.testing.assert_frame_equal(predictor(raw, top_k=2).to_frame(), expected)
    # Row by row (one thread in ONNX Runtime) as in one batch (the pool).
    single = pd.concat(
        [predictor(raw[i : i + 1], top_k=2).to_frame() for i in range(len(raw))],
        ignore_index=True,
    )
    assert (single["class_index_1"] == expected["class_index_1"]).all()
    np.testing.assert_allclose(single["probability_1"], expected["probability_1"], atol=1e-6)


def test_the_onnx_engine_runs_one_thread_per_chunk_of_a_large_batch(exported_iris):
    path = exported_iris / "export" / "model.onnx"
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        run = onnx_format.load(path)
        options = run.session.get_session_options()
        assert options.intra_op_num_threads == 1
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
        # Two full chunks and a part one, on two workers: the rows come back in their order.
        X = np.tile(iris_rows(exported_iris), (14, 1))
        assert 2 * onnx_format.CHUNK_ROWS < len(X) < 3 * onnx_format.CHUNK_ROWS
        many = run({"features": X})
        whole = run.session.run(None, {"features": X})[0]
        assert many.shape == whole.shape == (len(X), 3)
        np.testing.assert_allclose(many, whole, atol=1e-6)
        few = np.concatenate([run({"features": X[i : i + 1]}) for i in range(40)])
        np.testing.assert_allclose(few, many[:40], atol=1e-6)
        assert onnx_format.session_options(1).intra_op_num_threads == 1
    finally:
        torch.set_num_threads(before)


def test_batches_are_run_whole_when_they_fit_and_in_pieces_otherwise():
    seen: list[int] = []

    def engine(inputs: dict[str, np.ndarray]) -> np.ndarray:
        seen.append(len(inputs["features"]))
        assert inputs["features"].flags.c_contiguous
        return inputs["features"] * 2

    X = np.arange(20.0, dtype=np.float32).reshape(10, 2)
    np.testing.assert_array_equal(run_batched(engine, {"features": X}, rows=10), X * 2)
    np.testing.assert_array_equal(
        run_batched(engine, {"features": X[:, ::-1]}, rows=4), X[:, ::-1] * 2
    )
    assert seen == [10, 4, 4, 2]


def test_a_given_layout_encodes_as_one_built_anew():
    table = houses(60).drop(columns="price")
    preprocessor = Preprocessor().fit(table)
    layout = InputLayout.of(preprocessor)
    given = graph_inputs(table, preprocessor, "the data", layout)
    built = graph_inputs(table, preprocessor)
    assert given.keys() == built.keys() == {"features", "categories"}
    for name in given:
        np.testing.assert_array_equal(given[name], built[name])


def test_features_beyond_float32_are_refused_as_the_eager_model_refuses_them():
    table = houses(60).drop(columns="price")
    preprocessor = Preprocessor().fit(table)
    numeric = InputLayout.of(preprocessor).numeric[0]
    table[numeric] = table[numeric].astype(float)
    table.loc[table.index[2], numeric] = 1e308  # inf as float32; the graph would clip it to 3
    with pytest.raises(DataError, match=rf"column '{numeric}' of new.csv is inf .* data row 3"):
        graph_inputs(table, preprocessor, "new.csv")
    with pytest.raises(DataError, match=rf"column '{numeric}'.*data row 3.*rescale"):
        preprocessor.transform(table, "new.csv")


def test_the_smooth_clip_in_six_steps_keeps_the_preprocessors_values_and_gaps():
    x = np.array([0.0, 1e-30, -2.5, 3.0, 7.0, -1e5, 1e18, 3e38, np.nan], dtype=np.float32)
    got = smooth_clip(torch.from_numpy(x), 3.0).numpy()
    np.testing.assert_allclose(got, eager_smooth_clip(x.copy()), rtol=1e-6, equal_nan=True)
    assert np.isnan(got[-1])
    inf = torch.tensor([np.inf, -np.inf])
    assert smooth_clip(inf, 3.0).tolist() == [3.0, -3.0]  # the limit, not NaN


def test_columns_already_in_order_are_not_reordered_and_others_are():
    class Inputs(torch.nn.Module):
        def __init__(self, width: int) -> None:
            super().__init__()
            self.out_features = width

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    rng = np.random.default_rng(0)
    array = rng.normal(size=(50, 4))
    table = houses(80).drop(columns="price")
    for data, reordered in ((array, False), (table, True)):
        preprocessor = Preprocessor().fit(data)
        serving = Serving(Inputs(preprocessor.n_outputs_), preprocessor, "regression").eval()
        assert serving.reorder is reordered
        inputs = graph_inputs(data, preprocessor)
        with torch.no_grad():
            got = serving(**{k: torch.from_numpy(v) for k, v in inputs.items()}).numpy()
        np.testing.assert_allclose(got, preprocessor.transform(data), rtol=1e-6, atol=1e-6)


def test_the_onnx_graph_fills_gaps_with_an_imputer_as_the_eager_model_does(houses_run, tmp_path):
    import onnx

    run = tmp_path / "houses"
    shutil.copytree(houses_run, run, ignore=shutil.ignore_patterns("export", "checkpoints"))
    export_run(run, "onnx")
    graph = onnx.load(run / "export" / "model.onnx").graph
    tests = {n.output[0] for n in graph.node if n.op_type == "IsNaN"}
    assert "Imputer" in [n.op_type for n in graph.node]
    assert not [n for n in graph.node if n.op_type == "Where" and n.input[0] in tests]
    rows = houses(40, seed=3).drop(columns="price")
    rows.loc[:9, "age"] = np.nan  # a gap in every other row of the first twenty
    rows.loc[10:14, "rooms"] = np.nan  # a column without gaps in training
    path = tmp_path / "gaps.csv"
    rows.to_csv(path, index=False)
    eager = predict_run(run, path)["prediction"].to_numpy()
    exported = predict_run(run, path, engine="onnx")["prediction"].to_numpy()
    np.testing.assert_allclose(exported, eager, rtol=1e-5)
