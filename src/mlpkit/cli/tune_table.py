"""What ``mlpkit tune`` shows: a line per finished trial, and the table at the end."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ",".join(map(_value, value))
    return str(value)


class TrialLines:
    """Prints one line as each trial finishes: its state, value, epochs and the best so far."""

    def __init__(self, spec: Any, console: Any) -> None:
        self.spec = spec
        self.console = console
        self.best: tuple[float, int] | None = None

    def __call__(self, trial: Any) -> None:
        state = trial.state.name.lower()
        seconds = trial.duration.total_seconds() if trial.duration is not None else 0.0
        epochs = trial.user_attrs.get("epochs")
        parts = [f"trial {trial.number:>3} {state:<8}"]
        if state == "complete":
            better = max if self.spec.direction == "maximize" else min
            if self.best is None or better(trial.value, self.best[0]) != self.best[0]:
                self.best = (trial.value, trial.number)
            parts.append(f"{self.spec.metric} {trial.value:.4f}")
        elif state == "pruned" and epochs is not None:
            parts.append(f"after {epochs} epochs")
        elif state == "fail":
            parts.append(trial.user_attrs.get("fail_reason") or "failed")
        parts.append(f"{seconds:.1f} s")
        if self.best is not None:
            parts.append(f"(best {self.best[0]:.4f}, trial {self.best[1]})")
        self.console.print("  ".join(parts), highlight=False)


def tune_table(result: Any) -> Table:
    """Best value and parameters, trial counts, wall time and trials per minute."""
    summary, run = result.summary, result.run
    table = Table(title=f"study {result.spec.study_name}", show_header=True, header_style="bold")
    table.add_column("")
    table.add_column("value", justify="right")
    if summary.best is not None:
        best = summary.best
        table.add_row(f"best {best['metric']}", f"{best['value']:.4f} (trial {best['number']})")
        for name, value in best["settings"].items():
            table.add_row(f"  {name}", _value(value))
        table.add_row("  best epoch", str(best["best_epoch"]))
    else:
        table.add_row("best", "no trial completed")
    counts = summary.counts
    table.add_row("trials", str(sum(counts.values())))
    for state in ("complete", "pruned", "fail"):
        table.add_row(f"  {'failed' if state == 'fail' else state}", str(counts[state]))
    if run.lost:
        table.add_row("  found lost", ", ".join(map(str, run.lost)))
    table.add_row("wall time", f"{run.seconds:.1f} s")
    table.add_row("trials per minute", f"{run.trials_per_minute:.1f} ({run.ran} run now)")
    table.add_row("results", str(result.files["trials"].parent))
    return table
