"""Each plot is a real PNG whose pixels show what it claims (matplotlib, headless)."""

import sys

import numpy as np
import pandas as pd
import pytest

from mlpkit.errors import ConfigError, MissingExtraError

pytest.importorskip("matplotlib")
from PIL import Image  # noqa: E402  (pillow comes with matplotlib)

from mlpkit import plots  # noqa: E402


def pixels(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int64)


def history(epochs=6, metric="accuracy"):
    epoch = np.arange(1, epochs + 1)
    return pd.DataFrame(
        {
            "epoch": epoch,
            "total_time": 0.5 * epoch,
            "train_loss": 1 / epoch,
            "val_loss": 1 / epoch + 0.05 * (epoch - 3) ** 2 / epochs,
            f"train_{metric}": 1 - 0.5 / epoch,
            f"val_{metric}": 1 - 0.6 / epoch,
        }
    )


def test_learning_curves_draw_a_row_per_quantity_and_mark_the_chosen_best_epoch(tmp_path):
    frame = history()
    two = plots.learning_curves(frame, tmp_path / "a.png", best_epoch=2, monitor="val_loss")
    four = plots.learning_curves(frame, tmp_path / "b.png", best_epoch=4, monitor="val_loss")
    plain = plots.learning_curves(frame.drop(columns=["train_accuracy", "val_accuracy"]),
                                  tmp_path / "c.png")  # fmt: skip
    assert plots.quantities(frame) == ["loss", "accuracy"]
    a, b, c = pixels(two), pixels(four), pixels(plain)
    assert a.shape == b.shape and a.shape[1] == 1000  # 10 inches at 100 dpi
    assert c.shape[0] < a.shape[0]  # one row of panels fewer
    assert (a != b).any(axis=2).sum() > 200  # the marker moved with the best epoch


def test_the_learning_rate_curve_is_log_scaled_when_the_schedule_spans_decades(tmp_path):
    frame = history().assign(lr=[1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6])
    path = plots.learning_rate_curve(frame, tmp_path / "lr.png")
    image = pixels(path)
    assert image.shape == (320, 600, 3)
    assert (image.sum(axis=2) < 300).any()  # a drawn curve, not an empty canvas


def test_the_confusion_matrix_shades_the_cells_that_hold_the_samples(tmp_path):
    y = np.repeat([0, 1, 2], 20)
    right = plots.confusion_matrix_plot(y, y, ["cat", "dog", "bird"], tmp_path / "right.png")
    shuffled = np.roll(y, 20)  # every sample predicted as the next class
    wrong = plots.confusion_matrix_plot(y, shuffled, ["cat", "dog", "bird"], tmp_path / "w.png")
    assert pixels(right).shape == pixels(wrong).shape
    assert (pixels(right) != pixels(wrong)).any(axis=2).sum() > 1000


def test_the_confusion_counts_are_scikit_learns():
    from sklearn.metrics import confusion_matrix

    from mlpkit.plots.classification import confusion_counts

    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 5, 300), rng.integers(0, 5, 300)
    y_true[:4] = 6  # a label outside the classes asked for is left out by both
    np.testing.assert_array_equal(
        confusion_counts(y_true, y_pred, 5), confusion_matrix(y_true, y_pred, labels=range(5))
    )


