"""mlpkit's scikit-learn classifier against scikit-learn's own MLP, as a user would compare them:
digits, the same 5-fold cross-validation, each with its default settings."""

import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier as ScikitLearnMLP

from mlpkit.sklearn import MLPClassifier


def test_the_default_classifier_is_at_least_as_accurate_as_scikit_learns_mlp_on_digits():
    X, y = load_digits(return_X_y=True)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    # One thread: the same folds give the same scores on every run (see threads.py).
    ours = cross_val_score(MLPClassifier(seed=0, threads=1), X, y, cv=folds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = cross_val_score(ScikitLearnMLP(random_state=0), X, y, cv=folds)
    assert ours.mean() >= theirs.mean(), (ours.round(4), theirs.round(4))
