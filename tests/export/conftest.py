"""Tiny trained runs to export, with the default preprocessing (robust scaling, imputation with
missing-value indicators) unless said: an array classifier (iris), a table regressor with a
categorical column, missing values and a scaled target (and the same with quantile scaling), a
table classifier with a capped categorical column, and a Wide & Deep table classifier."""

from __future__ import annotations

from pathlib import Path

import pytest
from export_samples import houses, labelled, shops, train


@pytest.fixture(scope="session")
def iris_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export_iris") / "iris"
    train(data="iris", hidden=[16], lr=0.01, out=str(out))
    return out


@pytest.fixture(scope="session")
def houses_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("export_houses_data") / "houses.csv"
    houses().to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def houses_run(tmp_path_factory, houses_csv) -> Path:
    out = tmp_path_factory.mktemp("export_houses") / "houses"
    train(
        data=str(houses_csv),
        target="price",
        impute="median",
        unknown_category="ignore",
        scale_target=True,
        hidden=[16],
        lr=0.01,
        out=str(out),
    )
    return out


@pytest.fixture(scope="session")
def labelled_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("export_labelled_data") / "labelled.csv"
    labelled().to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def wide_deep_run(tmp_path_factory, labelled_csv) -> Path:
    out = tmp_path_factory.mktemp("export_wide_deep") / "wide_deep"
    train(
        data=str(labelled_csv),
        target="kind",
        architecture="wide_deep",
        groups={"wide": ["a", "colour"], "deep": ["b", "c", "colour=red"]},
        hidden=[16, 8],
        aux_weight=0.2,
        lr=0.01,
        out=str(out),
    )
    return out


@pytest.fixture(scope="session")
def quantile_run(tmp_path_factory, houses_csv) -> Path:
    out = tmp_path_factory.mktemp("export_quantile") / "quantile"
    train(
        data=str(houses_csv), target="price", numeric_scaling="quantile", hidden=[16], out=str(out)
    )
    return out


@pytest.fixture(scope="session")
def shops_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("export_shops_data") / "shops.csv"
    shops().to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def shops_run(tmp_path_factory, shops_csv) -> Path:
    out = tmp_path_factory.mktemp("export_shops") / "shops"
    train(data=str(shops_csv), target="busy", max_categories=4, hidden=[16], lr=0.01, out=str(out))
    return out
