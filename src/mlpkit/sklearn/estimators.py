"""``MLPClassifier`` and ``MLPRegressor``: mlpkit's MLP as scikit-learn estimators."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from ..config import RunConfig
from ..data.target import TargetScaler
from ..errors import ConfigError
from ..inference.prediction import class_probabilities
from ..losses import CLASSIFICATION_LOSSES
from .base import MLPEstimator, require_y


class MLPClassifier(ClassifierMixin, MLPEstimator, task="classification"):
    """An MLP classifier; its parameters are ``mlpkit train``'s settings, with their defaults.

    Learned: ``classes_``, ``n_features_in_`` (``feature_names_in_`` for a DataFrame),
    ``preprocessor_``, ``model_`` (the ``mlpkit.MLP``), ``history_`` (one row per epoch).
    ``val_fraction`` holds out a stratified validation part (0.15 by default with
    ``early_stopping``), which ``history_`` then reports on.

    >>> from mlpkit.sklearn import MLPClassifier
    >>> clf = MLPClassifier(hidden=(64,), epochs=20).fit(X, y)  # doctest: +SKIP
    >>> clf.predict_proba(X[:2]).round(2)
    """

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> MLPClassifier:
        """One epoch over ``X, y``, continuing from the current weights and optimizer state;
        the first call fits the preprocessing on this ``X`` and needs ``classes``."""
        fitting = not hasattr(self, "model_")
        if fitting:
            if classes is None:
                raise ValueError("the first call to partial_fit needs classes=[...], all of them")
            self._set_classes(np.unique(np.asarray(classes)))
        return self._partial_fit(X, y, fitting)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(n, classes)``, columns in the order of ``classes_``."""
        return class_probabilities(self._outputs(X)).numpy().astype(np.float64)

    def predict(self, X: Any) -> np.ndarray:
        best = np.argmax(self.predict_proba(X), axis=1)
        return self.classes_[best]

    def _targets(self, y: Any, fitting: bool) -> np.ndarray:
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if fitting:
            self._set_classes(np.unique(y))
        unseen = ~np.isin(y, self.classes_)
        if unseen.any():
            raise ValueError(
                f"y has label {y[unseen][0]!r}, not one of classes_ {list(self.classes_)}; "
                "give every class to the first partial_fit call"
            )
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def _set_classes(self, classes: np.ndarray) -> None:
        if len(classes) < 2:
            raise ValueError(
                f"y has only one class ({classes[0]!r}); a classifier needs at least two classes"
            )
        self.classes_ = classes

    def _n_outputs(self, config: RunConfig) -> int:
        if self._loss(config) == "bce_with_logits":
            if len(self.classes_) != 2:
                raise ConfigError(
                    f"bce_with_logits is for two classes, but y has {len(self.classes_)}; "
                    "use cross_entropy"
                )
            return 1
        return len(self.classes_)

    def _loss(self, config: RunConfig) -> str:
        loss = config.optim.loss or "cross_entropy"
        if loss not in CLASSIFICATION_LOSSES:
            raise ConfigError(
                f"loss {loss} is for regression; MLPClassifier takes cross_entropy, nll or "
                "bce_with_logits (or use MLPRegressor)"
            )
        return loss


class MLPRegressor(RegressorMixin, MLPEstimator, task="regression"):
    """An MLP regressor for one target ``(n,)`` or several ``(n, k)``; its parameters are
    ``mlpkit train``'s settings, with their defaults.

    Learned: ``n_features_in_`` (``feature_names_in_`` for a DataFrame), ``n_outputs_``,
    ``preprocessor_``, ``target_scaler_`` (with ``scale_target``), ``model_``, ``history_``.

    >>> from mlpkit.sklearn import MLPRegressor
    >>> reg = MLPRegressor(hidden=(32,), scale_target=True).fit(X, y)  # doctest: +SKIP
    >>> reg.score(X, y)
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # y may be (n, k)
        return tags

    def partial_fit(self, X: Any, y: Any) -> MLPRegressor:
        """One epoch over ``X, y``, continuing from the current weights and optimizer state;
        the first call fits the preprocessing (and target scaling) on this batch."""
        require_y(self, y)
        fitting = not hasattr(self, "model_")
        if fitting:
            self._fit_target(y)
        return self._partial_fit(X, y, fitting)

    def fit(self, X: Any, y: Any) -> MLPRegressor:
        require_y(self, y)
        self._fit_target(y)
        return super().fit(X, y)  # type: ignore[return-value]

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values in the target's units: ``(n,)`` for one target, else ``(n, k)``."""
        values = self._outputs(X).numpy()
        if self.target_scaler_ is not None:
            values = self.target_scaler_.inverse_transform(values)
        values = values.astype(np.float64)
        return values[:, 0] if self._one_target_ else values

    def _fit_target(self, y: Any) -> None:
        y = self._as_array(y)
        self._one_target_ = y.ndim == 1
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        self.target_scaler_ = TargetScaler.fit(y) if self.scale_target else None

    def _targets(self, y: Any, fitting: bool) -> np.ndarray:
        y = self._as_array(y)
        width = 1 if y.ndim == 1 else y.shape[1]
        if width != self.n_outputs_:
            raise ValueError(
                f"y has {width} target(s) but the model predicts {self.n_outputs_}; give the "
                "targets partial_fit was first given"
            )
        y = y.astype(np.float32)
        return y if self.target_scaler_ is None else self.target_scaler_.transform(y)

    @staticmethod
    def _as_array(y: Any) -> np.ndarray:
        from sklearn.utils import check_array

        return check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")

    def _n_outputs(self, config: RunConfig) -> int:
        return self.n_outputs_

    def _loss(self, config: RunConfig) -> str:
        loss = config.optim.loss or "mse"
        if loss in CLASSIFICATION_LOSSES:
            raise ConfigError(
                f"loss {loss} is for classification; MLPRegressor takes mse, l1 or huber "
                "(or use MLPClassifier)"
            )
        return loss
