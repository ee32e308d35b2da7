"""The Typer application and the options every command shares."""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from watchtower.config import ConfigError, Settings, load_settings

app = typer.Typer(
    name="watchtower",
    help=(
        "Watchtower: early warnings on private fund managers for financial supervisors.\n\n"
        "Fetch and ingest AMAC public-disclosure data as it really comes (and the supervisor's "
        "own feeds), validate it, compute point-in-time risk features, "
        "score managers with rules and anomaly detectors, and send tiered alert digests."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="SQLAlchemy URL of the store (default: WATCHTOWER_DB_URL, else SQLite under "
        "WATCHTOWER_HOME, ./var).",
        envvar="WATCHTOWER_DB_URL",
        show_envvar=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print a machine-readable summary.")]
AsOfOption = Annotated[
    dt.datetime | None,
    typer.Option(
        "--as-of",
        formats=["%Y-%m-%d"],
        help="As-of day D (YYYY-MM-DD): sees nothing known after D. Default: today.",
    ),
]


def settings_for(db: str | None) -> Settings:
    try:
        return load_settings().with_db(db)
    except ConfigError as exc:
        fail(str(exc))
        raise  # unreachable


def fail(message: str, code: int = 2) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date | Path):
        return str(value)
    return value


def print_json(value: Any) -> None:
    json.dump(_plain(value), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
