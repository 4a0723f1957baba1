"""mlpkit's public entry point: ``mlpkit.fit`` for one epoch, the whole call timed."""

from __future__ import annotations

from workload import HIDDEN, IN_FEATURES, LR, MOMENTUM, Workload, torch_mlp

LABEL = "mlpkit.fit"
REQUIRES = ("mlpkit",)


def fit_epoch(batch_size: int, **options):
    """One ``mlpkit.fit`` epoch per call, with extra ``fit`` options (precision, compile)."""
    import mlpkit

    fit = mlpkit.fit  # AttributeError (reported as skipped) while the trainer is not there
    model = mlpkit.MLP(IN_FEATURES, list(HIDDEN), 10)
    model.load_state_dict(torch_mlp().state_dict())
    expected = "autograd" if options else "fused"

    def epoch(data: Workload) -> float:
        history = fit(
            model, "cross_entropy", (data.x, data.y), epochs=1, batch_size=batch_size,
            optimizer="sgd", lr=LR, momentum=MOMENTUM, label_smoothing=0.0, **options,
        )  # fmt: skip
        if history.attrs.get("step") != expected:
            print(f"note: mlpkit.fit used the {history.attrs.get('step_details')} step")
        return float(history["train_loss"].iloc[-1])

    return epoch


def make_epoch(batch_size: int):
    return fit_epoch(batch_size)
