"""Plots of runs and models, drawn headless with matplotlib (the ``mlpkit[plots]`` extra) and
written as PNG files. Each function takes plain arrays or a history DataFrame and a path; the
run report (``mlpkit.report``) decides which plots a run gets."""

from .activations import activation_values, plot_activations
from .classification import confusion_matrix_plot, roc_pr_plot, wrong_images_grid
from .curves import learning_curves, learning_rate_curve, overlaid_curves, quantities
from .figure import plots_available
from .regression import fitted_curve, predicted_vs_true
from .surface import decision_surface

__all__ = [
    "activation_values",
    "confusion_matrix_plot",
    "decision_surface",
    "fitted_curve",
    "learning_curves",
    "learning_rate_curve",
    "overlaid_curves",
    "plot_activations",
    "plots_available",
    "predicted_vs_true",
    "quantities",
    "roc_pr_plot",
    "wrong_images_grid",
]
