"""Point-in-time reads of the history tables: what was known on day D, as pandas frames.

Every query here filters ``known_from <= D``; nothing else in the feature engine touches the
database. Dates come back as ``datetime64`` columns plus, where arithmetic needs them, day
numbers (float days since 1970-01-01, NaN when missing).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import sqlalchemy as sa

from watchtower._compat.pandas_rows import rows_to_array
from watchtower.contract import (
    DISCLOSURE_COUNTS,
    DISCLOSURE_PERIODS,
    PARTITIONS,
    UNKNOWN_PARTITION,
    camel_to_snake,
)
from watchtower.store.bulk import bind_values
from watchtower.store.schema import (
    change_events,
    events,
    fund_details,
    fund_snapshots,
    manager_details,
    manager_snapshots,
    reports,
)

EPOCH = pd.Timestamp("1970-01-01")
IntArray = npt.NDArray[np.int64]

#: Fund states after which no more periodic reports are expected.
TERMINAL_STATES = ("正常清算", "提前清算", "投顾协议已终止", "非正常清算")

_MANAGER_COLS = (
    "id",
    "known_from",
    "register_no",
    "manager_name",
    "uscc",
    "artificial_person_name",
    "primary_invest_type",
    "register_date",
    "register_address",
    "register_province",
    "register_city",
    "office_address",
    "office_province",
    "office_city",
    "subscribed_capital",
    "paid_in_capital",
    "employee_count",
    "qualified_employee_count",
    "fund_count",
    "fund_scale",
    "member_type",
    "has_special_tips",
    "has_credit_tips",
    "in_blacklist",
    "reg_adr_agg",
    "office_adr_agg",
    "manager_has_product",
    "snapshot_date",
)
_FUND_COLS = (
    "id",
    "known_from",
    "fund_no",
    "register_no",
    "manager_name",
    "fund_type",
    "establish_date",
    "put_on_record_date",
    "mandator_name",
    "working_state",
    "last_quarter_update",
    "snapshot_date",
)
_REPORT_COLS = (
    "id",
    "known_from",
    "fund_no",
    "register_no",
    "report_type",
    "period",
    "due_date",
    "submitted_date",
    "nav",
    "aum",
    "investor_count",
    "subscriptions",
    "redemptions",
    "leverage_ratio",
    "audit_opinion",
)
_EVENT_COLS = (
    "id",
    "known_from",
    "register_no",
    "uscc",
    "event_date",
    "event_type",
    "severity",
    "version_key",
)


def minus(as_of: dt.date, window: str) -> dt.date:
    """Start of a trailing window: ``minus(D, "12m")`` = D - 12 calendar months, ``"90d"``."""
    n, unit = int(window[:-1]), window[-1]
    if unit == "d":
        return as_of - dt.timedelta(days=n)
    start: dt.date = (pd.Timestamp(as_of) - pd.DateOffset(months=n)).date()
    return start


def day_number(d: dt.date) -> int:
    """Days since 1970-01-01."""
    days: int = (d - EPOCH.date()).days  # EPOCH is a pandas Timestamp: untyped here
    return days


def to_days(values: pd.Series) -> pd.Series:
    """Dates (date objects, strings or datetime64) -> float day numbers, NaN when missing."""
    stamps = pd.to_datetime(values, errors="coerce")
    return (stamps - EPOCH).dt.days.astype("float64")


def _fetch(conn: sa.Connection, stmt: sa.Select[tuple[object, ...]], width: int) -> np.ndarray:
    """Run ``stmt`` on the DBAPI cursor (SQLAlchemy's documented raw-cursor route); the rows as
    one 2-D object array (rows x ``width``). SQLAlchemy's per-row result processing costs more
    than the query at national scale. Values come back as the driver gives them (SQLite: dates
    as ISO text, booleans as 0/1); the column helpers below coerce them."""
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = bind_values(conn.dialect, compiled.construct_params())
    bound: Any = (
        tuple(params[k] for k in compiled.positiontup or ()) if compiled.positional else params
    )
    cursor = conn.connection.cursor()
    try:
        cursor.execute(str(compiled), bound)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return rows_to_array(rows, width)


def fetch_rows(conn: sa.Connection, stmt: sa.Select[tuple[object, ...]], width: int) -> np.ndarray:
    """:func:`_fetch` for the other readers of the feature engine (the relationship graph)."""
    return _fetch(conn, stmt, width)


def _frame(
    conn: sa.Connection, stmt: sa.Select[tuple[object, ...]], cols: tuple[str, ...]
) -> pd.DataFrame:
    """``stmt``'s rows as a frame of object columns named ``cols`` (see :func:`_fetch`)."""
    return _object_frame(_fetch(conn, stmt, len(cols)), cols)


def _object_frame(data: np.ndarray, cols: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(data[:, i], dtype=object) for i, c in enumerate(cols)})


