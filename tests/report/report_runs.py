"""The real mlpkit command in a subprocess, for the report tests."""

import sys
from pathlib import Path

from samples import run_command

SRC = str(Path(__file__).resolve().parents[2] / "src")
# As if matplotlib were not installed: its modules cannot be found and its distribution has no
# metadata (torchmetrics imports matplotlib wherever the metadata says it is installed).
WITHOUT_MATPLOTLIB = """
import importlib.abc, importlib.metadata
class _Hidden(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'matplotlib':
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, _Hidden())
_version = importlib.metadata.version
def _hidden_version(name):
    if name.lower() == 'matplotlib':
        raise importlib.metadata.PackageNotFoundError(name)
    return _version(name)
importlib.metadata.version = _hidden_version
"""


def mlpkit(*args, cwd, check=True, block_matplotlib=False):
    """Run the real ``mlpkit`` command; ``block_matplotlib`` runs it as if the plots extra
    were not installed."""
    prelude = WITHOUT_MATPLOTLIB if block_matplotlib else ""
    return run_command(*args, cwd=cwd, env={"COLUMNS": "120"}, prelude=prelude, check=check)


def command_in_process(argv, capsys):
    """The real command's entry point run in this process (no interpreter to start): its exit
    code, stdout and stderr."""
    import pytest

    from mlpkit.cli import main

    old = sys.argv
    sys.argv = ["mlpkit", *map(str, argv)]
    try:
        with pytest.raises(SystemExit) as exit_info:
            main()
    finally:
        sys.argv = old
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err
