"""The ``watchtower`` command. Each area registers its commands from its own module.

Commands are thin: parse options, call one ``watchtower.pipeline`` function, print its summary.
"""

from __future__ import annotations

import importlib

import typer

from watchtower.cli._app import app
from watchtower.config import ConfigError

#: Modules under watchtower/cli/ that register commands on import, in --help order.
AREAS: tuple[str, ...] = (
    "demo",
    "synth",
    "fetch",
    "ingest",
    "managers",
    "features",
    "quality",
    "models",
    "evaluate",
    "alerts",
    "digest",
    "users",
    "core",
)
for _area in AREAS:
    importlib.import_module(f"watchtower.cli.{_area}")

__all__ = ["app", "main"]


def main() -> None:
    """Run the command; a malformed configuration file (suites, aliases, rules, catalog, tiers,
    subscriptions, settings) is one line naming the file and the fix, not a traceback."""
    try:
        app()
    except ConfigError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise SystemExit(2) from None
