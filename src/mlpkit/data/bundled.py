"""scikit-learn's bundled data sets, read from the files scikit-learn installs.

Reading the files directly gives the same arrays as ``sklearn.datasets.load_*`` (a test compares
them value for value) without importing scikit-learn, whose import (it brings SciPy) was about
3 s of an ``mlpkit train --data iris`` run's start on a 2-core machine. The feature names are the
ones scikit-learn's loaders give; the files do not hold them.
"""

from __future__ import annotations

import gzip
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataNotFoundError
from .source import Task

_BREAST_CANCER_MEASURES = [
    "radius",
    "texture",
    "perimeter",
    "area",
    "smoothness",
    "compactness",
    "concavity",
    "concave points",
    "symmetry",
    "fractal dimension",
]


@dataclass(frozen=True)
class Bundled:
    """One bundled set: its data file(s) in ``sklearn/datasets/data`` and what the loader adds."""

    data_file: str
    description_file: str
    task: Task
    feature_names: tuple[str, ...]
    target_file: str | None = None  # a separate target file (diabetes); else the last column
    class_line: bool = True  # a first line "rows,columns,class names..." (not digits, diabetes)
    delimiter: str | None = ","  # None: whitespace (diabetes)


BUNDLED = {
    "iris": Bundled(
        "iris.csv",
        "iris.rst",
        "classification",
        ("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"),
    ),
    "wine": Bundled(
        "wine_data.csv",
        "wine_data.rst",
        "classification",
        (
            "alcohol",
            "malic_acid",
            "ash",
            "alcalinity_of_ash",
            "magnesium",
            "total_phenols",
            "flavanoids",
            "nonflavanoid_phenols",
            "proanthocyanins",
            "color_intensity",
            "hue",
            "od280/od315_of_diluted_wines",
            "proline",
        ),
    ),
    "breast_cancer": Bundled(
        "breast_cancer.csv",
        "breast_cancer.rst",
        "classification",
        tuple(
            f"{kind} {measure}" if kind != "error" else f"{measure} error"
            for kind in ("mean", "error", "worst")
            for measure in _BREAST_CANCER_MEASURES
        ),
    ),
    "digits": Bundled(
        "digits.csv.gz",
        "digits.rst",
        "classification",
        tuple(f"pixel_{row}_{column}" for row in range(8) for column in range(8)),
        class_line=False,
    ),
    "diabetes": Bundled(
        "diabetes_data_raw.csv.gz",
        "diabetes.rst",
        "regression",
        ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"),
        target_file="diabetes_target.csv.gz",
        class_line=False,
        delimiter=None,
    ),
}


@dataclass
class BundledTable:
    """A bundled set as float64 features, its targets, class names (labelled sets) and title."""

    X: np.ndarray
    y: np.ndarray
    class_names: list[str] | None
    feature_names: list[str]
    title: str


def read_bundled(name: str) -> BundledTable:
    """Read one of scikit-learn's bundled sets (``BUNDLED``) from its installed files.

    The labelled CSVs start with a line ``rows,columns,class names...``; digits has its label
    in the last column and no such line; diabetes' features are standardised and divided by
    the square root of the row count, as ``load_diabetes()`` (``scaled=True``) gives them.

    >>> table = read_bundled("iris")
    >>> table.X.shape, table.class_names
    ((150, 4), ['setosa', 'versicolor', 'virginica'])
    """
    spec = BUNDLED[name]
    folder = _sklearn_folder() / "datasets"
    header, table = _read_numbers(folder / "data" / spec.data_file, spec)
    if spec.target_file is not None:
        X = _standardise(table)
        y = _read_numbers(folder / "data" / spec.target_file, spec)[1]
        class_names = None
    else:
        X, y = table[:, :-1], table[:, -1].astype(np.int64)
        class_names = header[2:] if header else [str(c) for c in range(int(y.max()) + 1)]
    return BundledTable(
        X=X,
        y=y,
        class_names=class_names,
        feature_names=list(spec.feature_names),
        title=_title(folder / "descr" / spec.description_file, name),
    )


def _sklearn_folder() -> Path:
    # find_spec locates the installed package without running its __init__.
    found = importlib.util.find_spec("sklearn")
    if found is None or not found.submodule_search_locations:
        raise DataNotFoundError(
            "the built-in tables (iris, wine, breast_cancer, digits, diabetes) are the ones "
            "scikit-learn ships; install scikit-learn (pip install scikit-learn)"
        )
    return Path(next(iter(found.submodule_search_locations)))


def _read_numbers(path: Path, spec: Bundled) -> tuple[list[str], np.ndarray]:
    """The class line's fields (empty without one) and the numbers below it."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as file:
        header = file.readline().strip().split(",") if spec.class_line else []
        return header, np.loadtxt(file, delimiter=spec.delimiter, ndmin=1)


def _standardise(raw: np.ndarray) -> np.ndarray:
    # load_diabetes' operations in its order (the spread of the raw values, division in place),
    # so that the values agree to the bit.
    X = raw - np.nanmean(raw, axis=0)
    X /= np.nanstd(raw, axis=0)
    X /= raw.shape[0] ** 0.5
    return X


def _title(path: Path, name: str) -> str:
    """The description's first line that is text (not an reST label such as ``.. _iris:``)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return name
    return next(
        (line.strip() for line in lines if line.strip() and not line.startswith("..")), name
    )
