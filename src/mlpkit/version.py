"""The mlpkit release: one place, read by the package, the build and the files mlpkit writes."""

__version__ = "0.1.0"
