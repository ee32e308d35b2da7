"""One read path: the digests select their alerts, their chart's tier rows and the alerts no
subscriber receives in SQL (watchtower.warn.queries), exactly as the rule in Python does
(shown, Subscription.covers over manager_places, unrouted), on the scope test world (every
placement case, both addresses) and on the digest world (periods, tiers, a closed alert); and
collect_digest reads only the alert rows its digest lists, never the period's whole table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.console.test_scope import DAY, _build
from tests.digest import world as digest_world
from watchtower.config import RoutingAddress, Settings
from watchtower.digest.collect import (
    collect_digest,
    manager_places,
    period_for,
    select_chart_dates,
)
from watchtower.digest.select import AlertFacts, shown, shown_min_tier, tier_counts
from watchtower.jurisdiction import JURISDICTIONS
from watchtower.store.alerts import alerts, manager_tiers
from watchtower.warn import load_policy, unrouted_alert_ids
from watchtower.warn.routing import (
    Subscription,
    adhoc_subscription,
    catch_all_subscription,
    unrouted,
)

ADDRESSES: tuple[RoutingAddress, ...] = ("registered", "office")
POLICY = load_policy(Path(__file__).resolve().parents[2] / "models")


def _subscriptions(min_tier: str, districts: Sequence[str]) -> list[Subscription]:
    """Each of ``districts`` alone, city narrowings in several spellings, sets of districts."""
    subs = [
        Subscription(recipient=f"{i}@x.cn", province=d, min_tier=min_tier)
        for i, d in enumerate(districts)
    ]
    for province, city in [
        ("广东", "广州"),
        ("广东省", "广州市"),
        (None, "上海"),
        (None, "Shanghai"),  # a city no stored name normalizes to: nobody
        ("浙江", "宁波"),  # a 计划单列市: its own district
        (None, "深圳市"),
        (None, "石家庄"),
        ("河南", "郑州市"),
        (None, "天津市"),
        (("北京", "天津"), None),
        (("广东", "上海", "深圳"), None),
    ]:
        subs.append(
            Subscription(recipient="c@x.cn", province=province, city=city, min_tier=min_tier)
        )
    return subs


def _python_selection(
    conn: sa.Connection,
    sub: Subscription,
    period: tuple[dt.date, dt.date, str],
    cadence: str,
    address: RoutingAddress,
) -> set[int]:
    """The rule as the digests applied it after reading every alert of the store (each
    manager placed by its alert's own row when it has no snapshot: both worlds hold one
    alert per manager)."""
    start, end, _ = period
    rows = conn.execute(sa.select(alerts)).mappings().all()
    placed = manager_places(
        conn, {r["register_no"]: (r["province"], r["city"]) for r in rows}, end, address
    )
    min_tier = shown_min_tier(cadence, sub.min_tier)
    return {
        r["id"]
        for r in rows
        if shown(
            AlertFacts(r["id"], r["tier"], r["opened_as_of"], r["closed_as_of"]),
            start,
            end,
            min_tier,
        )
        and sub.covers(placed[r["register_no"]], r["id"])
    }


def _python_chart(
    conn: sa.Connection, sub: Subscription, as_of: dt.date, address: RoutingAddress
) -> list[Any]:
    mt = manager_tiers
    dates = select_chart_dates(conn, as_of, POLICY.chart_runs)
    rows = conn.execute(
        sa.select(mt.c.as_of, mt.c.register_no, mt.c.province, mt.c.city, mt.c.tier).where(
            mt.c.as_of.in_(dates), mt.c.tier.is_not(None)
        )
    ).all()
    placed = manager_places(conn, {reg: (p, c) for _, reg, p, c, _ in rows}, as_of, address)
    local = sub.alert_ids is None and not sub.everywhere
    return tier_counts(
        ((d, reg, tier) for d, reg, _, _, tier in rows),
        dates,
        lambda reg: not local or sub.covers(placed[reg]),
    )


def _python_unrouted(
    conn: sa.Connection, as_of: dt.date, subs: Sequence[Subscription], address: RoutingAddress
) -> list[int]:
    rows = (
        conn.execute(
            sa.select(alerts).where(
                alerts.c.opened_as_of <= as_of,
                sa.or_(alerts.c.closed_as_of.is_(None), alerts.c.closed_as_of > as_of),
            )
        )
        .mappings()
        .all()
    )
    placed = manager_places(
        conn, {r["register_no"]: (r["province"], r["city"]) for r in rows}, as_of, address
    )
    return unrouted(((r["id"], r["tier"], placed[r["register_no"]]) for r in rows), subs)


def _listed(
    conn: sa.Connection, sub: Subscription, period: Any, cadence: str, address: RoutingAddress
) -> Any:
    data = collect_digest(
        conn, sub, as_of=period[1], cadence=cadence, period=period, policy=POLICY, address=address
    )
    return data, {a.alert_id for items in data.sections.values() for a in items}


def _check_world(
    engine: sa.Engine, days: Sequence[dt.date], tiers: Sequence[str], districts: Sequence[str]
) -> int:
    """Every digest of ``days`` (daily and weekly), for every subscription, holds what the
    rule in Python selects; returns how many alerts the digests listed (the check saw some)."""
    seen = 0
    with engine.connect() as conn:
        all_ids = sorted(conn.execute(sa.select(alerts.c.id)).scalars())
        for address in ADDRESSES:
            for min_tier in tiers:
                subs = _subscriptions(min_tier, districts)
                extra = [
                    adhoc_subscription("to@x.cn", min_tier=min_tier),
                    catch_all_subscription("ops@x.cn", all_ids[::2]),
                ]
                for sub in [*subs, *extra]:
                    for day in days:
                        for cadence in ("daily", "weekly"):
                            period = period_for(cadence, day, force=True)
                            assert period is not None
                            data, listed = _listed(conn, sub, period, cadence, address)
                            want = _python_selection(conn, sub, period, cadence, address)
                            assert listed == want, (address, sub, period)
                            assert data.chart == _python_chart(conn, sub, day, address), (
                                address,
                                sub,
                            )
                            seen += len(listed)
                for day in days:
                    for chosen in (subs, subs[:3], subs[-5:], []):
                        got = unrouted_alert_ids(conn, day, chosen, address)
                        assert got == _python_unrouted(conn, day, chosen, address), (address, day)
    return seen


def test_the_digests_select_in_sql_as_the_rule_does_on_the_scope_world(settings: Settings) -> None:
    engine = _build(settings)
    assert _check_world(engine, [DAY], ["blue"], [j.zh for j in JURISDICTIONS]) > 0


def test_the_digests_select_in_sql_as_the_rule_does_on_the_digest_world(settings: Settings) -> None:
    engine = digest_world.build_world(settings)
    days = [digest_world.DAYS[3], digest_world.AS_OF]
    assert (
        _check_world(engine, days, ("blue", "orange"), ("广东", "深圳", "上海")) > 0
    )  # below and above the scores' tiers


class _Reads:
    """The statements a connection runs and their parameters (to run them again and count
    the rows each one returned)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.statements: list[tuple[str, Any]] = []
        self.engine = engine

    def _record(self, conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        self.statements.append((statement, parameters))

    @contextmanager
    def tracing(self) -> Iterator[None]:
        sa.event.listen(self.engine, "before_cursor_execute", self._record)
        try:
            yield
        finally:
            sa.event.remove(self.engine, "before_cursor_execute", self._record)

    def alert_rows_read(self) -> list[int]:
        """Rows returned by each statement that read alert rows (their ids) from the alerts
        table; the distinct stored names the scope compares by are not alert rows."""
        counts = []
        with self.engine.connect() as conn:
            for statement, parameters in self.statements:
                if "FROM alerts" in statement and "alerts.id" in statement:
                    counts.append(len(conn.exec_driver_sql(statement, parameters).fetchall()))
        return counts


def test_collect_digest_reads_only_the_alerts_it_lists(settings: Settings) -> None:
    engine = digest_world.build_world(settings)
    reads = _Reads(engine)
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(alerts)).scalar_one()
        ids = sorted(conn.execute(sa.select(alerts.c.id)).scalars())
    cases = [
        (Subscription(recipient="sh@x.cn", province="上海", min_tier="blue"), "daily"),
        (
            Subscription(recipient="gz@x.cn", province="广东", city="广州", min_tier="orange"),
            "weekly",
        ),
        (catch_all_subscription("ops@x.cn", ids[:2]), "daily"),
    ]
    for sub, cadence in cases:
        period = period_for(cadence, digest_world.AS_OF, force=True)
        assert period is not None
        reads.statements.clear()
        with reads.tracing(), engine.connect() as conn:
            data, _ = _listed(conn, sub, period, cadence, "registered")
        counts = reads.alert_rows_read()
        assert counts, sub  # the one read of the digest's alerts was seen
        assert 0 < data.alert_count < total  # a narrow digest: a whole-table read would show
        assert sum(counts) == data.alert_count, (sub, counts)
    # the check has teeth: the period's whole table, read as before, is seen as more rows
    reads.statements.clear()
    with reads.tracing(), engine.connect() as conn:
        conn.execute(sa.select(alerts).where(alerts.c.opened_as_of <= digest_world.AS_OF)).all()
    assert reads.alert_rows_read() == [total]


@pytest.mark.parametrize("address", ADDRESSES)
def test_a_pushed_alert_carries_the_district_routing_gives_it(
    settings: Settings, address: RoutingAddress
) -> None:
    engine = _build(settings)
    with engine.connect() as conn:
        stored = {
            reg: (prov, city)
            for reg, prov, city in conn.execute(
                sa.select(alerts.c.register_no, alerts.c.province, alerts.c.city)
            )
        }
        placed = manager_places(conn, stored, DAY, address)
        period = period_for("immediate", DAY)
        data, _ = _listed(
            conn, adhoc_subscription("to@x.cn", cadence="immediate"), period, "immediate", address
        )
    got = {a.register_no: a.jurisdiction for items in data.sections.values() for a in items}
    assert got == {reg: p.district for reg, p in placed.items()}
