"""``watchtower users ...`` (console accounts) and ``watchtower serve`` (the console)."""

from __future__ import annotations

import getpass
import sys
from enum import StrEnum
from typing import Annotated

import typer

from watchtower.cli._app import DbOption, JsonOption, app, fail, print_json, settings_for
from watchtower.clock import SystemClock
from watchtower.text import terminal_text as esc

users_app = typer.Typer(
    help="Console accounts (用户): add, list, disable, change a password.",
    no_args_is_help=True,
)
app.add_typer(users_app, name="users")


class Role(StrEnum):
    supervisor = "supervisor"
    analyst = "analyst"
    admin = "admin"


NameArgument = Annotated[str, typer.Argument(help="The username (2-64 of a-z 0-9 . _ @ -).")]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from the first line of standard input (scripts); without "
        "it, it is asked for twice, not echoed.",
    ),
]


def _actor() -> str:
    """Who runs the command, for the console's audit trail."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name in a bare container
        return "cli"


def _password(from_stdin: bool) -> str:
    """The new password, never echoed: the first line of stdin, or asked for twice."""
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    first = typer.prompt("Password", hide_input=True)
    if typer.prompt("Repeat the password", hide_input=True) != first:
        fail("the two passwords differ")
    return str(first)


def _line(u: object) -> str:
    from watchtower.console import User

    assert isinstance(u, User)
    scope = "、".join(u.jurisdictions) if u.jurisdictions else "* (every district)"
    state = "disabled" if u.disabled else "active"
    return (
        f"{esc(u.username):<20} {u.role:<10} {state:<8} {esc(scope)}  "
        f"(created {u.created_at:%Y-%m-%d %H:%M}, password {u.password_changed_at:%Y-%m-%d %H:%M})"
    )


@users_app.command("add")
def users_add(
    name: NameArgument,
    role: Annotated[Role, typer.Option("--role", help="supervisor, analyst or admin.")],
    jurisdiction: Annotated[
        list[str] | None,
        typer.Option(
            "--jurisdiction",
            help="A district (辖区) a supervisor sees, in any spelling (广东, 廣東省, "
            "Guangdong, 深圳); repeat for several. Analysts and admins see every district.",
        ),
    ] = None,
    password_stdin: PasswordStdin = False,
    db: DbOption = None,
) -> None:
    """Create a console account; its password is hashed with argon2id (at least 12
    characters)."""
    from watchtower import pipeline

    settings = settings_for(db)
    password = _password(password_stdin)
    user = pipeline.add_user(
        settings,
        name,
        role.value,
        jurisdiction or [],
        password,
        actor=_actor(),
        clock=SystemClock(),
    )
    typer.echo(f"added {_line(user)}")


@users_app.command("list")
def users_list(db: DbOption = None, json: JsonOption = False) -> None:
    """Every console account with its role, districts and state (never a password)."""
    from watchtower import pipeline

    users = pipeline.list_users(settings_for(db))
    if json:
        print_json(users)
        return
    if not users:
        typer.echo("no users (watchtower users add NAME --role ... --password-stdin)")
    for u in users:
        typer.echo(_line(u))


@users_app.command("disable")
def users_disable(name: NameArgument, db: DbOption = None) -> None:
    """Disable an account: it cannot log in any more and its sessions end now."""
    from watchtower import pipeline

    user = pipeline.disable_user(settings_for(db), name, actor=_actor(), clock=SystemClock())
    typer.echo(f"disabled {_line(user)}")


@users_app.command("passwd")
def users_passwd(
    name: NameArgument, password_stdin: PasswordStdin = False, db: DbOption = None
) -> None:
    """Set an account's password; its sessions end now."""
    from watchtower import pipeline

    settings = settings_for(db)
    password = _password(password_stdin)
    user = pipeline.set_password(settings, name, password, actor=_actor(), clock=SystemClock())
    typer.echo(f"password changed: {_line(user)}")


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on (0.0.0.0 in a container).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    db: DbOption = None,
) -> None:
    """Run the supervisor console (web pages and JSON API) on the store, with uvicorn.

    Put it behind a TLS proxy for anything but a laptop: its cookies are Secure when the
    proxy says the request was HTTPS (X-Forwarded-Proto from FORWARDED_ALLOW_IPS, default
    127.0.0.1) or WATCHTOWER_CONSOLE_SECURE_COOKIES=1. See docs/console.md."""
    import os

    import uvicorn

    from watchtower import pipeline

    application = pipeline.console_app(settings_for(db))
    typer.echo(f"Watchtower console on http://{host}:{port}/ (Ctrl-C to stop)")
    uvicorn.run(
        application,
        host=host,
        port=port,
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1",
        server_header=False,
        log_level="info",
    )
