"""One family of errors. Each message says what is wrong and what to do about it.

Every error also subclasses the matching built-in, so ``except ValueError`` keeps working.
"""

from __future__ import annotations


class MlpkitError(Exception):
    """Base class of every error mlpkit raises on purpose (user errors, not bugs)."""


class ConfigError(MlpkitError, ValueError):
    """A setting has a bad value or an unknown name."""


class DataError(MlpkitError, ValueError):
    """Input data is malformed: wrong shape, bad values, labels out of range."""


class DataNotFoundError(MlpkitError, FileNotFoundError):
    """A data file or data set is not where it was expected."""


class DownloadError(MlpkitError, OSError):
    """A data set could not be downloaded or failed its checksum."""


class CheckpointError(MlpkitError, ValueError):
    """A checkpoint or saved model is corrupted, unsafe or does not match the model."""


class TrainingError(MlpkitError, RuntimeError):
    """Training cannot go on, for example because the loss became NaN."""


class WriteError(MlpkitError, OSError):
    """A file could not be written: a full disk, a read-only folder, a path that is a file."""


class DistributedError(MlpkitError, RuntimeError):
    """A rank of a distributed run died, hung or could not join; the run ends (exit code 1)."""

    exit_code = 1


class MissingExtraError(MlpkitError, ImportError):
    """An optional dependency is not installed."""


class ExportError(MlpkitError, RuntimeError):
    """An exported model does not compute what the eager model computes, or is out of date."""


def require(module: str, extra: str):
    """Import an optional dependency, or explain which extra installs it.

    >>> np = require("numpy", "core")
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{module} is not installed; install it with: pip install 'mlpkit[{extra}]'"
        ) from exc
