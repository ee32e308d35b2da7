"""``watchtower features``: compute and store a day's features; list the catalog."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from watchtower import pipeline
from watchtower.cli._app import (
    AsOfOption,
    DbOption,
    JsonOption,
    app,
    fail,
    print_json,
    settings_for,
)
from watchtower.clock import SystemClock
from watchtower.text import terminal_text

features_app = typer.Typer(
    help=(
        "Point-in-time risk features (风险特征). Without a command: compute the catalog for "
        "every manager as of --as-of D from history known by D and store the snapshot "
        "(re-running a day replaces it), e.g. `watchtower features --as-of 2024-06-30 --json`."
    ),
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(features_app, name="features")

PartitionOption = Annotated[
    str | None,
    typer.Option(
        "--partition",
        help="Only one peer group (manager type): securities, pe_vc, asset_allocation, other, "
        "unknown. See `watchtower features partitions`.",
    ),
]


def _day(as_of: dt.datetime | None) -> dt.date:
    return as_of.date() if as_of is not None else SystemClock().today()


@features_app.callback()
def features(
    ctx: typer.Context,
    as_of: AsOfOption = None,
    partition: PartitionOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compute the feature catalog for every manager as of day D from history known by D and
    store the snapshot (feature_snapshots; re-running a day replaces it).
    按时点计算并保存全部管理人的风险特征。

    Example: watchtower features --as-of 2024-06-30 --json
    """
    if ctx.invoked_subcommand is not None:
        return
    from watchtower.features import CatalogError

    settings = settings_for(db)
    try:
        summary = pipeline.compute_features(settings, _day(as_of), partition)
    except CatalogError as exc:
        fail(f"feature catalog: {exc}")
        return
    except ValueError as exc:
        fail(str(exc))
        return
    if as_json:
        print_json(summary)
        return
    scope = f" ({summary.partition})" if summary.partition else ""
    typer.echo(
        f"features {summary.as_of}{scope}: {summary.managers:,} managers x {summary.features} "
        f"features (set {summary.feature_set_version}), {summary.filled:.0%} filled, "
        f"computed in {summary.seconds:.1f}s; {summary.rows_stored:,} rows stored"
    )


@features_app.command("catalog")
def catalog(
    as_json: JsonOption = False,
    category: Annotated[
        str | None, typer.Option("--category", help="Only one category (e.g. disclosure).")
    ] = None,
) -> None:
    """List the declared features (zh/en labels, unit, direction, window, source).
    列出特征目录。"""
    from watchtower.config import load_settings
    from watchtower.features import CATEGORIES, CatalogError, load_catalog

    try:
        cat = load_catalog(load_settings().features_dir)
    except CatalogError as exc:
        fail(f"feature catalog: {exc}")
        return
    specs = [f for f in cat if category is None or f.category == category]
    if category is not None and category not in CATEGORIES:
        fail(f"unknown category {category!r}; one of {', '.join(CATEGORIES)}")
    if as_json:
        print_json({"version": cat.version, "features": specs})
        return
    typer.echo(f"feature set {cat.version}: {len(specs)} features")
    for cat_name, (zh, en) in CATEGORIES.items():
        group = [f for f in specs if f.category == cat_name]
        if not group:
            continue
        typer.secho(f"\n{zh} / {en}", bold=True)
        for f in group:
            arrow = {"higher_is_riskier": "↑", "lower_is_riskier": "↓", "neutral": "·"}[f.direction]
            peer = f" (peer pct of {f.peer_of})" if f.peer_of else ""
            typer.echo(
                f"  {arrow} {f.name:<28} {f.label_zh} / {f.label_en}{peer}"
                f"  [{f.unit}, {f.window}, {f.source}]"
            )
    typer.echo("\n↑ higher is riskier, ↓ lower is riskier, · neutral")


@features_app.command("partitions")
def partitions(as_of: AsOfOption = None, db: DbOption = None, as_json: JsonOption = False) -> None:
    """The peer groups (manager types) present as of D. 列出同类机构分组。"""
    parts = pipeline.list_partitions(settings_for(db), _day(as_of))
    if as_json:
        print_json(parts)
    else:
        typer.echo("\n".join(terminal_text(p) for p in parts) if parts else "(no managers known)")
