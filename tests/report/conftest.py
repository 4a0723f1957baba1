"""Small runs shared by the report tests, trained once per session through the real command."""

import pytest
from report_runs import mlpkit


@pytest.fixture(scope="session")
def moons_run(tmp_path_factory):
    """Two classes on two features, with a schedule: every classification plot but images."""
    folder = tmp_path_factory.mktemp("moons")
    args = "train --data moons --epochs 3 --hidden 16 --batch-size 64 --scheduler cosine"
    result = mlpkit(*args.split(), "--out", "runs/moons", cwd=folder)
    return folder, folder / "runs" / "moons", result
