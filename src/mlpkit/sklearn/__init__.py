"""scikit-learn estimators: ``MLPClassifier`` and ``MLPRegressor``, whose parameters are the
settings of ``mlpkit train`` (the same names, defaults and checks), in ``Pipeline``,
``GridSearchCV`` and ``cross_val_score``, pickled, and fitted on arrays or DataFrames with
categorical columns.

>>> from mlpkit.sklearn import MLPClassifier
>>> from sklearn.model_selection import cross_val_score
>>> cross_val_score(MLPClassifier(hidden=(64,)), X, y, cv=5).mean()  # doctest: +SKIP
"""

from .estimators import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