def _text(values: pd.Series) -> pd.Series:
    """Strip strings; empty strings become missing."""
    out = values.astype("object").where(values.notna(), None)
    out = pd.Series(out, index=values.index, dtype="str").str.strip()
    return out.where(out != "")


def _by_unique(values: np.ndarray, convert: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``convert(pd.Series(values))``, computed on the distinct values only and spread back.

    ``convert`` must be element-wise, missing in -> missing out, apart from what it infers
    from the first non-missing value (pandas' date format guess): distinct values are kept
    in order of first appearance, so that value is the same."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    done = convert(pd.Series(np.asarray(uniques, dtype=object), dtype=object))
    if len(done) == 0:  # nothing but missing values: let convert type an all-missing column
        return convert(pd.Series([None] * len(values), dtype=object))
    return pd.Series(done.array.take(codes, allow_fill=True))


def _text_col(values: np.ndarray) -> pd.Series:
    """:func:`_text` of an object column, computed per distinct value."""
    return _by_unique(values, _text)


def _days_col(values: np.ndarray) -> pd.Series:
    """:func:`to_days` of an object column, computed per distinct value."""
    return _by_unique(values, to_days)


def _num_col(values: np.ndarray) -> pd.Series:
    """Numbers (float64, NaN where missing or not a number) of an object column."""
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").astype("float64")


@dataclass(frozen=True)
class History:
    """What was known on ``as_of``.

    - ``managers``: latest snapshot per manager, index ``register_no``.
    - ``manager_seq``: each manager's snapshots of the trailing 12 months plus the last one
      before them, ordered (register_no, known_from, snapshot_date, id): compare neighbours
      for changes.
    - ``funds``: latest snapshot per fund, with the manager's ``register_no`` linked (by
      registerNo, else by the manager's name) and ``terminal_from`` (day the latest terminal
      state was first known, NaN while operating).
    - ``reports``: report rows known in the trailing 27 months (enough for every 24-month
      window), with ``register_no`` linked through the fund.
    - ``events``: events with an event date in the longest event window of the catalog (365
      days as shipped), linked by registerNo or USCC.
    - ``report_coverage_day``: the store's report coverage start as known on ``as_of`` (day
      number; NaN when no report row is known yet): see :func:`read_coverage`.
    - ``fund_coverage_day``: the same for fund snapshots (the first fund snapshot known).
    - ``details``: the latest manager detail page known by D per manager (index register_no;
      tips as lists of category names); managers without a page are absent.
    - ``fund_details``: the latest fund detail page known by D per fund, linked to managers.
    - ``changes``: change events (snapshot_diff) known by D, dated in the longest change
      window of the catalog (``event_day``).
    - ``products``: per manager, from every list snapshot known by D: ``snapshots`` (how many),
      ``without_since`` (day of the first snapshot of the current run without a product; NaN
      when the latest known status has a product or no status is known) and ``status_known``.
    - ``events_known``: the events feed holds a row known by D (else event features are
      missing, not 0).
    - ``windows``: feature name -> declared window (the catalog's), see engine ``_window``.
    - ``network``: per manager with a person fact known by D, the relationship graph's counts
      (``watchtower.features._graph.network_counts``; store-wide, whatever the partition).
    """

    as_of: dt.date
    managers: pd.DataFrame
    manager_seq: pd.DataFrame
    funds: pd.DataFrame
    reports: pd.DataFrame
    events: pd.DataFrame
    report_coverage_day: float = math.nan
    fund_coverage_day: float = math.nan
    details: pd.DataFrame = field(default_factory=lambda: empty_details())
    fund_details: pd.DataFrame = field(default_factory=lambda: empty_fund_details())
    changes: pd.DataFrame = field(default_factory=lambda: empty_changes())
    products: pd.DataFrame = field(default_factory=lambda: empty_products())
    events_known: bool = True
    windows: Mapping[str, str] = field(default_factory=dict)
    network: pd.DataFrame = field(default_factory=lambda: empty_network())
    #: Values derived once from this History and shared by the engine's feature groups (the
    #: submitted reports): owned by the object, they live and die with it, so a derived value
    #: can never be served for another History. Not an argument: ``dataclasses.replace`` gives
    #: the copy (other data) a new, empty memo.
    memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)


def _latest_join(
    table: sa.Table, key: str, cutoff: dt.date
) -> tuple[sa.Subquery, sa.ColumnElement[bool]]:
    """Per key, the rows of its newest snapshot known by ``cutoff`` (every version of that
    snapshot known by then): ``(subquery, join condition)``.

    By snapshot date, not by known_from: a correction of an older snapshot, received after a
    newer one, is known late but does not make the older day's listing the current one.
    Callers keep the last of those rows by (snapshot day, known day, id).
    """
    newest = (
        sa.select(table.c[key].label("k"), sa.func.max(table.c.snapshot_date).label("sd"))
        .where(table.c.known_from <= cutoff)
        .group_by(table.c[key])
        .subquery()
    )
    on = sa.and_(
        table.c[key] == newest.c.k,
        table.c.snapshot_date == newest.c.sd,
        table.c.known_from <= cutoff,
    )
    return newest, on


def _typed(
    data: np.ndarray,
    cols: tuple[str, ...],
    *,
    text: tuple[str, ...] = (),
    numbers: tuple[str, ...] = (),
    days: tuple[tuple[str, str], ...] = (),
    omit: tuple[str, ...] = (),
    rows: np.ndarray | None = None,
) -> pd.DataFrame:
    """Frame of fetched rows ``data`` (columns ``cols``): ``text`` columns stripped (str,
    empty -> missing), ``numbers`` as float64, ``id`` as int64, other columns as fetched;
    then one float day-number column per ``(name, source column)`` of ``days``. Columns
    in ``omit`` are left out (still usable as a source of ``days``); ``rows``: only these
    rows (positions)."""

    def column(i: int) -> np.ndarray:
        return data[:, i] if rows is None else data[rows, i]

    out: dict[str, pd.Series] = {}
    for i, c in enumerate(cols):
        if c in omit:
            continue
        if c in text:
            out[c] = _text_col(column(i))
        elif c in numbers:
            out[c] = _num_col(column(i))
        elif c == "id":
            out[c] = pd.Series(column(i).astype("int64"))
        else:
            out[c] = pd.Series(column(i), dtype=object)
    for name, source in days:
        out[name] = _days_col(column(cols.index(source)))
    return pd.DataFrame(out)


def _unindexed(column: sa.ColumnElement[Any], conn: sa.Connection) -> sa.ColumnElement[Any]:
    """``column`` in a form SQLite's planner will not answer from an index (``+column``).

    A trailing window of known_from selects most of a history table; walking the known_from
    index and looking every row up costs SQLite ~5x a plain table scan (national world:
    0.9 s vs 0.15 s CPU for the reports). PostgreSQL plans from statistics: left alone."""
    if conn.dialect.name != "sqlite":
        return column
    return sa.sql.expression.UnaryExpression(
        column, operator=sa.sql.operators.custom_op("+"), type_=column.type
    )


_MANAGER_TEXT = (
    "register_no",
    "manager_name",
    "uscc",
    "artificial_person_name",
    "primary_invest_type",
    "register_address",
    "register_province",
    "register_city",
    "office_address",
    "office_province",
    "office_city",
    "member_type",
    "reg_adr_agg",
    "office_adr_agg",
)
_MANAGER_NUMBERS = (
    "subscribed_capital",
    "paid_in_capital",
    "employee_count",
    "qualified_employee_count",
    "fund_count",
    "fund_scale",
    "has_special_tips",
    "has_credit_tips",
    "in_blacklist",
    "manager_has_product",
)


def _manager_sequence(
    conn: sa.Connection,
    as_of: dt.date,
    names: tuple[str, ...],
    days: tuple[tuple[str, str], ...],
) -> pd.DataFrame:
    """Manager snapshot rows known on ``as_of`` (columns ``names``): the newest snapshot known
    12 months before, then every row known since, sorted so that a manager's last row is its
    latest snapshot as known on ``as_of``."""
    t = manager_snapshots
    cols = [t.c[c] for c in names]
    w0 = minus(as_of, "12m")
    base, on_base = _latest_join(t, "register_no", w0)
    stmt_base = sa.select(*cols).join(base, on_base)
    kf = _unindexed(t.c.known_from, conn)
    stmt_recent = sa.select(*cols).where(kf > w0, kf <= as_of)
    width = len(names)
    data = np.concatenate([_fetch(conn, stmt_base, width), _fetch(conn, stmt_recent, width)])
    seq = _typed(data, names, text=_MANAGER_TEXT, numbers=_MANAGER_NUMBERS, days=days)
    seq = seq[seq["register_no"].notna()]
    return seq.sort_values(
        ["register_no", "snapshot_day", "known_day", "id"], kind="mergesort", na_position="first"
    ).reset_index(drop=True)


_ORDER_DAYS = (("known_day", "known_from"), ("snapshot_day", "snapshot_date"))


def read_managers(conn: sa.Connection, as_of: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(latest snapshot per manager, 12-month change sequence) as known on ``as_of``."""
    seq = _manager_sequence(
        conn, as_of, _MANAGER_COLS, (*_ORDER_DAYS, ("register_day", "register_date"))
    )
    latest = seq.drop_duplicates("register_no", keep="last").set_index("register_no")
    return latest, seq


#: What deciding a manager's type needs: its key, the ordering columns and the type.
_TYPE_COLS = ("id", "known_from", "register_no", "primary_invest_type", "snapshot_date")


def read_manager_types(conn: sa.Connection, as_of: dt.date) -> pd.Series:
    """``primary_invest_type`` per manager known on ``as_of`` (index register_no, missing
    where unknown): the types :func:`read_managers` gives, from the same rows but five
    narrow columns, so deciding partitions costs a fraction of reading the managers."""
    seq = _manager_sequence(conn, as_of, _TYPE_COLS, _ORDER_DAYS)
    latest = seq.drop_duplicates("register_no", keep="last").set_index("register_no")
    return latest["primary_invest_type"]


def read_funds(conn: sa.Connection, as_of: dt.date, managers: pd.DataFrame) -> pd.DataFrame:
    """Latest snapshot per fund known on ``as_of``, linked to its manager's register_no."""
    t = fund_snapshots
    cols = [t.c[c] for c in _FUND_COLS]
    last, on_last = _latest_join(t, "fund_no", as_of)
    stmt = sa.select(*cols).join(last, on_last)
    f = _typed(
        _fetch(conn, stmt, len(_FUND_COLS)),
        _FUND_COLS,
        text=(
            "fund_no",
            "register_no",
            "manager_name",
            "fund_type",
            "mandator_name",
            "working_state",
        ),
        numbers=("last_quarter_update",),
        days=(
            ("known_day", "known_from"),
            ("snapshot_day", "snapshot_date"),
            ("filing_day", "put_on_record_date"),
            ("_establish_day", "establish_date"),
        ),
    )
    f["filing_day"] = f["filing_day"].fillna(f.pop("_establish_day"))
    f = f[f["fund_no"].notna()]
    f = f.sort_values(["fund_no", "snapshot_day", "known_day", "id"], kind="mergesort")
    f = f.drop_duplicates("fund_no", keep="last").reset_index(drop=True)
    # Link by the manager's name where the fund carries no registerNo (contract: funds).
    by_name = (
        managers.reset_index()[["manager_name", "register_no"]]
        .dropna()
        .sort_values(["manager_name", "register_no"], kind="mergesort")
        .drop_duplicates("manager_name")
        .set_index("manager_name")["register_no"]
    )
    f["register_no"] = f["register_no"].fillna(f["manager_name"].map(by_name))
    # When did the current terminal state first become known? (end of report obligations)
    # Grouped here, not in SQL: SQLite answers a GROUP BY fund_no by walking the fund_no
    # index and looking every snapshot up (national world: 1.4 s); the terminal rows alone
    # are few. The least value as fetched per group, as SQL's min() compares them.
    term = sa.select(t.c.fund_no, t.c.working_state, t.c.known_from).where(
        _unindexed(t.c.known_from, conn) <= as_of, t.c.working_state.in_(TERMINAL_STATES)
    )
    tf = _frame(conn, term, ("fund_no", "working_state", "first_known"))
    keys = ["fund_no", "working_state"]
    tf = tf.sort_values([*keys, "first_known"], kind="mergesort").drop_duplicates(keys)
    tf["first_day"] = to_days(tf["first_known"])
    f = f.merge(
        tf[["fund_no", "working_state", "first_day"]],
        on=["fund_no", "working_state"],
        how="left",
        validate="one_to_one",
    ).rename(columns={"first_day": "terminal_from"})
    return f


_PERIOD_RES = {
    "monthly": re.compile(r"^(\d{4})-(\d{1,2})$"),
    "quarterly": re.compile(r"^(\d{4})\s*[Qq]([1-4])$"),
    "annual": re.compile(r"^(\d{4})$"),
}


def _period_index(pair: str) -> float:
    """``"monthly|2024-09"`` -> 2024*12+8 (months); quarters y*4+q-1; years. NaN if bad."""
    kind, _, period = pair.partition("|")
    pattern = _PERIOD_RES.get(kind)
    match = pattern.match(period.strip()) if pattern else None
    if match is None:
        return math.nan
    year = int(match.group(1))
    if kind == "monthly":
        month = int(match.group(2))
        return float(year * 12 + month - 1) if 1 <= month <= 12 else math.nan
    if kind == "quarterly":
        return float(year * 4 + int(match.group(2)) - 1)
    return float(year)


def read_reports(conn: sa.Connection, as_of: dt.date, funds: pd.DataFrame) -> pd.DataFrame:
    """Report rows known in the 27 months up to ``as_of`` (parsed periods, linked managers).

    Dates come as day numbers only (``known_day``, ``due_day``, ``submitted_day``). Adds
    ``pidx`` (period index: months, quarters or years) and ``due_derived`` (the regulatory
    deadline: see :func:`derived_due`).

    Row by row as before, but every text, date and period value is converted once per
    distinct value (a national world has 1.2 M rows and a few hundred thousand distinct
    values), and rows are filtered before the frame is built.
    """
    t = reports
    lo = minus(as_of, "27m")
    kf = _unindexed(t.c.known_from, conn)
    stmt = sa.select(*[t.c[c] for c in _REPORT_COLS]).where(kf > lo, kf <= as_of)
    data = _fetch(conn, stmt, len(_REPORT_COLS))
    raw = {c: data[:, i] for i, c in enumerate(_REPORT_COLS)}
    kind = _text_col(raw["report_type"])
    period = _text_col(raw["period"])
    fund_no = _text_col(raw["fund_no"])
    # Period index and derived deadline per distinct (report type, period) pair.
    kcodes, kinds = pd.factorize(kind, use_na_sentinel=True)
    pcodes, periods = pd.factorize(period, use_na_sentinel=True)
    pair = (kcodes.astype("int64") + 1) * (len(periods) + 1) + (pcodes + 1)
    pair_codes, pairs = pd.factorize(pair)
    kind_of = np.asarray(kinds, dtype=object)
    period_of_ = np.asarray(periods, dtype=object)
    pair_kind = np.array(
        [kind_of[k - 1] if k > 0 else "" for k in pairs // (len(periods) + 1)], dtype=object
    )
    pair_period = [period_of_[q - 1] if q > 0 else "" for q in pairs % (len(periods) + 1)]
    parsed = np.array(
        [_period_index(f"{k}|{q}") for k, q in zip(pair_kind, pair_period, strict=True)],
        dtype="float64",
    )
    pair_due = np.full(len(pairs), np.nan)
    ok = ~np.isnan(parsed)
    pair_due[ok] = derived_due(pair_kind[ok], parsed[ok].astype("int64"))
    pidx = parsed[pair_codes]
    keep = ~np.isnan(pidx) & fund_no.notna().to_numpy()
    rows = np.flatnonzero(keep)
    r = _typed(
        data,
        _REPORT_COLS,
        rows=rows,
        text=("register_no", "audit_opinion"),
        numbers=("nav", "aum", "investor_count", "subscriptions", "redemptions", "leverage_ratio"),
        days=(
            ("known_day", "known_from"),
            ("due_day", "due_date"),
            ("submitted_day", "submitted_date"),
        ),
        omit=("known_from", "due_date", "submitted_date", "fund_no", "report_type", "period"),
    )
    r["fund_no"] = fund_no.take(rows).reset_index(drop=True)
    r["report_type"] = kind.take(rows).reset_index(drop=True)
    r["period"] = period.take(rows).reset_index(drop=True)
    r["pidx"] = pidx[rows].astype("int64")
    r["due_derived"] = pair_due[pair_codes[rows]]
    # Manager of each fund: the fund's snapshot, else the report's own registerNo.
    fcodes, fund_uniques = pd.factorize(r["fund_no"])
    link = funds.set_index("fund_no")["register_no"]
    linked = pd.Series(fund_uniques).map(link).array.take(fcodes, allow_fill=True)
    # As the report's own column's dtype: with no fund known yet the links are all NaN floats.
    linked = pd.Series(linked, dtype=r["register_no"].dtype)
    r["register_no"] = linked.fillna(r["register_no"])
    return r


def read_coverage(conn: sa.Connection, as_of: dt.date) -> tuple[float, float]:
    """(report coverage start, fund snapshot coverage start) as known on ``as_of``: the
    earliest ``known_from`` of any reports / fund_snapshots row known by ``as_of`` (day
    numbers; NaN while the table holds no row known by then).

    A store only holds what the supervisor received: its report history begins with the
    first report delivery, however old the funds are. The earliest known_from of any report
    row is that beginning, by the contract's own point-in-time rule (a report is known from
    its submission, an unsubmitted placeholder from its file's date), so it needs no extra
    bookkeeping and cannot leak: rows known after ``as_of`` are not read, and later
    deliveries can only add rows known later. (The batches table is not used: its
    ingested_at is wall-clock time, not point in time.) Store-wide, not per manager or
    partition: a fund without any report row since the coverage start has missed them.
    One indexed MIN per table."""
    out = []
    for table in (reports, fund_snapshots):
        stmt = sa.select(sa.func.min(table.c.known_from)).where(table.c.known_from <= as_of)
        first = conn.execute(stmt).scalar()
        out.append(math.nan if first is None else float(to_days(pd.Series([first])).iloc[0]))
    return out[0], out[1]


def read_events(
    conn: sa.Connection, as_of: dt.date, managers: pd.DataFrame, since: dt.date | None = None
) -> pd.DataFrame:
    """Events known on ``as_of`` whose event date lies in (since, as_of] (default: the
    trailing 365 days; the engine passes the start of the longest event window declared)."""
    t = events
    lo = minus(as_of, "365d") if since is None else since
    stmt = sa.select(*[t.c[c] for c in _EVENT_COLS]).where(
        t.c.known_from <= as_of, t.c.event_date > lo, t.c.event_date <= as_of
    )
    e = _typed(
        _fetch(conn, stmt, len(_EVENT_COLS)),
        _EVENT_COLS,
        text=("register_no", "uscc", "event_type", "version_key"),
        numbers=("severity",),
        days=(("event_day", "event_date"), ("known_day", "known_from")),
    )
    # One event per natural key: a corrected event counts once, as its newest version known
    # by the day (rows stored before version keys existed count each).
    e = e.sort_values(["known_day", "id"], kind="mergesort")
    keyed = e["version_key"].notna()
    e = pd.concat([e[keyed].drop_duplicates("version_key", keep="last"), e[~keyed]]).sort_values(
        "id", kind="mergesort"
    )
    e = e.drop(columns=["version_key", "known_day"])
    by_uscc = (
        managers.reset_index()[["uscc", "register_no"]]
        .dropna()
        .sort_values(["uscc", "register_no"], kind="mergesort")
        .drop_duplicates("uscc")
        .set_index("uscc")["register_no"]
    )
    # An empty mapping maps to float NaN; cast so that fillna gets the column's own str dtype.
    linked = e["uscc"].map(by_uscc).astype(e["register_no"].dtype)
    e["register_no"] = e["register_no"].fillna(linked)
    return e[e["register_no"].notna()].reset_index(drop=True)


# --- public-disclosure sources: detail pages, change events, product history --------------
_DETAIL_COLS = (
    "id",
    "known_from",
    "register_no",
    "paid_in_capital",
    "subscribed_capital",
    "paid_in_ratio",
    "employee_count",
    "qualified_employee_count",
    "member_type",
    "scale_low",
    "scale_high",
    "integrity_tips",
    "institution_tips",
    "special_tips",
    "snapshot_date",
)
_DETAIL_NUMBERS = (
    "paid_in_capital",
    "subscribed_capital",
    "paid_in_ratio",
    "employee_count",
    "qualified_employee_count",
    "scale_low",
    "scale_high",
)
#: Tip columns of a detail page: JSON lists of category names.
TIP_COLUMNS = ("integrity_tips", "institution_tips", "special_tips")
_FUND_DETAIL_COLS = (
    "id",
    "known_from",
    "fund_no",
    "manager_name",
    *(
        camel_to_snake(f"{period}{what}")
        for period in DISCLOSURE_PERIODS
        for what in DISCLOSURE_COUNTS
    ),
    "snapshot_date",
)
_CHANGE_COLS = ("id", "known_from", "register_no", "event_type", "event_date", "new_value")
_PRODUCT_COLS = (
    "id",
    "register_no",
    "known_from",
    "snapshot_date",
    "manager_has_product",
    "fund_count",
)


def empty_details() -> pd.DataFrame:
    cols = [c for c in _DETAIL_COLS if c != "register_no"]
    return pd.DataFrame(columns=cols, index=pd.Index([], name="register_no", dtype="str"))


def empty_fund_details() -> pd.DataFrame:
    return pd.DataFrame(columns=[*_FUND_DETAIL_COLS, "register_no"])


def empty_changes() -> pd.DataFrame:
    return pd.DataFrame(columns=[*_CHANGE_COLS, "event_day"])


def empty_products() -> pd.DataFrame:
    return pd.DataFrame(
        columns=["snapshots", "without_since", "status_known"],
        index=pd.Index([], name="register_no", dtype="str"),
        dtype="float64",
    )


def empty_network() -> pd.DataFrame:
    """No manager with a person known (the engine reindexes it to the network features)."""
    return pd.DataFrame(index=pd.Index([], name="register_no", dtype="str"), dtype="float64")


def stored_json(value: Any) -> Any:
    """A stored JSON column's value as fetched on the raw cursor: SQLite's driver gives the
    JSON text (decoded here; not JSON: None), PostgreSQL's the decoded value."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return None


def _tip_list(value: Any) -> list[str] | None:
    """A tip column's value as a list of category names (None when not given)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        try:
            value = json.loads(text)
        except ValueError:
            return [text]
    if isinstance(value, dict):
        value = list(value)
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    return [str(value)]


def _latest_rows(
    conn: sa.Connection, table: sa.Table, key: str, cols: tuple[str, ...], as_of: dt.date
) -> np.ndarray:
    """Rows (see :func:`_fetch`) of the newest snapshot per ``key`` known by ``as_of``."""
    last, on = _latest_join(table, key, as_of)
    stmt = sa.select(*[table.c[c] for c in cols]).join(last, on)
    return _fetch(conn, stmt, len(cols))


def read_details(conn: sa.Connection, as_of: dt.date) -> pd.DataFrame:
    """The latest manager detail page known on ``as_of`` per manager (index register_no)."""
    raw = _latest_rows(conn, manager_details, "register_no", _DETAIL_COLS, as_of)
    d = _typed(
        raw,
        _DETAIL_COLS,
        text=("register_no", "member_type"),
        numbers=_DETAIL_NUMBERS,
        days=(("known_day", "known_from"), ("snapshot_day", "snapshot_date")),
    )
    for c in TIP_COLUMNS:
        d[c] = pd.Series([_tip_list(v) for v in d[c]], index=d.index, dtype=object)
    d = d[d["register_no"].notna()]
    d = d.sort_values(["register_no", "snapshot_day", "known_day", "id"], kind="mergesort")
    return d.drop_duplicates("register_no", keep="last").set_index("register_no")


def read_fund_details(
    conn: sa.Connection, as_of: dt.date, funds: pd.DataFrame, managers: pd.DataFrame
) -> pd.DataFrame:
    """The latest fund detail page known on ``as_of`` per fund, with the manager's
    register_no (through the fund's snapshot, else the page's manager name)."""
    raw = _latest_rows(conn, fund_details, "fund_no", _FUND_DETAIL_COLS, as_of)
    counts = tuple(c for c in _FUND_DETAIL_COLS if c.endswith(("_due", "_on_time", "_missing")))
    f = _typed(
        raw,
        _FUND_DETAIL_COLS,
        text=("fund_no", "manager_name"),
        numbers=counts,
        days=(("known_day", "known_from"), ("snapshot_day", "snapshot_date")),
    )
    f = f[f["fund_no"].notna()]
    f = f.sort_values(["fund_no", "snapshot_day", "known_day", "id"], kind="mergesort")
    f = f.drop_duplicates("fund_no", keep="last").reset_index(drop=True)
    link = funds.dropna(subset=["fund_no"]).drop_duplicates("fund_no").set_index("fund_no")
    by_name = (
        managers.reset_index()[["manager_name", "register_no"]]
        .dropna()
        .sort_values(["manager_name", "register_no"], kind="mergesort")
        .drop_duplicates("manager_name")
        .set_index("manager_name")["register_no"]
    )
    f["register_no"] = f["fund_no"].map(link["register_no"]).fillna(f["manager_name"].map(by_name))
    return f


def read_changes(conn: sa.Connection, as_of: dt.date, since: dt.date) -> pd.DataFrame:
    """Change events (snapshot_diff) known on ``as_of`` dated in (since, as_of]."""
    t = change_events
    stmt = sa.select(*[t.c[c] for c in _CHANGE_COLS]).where(
        t.c.known_from <= as_of, t.c.event_date > since, t.c.event_date <= as_of
    )
    return _typed(
        _fetch(conn, stmt, len(_CHANGE_COLS)),
        _CHANGE_COLS,
        text=("register_no", "event_type", "new_value"),
        days=(("event_day", "event_date"),),
    )


def read_products(conn: sa.Connection, as_of: dt.date) -> pd.DataFrame:
    """Per manager, from every list snapshot known on ``as_of``: how many snapshots, and since
    when it has been without a product (AMAC 12-month rule).

    A snapshot's status: ``manager_has_product`` where given, else ``fund_count > 0`` where
    the count is given, else unknown (skipped). ``without_since``: the snapshot day of the
    first snapshot of the current run of "no product" snapshots (after the last one with a
    product; the first snapshot known when none had one: a lower bound); NaN when the latest
    known status has a product. ``status_known``: 1 when any status is known."""
    t = manager_snapshots
    stmt = sa.select(*[t.c[c] for c in _PRODUCT_COLS]).where(
        _unindexed(t.c.known_from, conn) <= as_of
    )
    p = _typed(
        _fetch(conn, stmt, len(_PRODUCT_COLS)),
        _PRODUCT_COLS,
        text=("register_no",),
        numbers=("manager_has_product", "fund_count"),
        days=(("known_day", "known_from"), ("snapshot_day", "snapshot_date")),
    )
    p = p[p["register_no"].notna()]
    if p.empty:
        return empty_products()
    p["snapshot_day"] = p["snapshot_day"].fillna(p["known_day"])
    p = p.sort_values(["register_no", "snapshot_day", "known_day", "id"], kind="mergesort")
    snapshots = p.groupby("register_no", sort=True).size().astype("float64")
    has = p["manager_has_product"].where(
        p["manager_has_product"].notna(), (p["fund_count"] > 0).astype("float64")
    )
    has = has.where(p["manager_has_product"].notna() | p["fund_count"].notna())
    k = p.assign(has=has).dropna(subset=["has"])
    status_known = k.groupby("register_no").size().reindex(snapshots.index).notna()
    last_with = k[k["has"] > 0].groupby("register_no")["snapshot_day"].max()
    # float whatever it maps from: with no product anywhere, last_with is an empty series
    # of no numeric type, and comparing its text-typed NaNs with days raises
    k = k.assign(last_with=k["register_no"].map(last_with).astype("float64").fillna(-np.inf))
    run = k[(k["has"] == 0) & (k["snapshot_day"] > k["last_with"])]
    since = run.groupby("register_no")["snapshot_day"].min()
    latest = k.drop_duplicates("register_no", keep="last").set_index("register_no")["has"]
    without = since.reindex(snapshots.index).where(latest.reindex(snapshots.index) == 0)
    out = pd.DataFrame(
        {
            "snapshots": snapshots,
            "without_since": without.astype("float64"),
            "status_known": status_known.astype("float64"),
        }
    )
    out.index.name = "register_no"
    return out


def history_fingerprint(conn: sa.Connection) -> tuple[int, ...]:
    """Rows and highest id of every history table the engine reads: equal fingerprints, the
    same history (rows are only ever added), so a value computed from it can be reused."""
    tables = (
        manager_snapshots,
        manager_details,
        fund_snapshots,
        fund_details,
        reports,
        events,
        change_events,
    )
    cols = []
    for t in tables:
        cols.append(sa.select(sa.func.count()).select_from(t).scalar_subquery())
        cols.append(sa.select(sa.func.coalesce(sa.func.max(t.c.id), 0)).scalar_subquery())
    return tuple(int(v) for v in conn.execute(sa.select(*cols)).one())


def events_feed_known(conn: sa.Connection, as_of: dt.date) -> bool:
    """True when the events table holds any row known by ``as_of`` (the feed exists)."""
    stmt = sa.select(events.c.id).where(events.c.known_from <= as_of).limit(1)
    return conn.execute(stmt).first() is not None


# --- report calendar ---------------------------------------------------------------------
#: Days after the period end a monthly / quarterly report is due (AMAC: 5 / 10 working days;
#: calendar days here, with room for holidays). Annual reports are due on 30 April.
MONTHLY_DUE_DAYS = 10
QUARTERLY_DUE_DAYS = 15


def _month_first_day(month_index: np.ndarray) -> np.ndarray:
    """Day number of the first day of absolute month index (year*12 + month - 1)."""
    rel = (month_index - 1970 * 12).astype("int64")
    return rel.astype("datetime64[M]").astype("datetime64[D]").astype("int64")


def _last_month_of(kind: np.ndarray, pidx: np.ndarray) -> np.ndarray:
    return np.where(
        kind == "monthly",
        pidx,
        np.where(kind == "quarterly", (pidx // 4) * 12 + (pidx % 4) * 3 + 2, pidx * 12 + 11),
    )


def period_end(kind: np.ndarray, pidx: np.ndarray) -> np.ndarray:
    """Day number of the last day of each period."""
    return _month_first_day(_last_month_of(kind, pidx) + 1) - 1


def derived_due(kind: np.ndarray, pidx: np.ndarray) -> np.ndarray:
    """Regulatory deadline (day number) of each period: month/quarter end + 10/15 days;
    annual: 30 April of the next year."""
    end = period_end(kind, pidx)
    annual_due = _month_first_day(pidx * 12 + 12 + 4) - 1  # last day of April, next year
    return np.where(
        kind == "monthly",
        end + MONTHLY_DUE_DAYS,
        np.where(kind == "quarterly", end + QUARTERLY_DUE_DAYS, annual_due),
    ).astype("float64")


def _ymd(days: np.ndarray) -> tuple[IntArray, IntArray, IntArray]:
    d = days.astype("int64").astype("datetime64[D]")
    months = d.astype("datetime64[M]")
    mi = months.astype("int64")
    dom = (d - months.astype("datetime64[D]")).astype("int64") + 1
    return mi // 12 + 1970, mi % 12 + 1, dom


def last_due_period(kind: str, days: np.ndarray) -> np.ndarray:
    """For each day X (day numbers), the index of the last period of ``kind`` due by X."""
    days = np.asarray(days, dtype="float64")
    if kind == "annual":
        y, m, dom = _ymd(days)
        passed = (m > 4) | ((m == 4) & (dom >= 30))
        return np.where(passed, y - 1, y - 2)
    lag = MONTHLY_DUE_DAYS if kind == "monthly" else QUARTERLY_DUE_DAYS
    y, m, _ = _ymd(days - lag + 1)
    if kind == "monthly":
        return y * 12 + m - 1 - 1
    return y * 4 + (m - 1) // 3 - 1


def period_of(kind: str, days: np.ndarray) -> np.ndarray:
    """Index of the period of ``kind`` containing each day."""
    y, m, _ = _ymd(np.asarray(days, dtype="float64"))
    if kind == "monthly":
        return y * 12 + m - 1
    if kind == "quarterly":
        return y * 4 + (m - 1) // 3
    return y


def partition_of(manager_type: pd.Series) -> pd.Series:
    """Partition slug of each manager type (``unknown`` when missing or unrecognised)."""
    return manager_type.map(PARTITIONS).fillna(UNKNOWN_PARTITION).astype("str")