def test_roc_and_precision_recall_curves_are_drawn_for_two_classes(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    score = np.clip(y * 0.6 + rng.normal(0.2, 0.25, 200), 0, 1)
    path = plots.roc_pr_plot(y, score, "yes", tmp_path / "roc.png")
    one_class = plots.roc_pr_plot(np.ones(5), np.ones(5), "yes", tmp_path / "one.png")
    assert pixels(path).shape == (440, 1000, 3)
    assert (pixels(path) != pixels(one_class)).any()


def test_the_wrong_images_grid_shows_only_misclassified_images_most_confident_first(tmp_path):
    images = np.zeros((10, 8, 8))
    images[3, :, :4] = 1  # wrong, less sure: dark on the left
    images[7, :, 4:] = 1  # wrong, surer: dark on the right
    y = np.zeros(10, dtype=np.int64)
    probabilities = np.tile([0.9, 0.1], (10, 1))
    assert plots.wrong_images_grid(images, y, probabilities, ["a", "b"], tmp_path / "x") is None
    probabilities[3], probabilities[7] = [0.4, 0.6], [0.1, 0.9]
    path = plots.wrong_images_grid(images, y, probabilities, ["a", "b"], tmp_path / "w.png")
    grey = pixels(path).mean(axis=2)
    assert grey.shape[1] == 320  # two images of 1.6 inches: only the wrong ones
    height, tile = grey.shape[0], 320 * 8 / 18  # a tile: 8 of the mosaic's 18 columns
    middle = grey[int(0.55 * height) : int(0.8 * height)]
    first_left, first_right = (
        middle[:, 10 : int(tile / 2) - 10],
        middle[:, int(tile / 2) + 10 : int(tile) - 10],
    )
    assert first_right.mean() < 80 < 180 < first_left.mean()  # image 7 first: the surer


def test_regression_plots_show_predictions_residuals_and_the_fitted_curve(tmp_path):
    x = np.linspace(0, 20, 200)
    y = x + 2 * np.sin(x)
    path = plots.predicted_vs_true(y, y + 0.1, ["y"], tmp_path / "reg.png")
    assert pixels(path).shape == (420, 1000, 3)
    curve = plots.fitted_curve(x, y, lambda grid: grid[:, 0] + 2 * np.sin(grid[:, 0]),
                               tmp_path / "curve.png")  # fmt: skip
    assert pixels(curve).shape == (440, 800, 3)


def test_the_decision_surface_colours_each_side_by_the_class_the_model_predicts(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(100, 2))
    y = (X[:, 0] > 0).astype(np.int64)

    def probabilities(points):  # class 1 right of x = 0, surely
        right = (points[:, 0] > 0).astype(float)
        return np.column_stack([1 - right, right])

    image = pixels(plots.decision_surface(X, y, probabilities, ["0", "1"], tmp_path / "s.png"))
    middle = image[image.shape[0] // 2]
    row = middle[60:480]  # across the axes, left of the colour bar
    red = row[:, 0] - row[:, 2]
    assert (red[:80] < -40).mean() > 0.5  # blue on the left
    assert (red[-80:] > 40).mean() > 0.5  # red on the right


def test_activation_derivatives_match_their_formulas():
    x = np.linspace(-3, 3, 13)
    relu, d_relu = plots.activation_values("relu", x)
    tanh, d_tanh = plots.activation_values("tanh", x)
    sigmoid, d_sigmoid = plots.activation_values("sigmoid", x)
    np.testing.assert_allclose(relu, np.maximum(x, 0))
    np.testing.assert_allclose(d_relu, (x > 0).astype(float))
    np.testing.assert_allclose(d_tanh, 1 - np.tanh(x) ** 2, atol=1e-12)
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(d_sigmoid, s * (1 - s), atol=1e-12)


def test_plot_activations_draws_the_named_ones_and_refuses_an_unknown_name(tmp_path):
    path = plots.plot_activations(tmp_path / "act.png", ["relu", "tanh"])
    assert pixels(path).shape == (270, 640, 3)
    with pytest.raises(ConfigError, match="unknown activation 'swish'; choose one of"):
        plots.plot_activations(tmp_path / "bad.png", ["swish"])
    assert not (tmp_path / "bad.png").exists()


def test_without_matplotlib_a_plot_names_the_extra_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert not plots.plots_available()
    with pytest.raises(MissingExtraError, match=r"pip install 'mlpkit\[plots\]'"):
        plots.learning_curves(history(), tmp_path / "a.png")


def test_mlpkit_plot_activations_writes_the_png_it_names(tmp_path):
    import os
    import subprocess
    from pathlib import Path

    src = str(Path(__file__).resolve().parents[2] / "src")
    result = subprocess.run(
        [sys.executable, "-m", "mlpkit", "plot", "activations", "--names", "relu,gelu,tanh",
         "--out", "act.png"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": src}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "act.png"
    assert pixels(tmp_path / "act.png").shape == (270, 960, 3)  # three panels in a row
