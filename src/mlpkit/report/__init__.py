"""Pages about runs: ``report.html`` for one run (its facts in ``run.json``, its plots in
``plots/``) and a comparison of several runs. ``mlpkit.runs.report`` writes them for a run
folder."""

from .compare import Comparison, compare_runs
from .facts import read_facts, run_facts, write_facts
from .run_plots import Plot, run_plots
from .run_report import REPORT, build_report, write_report

__all__ = [
    "REPORT",
    "Comparison",
    "Plot",
    "build_report",
    "compare_runs",
    "read_facts",
    "run_facts",
    "run_plots",
    "write_facts",
    "write_report",
]
