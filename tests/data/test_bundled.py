"""The built-in tables are scikit-learn's bundled sets, read from its files without importing
it: the same numbers, names and classes as its loaders give."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from mlpkit.data.builtin import BUILTIN

LOADERS = {
    "iris": "load_iris",
    "wine": "load_wine",
    "breast_cancer": "load_breast_cancer",
    "digits": "load_digits",
    "diabetes": "load_diabetes",
}


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_a_bundled_set_is_what_scikit_learns_loader_gives(name):
    import sklearn.datasets

    ours = BUILTIN.get(name)()
    theirs = getattr(sklearn.datasets, LOADERS[name])()
    np.testing.assert_array_equal(ours.X, theirs.data.astype(np.float32))
    np.testing.assert_array_equal(ours.y, theirs.target.astype(ours.y.dtype))
    assert ours.feature_names == [str(f) for f in theirs.feature_names]
    if ours.task == "classification":
        assert ours.class_names == [str(c) for c in theirs.target_names]
    assert ours.description and not ours.description.startswith("..")
    assert ours.description in theirs.DESCR


def test_loading_and_splitting_a_built_in_set_does_not_import_scikit_learn():
    code = (
        "import sys\n"
        "from mlpkit.data.builtin import BUILTIN\n"
        "from mlpkit.data.split import split_indices\n"
        "split_indices(BUILTIN.get('iris')())\n"
        "print('sklearn' in sys.modules, 'scipy' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
