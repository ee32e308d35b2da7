"""The Typer application and the options every command shares."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from watchtower.config import ConfigError, Settings, load_settings
from watchtower.text import terminal_text
from watchtower.values import plain_json

#: As-of days outside this range are refused where they are parsed: nothing Watchtower
#: knows is older than AMAC's registry (2014), and date arithmetic on 0001-01-01 or
#: 9999-12-31 (a snooze, a horizon) overflows.
MIN_DAY = dt.date(1990, 1, 1)
MAX_DAY = dt.date(2100, 12, 31)


class _Commands(TyperGroup):
    """The root command. Errors of the environment that any command can meet (a bad setting,
    a store that cannot be opened, a file that cannot be written) end here, the one place,
    as one line ``error: ...`` with exit code 2 instead of a traceback."""

    def invoke(self, ctx: Any) -> Any:
        from watchtower.store import store_failure

        try:
            return super().invoke(ctx)
        except ConfigError as exc:  # settings, configuration files, the store (StoreError)
            fail(str(exc))
        except BrokenPipeError:  # `watchtower alerts list | head`: the reader left, not a fault
            with contextlib.suppress(OSError, ValueError):  # so the final flush cannot fail
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(1) from None
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            fail(f"{where}{exc.strerror or exc}")
        except Exception as exc:
            message = store_failure(exc)
            if message is None:
                raise  # a bug, not the environment: keep the traceback
            fail(message)


app = typer.Typer(
    cls=_Commands,
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


def sane_day(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> Any:
    """Option callback for every day option: a day outside MIN_DAY..MAX_DAY is one line."""
    if isinstance(value, dt.datetime | dt.date):
        day = value.date() if isinstance(value, dt.datetime) else value
        if not MIN_DAY <= day <= MAX_DAY:
            name = param.opts[0] if param.opts else param.name
            fail(f"{name} {day.isoformat()} is outside {MIN_DAY}..{MAX_DAY}")
    return value


AsOfOption = Annotated[
    dt.datetime | None,
    typer.Option(
        "--as-of",
        formats=["%Y-%m-%d"],
        help="As-of day D (YYYY-MM-DD): sees nothing known after D. Default: today.",
        callback=sane_day,
    ),
]


def settings_for(db: str | None) -> Settings:
    try:
        return load_settings().with_db(db)
    except ConfigError as exc:
        fail(str(exc))
        raise  # unreachable


def fail(message: str, code: int = 2) -> None:
    """``error: message`` on stderr, escaped (it may quote a name or a path), and exit."""
    typer.secho(f"error: {terminal_text(message)}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


# JSON leaves these raw with ensure_ascii=False; written as \uXXXX the value is the same.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def print_json(value: Any) -> None:
    """``value`` as JSON, Chinese kept readable; C1 and bidi controls escaped (JSON escapes
    C0 itself), so a name cannot reorder what a terminal shows."""
    text = json.dumps(plain_json(value), ensure_ascii=False, indent=2)
    sys.stdout.write(_JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text))
    sys.stdout.write("\n")
