"""Image data sets: the official split, pixels in [0, 1], and the image shape kept for plots.

The IDX files are generated in the real format and put in a cache named by ``MLPKIT_DATA``; the
registered spec gets their checksums (the published ones would not match generated files).
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from mlpkit.config import build_config
from mlpkit.data.downloads import DOWNLOADABLE, RemoteFile, file_checksum
from mlpkit.data.idx import write_idx
from mlpkit.data.prepare import prepare_data
from mlpkit.runs import predict_run, train_run


def cache_fashion_mnist(tmp_path, monkeypatch, n_train: int, n_test: int):
    """Generated Fashion-MNIST files of the given sizes, cached where mlpkit looks for them."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "cache" / "fashion_mnist"
    folder.mkdir(parents=True)
    arrays = []
    for n in (n_train, n_test):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = np.zeros((n, 28, 28), dtype=np.uint8)
        images[:, 0, :10] = rng.integers(0, 256, (n, 10), dtype=np.uint8)
        images[np.arange(n), 14, labels] = 255  # one bright pixel says the class
        arrays += [images, labels]
    spec = DOWNLOADABLE["fashion_mnist"]
    files = []
    for remote, array in zip(spec.files, arrays, strict=True):
        write_idx(folder / remote.filename, array)
        files.append(
            RemoteFile(remote.filename, remote.urls, file_checksum(folder / remote.filename, "md5"))
        )
    monkeypatch.setitem(
        DOWNLOADABLE, "fashion_mnist", dataclasses.replace(spec, files=tuple(files))
    )
    monkeypatch.setenv("MLPKIT_DATA", str(tmp_path / "cache"))


def test_fashion_mnist_splits_55000_5000_10000_and_can_keep_unit_range(tmp_path, monkeypatch):
    cache_fashion_mnist(tmp_path, monkeypatch, 60_000, 10_000)

    prepared = prepare_data(build_config({"data": "fashion_mnist", "normalize": False}))

    X_train, y_train = prepared.train
    assert len(X_train) == 55_000 and len(prepared.val[1]) == 5_000
    assert len(prepared.test[1]) == 10_000
    assert np.bincount(prepared.val[1]).tolist() == [500] * 10  # stratified
    assert X_train.shape[1] == 784 and X_train.dtype == np.float32
    assert X_train.min() == 0.0 and X_train.max() == 1.0  # scaled, not standardised


def test_an_explicit_validation_fraction_wins_over_the_customary_size(tmp_path, monkeypatch):
    cache_fashion_mnist(tmp_path, monkeypatch, 200, 50)
    prepared = prepare_data(build_config({"data": "fashion_mnist", "val_fraction": 0.1}))
    assert [len(prepared.train[1]), len(prepared.val[1]), len(prepared.test[1])] == [180, 20, 50]


def test_image_shape_is_saved_and_predict_takes_unflattened_images(tmp_path, monkeypatch):
    cache_fashion_mnist(tmp_path, monkeypatch, 300, 40)
    out = tmp_path / "run"
    config = build_config(
        {"data": "fashion_mnist", "epochs": 30, "hidden": [], "lr": 0.05, "out": str(out)}
    )
    result = train_run(config)

    meta = json.loads((out / "model.json").read_text())
    assert meta["image_shape"] == [28, 28] and meta["class_names"][9] == "Ankle boot"
    images = np.zeros((2, 28, 28), dtype=np.float32)
    images[0, 14, 3], images[1, 14, 9] = 1.0, 1.0
    np.save(tmp_path / "two.npy", images)
    predictions = predict_run(out, tmp_path / "two.npy")
    assert result.test_metrics["accuracy"] == pytest.approx(1.0)
    assert predictions["class"].tolist() == ["Dress", "Ankle boot"]
