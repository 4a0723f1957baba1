"""The real mlpkit command in a subprocess, for the report tests."""

import os
import subprocess
import sys
from pathlib import Path

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
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "120"}
    prelude = WITHOUT_MATPLOTLIB if block_matplotlib else ""
    code = f"{prelude}\nsys.argv = ['mlpkit', *sys.argv[1:]]\nfrom mlpkit.cli import main\nmain()"
    result = subprocess.run(
        [sys.executable, "-c", "import sys\n" + code, *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}: {result.stderr}")
    return result


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
