"""``watchtower digest`` (render the supervisors' digests, optionally send) and ``watchtower
send`` (send the outbox, as the DAG's send task does).

Both exit 1 while something needs a person: open alerts that reach no subscriber and no
catch-all recipient (WATCHTOWER_DIGEST_CATCH_ALL), digests waiting for a retry, digests given
up (``--retry-failed`` queues them again). Each such problem is one ``error:`` line on stderr.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from watchtower.cli._app import (
    AsOfOption,
    DbOption,
    JsonOption,
    app,
    fail,
    print_json,
    settings_for,
)
from watchtower.cli.alerts import CadenceOption, Language, TierOption
from watchtower.clock import SystemClock
from watchtower.config import ConfigError
from watchtower.text import terminal_text as esc


def _day(value: dt.datetime | None) -> dt.date:
    return value.date() if value else SystemClock().today()


def _problems(problems: list[str]) -> None:
    for p in problems:
        typer.secho(f"error: {esc(p)}", fg=typer.colors.RED, err=True)
    if problems:
        raise typer.Exit(1)


@app.command()
def digest(
    as_of: AsOfOption = None,
    send: Annotated[bool, typer.Option("--send", help="Send the outbox by SMTP after.")] = False,
    to: Annotated[
        str | None,
        typer.Option("--to", help="Instead: one digest of every jurisdiction to this address."),
    ] = None,
    cadence: Annotated[
        CadenceOption | None,
        typer.Option(help="Only subscriptions of this cadence (with --to: the period)."),
    ] = None,
    lang: Annotated[Language, typer.Option(help="Language of a --to digest.")] = Language.zh,
    min_tier: Annotated[
        TierOption, typer.Option(help="Lowest tier of a --to digest.")
    ] = TierOption.blue,
    retry_failed: Annotated[
        bool,
        typer.Option(
            "--retry-failed",
            help="First queue the digests given up after their last attempt again "
            "(attempts from zero; the re-queue is recorded in the outbox).",
        ),
    ] = False,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Render the digests due on the as-of day into the outbox, and with --send mail them.

    Per subscription in models/subscriptions.yaml (district, minimum tier, cadence,
    language). Each (recipient, period, subscription) digest is rendered and sent once,
    however often this runs; a failed send stays in the outbox for the next --send. Open
    alerts no subscriber receives go to WATCHTOWER_DIGEST_CATCH_ALL and are listed; without
    it the command fails. SMTP from WATCHTOWER_SMTP_*.
    """
    from watchtower import pipeline

    settings = settings_for(db)
    try:
        s = pipeline.digest(
            settings,
            _day(as_of),
            send=send,
            to=to,
            cadence=cadence.value if cadence else None,
            language=lang.value,
            min_tier=min_tier.value,
            clock=SystemClock(),
            retry_failed=retry_failed,
        )
    except ConfigError as exc:  # tiers.yaml, subscriptions.yaml: one line with the file
        fail(str(exc))
        return
    if json:
        print_json(s)
        _problems(s.problems)
        return
    if s.requeued:
        typer.echo(f"re-queued {s.requeued} given-up digests")
    typer.echo(
        f"digest {s.as_of}: {s.rendered} rendered, {s.already_queued} already in the outbox, "
        f"{s.nothing_new} with nothing new, {s.not_due} not due today"
    )
    for queued in s.queued_for:
        typer.echo(f"  queued: {esc(queued)}")
    if not to:
        ids = ", ".join(map(str, s.unrouted_ids))
        where = f" -> catch-all {esc(s.catch_all)}" if s.catch_all and s.unrouted else ""
        typer.echo(f"unrouted alerts: {s.unrouted}" + (f" (ids {ids}){where}" if ids else ""))
    if send:
        typer.echo(
            f"sent {s.sent}, kept for retry {s.retry_later}, given up {s.failed} "
            f"(given up in the outbox: {s.failed_total})"
        )
        for e in s.errors:
            typer.secho(f"  send failed: {esc(e)}", fg=typer.colors.YELLOW, err=True)
    _pushes(s.pushes_queued, s.pushed, s.push_retry_later, len(s.push_failed_ids))
    if s.html_paths:
        typer.echo(f"open in a browser: {s.html_paths[0]}")
    _problems(s.problems)


def _pushes(queued: int, delivered: int, retry: int, failed: int) -> None:
    """The webhook pushes' lines, when there were any."""
    if queued:
        typer.echo(f"webhook pushes queued: {queued}")
    if delivered or retry or failed:
        typer.echo(
            f"webhook pushes: delivered {delivered}, kept for retry {retry}, refused or given "
            f"up {failed}"
        )


@app.command()
def send(db: DbOption = None, json: JsonOption = False) -> None:
    """Send what the outbox holds by SMTP (WATCHTOWER_SMTP_*) and the pending webhook pushes,
    as the DAG's send task does.

    Fails while a digest or push waits for a retry or was given up (digest --retry-failed)."""
    from watchtower import pipeline

    settings = settings_for(db)
    try:
        s = pipeline.send_outbox(settings, clock=SystemClock(), strict=False)
    except ConfigError as exc:
        fail(str(exc))
        return
    if json:
        print_json(s)
        _problems(s.problems)
        return
    typer.echo(
        f"sent {s.sent} of {s.pending_before} pending, kept for retry {s.retry_later}, given up "
        f"{s.failed} (given up in the outbox: {s.failed_total})"
    )
    _pushes(0, s.pushed, s.push_retry_later, len(s.push_failed_ids))
    for e in s.errors:
        typer.secho(f"  send failed: {esc(e)}", fg=typer.colors.YELLOW, err=True)
    _problems(s.problems)
