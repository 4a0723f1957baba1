"""``mlpkit cv``: a config from a TOML file and flags (``mlpkit train``'s), then K-fold
cross-validation as one stacked run; prints each metric's mean, spread and per-fold values."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from .flags import PANELS, given_settings, out_names, with_setting_flags
from .progress import ProgressBar


@out_names("the cv folder (default: runs/<data name>-cv, or the next free)")
@with_setting_flags
def cv(
    config: Annotated[
        Path | None, typer.Argument(help="a TOML config (e.g. runs/X/config.toml)")
    ] = None,
    folds: Annotated[
        int,
        typer.Option(
            "--folds",
            help="folds: each trains on the others and is scored on its own rows",
            rich_help_panel=PANELS["run"],
        ),
    ] = 5,
    **flags: Any,
) -> None:
    """Cross-validate a run: K folds trained as one stacked model, each metric's mean and spread.

    Takes mlpkit train's settings; --folds K (default 5) cuts the rows into K folds, stratified
    by class, each fold's model trained on the others and scored on it. Writes cv.json,
    history.csv and config.toml to --out (default runs/<data>-cv).
    """
    from ..config import RunConfig, load_config, merge
    from ..cv.folds import check_fold_count

    check_fold_count(folds)
    settings = given_settings(flags)
    base = load_config(config) if config is not None else RunConfig()
    if config is not None and "out" not in settings:
        base.out = None  # a rerun gets a folder of its own
    run_config = merge(base, settings)

    from ..cv.run import cross_validate
    from .console import console

    bar = FoldProgress()
    try:
        result = cross_validate(run_config, folds, callbacks=[bar])
    finally:
        bar.stop()
    console.print(cv_table(result))
    typer.echo(str(result.folder))


class FoldProgress(ProgressBar):
    """The epoch bar with the folds' mean scores only, not every fold's column."""

    def on_epoch_end(self, state) -> None:
        shown = "  ".join(
            f"{k}={v:.4f}"
            for k, v in state.row.items()
            if (k == "train_loss" or k.startswith("val_")) and not k.endswith("_std")
            and isinstance(v, float)
        )  # fmt: skip
        self.progress.update(self.task, completed=state.epoch, metrics=shown)
        self.progress.update(self.steps, visible=False)


def cv_table(result):
    """Metric, mean ± std, min-max and each fold's value; the title says which epoch's."""
    from rich.table import Table

    folds = len(result.folds)
    table = Table(
        title=f"{folds}-fold cross-validation: {result.scores_at}",
        show_header=True,
        header_style="bold",
    )
    # On a narrow terminal the spread wraps at its spaces; the folds' values are never cut.
    table.add_column("metric", no_wrap=True)
    table.add_column("mean ± std", justify="right")
    table.add_column("min-max", justify="right")
    for k in range(folds):
        table.add_column(f"fold {k + 1}", justify="right", no_wrap=True, min_width=6)
    for name, s in result.summary.items():
        table.add_row(
            name,
            f"{s['mean']:.4f} ± {s['std']:.4f}",
            f"{s['min']:.4f} - {s['max']:.4f}",
            *(f"{v:.4f}" for v in s["folds"]),
        )
    epochs = [str(row["epoch"]) for row in result.folds]
    table.add_row("epoch", "", "", *epochs)
    table.caption = f"preprocessing {result.preprocessing}; {result.details['rows']} rows"
    return table
