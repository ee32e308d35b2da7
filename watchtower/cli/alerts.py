"""``watchtower warn`` and ``watchtower alerts ...`` (``digest`` is in cli/digest.py)."""

from __future__ import annotations

import csv
import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from watchtower.cli._app import (
    AsOfOption,
    DbOption,
    JsonOption,
    app,
    fail,
    print_json,
    sane_day,
    settings_for,
)
from watchtower.clock import SystemClock
from watchtower.text import terminal_text as esc

alerts_app = typer.Typer(
    help="Alerts (预警): list, inspect, acknowledge, investigate, snooze, close, export, metrics.",
    no_args_is_help=True,
)
app.add_typer(alerts_app, name="alerts")


class Resolution(StrEnum):
    confirmed = "confirmed"
    false_positive = "false-positive"
    resolved = "resolved"


class StatusFilter(StrEnum):
    open = "open"
    snoozed = "snoozed"
    new = "new"
    acknowledged = "acknowledged"
    investigating = "investigating"
    closed = "closed"
    all = "all"


class CadenceOption(StrEnum):
    immediate = "immediate"
    daily = "daily"
    weekly = "weekly"


class Language(StrEnum):
    zh = "zh"
    en = "en"


class TierOption(StrEnum):
    red = "red"
    orange = "orange"
    yellow = "yellow"
    blue = "blue"


ByOption = Annotated[
    str, typer.Option("--by", help="Who makes the change (recorded in the audit trail).")
]
NoteOption = Annotated[
    str | None, typer.Option("--note", help="Why (recorded in the audit trail).")
]
RefArgument = Annotated[
    str, typer.Argument(help="Alert id, or a register number (its open alert, else latest).")
]


def _day(value: dt.datetime | None) -> dt.date:
    return value.date() if value else SystemClock().today()


@app.command()
def warn(
    as_of: AsOfOption = None,
    db: DbOption = None,
    json: JsonOption = False,
    backfill: Annotated[
        bool,
        typer.Option(
            "--backfill",
            help="Allow a day before the last warned day (replaying history on purpose).",
        ),
    ] = False,
) -> None:
    """Tier every manager scored on the as-of day and update the alerts.

    Tiers red/orange/yellow/blue (红/橙/黄/蓝) follow models/tiers.yaml: thresholds on the
    score, on the calibrated probability or by an alert budget (its `basis`), rule overrides
    (e.g. blacklist is red whatever the score) and hysteresis. At most one open alert per
    manager; running twice for a day changes nothing, unless the day's scores changed
    meanwhile (a correction): then its tiers are revised and the alerts follow. Days go
    forward: one before the last warned day is refused without --backfill.
    """
    from watchtower import pipeline
    from watchtower.warn import PolicyError, WarnOrderError

    settings = settings_for(db)
    try:
        s = pipeline.warn(settings, _day(as_of), clock=SystemClock(), backfill=backfill)
    except (PolicyError, WarnOrderError) as exc:
        fail(str(exc))
        return
    if json:
        print_json(s)
        return
    tiers = " ".join(f"{t} {n}" for t, n in s.tiers.items())
    typer.echo(
        f"warn {s.as_of}: {s.scored} managers scored; tiers: {tiers}; held by hysteresis "
        f"{s.held}\nalerts: {s.opened} opened, {s.escalated} escalated, {s.deescalated} "
        f"de-escalated, {s.auto_resolved} auto-resolved; {s.open_alerts} open"
        + (" (tiers for this day existed: nothing changed)" if s.rerun else "")
        + (
            f" ({s.revised} tiers revised: the day's scores or the tier policy changed)"
            if s.revised
            else ""
        )
    )
    if s.basis != "score" or s.note:
        cuts = " ".join(f"{t} {'-' if v is None else f'{v:.1f}'}" for t, v in s.thresholds.items())
        typer.echo(f"thresholds by {s.basis}: {cuts}" + (f" ({s.note})" if s.note else ""))
    if s.scored == 0:
        typer.secho(f"note: no risk_scores for {s.as_of}; run scoring first", err=True)


