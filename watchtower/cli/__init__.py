"""The ``watchtower`` command. Each area registers its commands from its own module.

Commands are thin: parse options, call one ``watchtower.pipeline`` function, print its summary.
"""

from __future__ import annotations

from watchtower.cli._app import app

# Area modules register their commands on import.
from watchtower.cli import core, ingest  # noqa: F401

__all__ = ["app", "main"]


def main() -> None:
    app()
