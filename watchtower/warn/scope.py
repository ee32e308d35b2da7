"""A manager's district in SQL: the digests' routing rule as a query condition, so that what a
person may see (the console's scope, a jurisdiction filter) is decided by the database.

The rule is the one of :func:`watchtower.digest.collect.manager_places`: the district of the
manager's registered address (or its office's, ``WATCHTOWER_ROUTING_ADDRESS=office``) in its
latest snapshot that has that address, by :func:`watchtower.jurisdiction.jurisdiction_of`
(AMAC's aggregate, else a 计划单列市 city, else the province); a manager whose snapshots all
lack the address is in no district; one with no snapshot keeps the (province, city) its own
row carries. ``tests/console/test_scope.py`` holds the two implementations equal.

Names are stored as published, in every spelling; the condition first reads the few distinct
stored names and normalizes them (:func:`~watchtower.jurisdiction.normalize_jurisdiction`),
then selects by the names that place a manager in the wanted districts (as
:mod:`watchtower.warn.queries` does for regions).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from watchtower.config import RoutingAddress
from watchtower.jurisdiction import JURISDICTIONS, jurisdiction_of, normalize_jurisdiction
from watchtower.store.schema import manager_snapshots
from watchtower.warn.routing import normalize_region

__all__ = [
    "ADDRESS_COLUMNS",
    "Places",
    "city_condition",
    "district_of",
    "places",
    "scope_condition",
]

#: The snapshot columns of each address: (AMAC's district aggregate, province, city).
ADDRESS_COLUMNS: dict[str, tuple[str, str, str]] = {
    "registered": ("reg_adr_agg", "register_province", "register_city"),
    "office": ("office_adr_agg", "office_province", "office_city"),
}
_SEPARATE = frozenset(j.zh for j in JURISDICTIONS if j.parent)


@dataclass(frozen=True)
class Places:
    """The latest addressed snapshot of every manager (a subquery: ``register_no``, ``agg``,
    ``province``, ``city``), and the address it was read from. ``names``: the distinct stored
    names the conditions over it have read (column -> names), read once for all of them (a
    digest's unrouted query has a condition per subscription)."""

    subquery: sa.CTE
    address: RoutingAddress
    names: dict[str, frozenset[str]] = field(default_factory=dict, compare=False, repr=False)


def places(
    address: RoutingAddress = "registered",
    as_of: dt.date | None = None,
    among: sa.Select[Any] | None = None,
) -> Places:
    """Per manager, the address of its latest snapshot known by ``as_of`` (None: all known)
    that has one, else its latest snapshot (all address columns NULL: no district). The
    order is ``manager_places``' reversed: snapshot date (unknown first), known-from, id.
    ``among``: a select of register numbers, the only managers placed (a query of a few
    managers' rows then ranks their snapshots, not every manager's)."""
    ms = manager_snapshots
    agg, prov, city = (ms.c[c] for c in ADDRESS_COLUMNS[address])
    blank = sa.and_(agg.is_(None), prov.is_(None), city.is_(None))
    order = sa.func.row_number().over(
        partition_by=ms.c.register_no,
        order_by=(
            sa.case((blank, 1), else_=0),
            ms.c.snapshot_date.desc().nulls_last(),
            ms.c.known_from.desc(),
            ms.c.id.desc(),
        ),
    )
    ranked = sa.select(
        ms.c.register_no,
        agg.label("agg"),
        prov.label("province"),
        city.label("city"),
        order.label("rn"),
    )
    if as_of is not None:
        ranked = ranked.where(ms.c.known_from <= as_of)
    if among is not None:
        ranked = ranked.where(ms.c.register_no.in_(among))
    inner = ranked.subquery("ranked")
    # A materialized CTE (one row per manager), not a subquery: SQLite flattens a subquery
    # into its ranked rows and scans all of them for each row it is outer-joined to
    # (measured: 1057 alerts joined to their managers' places, 0.50 s as a subquery, 0.14 s
    # materialized). Anonymous: a statement may hold more than one.
    latest = (
        sa.select(inner.c.register_no, inner.c.agg, inner.c.province, inner.c.city)
        .where(inner.c.rn == 1)
        .cte()
        .prefix_with("MATERIALIZED")
    )
    return Places(latest, address)


def _names(conn: sa.Connection, where: Places, *columns: sa.ColumnElement[Any]) -> set[str]:
    out: set[str] = set()
    for column in columns:
        key = str(column)
        if key not in where.names:
            stored = conn.execute(sa.select(column).distinct()).scalars()
            where.names[key] = frozenset(v for v in stored if v)
        out.update(where.names[key])
    return out


def _district_in(
    districts: frozenset[str],
    aggs: set[str],
    provinces: set[str],
    cities: set[str],
    agg: sa.ColumnElement[Any] | None,
    province: sa.ColumnElement[Any],
    city: sa.ColumnElement[Any],
) -> sa.ColumnElement[bool]:
    """``jurisdiction_of(agg, province, city) in districts`` over the stored names."""
    city_in = [c for c in cities if normalize_jurisdiction(c) in districts & _SEPARATE]
    city_separate = [c for c in cities if normalize_jurisdiction(c) in _SEPARATE]
    province_in = [p for p in provinces if normalize_jurisdiction(p) in districts]
    # a city that is a district of its own wins over the province (深圳 is not 广东)
    not_separate = sa.or_(city.is_(None), city.not_in(city_separate))
    by_place = sa.or_(city.in_(city_in), sa.and_(not_separate, province.in_(province_in)))
    if agg is None:
        return by_place
    agg_in = [a for a in aggs if normalize_jurisdiction(a) in districts]
    agg_named = [a for a in aggs if normalize_jurisdiction(a) is not None]
    # AMAC's aggregate first, when it names a district at all
    no_agg = sa.or_(agg.is_(None), agg.not_in(agg_named))
    return sa.or_(agg.in_(agg_in), sa.and_(no_agg, by_place))


def scope_condition(
    conn: sa.Connection,
    districts: Collection[str],
    where: Places,
    province: sa.ColumnElement[Any] | None,
    city: sa.ColumnElement[Any] | None,
) -> sa.ColumnElement[bool]:
    """A WHERE condition: the manager of a row (with the ``province`` and ``city`` the row
    carries) is in one of ``districts`` (canonical names). The query must outer-join
    ``where.subquery`` on the row's register number: its columns decide when the manager has
    a snapshot, the row's own when it has none (``province`` and ``city`` None: a query of
    the snapshots alone, where a manager without one is in no district)."""
    wanted = frozenset(districts)
    if not wanted:
        return sa.false()
    p = where.subquery.c
    agg_col, prov_col, city_col = (manager_snapshots.c[c] for c in ADDRESS_COLUMNS[where.address])
    aggs = _names(conn, where, agg_col)
    provinces = _names(conn, where, prov_col, *([province] if province is not None else []))
    cities = _names(conn, where, city_col, *([city] if city is not None else []))
    placed = sa.and_(
        p.register_no.is_not(None),
        _district_in(wanted, aggs, provinces, cities, p.agg, p.province, p.city),
    )
    if province is None or city is None:
        return placed
    unplaced = sa.and_(
        p.register_no.is_(None), _district_in(wanted, aggs, provinces, cities, None, province, city)
    )
    return sa.or_(placed, unplaced)


def city_condition(
    conn: sa.Connection, city: str, where: Places, row_city: sa.ColumnElement[Any] | None
) -> sa.ColumnElement[bool]:
    """A WHERE condition: the manager of a row is in ``city`` (compared in the normalized form
    of :func:`~watchtower.warn.routing.normalize_region`, as a subscription's city narrowing
    is: 广州市 = 广州), the city of the address it is placed by (``where``, outer-joined as for
    :func:`scope_condition`), else, without a snapshot, the ``row_city`` the row carries. A
    manager whose snapshots lack the address is in no city."""
    wanted = normalize_region(city)
    p = where.subquery.c
    city_col = manager_snapshots.c[ADDRESS_COLUMNS[where.address][2]]
    stored = _names(conn, where, city_col, *([row_city] if row_city is not None else []))
    matching = sorted(c for c in stored if normalize_region(c) == wanted)
    placed = sa.and_(p.register_no.is_not(None), p.city.in_(matching))
    if row_city is None:
        return placed
    return sa.or_(placed, sa.and_(p.register_no.is_(None), row_city.in_(matching)))


def district_of(row: Any) -> str | None:
    """The district of a row selected with the ``places`` columns as ``place_placed``,
    ``place_agg``, ``place_province``, ``place_city`` beside its own ``province`` and
    ``city`` (what the condition above decided on, for showing)."""
    if row["place_placed"] is not None:
        return jurisdiction_of(row["place_agg"], row["place_province"], row["place_city"])
    return jurisdiction_of(None, row["province"], row["city"])
