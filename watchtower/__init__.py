"""Watchtower: an early-warning pipeline for private fund managers.

The public entry points are the step functions in :mod:`watchtower.pipeline` (called by the
``watchtower`` CLI and the Airflow DAGs alike) and the settings in :mod:`watchtower.config`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("watchtower")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
