"""``watchtower fetch amac``: download AMAC public-disclosure pages into a landing folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from tqdm import tqdm

from watchtower.cli._app import JsonOption, app, fail, print_json
from watchtower.clock import SystemClock
from watchtower.fetch import (
    DEFAULT_BASE_URL,
    DEFAULT_WHAT,
    WHAT_CHOICES,
    FetchConfigError,
    FetchError,
    FetchOptions,
    FetchSummary,
    make_client,
    run_fetch,
)

fetch_app = typer.Typer(
    help="Fetch public-disclosure data (raw, resumable) into a landing folder.",
    no_args_is_help=True,
)
app.add_typer(fetch_app, name="fetch")

_DAY = ["%Y-%m-%d"]


def _day(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value is not None else None


def _line(summary: FetchSummary) -> str:
    state = "complete" if summary.complete else "incomplete (capped or stopped; re-run to resume)"
    return (
        f"{summary.pages_fetched} pages fetched, {summary.pages_skipped} already on disk; "
        f"{summary.details_fetched} detail pages fetched, {summary.details_skipped} on disk; "
        f"{summary.retries} retries, {summary.errors} errors; {state}: {summary.out_dir}"
    )


@fetch_app.command("amac")
def amac(
    out_dir: Annotated[
        Path,
        typer.Argument(help="Landing root; pages go to OUT_DIR/<fetch-date>/<folder>/."),
    ],
    what: Annotated[
        str,
        typer.Option(
            "--what",
            help=f"Comma-separated, from: {', '.join(WHAT_CHOICES)}. Details are fetched for "
            "the ids in the list pages of this fetch date.",
        ),
    ] = ",".join(DEFAULT_WHAT),
    office_province: Annotated[
        str | None,
        typer.Option("--office-province", help="Managers with office in this province (陕西省)."),
    ] = None,
    register_province: Annotated[
        str | None,
        typer.Option("--register-province", help="Managers registered in this province."),
    ] = None,
    registered_from: Annotated[
        dt.datetime | None,
        typer.Option(
            "--registered-from",
            formats=_DAY,
            help="Managers registered (登记) on or after this day; funds recorded (备案) on or "
            "after it.",
        ),
    ] = None,
    registered_to: Annotated[
        dt.datetime | None,
        typer.Option("--registered-to", formats=_DAY, help="...and on or before this day."),
    ] = None,
    page_size: Annotated[int, typer.Option("--page-size", min=1, help="Rows per list page.")] = 100,
    max_pages: Annotated[
        int | None,
        typer.Option("--max-pages", min=1, help="Read at most the first N pages of each list."),
    ] = None,
    max_details: Annotated[
        int | None,
        typer.Option("--max-details", min=0, help="At most N detail pages of each kind."),
    ] = None,
    rate: Annotated[
        float,
        typer.Option("--rate", help="Requests per second, all requests together (retries too)."),
    ] = 1.0,
    retries: Annotated[
        int,
        typer.Option(
            "--retries",
            min=0,
            help="Retries of one request on connection errors, timeouts, 429 and 5xx.",
        ),
    ] = 5,
    base_url: Annotated[
        str,
        typer.Option("--base-url", help="The amac-infodisc root (…/api/ is accepted too)."),
    ] = DEFAULT_BASE_URL,
    fetch_date: Annotated[
        dt.datetime | None,
        typer.Option(
            "--fetch-date",
            formats=_DAY,
            help="Date folder to fill (and to resume). Default: today (UTC).",
        ),
    ] = None,
    as_json: JsonOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Fetch AMAC manager, fund and deregistration lists (and detail pages) as raw files.

    Each list page is written as received to
    OUT_DIR/<fetch-date>/{managers,funds,cancellations}/, detail pages to manager_details/ and
    fund_details/. Pages already on disk are not fetched again, so an interrupted run resumes.
    Requests are paced by --rate and retried with exponential backoff (Retry-After honoured);
    any other 4xx stops the run. Exit code 1 when a request failed for good.
    """
    try:
        options = FetchOptions(
            what=tuple(w.strip() for w in what.split(",") if w.strip()),
            office_province=office_province or None,
            register_province=register_province or None,
            registered_from=_day(registered_from),
            registered_to=_day(registered_to),
            page_size=page_size,
            max_pages=max_pages,
            max_details=max_details,
            rate=rate,
            retries=retries,
            base_url=base_url,
            fetch_date=_day(fetch_date),
        )
    except FetchConfigError as exc:
        fail(str(exc))
        raise  # unreachable

    def bar(desc: str, unit: str) -> Any:
        return tqdm(desc=desc, unit=unit, total=None, disable=quiet, leave=False)

    with make_client(timeout=options.timeout) as client:
        try:
            summary = run_fetch(out_dir, options, client=client, clock=SystemClock(), progress=bar)
        except FetchError as exc:
            if as_json and exc.summary is not None:
                print_json(exc.summary)
            elif exc.summary is not None:
                typer.echo(_line(exc.summary))
            fail(str(exc), code=1)
            raise  # unreachable
    if as_json:
        print_json(summary)
    else:
        typer.echo(_line(summary))
