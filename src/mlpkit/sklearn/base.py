"""What the classifier and the regressor share: parameters from the settings, input checks as
scikit-learn makes them, the preprocessing, the model, and training through ``mlpkit.fit``.

Arrays go through ``validate_data`` (numbers only); a DataFrame with text or category columns
(or columns named in ``categorical``) goes through mlpkit's own table checks and preprocessing,
which one-hot encodes those columns.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_consistent_length, check_is_fitted, validate_data

from ..callbacks.base import Callback, TrainingState
from ..config import FIT_SETTINGS, RunConfig, Setting
from ..config.settings import unknown
from ..data.encode import is_categorical, tidy_table
from ..data.prepare import preprocessor_for
from ..data.preprocess import Preprocessor
from ..inference.evaluation import EVAL_BATCH_SIZE, infer
from ..models import MLP
from ..nested import primary
from ..training.fit import fit
from ..training.seeding import seed_everything
from .params import default, estimator_settings, init_signature, run_config

VALIDATION_SHARE = 0.15  # with early stopping and no val_fraction, as mlpkit train holds out


class KeepOptimizerState(Callback):
    """Carries the optimizer's state (Adam's moments, momentum) from one ``partial_fit`` call
    to the next, as one long training would."""

    def __init__(self) -> None:
        self.saved: dict[str, Any] | None = None

    def on_fit_start(self, state: TrainingState) -> None:
        if self.saved is not None:
            state.optimizer.load_state_dict(self.saved)

    def on_fit_end(self, state: TrainingState) -> None:
        self.saved = state.optimizer.state_dict()


def require_y(estimator: BaseEstimator, y: Any) -> None:
    if y is None:
        raise ValueError(
            f"{type(estimator).__name__} requires y to be passed, but the target y is None"
        )


class MLPEstimator(BaseEstimator, ABC):
    """The estimators' base. Subclasses set ``task`` when they subclass it:
    ``class MLPClassifier(ClassifierMixin, MLPEstimator, task="classification")``."""

    _task: ClassVar[str]
    _settings: ClassVar[dict[str, Setting]]

    def __init_subclass__(cls, task: str | None = None, **options: Any) -> None:
        super().__init_subclass__(**options)
        if task is None:
            return
        cls._task = task
        cls._settings = estimator_settings(task)
        defaults = {name: default(s) for name, s in cls._settings.items()}

        def __init__(self, **params: Any) -> None:
            for name in params:
                if name not in defaults:
                    raise TypeError(str(unknown(f"parameter of {cls.__name__}", name, [*defaults])))
            for name, value in defaults.items():
                setattr(self, name, params.get(name, value))

        __init__.__signature__ = init_signature(cls._settings)  # type: ignore[attr-defined]
        __init__.__doc__ = "Parameters: " + "; ".join(
            f"``{n}={defaults[n]!r}``: {s.help}" for n, s in cls._settings.items()
        )
        cls.__init__ = __init__  # type: ignore[method-assign]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self._imputes()
        tags.input_tags.categorical = True  # DataFrames with text or category columns
        return tags

    # -- training -------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> MLPEstimator:
        """Fit the preprocessing and train a new model on ``X`` (array or DataFrame) and ``y``."""
        config = self._config()
        require_y(self, y)
        features = self._features(X, reset=True, y=y)
        targets = self._targets(y, fitting=True)
        self.preprocessor_ = self._preprocessor(config).fit(features, source="X")
        inputs = self.preprocessor_.transform(features, "X")
        seed_everything(config.train.seed)  # the weights, then everything fit draws
        self.model_ = self._build_model(config, inputs.shape[1])
        self.optimizer_state_ = KeepOptimizerState()  # for partial_fit calls after fit
        train, val = self._split(config, inputs, targets)
        epochs = config.train.epochs
        self.history_ = self._train(config, train, val, epochs, [self.optimizer_state_])
        return self

    def _partial_fit(self, X: Any, y: Any, fitting: bool) -> MLPEstimator:
        config = self._config()
        require_y(self, y)
        features = self._features(X, reset=fitting, y=y)
        targets = self._targets(y, fitting=False)
        if fitting:
            self.preprocessor_ = self._preprocessor(config).fit(features, source="X")
        inputs = self.preprocessor_.transform(features, "X")
        if fitting:
            seed_everything(config.train.seed)
            self.model_ = self._build_model(config, inputs.shape[1])
            self.optimizer_state_ = KeepOptimizerState()
            self.history_ = pd.DataFrame()
        history = self._train(config, (inputs, targets), None, 1, [self.optimizer_state_])
        history["epoch"] = len(self.history_) + 1
        self.history_ = pd.concat([self.history_, history], ignore_index=True)
        return self

    def _config(self) -> RunConfig:
        return run_config(self._settings, {name: getattr(self, name) for name in self._settings})

    def _preprocessor(self, config: RunConfig) -> Preprocessor:
        """The preprocessing settings, each from its declared setting as ``mlpkit train``
        passes it (``data.prepare.prepare_data``)."""
        return preprocessor_for(config.data)

    def _imputes(self) -> bool:
        """Whether missing values are filled: ``impute="none"`` (or None) refuses them."""
        return getattr(self, "impute", None) not in (None, "none")

    def _build_model(self, config: RunConfig, n_inputs: int) -> MLP:
        model = config.model
        return MLP(
            n_inputs,
            model.hidden,
            self._n_outputs(config),
            activation=model.activation,
            dropout=model.dropout,
            batch_norm=model.batch_norm,
            log_softmax=config.optim.loss == "nll",
        )

    def _split(self, config: RunConfig, inputs: np.ndarray, targets: np.ndarray):
        share = config.data.val_fraction
        if share is None and config.train.early_stopping is not None:
            share = VALIDATION_SHARE
        if not share:
            return (inputs, targets), None
        from sklearn.model_selection import train_test_split

        stratify = targets if self._task == "classification" else None
        parts = train_test_split(
            inputs, targets, test_size=share, random_state=config.train.seed, stratify=stratify
        )
        return (parts[0], parts[2]), (parts[1], parts[3])

    def _train(
        self, config: RunConfig, train: Any, val: Any, epochs: int, callbacks: Any = ()
    ) -> pd.DataFrame:
        keywords = {
            name: getattr(getattr(config, s.section), name)
            for name, s in FIT_SETTINGS.items()
            if name in self._settings
        }
        keywords["epochs"] = epochs
        return fit(self.model_, self._loss(config), train, val, callbacks=callbacks, **keywords)

    # -- inputs -----------------------------------------------------------------------------------
    def _features(self, X: Any, reset: bool, y: Any = None) -> Any:
        """``X`` as the preprocessor takes it: a float array, or a checked table."""
        table = self._is_table(X, reset)
        if table:
            validate_data(self, X, skip_check_array=True, reset=reset)
            if y is not None:
                check_consistent_length(X, y)
            if len(X) == 0:
                raise ValueError("X has 0 samples; a minimum of 1 is required")
            frame = X.set_axis([str(c) for c in X.columns], axis=1)
            return tidy_table(frame, "X", getattr(self, "categorical", None) or ())
        X = validate_data(
            self,
            X,
            reset=reset,
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan" if self._imputes() else True,
        )
        if y is not None:
            check_consistent_length(X, y)
        return X

    def _is_table(self, X: Any, reset: bool) -> bool:
        if not reset:
            return self.preprocessor_.input_ == "table"
        if not isinstance(X, pd.DataFrame):
            return False
        named = set(getattr(self, "categorical", None) or ())
        return bool(named) or any(is_categorical(X[c]) for c in X.columns)

    # -- outputs ----------------------------------------------------------------------------------
    def _outputs(self, X: Any) -> torch.Tensor:
        """The model's raw outputs on ``X``, in batches, in eval mode."""
        check_is_fitted(self, "model_")
        inputs = self.preprocessor_.transform(self._features(X, reset=False), "X")
        device = next(self.model_.parameters()).device
        tensor = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32)).to(device)
        batches = [
            (tensor[start : start + EVAL_BATCH_SIZE], None)
            for start in range(0, len(tensor), EVAL_BATCH_SIZE)
        ]
        _, outputs, _ = infer(self.model_, batches)
        return primary(outputs).float().cpu()

    # Subclasses: the targets as the model trains on them, the outputs and the loss.
    @abstractmethod
    def _targets(self, y: Any, fitting: bool) -> np.ndarray: ...

    @abstractmethod
    def _n_outputs(self, config: RunConfig) -> int: ...

    @abstractmethod
    def _loss(self, config: RunConfig) -> str: ...