@alerts_app.command("list")
def alerts_list(
    status: Annotated[StatusFilter, typer.Option(help="Which alerts.")] = StatusFilter.open,
    tier: Annotated[TierOption | None, typer.Option(help="Only this tier.")] = None,
    province: Annotated[str | None, typer.Option(help="Only this province.")] = None,
    city: Annotated[str | None, typer.Option(help="Only this city.")] = None,
    jurisdiction: Annotated[
        str | None,
        typer.Option(
            help="Only this district (辖区, any spelling), placed as the digests route "
            "(WATCHTOWER_ROUTING_ADDRESS)."
        ),
    ] = None,
    rule: Annotated[str | None, typer.Option(help="Only alerts hitting this rule.")] = None,
    search: Annotated[
        str | None, typer.Option(help="Only names or register numbers containing this.")
    ] = None,
    assignee: Annotated[
        str | None,
        typer.Option(help="Only alerts given to this console user ('none': to nobody)."),
    ] = None,
    min_age_days: Annotated[
        int | None,
        typer.Option(
            min=0, help="Only alerts opened more than this many days before the latest warn day."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many (0 = all).")] = 50,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """List alerts, most severe first. The default (open) leaves out the alerts snoozed past
    the latest warn day; --status snoozed lists them."""
    from watchtower import pipeline

    if assignee and assignee.strip().lower() == "me":
        fail("--assignee me is the console's word for the logged-in user; give the username")
        return
    try:
        rows = pipeline.list_alerts(
            settings_for(db),
            status=status.value,
            tier=tier.value if tier else None,
            province=province,
            city=city,
            jurisdiction=jurisdiction,
            rule=rule,
            search=search,
            assignee=assignee,
            min_age_days=min_age_days,
        )
    except ValueError as exc:  # a district that is none, a malformed rule code
        fail(str(exc))
        return
    total = len(rows)
    rows = rows[:limit] if limit else rows
    if json:
        print_json([{k: v for k, v in r.items() if k != "reasons"} for r in rows])
        return
    if not rows:
        typer.echo("no alerts")
        return
    for r in rows:
        typer.echo(
            f"#{r['id']:<5} {r['tier']:<6} {r['score']:5.1f}  {r['status']:<13} "
            f"{esc(r['register_no'])}  {esc(r['province'])}/{esc(r['city'])}  "
            f"{esc(r['manager_name'])}  (since {r['opened_as_of']})"
        )
    if total > len(rows):
        typer.echo(f"... {total - len(rows)} more (--limit 0 for all)")


@alerts_app.command("show")
def alerts_show(ref: RefArgument, db: DbOption = None, json: JsonOption = False) -> None:
    """One alert with its reasons and full audit trail (who, when, what, why)."""
    from watchtower import pipeline
    from watchtower.warn import AlertError

    try:
        a, trail = pipeline.alert_with_trail(settings_for(db), ref)
    except AlertError as exc:
        fail(str(exc))
        return
    if json:
        print_json({**a, "events": trail})
        return
    typer.echo(
        f"alert #{a['id']}  {esc(a['register_no'])}  {esc(a['manager_name'])}\n"
        f"  jurisdiction {esc(a['province'])}/{esc(a['city'])}\n"
        f"  tier {a['tier']} (peak {a['peak_tier']}), score {a['score']:.1f}, status {a['status']}"
        + (f" ({a['resolution']})" if a["resolution"] else "")
        + f"\n  opened {a['opened_as_of']}, last run {a['last_as_of']}, "
        f"last at a tier {a['last_signal_as_of']}"
    )
    for r in a["reasons"] or []:
        typer.echo(
            f"  - [{r.get('kind', '')}:{r.get('code', '')}] {esc(r.get('zh'))} / {esc(r.get('en'))}"
        )
    typer.echo("audit trail:")
    for e in trail:
        change = []
        if e["from_status"] != e["to_status"]:
            change.append(f"{e['from_status'] or '-'} -> {e['to_status']}")
        if e["from_tier"] != e["to_tier"]:
            change.append(f"{e['from_tier'] or '-'} -> {e['to_tier']}")
        typer.echo(
            f"  {e['at']:%Y-%m-%d %H:%M:%S}  {esc(e['actor']):<12} {e['action']:<12} "
            f"{esc('; '.join(change))}  {esc(e['note'])}"
        )


def _transition(
    ref: str, to_status: str, by: str, note: str | None, db: str | None, resolution: str | None
) -> None:
    from watchtower import pipeline
    from watchtower.warn import AlertError

    try:
        a = pipeline.transition_alert(
            settings_for(db),
            ref,
            to_status,
            by=by,
            note=note,
            resolution=resolution,
            clock=SystemClock(),
        )
    except AlertError as exc:
        fail(str(exc))
        return
    extra = f" ({a['resolution']})" if a["resolution"] else ""
    typer.echo(f"alert #{a['id']} {esc(a['register_no'])}: {a['status']}{extra} by {esc(by)}")


@alerts_app.command("ack")
def alerts_ack(
    ref: RefArgument, by: ByOption, note: NoteOption = None, db: DbOption = None
) -> None:
    """Acknowledge a new alert (签收)."""
    _transition(ref, "acknowledged", by, note, db, None)


@alerts_app.command("investigate")
def alerts_investigate(
    ref: RefArgument, by: ByOption, note: NoteOption = None, db: DbOption = None
) -> None:
    """Mark an alert as under investigation (核查中); the quiet period no longer closes it."""
    _transition(ref, "investigating", by, note, db, None)


@alerts_app.command("close")
def alerts_close(
    ref: RefArgument,
    by: ByOption,
    as_: Annotated[
        Resolution,
        typer.Option(
            "--as",
            help="Outcome: confirmed (确认风险) and false-positive (误报) are kept as labels "
            "for retraining; resolved (风险解除) is not.",
        ),
    ],
    note: NoteOption = None,
    db: DbOption = None,
) -> None:
    """Close an alert with its outcome."""
    _transition(ref, "closed", by, note, db, as_.value.replace("-", "_"))


@alerts_app.command("snooze")
def alerts_snooze(
    ref: RefArgument,
    until: Annotated[
        dt.datetime,
        typer.Option(
            "--until",
            formats=["%Y-%m-%d"],
            help="Back in the queue on this day (after the latest warn day, within a year); "
            "an escalation to a higher tier wakes it earlier.",
        ),
    ],
    by: ByOption,
    note: NoteOption = None,
    db: DbOption = None,
) -> None:
    """Snooze an open alert until a day (暂缓): out of the default queue until then."""
    from watchtower import pipeline
    from watchtower.warn import AlertError

    try:
        a = pipeline.snooze_alert(
            settings_for(db), ref, until=until.date(), by=by, note=note, clock=SystemClock()
        )
    except AlertError as exc:
        fail(str(exc))
        return
    typer.echo(f"alert #{a['id']} {esc(a['register_no'])}: snoozed until {a['snoozed_until']}")


@alerts_app.command("unsnooze")
def alerts_unsnooze(
    ref: RefArgument, by: ByOption, note: NoteOption = None, db: DbOption = None
) -> None:
    """End an alert's snooze now: back in the queue."""
    from watchtower import pipeline
    from watchtower.warn import AlertError

    try:
        a = pipeline.unsnooze_alert(settings_for(db), ref, by=by, note=note, clock=SystemClock())
    except AlertError as exc:
        fail(str(exc))
        return
    typer.echo(f"alert #{a['id']} {esc(a['register_no'])}: awake, {a['status']}")


@alerts_app.command("export")
def alerts_export(
    out: Annotated[Path, typer.Argument(help="CSV file to write (UTF-8 with BOM).")],
    as_of: AsOfOption = None,
    all_: Annotated[bool, typer.Option("--all", help="Every alert ever, open or closed.")] = False,
    db: DbOption = None,
) -> None:
    """Export alerts to CSV: those open on the as-of day (default today), or --all. Includes
    the outcome of closed ones (the retraining labels). Formula-like cells are neutralized."""
    from watchtower import pipeline
    from watchtower.digest import neutralize_cell

    if all_ and as_of:
        fail("give --as-of or --all, not both")
    day = _day(as_of)
    rows = pipeline.alerts_open_on(settings_for(db), None if all_ else day)
    cols = [
        "id",
        "register_no",
        "manager_name",
        "province",
        "city",
        "status",
        "tier",
        "peak_tier",
        "score",
        "opened_as_of",
        "last_as_of",
        "last_signal_as_of",
        "resolution",
        "closed_as_of",
        "closed_by",
        "rule_hits",
        "top_reasons",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in rows:
            r["rule_hits"] = " ".join(r["rule_hits"] or [])
            r["top_reasons"] = "; ".join(
                str(x.get("zh") or x.get("code") or "") for x in (r["reasons"] or [])[:3]
            )
            w.writerow([neutralize_cell(r[c] if r[c] is not None else "") for c in cols])
    scope = "all alerts" if all_ else f"alerts open on {day}"
    typer.echo(f"{len(rows)} {scope} -> {out}")


def _days(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


@alerts_app.command("metrics")
def alerts_metrics(
    from_: Annotated[
        dt.datetime | None,
        typer.Option(
            "--from",
            formats=["%Y-%m-%d"],
            callback=sane_day,
            help="First day of the period (alerts opened from then). Default: 89 days before --to.",
        ),
    ] = None,
    to: Annotated[
        dt.datetime | None,
        typer.Option(
            "--to", formats=["%Y-%m-%d"], callback=sane_day, help="Last day. Default: today."
        ),
    ] = None,
    jurisdiction: Annotated[
        str | None, typer.Option(help="Only this district (辖区, any spelling).")
    ] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """The oversight figures (the console's /metrics): of the alerts opened in the period,
    the funnel, days to acknowledge and to close (median, 90th percentile) and precision per
    tier; overdue now under models/service_levels.yaml; per district."""
    from watchtower import pipeline
    from watchtower.config import ConfigError

    try:
        m = pipeline.alert_metrics(
            settings_for(db),
            start=from_.date() if from_ else None,
            end=to.date() if to else None,
            jurisdiction=jurisdiction,
            clock=SystemClock(),
        )
    except (ValueError, ConfigError) as exc:  # a bad period or district, a bad levels file
        fail(str(exc))
        return
    if json:
        print_json(m)
        return
    typer.echo(f"alerts opened {m.start} .. {m.end}; overdue as of {m.as_of}")
    typer.echo(
        f"{'tier':<7}{'opened':>7}{'acked':>7}{'invest':>7}{'confirm':>8}{'false':>6}"
        f"{'explain':>8}{'prec':>6}  {'ack med/p90':>12}  {'close med/p90':>13}  overdue ack/close"
    )
    for t in (*m.tiers, m.total):
        precision = "-" if t.precision is None else f"{t.precision:.0%}"
        typer.echo(
            f"{t.tier:<7}{t.opened:>7}{t.acknowledged:>7}{t.investigated:>7}{t.confirmed:>8}"
            f"{t.false_positive:>6}{t.explained:>8}{precision:>6}  "
            f"{_days(t.acknowledge_median_days):>5} / {_days(t.acknowledge_p90_days):<4}  "
            f"{_days(t.close_median_days):>6} / {_days(t.close_p90_days):<4}  "
            f"{t.overdue_acknowledge} / {t.overdue_close}"
        )
    for d in m.districts or ():
        typer.echo(
            f"  {esc(d.jurisdiction or '(no district)')}: {d.opened} opened, "
            f"{d.confirmed} confirmed, {d.overdue} overdue now"
        )
