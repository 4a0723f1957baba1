"""Keras 3 on its torch backend: ``Sequential.fit`` for one epoch."""

from __future__ import annotations

import os

from workload import CLASSES, HIDDEN, IN_FEATURES, LR, MOMENTUM, Workload

os.environ.setdefault("KERAS_BACKEND", "torch")  # must be set before keras is imported

LABEL = "Keras (torch backend)"
REQUIRES = ("keras",)


def make_epoch(batch_size: int):
    import keras

    if keras.backend.backend() != "torch":
        raise RuntimeError(f"keras runs on {keras.backend.backend()}, expected torch")
    keras.utils.set_random_seed(1)
    layers = [keras.Input((IN_FEATURES,))]
    layers += [keras.layers.Dense(width, activation="relu") for width in HIDDEN]
    model = keras.Sequential([*layers, keras.layers.Dense(CLASSES)])
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=LR, momentum=MOMENTUM),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )

    def epoch(data: Workload) -> float:
        history = model.fit(
            data.x.numpy(), data.y.numpy(), batch_size=batch_size, epochs=1, verbose=0
        )
        return float(history.history["loss"][-1])

    return epoch
