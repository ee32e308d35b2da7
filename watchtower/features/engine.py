"""The point-in-time feature engine: computes the catalog for every manager as of day D.

Each ``_group_*`` function computes a few related features from :class:`History` (only what
was known on D) and declares their names with :func:`_produces`. Everything is vectorized
pandas over all managers at once; no per-manager Python loops. Peer-relative features
(``peer_of`` in the catalog) are derived generically: the percentile of the base feature
within the manager's type.

Output contract of :func:`compute_features`: index ``register_no`` (sorted), metadata columns
:data:`META_COLUMNS`, then one float64 column per catalog feature in catalog order (NaN where
not applicable). Same data, same D: the same frame, bit for bit.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd
import sqlalchemy as sa

from watchtower.contract import DISCLOSURE_PERIODS, PARTITION_SLUGS, UNKNOWN_PARTITION
from watchtower.contract import META_COLUMNS as META_COLUMNS  # the frame's contract, re-exported
from watchtower.features._changes import BASES as CHANGE_BASES
from watchtower.features._changes import CHANGE_BY_NAME, compute_changes, remember
from watchtower.features._graph import NETWORK_FEATURES, network_counts, normal_addresses
from watchtower.features._history import (
    TIP_COLUMNS,
    History,
    day_number,
    events_feed_known,
    last_due_period,
    minus,
    partition_of,
    period_of,
    read_changes,
    read_coverage,
    read_details,
    read_events,
    read_fund_details,
    read_funds,
    read_managers,
    read_products,
    read_reports,
)
from watchtower.features._spec import Catalog

GroupFn = Callable[[History, pd.Index], pd.DataFrame]
_GROUPS: list[tuple[tuple[str, ...], GroupFn]] = []


def _produces(*names: str) -> Callable[[GroupFn], GroupFn]:
    def register(fn: GroupFn) -> GroupFn:
        _GROUPS.append((names, fn))
        return fn

    return register


def computed_features() -> list[str]:
    """Names of every feature the engine computes (peer-relative ones excluded)."""
    return [n for names, _ in _GROUPS for n in names] + list(CHANGE_BY_NAME)


def _flag(cond: pd.Series, known: pd.Series) -> pd.Series:
    """1.0 / 0.0 where ``known``, NaN elsewhere."""
    return cond.astype("float64").where(known)


def _count(frame: pd.DataFrame, mask: pd.Series | np.ndarray, idx: pd.Index) -> pd.Series:
    """Rows of ``frame`` per register_no where ``mask``; 0 for managers without any."""
    sel = frame.loc[np.asarray(mask, dtype=bool), "register_no"]
    return sel.value_counts().reindex(idx, fill_value=0).astype("float64")


#: Features whose trailing window the catalog drives (``window`` in features/*.yaml): the
#: window the engine applies where the catalog in use does not declare the feature (a partial
#: catalog). tests/features check that they equal features/catalog.yaml; with a catalog, its
#: declared window is the one used (see :func:`_window`), and changing it changes the value.
DEFAULT_WINDOWS: dict[str, str] = {
    "funds_launched_6m": "6m",
    "funds_launched_12m": "12m",
    "early_liquidations_12m": "12m",
    "early_abnormal_liquidations_12m": "12m",
    "address_changes_6m": "6m",
    "address_changes_12m": "12m",
    "jurisdiction_changes_12m": "12m",
    "legal_rep_change_events_12m": "12m",
    "fund_count_drops_6m": "6m",
    "fund_count_drops_12m": "12m",
    "tips_added_12m": "12m",
    "events_90d": "90d",
    "events_365d": "365d",
    "severe_events_365d": "365d",
    "max_event_severity_365d": "365d",
    "event_severity_sum_90d": "90d",
    "litigation_365d": "365d",
    "enforcement_365d": "365d",
    "complaint_365d": "365d",
    "business_abnormal_365d": "365d",
    "negative_news_365d": "365d",
    "address_changes_365d": "365d",
    "controller_changes_365d": "365d",
    "executive_changes_365d": "365d",
}
#: Features computed over a window of their own shape (a 12-month snapshot sequence and its
#: base snapshot, report calendars of periods due, quarter panels, or no window): the window
#: their catalog entry must declare. A catalog saying otherwise is refused by the loader and
#: by :func:`compute_features` (a declaration never differs silently from the computation);
#: making one adjustable is moving it to :data:`DEFAULT_WINDOWS` and reading its window with
#: :func:`_window`.
FIXED_WINDOWS: dict[str, str] = {
    "paid_in_ratio": "none",
    "paid_in_below_25pct": "none",
    "paid_in_capital": "none",
    "subscribed_capital": "none",
    "capital_changes_12m": "12m",
    "paid_in_decreased_12m": "12m",
    "years_since_registration": "none",
    "months_without_fund": "none",
    "fund_scale": "none",
    "legal_rep_changes_12m": "12m",
    "employee_count": "none",
    "employee_drop_12m": "12m",
    "qualified_staff_share": "none",
    "has_special_tips": "none",
    "has_credit_tips": "none",
    "in_blacklist": "none",
    "non_member": "none",
    "integrity_tip_count": "none",
    "institution_tip_count": "none",
    "serious_integrity_tip": "none",
    "scale_midpoint_log": "none",
    "fund_count": "none",
    "operating_fund_count": "none",
    "extended_liquidation_count": "none",
    "abnormal_liquidation_count": "none",
    "no_custodian_share": "none",
    "quarter_update_flag_missing": "none",
    "not_updated_share": "none",
    "months_without_product": "none",
    "fund_disclosure_missing_share": "none",
    "fund_disclosure_missing": "none",
    "monthly_missing_12m": "12m",
    "quarterly_missing_12m": "12m",
    "annual_missing_12m": "12m",
    "missing_report_share_12m": "12m",
    "late_reports_12m": "12m",
    "mean_delay_days_12m": "12m",
    "delay_trend_days": "12m",
    "annual_report_overdue": "12m",
    "qualified_audit_count": "24m",
    "quarterly_missed_24m": "24m",
    "aum_total": "none",
    "aum_growth_12m": "12m",
    "aum_drawdown_12m": "12m",
    "redemption_ratio_12m": "12m",
    "subscription_ratio_12m": "12m",
    "investor_growth_12m": "12m",
    "leverage_max": "12m",
    "return_smoothness": "24m",
    "positive_return_share": "24m",
    "office_province_differs": "none",
    "office_district_differs": "none",
    "shared_address_count": "none",
    "jurisdiction_differs": "none",
    # Deterioration: the span k of a change is its window (and part of its name).
    **{name: f"{c.months}m" for name, c in CHANGE_BY_NAME.items()},
    # network (the relationship graph as known on D)
    "linked_managers": "none",
    "linked_incident_managers": "none",
    "linked_red_managers": "none",
}


def window_problems(windows: Mapping[str, str]) -> dict[str, str]:
    """Declared windows (feature -> window) the engine cannot apply: feature -> the window it
    computes (features it does not compute, or whose window it reads, are fine)."""
    return {
        name: FIXED_WINDOWS[name]
        for name, window in windows.items()
        if name in FIXED_WINDOWS and window != FIXED_WINDOWS[name]
    }


def _window(h: History, name: str) -> str:
    """The trailing window of feature ``name``: the catalog's declaration, else the default."""
    window = h.windows.get(name) or DEFAULT_WINDOWS[name]
    if window == "none":
        raise ValueError(f"feature {name} needs a trailing window, the catalog says none")
    return window


def _since_day(h: History, name: str) -> float:
    """Day number of the start of feature ``name``'s window (exclusive)."""
    return float(day_number(minus(h.as_of, _window(h, name))))


def _num(values: pd.Series) -> pd.Series:
    """float64 of a column (NaN where missing or not a number)."""
    return pd.to_numeric(values, errors="coerce").astype("float64")


def _any_known(frame: pd.DataFrame, cols: list[str], idx: pd.Index) -> pd.Series:
    """Per register_no of ``idx``: does any row of ``frame`` give one of ``cols``."""
    known = frame[cols].notna().any(axis=1)
    seen = frame.loc[known.to_numpy(), "register_no"].unique()
    return pd.Series(idx.isin(seen), index=idx)


def _whole_months(start_day: pd.Series, as_of: dt.date) -> pd.Series:
    """Whole calendar months from each start day to ``as_of`` (2023-03-15 -> 2024-03-15 = 12)."""
    start = pd.to_datetime(start_day, unit="D", origin="unix")
    months = ((as_of.year - start.dt.year) * 12 + (as_of.month - start.dt.month)).astype("float64")
    return months - (start.dt.day > as_of.day).astype("float64")


# --- registration and capital -------------------------------------------------------------
@_produces(
    "paid_in_ratio",
    "paid_in_below_25pct",
    "paid_in_capital",
    "subscribed_capital",
    "capital_changes_12m",
    "paid_in_decreased_12m",
    "years_since_registration",
    "fund_scale",
)
def _group_capital(h: History, idx: pd.Index) -> pd.DataFrame:
    m = h.managers.reindex(idx)
    det = h.details.reindex(idx)
    # The latest detail page first; the list row only where it carries a value (the public
    # list's placeholders arrive as NULL; a leftover 1 元 = 0.0001 万元 is no value either).
    list_paid = m["paid_in_capital"].where((m["paid_in_capital"] - 1e-4).abs() > 1e-12)
    paid = _num(det["paid_in_capital"]).combine_first(list_paid)
    sub = _num(det["subscribed_capital"]).combine_first(m["subscribed_capital"])
    stated = _num(det["paid_in_ratio"])
    ratio = stated.where(stated.notna(), (paid / sub).where(sub > 0))
    seq = h.manager_seq
    same = seq["register_no"].eq(seq["register_no"].shift())
    prev_sub = seq["subscribed_capital"].shift()
    prev_paid = seq["paid_in_capital"].shift()
    sub_changed = same & seq["subscribed_capital"].notna() & prev_sub.notna()
    sub_changed &= (seq["subscribed_capital"] - prev_sub).abs() > 1e-9
    paid_known = same & seq["paid_in_capital"].notna() & prev_paid.notna()
    paid_changed = paid_known & ((seq["paid_in_capital"] - prev_paid).abs() > 1e-9)
    paid_down = paid_known & (seq["paid_in_capital"] < prev_paid - 1e-9)
    # Capital changes are seen in list snapshots: missing where no list row gives a capital.
    capital_seen = _any_known(seq, ["subscribed_capital", "paid_in_capital"], idx)
    d = day_number(h.as_of)
    return pd.DataFrame(
        {
            "paid_in_ratio": ratio,
            "paid_in_below_25pct": _flag(ratio < 0.25, ratio.notna()),
            "paid_in_capital": paid,
            "subscribed_capital": sub,
            "capital_changes_12m": _count(seq, sub_changed | paid_changed, idx).where(capital_seen),
            "paid_in_decreased_12m": (_count(seq, paid_down, idx) > 0)
            .astype("float64")
            .where(capital_seen),
            "years_since_registration": (d - m["register_day"]) / 365.25,
            "fund_scale": m["fund_scale"],
        },
        index=idx,
    )


# --- people and governance ----------------------------------------------------------------
#: memberType of a non-member: the public API's spelling and the older exports'.
_NON_MEMBER = ("非会员机构", "非会员")


@_produces(
    "legal_rep_changes_12m",
    "employee_count",
    "employee_drop_12m",
    "qualified_staff_share",
    "controller_changes_365d",
    "executive_changes_365d",
    "has_special_tips",
    "has_credit_tips",
    "in_blacklist",
    "non_member",
)
def _group_people(h: History, idx: pd.Index) -> pd.DataFrame:
    m = h.managers.reindex(idx)
    seq = h.manager_seq
    same = seq["register_no"].eq(seq["register_no"].shift())
    rep = seq["artificial_person_name"]
    prev_rep = rep.shift()
    rep_changed = same & rep.notna() & prev_rep.notna() & (rep != prev_rep)
    rep_seen = _any_known(seq, ["artificial_person_name"], idx)
    list_emp = m["employee_count"]
    peak = seq.groupby("register_no", sort=True)["employee_count"].max().reindex(idx)
    drop = ((peak - list_emp) / peak).where(peak > 0).clip(lower=0.0)
    # Headcount and qualified staff: the latest detail page, else the list row (same source
    # for both counts of the share).
    det = h.details.reindex(idx)
    det_emp = _num(det["employee_count"])
    from_page = det_emp.notna()
    emp = det_emp.where(from_page, list_emp)
    qualified_n = _num(det["qualified_employee_count"]).where(
        from_page, m["qualified_employee_count"]
    )
    qualified = (qualified_n / emp).where(emp > 0)
    e = h.events
    events_known = pd.Series(h.events_known, index=idx)

    def in_window(name: str) -> pd.Series:
        return e["event_day"] > _since_day(h, name)

    member = det["member_type"].where(det["member_type"].notna(), m["member_type"])
    return pd.DataFrame(
        {
            "legal_rep_changes_12m": _count(seq, rep_changed, idx).where(rep_seen),
            "employee_count": emp,
            "employee_drop_12m": drop,
            "qualified_staff_share": qualified,
            "controller_changes_365d": _count(
                e,
                in_window("controller_changes_365d") & (e["event_type"] == "controller_change"),
                idx,
            ).where(events_known),
            "executive_changes_365d": _count(
                e,
                in_window("executive_changes_365d") & (e["event_type"] == "executive_change"),
                idx,
            ).where(events_known),
            "has_special_tips": m["has_special_tips"],
            "has_credit_tips": m["has_credit_tips"],
            "in_blacklist": m["in_blacklist"],
            "non_member": _flag(member.isin(_NON_MEMBER), member.notna()),
        },
        index=idx,
    )


# --- fund lifecycle ------------------------------------------------------------------------
def _fund_known(h: History, idx: pd.Index) -> pd.Series:
    """Per manager: do we know its funds? Yes when a fund snapshot is linked to it or its
    list row says it has none (fundCount 0 / managerHasProduct false); otherwise (a fund
    count above 0, or unknown, and no fund row) fund-based features are missing, not 0."""
    m = h.managers.reindex(idx)
    linked = pd.Series(idx.isin(h.funds["register_no"].dropna().unique()), index=idx)
    return linked | (m["fund_count"] == 0) | (m["manager_has_product"] == 0)


#: Working states that end a fund before its term or outside the rules.
_EARLY_STATES = ("提前清算", "非正常清算")


@_produces(
    "fund_count",
    "operating_fund_count",
    "months_without_fund",
    "extended_liquidation_count",
    "abnormal_liquidation_count",
    "no_custodian_share",
    "funds_launched_6m",
    "funds_launched_12m",
    "early_liquidations_12m",
    "early_abnormal_liquidations_12m",
    "quarter_update_flag_missing",
    "not_updated_share",
    "months_without_product",
)
def _group_funds(h: History, idx: pd.Index) -> pd.DataFrame:
    f = h.funds
    m = h.managers.reindex(idx)
    known = _fund_known(h, idx)
    state = f["working_state"]
    operating = state == "正在运作"
    n_funds = _count(f, np.ones(len(f), dtype=bool), idx)
    n_operating = _count(f, operating, idx)
    no_custodian = _count(f, operating & f["mandator_name"].isna(), idx)
    has_fund = (n_funds > 0) | (m["fund_count"] > 0)
    months = _whole_months(m["register_day"], h.as_of).where(~has_fund, 0.0)
    d = day_number(h.as_of)

    def launched(name: str) -> pd.Series:
        return _count(f, (f["filing_day"] > _since_day(h, name)) & (f["filing_day"] <= d), idx)

    # A fund already liquidated in the first fund snapshot known (terminal_from equal to the
    # fund coverage start) liquidated at some unknown time before coverage: not counted.
    def turned(name: str, states: tuple[str, ...]) -> pd.Series:
        lo = np.fmax(_since_day(h, name), h.fund_coverage_day)
        return _count(f, state.isin(states) & (f["terminal_from"] > lo), idx)

    # The same transitions as change events (fund_liquidation, from consecutive fund
    # snapshots, possibly of funds whose latest snapshot we no longer read): per manager the
    # larger of the two counts (events carry no fund number to match funds one by one).
    c = h.changes
    lo = _since_day(h, "early_abnormal_liquidations_12m")
    liq = (c["event_type"] == "fund_liquidation") & c["new_value"].isin(_EARLY_STATES)
    liq_events = _count(c, liq & (c["event_day"] > lo), idx)
    early_abnormal = np.fmax(turned("early_abnormal_liquidations_12m", _EARLY_STATES), liq_events)
    flag_known = operating & f["last_quarter_update"].notna()
    n_flag = _count(f, flag_known, idx)
    not_updated = _count(f, flag_known & (f["last_quarter_update"] == 0), idx)
    # 12-month rule: months since the current run of list snapshots without a product began;
    # 0 while the manager has a product (or an operating fund linked); NaN when unknown.
    p = h.products.reindex(idx)
    status = p["status_known"] > 0
    since = _whole_months(p["without_since"], h.as_of).where(p["without_since"].notna(), 0.0)
    no_product = since.where(status | (n_operating > 0)).where(n_operating == 0, 0.0)
    out = pd.DataFrame(
        {
            "fund_count": n_funds,
            "operating_fund_count": n_operating,
            "months_without_fund": months.where(m["register_day"].notna() | has_fund),
            "extended_liquidation_count": _count(f, state == "延期清算", idx),
            "abnormal_liquidation_count": _count(f, state == "非正常清算", idx),
            "no_custodian_share": (no_custodian / n_operating).where(n_operating > 0),
            "funds_launched_6m": launched("funds_launched_6m"),
            "funds_launched_12m": launched("funds_launched_12m"),
            "early_liquidations_12m": turned("early_liquidations_12m", ("提前清算",)),
            "early_abnormal_liquidations_12m": early_abnormal,
            "quarter_update_flag_missing": _count(
                f, operating & (f["last_quarter_update"] == 0), idx
            ),
            "not_updated_share": (not_updated / n_flag).where(n_flag > 0),
            "months_without_product": no_product,
        },
        index=idx,
    )
    # Fund rows absent (and the list row does not say "no fund"): missing, not 0.
    counts = [c for c in out.columns if c not in ("no_custodian_share", "months_without_product")]
    counts.remove("months_without_fund")
    out[counts] = out[counts].where(known, np.nan)
    out["months_without_fund"] = out["months_without_fund"].where(known | has_fund)
    return out


# --- disclosure compliance -----------------------------------------------------------------
# Coverage: the store holds only what the supervisor received, from its first report
# delivery on. An obligation (fund, report type, period) is in scope on D only if its due
# date lies on or after the report coverage start known on D (History.report_coverage_day:
# the earliest known_from of any report row known by D). A fund filed in 2019 whose first
# report row we hold is from 2024-01 has not missed its 2019-2023 reports: we never received
# those files. Out-of-scope periods count neither as missing nor as late, and their reports
# enter no delay statistic (only the late ones among them could be seen: a biased sample).
_KINDS = ("monthly", "quarterly", "annual")
_BAD_OPINIONS = ("保留意见", "否定意见", "无法表示意见")


#: Report columns the groups read from :func:`_submitted` (besides first_sub and due_eff).
_SUBMITTED_COLUMNS = (
    "fund_no",
    "register_no",
    "report_type",
    "pidx",
    "nav",
    "aum",
    "investor_count",
    "subscriptions",
    "redemptions",
    "leverage_ratio",
    "audit_opinion",
)


def _submitted(h: History) -> pd.DataFrame:
    """One row per (fund, report type, period) submitted by D, ordered by (fund_no,
    report_type, pidx): :data:`_SUBMITTED_COLUMNS` of the newest row known, ``first_sub``: the
    earliest submission day, ``due_eff``: the stated due date, else the regulatory one."""
    cached: pd.DataFrame | None = h.memo.get("submitted")
    if cached is not None:  # the groups of one run share it
        return cached
    r = h.reports
    d = day_number(h.as_of)
    submitted = r["submitted_day"].to_numpy()
    s = r[r["submitted_day"].notna() & (submitted <= d)]
    # Order (fund_no, report_type, pidx, known_day, id) as integer keys: the text keys by
    # their sorted distinct values (one lexsort instead of a multi-column frame sort).
    fund = pd.factorize(s["fund_no"], sort=True)[0]
    kind = pd.factorize(s["report_type"], sort=True)[0]
    order = np.lexsort(
        (
            s["id"].to_numpy(),
            s["known_day"].to_numpy(),
            s["pidx"].to_numpy(),
            kind,
            fund,
        )
    )
    fund, kind, pidx = fund[order], kind[order], s["pidx"].to_numpy()[order]
    new_group = np.ones(len(order), dtype=bool)
    new_group[1:] = (fund[1:] != fund[:-1]) | (kind[1:] != kind[:-1]) | (pidx[1:] != pidx[:-1])
    starts = np.flatnonzero(new_group)
    ends = np.append(starts[1:], len(order))[: len(starts)] - 1
    first = s["submitted_day"].to_numpy()[order][:0]
    if len(order):
        first = np.minimum.reduceat(s["submitted_day"].to_numpy()[order], starts)
    # Per (fund, type, period): the newest row known, with its earliest submission day.
    newest = order[ends]
    due = s["due_day"].to_numpy()[newest]
    due_eff = np.where(np.isnan(due), s["due_derived"].to_numpy()[newest], due)
    s = s[list(_SUBMITTED_COLUMNS)].take(newest).reset_index(drop=True)
    s = s.assign(first_sub=first, due_eff=due_eff)
    h.memo["submitted"] = s
    return s


def _obligations(h: History) -> pd.DataFrame:
    """(fund, report type) streams a fund owes from its filing to D or its terminal state:
    quarterly and annual for every fund, monthly for funds that have ever reported monthly.
    Columns: fund_no, register_no, report_type, p_start (first period owed), end_day."""
    f = h.funds[h.funds["filing_day"].notna() & h.funds["register_no"].notna()]
    d = float(day_number(h.as_of))
    end = f["terminal_from"].fillna(d).clip(upper=d)
    monthly_funds = h.reports.loc[h.reports["report_type"] == "monthly", "fund_no"].unique()
    parts = []
    for kind in _KINDS:
        sel = f["fund_no"].isin(monthly_funds) if kind == "monthly" else pd.Series(True, f.index)
        g = f[sel]
        parts.append(
            pd.DataFrame(
                {
                    "fund_no": g["fund_no"].to_numpy(),
                    "register_no": g["register_no"].to_numpy(),
                    "report_type": kind,
                    # Owed from the first full period after filing.
                    "p_start": period_of(kind, g["filing_day"].to_numpy()) + 1,
                    "end_day": end[sel].to_numpy(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _matches(ob: pd.DataFrame, sub: pd.DataFrame) -> dict[str, tuple[pd.DataFrame, np.ndarray]]:
    """Per report kind: (the obligations of that kind, one (obligation row, period) pair per
    submitted report of a fund owing that kind, as a 2 x n int array)."""
    out = {}
    kinds = sub["report_type"].to_numpy()
    funds = sub["fund_no"]
    pidx = sub["pidx"].to_numpy()
    for kind in _KINDS:
        o = ob[ob["report_type"] == kind]
        mine = kinds == kind
        # a fund owes one stream per kind: fund_no is unique within ``o``
        at = pd.Index(o["fund_no"]).get_indexer(funds[mine])
        hit = at >= 0
        out[kind] = (o, np.stack([at[hit], pidx[mine][hit]]))
    return out


def _first_covered_period(kind: str, coverage_day: float) -> int:
    """Index of the first period of ``kind`` whose regulatory deadline is on or after
    ``coverage_day`` (NaN: no report known yet, so no period is covered)."""
    if np.isnan(coverage_day):
        return np.iinfo(np.int64).max // 2
    return int(last_due_period(kind, np.asarray([coverage_day - 1.0]))[0]) + 1


def _missing(
    matches: dict[str, tuple[pd.DataFrame, np.ndarray]],
    as_of: dt.date,
    window: str,
    coverage_day: float,
) -> pd.DataFrame:
    """Per obligation: reports owed with a deadline in the window (lo, min(D, end)] and on or
    after the coverage start, and how many of them were not submitted by D. Adds columns
    expected, missing."""
    lo = np.asarray([day_number(minus(as_of, window))], dtype="float64")
    out = []
    for kind in _KINDS:
        o, (at, pidx) = matches[kind]
        floor = max(
            int(last_due_period(kind, lo)[0]) + 1, _first_covered_period(kind, coverage_day)
        )
        first = np.maximum(o["p_start"].to_numpy(), floor)
        last = last_due_period(kind, o["end_day"].to_numpy())
        expected = np.clip(last - first + 1, 0, None)
        # Submitted periods inside each obligation's range, counted per obligation.
        inside = (pidx >= first[at]) & (pidx <= last[at])
        done = np.bincount(at[inside], minlength=len(o))
        out.append(o.assign(first=first, last=last, expected=expected, done=done))
    res = pd.concat(out, ignore_index=True)
    res["missing"] = (res["expected"] - res["done"]).clip(lower=0).astype("float64")
    return res


@_produces(
    "monthly_missing_12m",
    "quarterly_missing_12m",
    "annual_missing_12m",
    "missing_report_share_12m",
    "late_reports_12m",
    "mean_delay_days_12m",
    "delay_trend_days",
    "annual_report_overdue",
    "qualified_audit_count",
    "quarterly_missed_24m",
)
def _group_disclosure(h: History, idx: pd.Index) -> pd.DataFrame:
    sub = _submitted(h)
    ob = _obligations(h)
    matches = _matches(ob, sub)
    cov = h.report_coverage_day
    m12 = _missing(matches, h.as_of, "12m", cov)
    m24 = _missing(matches, h.as_of, "24m", cov)

    def per_manager(frame: pd.DataFrame, col: str, kind: str | None = None) -> pd.Series:
        sel = frame if kind is None else frame[frame["report_type"] == kind]
        return sel.groupby("register_no")[col].sum().reindex(idx, fill_value=0.0).astype("float64")

    d = float(day_number(h.as_of))
    d6 = float(day_number(minus(h.as_of, "6m")))
    d12 = float(day_number(minus(h.as_of, "12m")))
    d24 = float(day_number(minus(h.as_of, "24m")))
    # Submitted reports of periods due before the coverage start are out of scope (also for
    # the annual opinions below: a modified opinion is a fact whenever it was received).
    covered = sub["register_no"].notna() & (sub["due_eff"] >= cov)
    annual = sub[sub["register_no"].notna() & (sub["report_type"] == "annual")]
    sub = sub[covered]
    delay = (sub["first_sub"] - sub["due_eff"]).clip(lower=0)
    late = delay > 0
    in12 = (sub["due_eff"] > d12) & (sub["due_eff"] <= d)
    in6 = (sub["due_eff"] > d6) & (sub["due_eff"] <= d)
    prior6 = in12 & ~in6
    in24 = (sub["due_eff"] > d24) & (sub["due_eff"] <= d)

    def mean_delay(mask: pd.Series) -> pd.Series:
        return delay[mask].groupby(sub.loc[mask, "register_no"]).mean().reindex(idx)

    expected12 = per_manager(m12, "expected")
    missing12 = per_manager(m12, "missing")
    annual_missing = per_manager(m12, "missing", "annual")
    annual = annual.sort_values(["fund_no", "pidx"], kind="mergesort")
    annual = annual.drop_duplicates("fund_no", keep="last")
    quarterly = sub["report_type"] == "quarterly"
    out = pd.DataFrame(
        {
            "monthly_missing_12m": per_manager(m12, "missing", "monthly"),
            "quarterly_missing_12m": per_manager(m12, "missing", "quarterly"),
            "annual_missing_12m": annual_missing,
            "missing_report_share_12m": (missing12 / expected12).where(expected12 > 0),
            "late_reports_12m": _count(sub, late & in12, idx),
            "mean_delay_days_12m": mean_delay(in12),
            "delay_trend_days": mean_delay(in6) - mean_delay(prior6),
            "annual_report_overdue": (annual_missing > 0).astype("float64"),
            "qualified_audit_count": _count(
                annual, annual["audit_opinion"].isin(_BAD_OPINIONS), idx
            ),
            "quarterly_missed_24m": per_manager(m24, "missing", "quarterly")
            + _count(sub, quarterly & late & in24, idx),
        },
        index=idx,
    )
    # No report feed known by D, or the manager's funds unknown: missing, not 0.
    if np.isnan(cov):
        return out * np.nan
    return out.where(_fund_known(h, idx), np.nan)


# --- fund dynamics -------------------------------------------------------------------------
def _quarterly(sub: pd.DataFrame, cols: list[int]) -> pd.DataFrame:
    """The quarterly reports of ``sub`` for the quarters ``cols``."""
    return sub[(sub["report_type"] == "quarterly") & sub["pidx"].isin(cols)]


def _panel(q: pd.DataFrame, col: str, cols: list[int], ffill: bool) -> pd.DataFrame:
    """fund_no x quarter panel of ``col`` (quarterly reports ``q``, see :func:`_quarterly`,
    for quarters including ``cols``), columns ``cols``."""
    q = q[["fund_no", "pidx", col]]
    if not q["pidx"].isin(cols).all():
        q = q[q["pidx"].isin(cols)]
    wide = q.pivot(index="fund_no", columns="pidx", values=col).reindex(columns=cols)
    if ffill:  # a fund whose latest report is one quarter late keeps its last value
        wide = wide.ffill(axis=1, limit=1)
    return wide


def _lookup(keys: pd.Index, link: pd.Series) -> np.ndarray:
    """``link[key]`` for each key (NaN where absent); ``link`` has a unique index."""
    values: np.ndarray = link.reindex(keys).to_numpy()
    return values


def _by_manager(wide: pd.DataFrame, link: pd.Series, idx: pd.Index) -> pd.DataFrame:
    keyed = wide.assign(register_no=_lookup(wide.index, link)).dropna(subset=["register_no"])
    return keyed.groupby("register_no").sum(min_count=1).reindex(idx)


def _return_stats(sub: pd.DataFrame, kind: str, horizon: int, as_of: dt.date) -> pd.DataFrame:
    """Per fund: count, mean, std and share positive of period returns over ``horizon``
    periods of ``kind`` (consecutive periods only)."""
    d = np.asarray([day_number(as_of)], dtype="float64")
    last = last_due_period(kind, d)[0]
    r = sub[(sub["report_type"] == kind) & (sub["pidx"] > last - horizon) & (sub["nav"] > 0)]
    r = r.sort_values(["fund_no", "pidx"], kind="mergesort")
    consecutive = r["fund_no"].eq(r["fund_no"].shift()) & (r["pidx"] - r["pidx"].shift() == 1)
    ret = (r["nav"] / r["nav"].shift() - 1).where(consecutive).dropna()
    keys = r.loc[ret.index, "fund_no"]
    g = ret.groupby(keys)
    return pd.DataFrame(
        {
            "n": g.size().astype("float64"),
            "mean": g.mean(),
            "std": g.std(ddof=1),
            "pos": (ret > 0).astype("float64").groupby(keys).mean(),
        },
        dtype="float64",
    )


@_produces(
    "aum_total",
    "aum_growth_12m",
    "aum_drawdown_12m",
    "redemption_ratio_12m",
    "subscription_ratio_12m",
    "investor_growth_12m",
    "leverage_max",
    "return_smoothness",
    "positive_return_share",
)
def _group_dynamics(h: History, idx: pd.Index) -> pd.DataFrame:
    sub = _submitted(h)
    link = h.funds.set_index("fund_no")["register_no"]
    link = pd.concat([link, sub.drop_duplicates("fund_no").set_index("fund_no")["register_no"]])
    link = link[~link.index.duplicated(keep="first")].dropna()
    q_now = int(last_due_period("quarterly", np.asarray([float(day_number(h.as_of))]))[0])
    cols = list(range(q_now - 5, q_now + 1))
    window = cols[1:]  # five quarter-ends: now and the four before
    q = _quarterly(sub, cols)
    aum = _by_manager(_panel(q, "aum", cols, ffill=True), link, idx)[window]
    inv = _by_manager(_panel(q, "investor_count", cols, ffill=True), link, idx)[window]
    flows_cols = cols[2:]  # the four quarters ending now
    subs = _by_manager(_panel(q, "subscriptions", cols, ffill=False), link, idx)[flows_cols]
    reds = _by_manager(_panel(q, "redemptions", cols, ffill=False), link, idx)[flows_cols]
    now, before = aum[q_now], aum[q_now - 4]
    drawdown = (1 - aum / aum.cummax(axis=1)).max(axis=1, skipna=True)
    avg_aum = aum.mean(axis=1, skipna=True)
    inv_now, inv_before = inv[q_now], inv[q_now - 4]
    lev = _panel(q, "leverage_ratio", window, ffill=True).ffill(axis=1).iloc[:, -1]
    lev_max = (
        lev.dropna().groupby(_lookup(lev.dropna().index, link)).max().reindex(idx)
        if lev.notna().any()
        else pd.Series(np.nan, index=idx)
    )
    # Return smoothness: monthly NAVs over 24 months where a fund has them, else quarterly.
    stats_m = _return_stats(sub, "monthly", 24, h.as_of)
    stats_q = _return_stats(sub, "quarterly", 8, h.as_of)
    stats = pd.concat([stats_m[stats_m["n"] >= 6], stats_q[stats_q["n"] >= 4]])
    stats = stats[~stats.index.duplicated(keep="first")]
    std = stats["std"].astype("float64")
    mean = stats["mean"].astype("float64")
    flat = std < 1e-6
    signed = pd.Series(np.sign(mean.to_numpy()) * 10.0, index=mean.index)
    ratio = (mean / std.where(~flat)).where(~flat, signed).clip(-10.0, 10.0)
    fund_mgr = _lookup(stats.index, link)
    smooth = ratio.groupby(fund_mgr).max().reindex(idx) if len(stats) else pd.Series(np.nan, idx)
    pos = (
        stats["pos"].astype("float64").groupby(fund_mgr).max().reindex(idx)
        if len(stats)
        else pd.Series(np.nan, idx)
    )
    return pd.DataFrame(
        {
            "aum_total": now,
            "aum_growth_12m": (now / before - 1).where(before > 0),
            "aum_drawdown_12m": drawdown.where(aum.notna().any(axis=1)),
            "redemption_ratio_12m": (reds.sum(axis=1, min_count=1) / avg_aum).where(avg_aum > 0),
            "subscription_ratio_12m": (subs.sum(axis=1, min_count=1) / avg_aum).where(avg_aum > 0),
            "investor_growth_12m": (inv_now / inv_before - 1).where(inv_before > 0),
            "leverage_max": lev_max,
            "return_smoothness": smooth,
            "positive_return_share": pos,
        },
        index=idx,
    )


# --- external events -----------------------------------------------------------------------
_EVENT_TYPE_FEATURES = {
    "litigation": "litigation_365d",
    "enforcement": "enforcement_365d",
    "complaint": "complaint_365d",
    "business_abnormal": "business_abnormal_365d",
    "negative_news": "negative_news_365d",
    "address_change": "address_changes_365d",
}


@_produces(
    "events_90d",
    "events_365d",
    "severe_events_365d",
    "max_event_severity_365d",
    "event_severity_sum_90d",
    *_EVENT_TYPE_FEATURES.values(),
)
def _group_events(h: History, idx: pd.Index) -> pd.DataFrame:
    e = h.events  # event dates in the longest of the event windows (see history_as_of)
    sev = e["severity"].fillna(0.0)

    def within(name: str) -> pd.Series:
        return e["event_day"] > _since_day(h, name)

    in_max = within("max_event_severity_365d")
    in_sum = within("event_severity_sum_90d")
    out = {
        "events_90d": _count(e, within("events_90d"), idx),
        "events_365d": _count(e, within("events_365d"), idx),
        "severe_events_365d": _count(e, within("severe_events_365d") & (sev >= 4), idx),
        "max_event_severity_365d": sev[in_max]
        .groupby(e.loc[in_max, "register_no"])
        .max()
        .reindex(idx)
        .fillna(0.0),
        "event_severity_sum_90d": sev[in_sum]
        .groupby(e.loc[in_sum, "register_no"])
        .sum()
        .reindex(idx)
        .fillna(0.0),
    }
    for kind, name in _EVENT_TYPE_FEATURES.items():
        out[name] = _count(e, within(name) & (e["event_type"] == kind), idx)
    frame = pd.DataFrame(out, index=idx).astype("float64")
    # No events feed known by D (public data only): missing, not "no event".
    return frame if h.events_known else frame * np.nan


# --- public disclosure: detail pages, change events --------------------------------------
#: Tip categories that AMAC publishes for serious failings (matched as substrings, so that
#: 五年内行政处罚 is a 行政处罚).
SERIOUS_TIPS = ("失联", "异常机构", "信息报送异常", "行政处罚")


def _tip_counts(tips: pd.Series) -> pd.Series:
    """Distinct categories per list (NaN where the list is missing)."""
    return pd.Series(
        [float(len(set(t))) if isinstance(t, list) else np.nan for t in tips],
        index=tips.index,
        dtype="float64",
    )


def _any_serious(*columns: pd.Series) -> pd.Series:
    out = []
    for lists in zip(*columns, strict=True):
        names = [n for t in lists if isinstance(t, list) for n in t]
        out.append(float(any(s in n for n in names for s in SERIOUS_TIPS)))
    return pd.Series(out, index=columns[0].index, dtype="float64")


@_produces(
    "integrity_tip_count",
    "institution_tip_count",
    "serious_integrity_tip",
    "scale_midpoint_log",
)
def _group_details(h: History, idx: pd.Index) -> pd.DataFrame:
    """From the latest manager detail page known by D; every value is missing (NaN) for a
    manager without one. A page that shows no tip of a kind counts 0 of it."""
    det = h.details.reindex(idx)
    page = pd.Series(idx.isin(h.details.index), index=idx)
    tips = {c: det[c].where(page, None) for c in TIP_COLUMNS}
    for c in TIP_COLUMNS:  # a page read, a tip list not given: none shown
        pairs = zip(tips[c], page, strict=True)
        shown = [t if isinstance(t, list) else ([] if p else None) for t, p in pairs]
        tips[c] = pd.Series(shown, index=idx, dtype=object)
    low, high = _num(det["scale_low"]), _num(det["scale_high"])
    # log10 of 万元: the midpoint of log10(1 + low) and log10(1 + high); the lower bound alone
    # for an open range (100亿元以上); NaN when the page gives no range.
    log_low, log_high = np.log10(1.0 + low.clip(lower=0.0)), np.log10(1.0 + high.clip(lower=0.0))
    mid = ((log_low + log_high) / 2).where(high.notna(), log_low)
    return pd.DataFrame(
        {
            "integrity_tip_count": _tip_counts(tips["integrity_tips"]),
            "institution_tip_count": _tip_counts(tips["institution_tips"]),
            "serious_integrity_tip": _any_serious(*tips.values()).where(page),
            "scale_midpoint_log": mid,
        },
        index=idx,
    )


@_produces("fund_disclosure_missing_share", "fund_disclosure_missing")
def _group_fund_pages(h: History, idx: pd.Index) -> pd.DataFrame:
    """Disclosure counts of the fund detail pages (latest per fund known by D), summed over
    the manager's funds: missing / due. NaN without any fund page (or nothing due)."""
    f = h.fund_details
    kinds = tuple(DISCLOSURE_PERIODS)
    due = sum((_num(f[f"{k}_due"]).fillna(0.0) for k in kinds), pd.Series(0.0, index=f.index))
    missing = sum(
        (_num(f[f"{k}_missing"]).fillna(0.0) for k in kinds), pd.Series(0.0, index=f.index)
    )
    stated = pd.concat([_num(f[f"{k}_due"]) for k in kinds], axis=1).notna().any(axis=1)
    g = pd.DataFrame({"register_no": f["register_no"], "due": due, "missing": missing})
    g = g[stated.to_numpy() & g["register_no"].notna().to_numpy()]
    per = g.groupby("register_no")[["due", "missing"]].sum().reindex(idx)
    return pd.DataFrame(
        {
            "fund_disclosure_missing_share": (per["missing"] / per["due"]).where(per["due"] > 0),
            "fund_disclosure_missing": per["missing"],
        },
        index=idx,
    )


#: Features counted from ``History.events``: its read covers the longest of their windows.
_EVENT_WINDOW_FEATURES = (
    "events_90d",
    "events_365d",
    "severe_events_365d",
    "max_event_severity_365d",
    "event_severity_sum_90d",
    *_EVENT_TYPE_FEATURES.values(),
    "controller_changes_365d",
    "executive_changes_365d",
)

#: Change-event features: name -> event types counted (snapshot_diff's vocabulary).
_CHANGE_FEATURES: dict[str, tuple[str, ...]] = {
    "address_changes_6m": ("address_change",),
    "address_changes_12m": ("address_change",),
    "jurisdiction_changes_12m": ("jurisdiction_change",),
    "legal_rep_change_events_12m": ("legal_rep_change",),
    "fund_count_drops_6m": ("fund_count_drop",),
    "fund_count_drops_12m": ("fund_count_drop",),
    "tips_added_12m": ("special_tips_added", "credit_tips_added"),
}


@_produces(*_CHANGE_FEATURES)
def _group_changes(h: History, idx: pd.Index) -> pd.DataFrame:
    """Change events (from consecutive list snapshots) dated in each feature's window and
    known by D. A change can only be seen with two snapshots: NaN for a manager with fewer
    than two list snapshots known by D."""
    c = h.changes
    comparable = h.products["snapshots"].reindex(idx) >= 2
    out = {}
    for name, types in _CHANGE_FEATURES.items():
        hit = c["event_type"].isin(types) & (c["event_day"] > _since_day(h, name))
        out[name] = _count(c, hit, idx).where(comparable)
    return pd.DataFrame(out, index=idx)


# --- geography -----------------------------------------------------------------------------
#: Cities with their own CSRC bureau (计划单列市), apart from their province's.
_SEPARATE_CITIES = ("大连", "宁波", "厦门", "青岛", "深圳")
_REGION_SUFFIX = re.compile(r"(省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)$")


def _region(values: pd.Series) -> pd.Series:
    return values.str.replace(_REGION_SUFFIX, "", regex=True)


def _district(province: pd.Series, city: pd.Series) -> pd.Series:
    """CSRC bureau district: the separately planned city where it is one, else the province."""
    c = _region(city)
    return c.where(c.isin(_SEPARATE_CITIES), _region(province))


@_produces(
    "office_province_differs",
    "office_district_differs",
    "shared_address_count",
    "jurisdiction_differs",
)
def _group_geography(h: History, idx: pd.Index) -> pd.DataFrame:
    all_m = h.managers
    m = all_m.reindex(idx)
    op, rp = _region(m["office_province"]), _region(m["register_province"])
    od = _district(m["office_province"], m["office_city"])
    rd = _district(m["register_province"], m["register_city"])
    # Shared addresses are counted across all managers, whatever the partition.
    addr = normal_addresses(all_m["office_address"].fillna(all_m["register_address"]))
    sizes = pd.to_numeric(addr.map(addr.value_counts()), errors="coerce").astype("float64")
    shared = (sizes - 1).reindex(idx)
    # AMAC's own jurisdictions (regAdrAgg / officeAdrAgg: a province or a 计划单列市).
    reg_j, office_j = m["reg_adr_agg"], m["office_adr_agg"]
    return pd.DataFrame(
        {
            "office_province_differs": _flag(op != rp, op.notna() & rp.notna()),
            "office_district_differs": _flag(od != rd, od.notna() & rd.notna()),
            "shared_address_count": shared.astype("float64"),
            "jurisdiction_differs": _flag(reg_j != office_j, reg_j.notna() & office_j.notna()),
        },
        index=idx,
    )


# --- network -------------------------------------------------------------------------------
@_produces(*NETWORK_FEATURES)
def _group_network(h: History, idx: pd.Index) -> pd.DataFrame:
    """Managers linked by a person as known on D (``watchtower.features._graph``): counted
    store-wide, whatever the partition; NaN for a manager without any person fact known."""
    return h.network.reindex(index=idx, columns=list(NETWORK_FEATURES)).astype("float64")


# --- assembly ------------------------------------------------------------------------------
def _metadata(managers: pd.DataFrame) -> pd.DataFrame:
    office = managers["office_province"].notna()
    return pd.DataFrame(
        {
            "manager_name": managers["manager_name"],
            "manager_type": managers["primary_invest_type"],
            "province": managers["office_province"].where(office, managers["register_province"]),
            "city": managers["office_city"].where(office, managers["register_city"]),
        },
        index=managers.index,
    ).astype("str")


def _peer_percentiles(frame: pd.DataFrame, catalog: Catalog, types: pd.Series) -> pd.DataFrame:
    groups = types.fillna(UNKNOWN_PARTITION)
    out = {}
    for spec in catalog:
        if spec.peer_of is not None:
            base = frame[spec.peer_of]
            out[spec.name] = base.groupby(groups).rank(pct=True, method="average")
    return pd.DataFrame(out, index=frame.index, dtype="float64")


def history_as_of(
    engine: sa.Engine,
    as_of: dt.date,
    partition: str | None = None,
    windows: Mapping[str, str] | None = None,
) -> History:
    """Read what was known on ``as_of`` (one partition's funds/reports/events if asked).
    ``windows``: feature name -> declared window (the catalog's).

    The partition is applied after reading, not in SQL: funds link to their manager by
    name where they carry no registerNo and reports through their fund, links resolved
    here in Python; and shared addresses and coverage are store-wide anyway."""
    windows = dict(windows or {})

    def start(names: Iterable[str]) -> dt.date:
        """Start of the longest window of ``names`` (what one read must cover)."""
        declared = [windows.get(n) or DEFAULT_WINDOWS[n] for n in names]
        return min(minus(as_of, w) for w in declared if w != "none")

    since = start([*_CHANGE_FEATURES, "early_abnormal_liquidations_12m"])
    events_since = start(_EVENT_WINDOW_FEATURES)
    with engine.connect() as conn:
        managers, seq = read_managers(conn, as_of)
        funds = read_funds(conn, as_of, managers)
        reps = read_reports(conn, as_of, funds)
        evs = read_events(conn, as_of, managers, since=events_since)
        report_cov, fund_cov = read_coverage(conn, as_of)  # store-wide, whatever the partition
        details = read_details(conn, as_of)
        fund_pages = read_fund_details(conn, as_of, funds, managers)
        changes = read_changes(conn, as_of, since)
        products = read_products(conn, as_of)
        events_known = events_feed_known(conn, as_of)
        network = network_counts(conn, as_of)  # store-wide, like shared addresses
    if partition is not None:
        keep = set(managers.index[partition_of(managers["primary_invest_type"]) == partition])
        seq = seq[seq["register_no"].isin(keep)]
        funds = funds[funds["register_no"].isin(keep)]
        reps = reps[reps["register_no"].isin(keep)]
        evs = evs[evs["register_no"].isin(keep)]
        details = details[details.index.isin(keep)]
        fund_pages = fund_pages[fund_pages["register_no"].isin(keep)]
        changes = changes[changes["register_no"].isin(keep)]
        products = products[products.index.isin(keep)]
    return History(
        as_of,
        managers,
        seq.reset_index(drop=True),
        funds,
        reps,
        evs,
        report_cov,
        fund_cov,
        details=details,
        fund_details=fund_pages.reset_index(drop=True),
        changes=changes.reset_index(drop=True),
        products=products,
        events_known=events_known,
        windows=windows,
        network=network,
    )


def compute_features(
    engine: sa.Engine, as_of: dt.date, *, catalog: Catalog, partition: str | None = None
) -> pd.DataFrame:
    """Features of every manager as of ``as_of`` from history known by then.

    Returns a frame indexed by ``register_no`` (sorted): :data:`META_COLUMNS` (office
    location as known, registration where the office is empty), then one float64 column per
    catalog feature (NaN where not applicable). ``partition``: a slug from
    :func:`~watchtower.features.queries.list_partitions` restricting the rows to one manager
    type (peer group); its values equal the same rows of an unpartitioned run.
    """
    if partition is not None and partition not in PARTITION_SLUGS:
        allowed = ", ".join(PARTITION_SLUGS)
        raise ValueError(f"unknown partition {partition!r}; one of {allowed}")
    windows = {spec.name: spec.window for spec in catalog}
    fixed = window_problems(windows)
    if fixed:
        wrong = ", ".join(f"{n} {windows[n]!r} (computed over {w!r})" for n, w in fixed.items())
        raise ValueError(f"the catalog declares windows the engine does not apply: {wrong}")
    changes = [n for n in catalog.names if n in CHANGE_BY_NAME]
    wanted = set(catalog.names) | {s.peer_of for s in catalog if s.peer_of}
    if changes:  # every base, so that the day's frame can serve as a later reference frame
        wanted |= set(CHANGE_BASES)
    values, meta = _group_values(engine, as_of, partition, windows, wanted)
    if changes:
        remember(engine, as_of, partition, values, CHANGE_BASES)

        def base_values(day: dt.date, bases: list[str]) -> pd.DataFrame:
            return _group_values(engine, day, partition, windows, set(bases))[0]

        past = compute_changes(engine, as_of, partition, values, changes, base_values)
        values = pd.concat([values, past], axis=1)
    peers = _peer_percentiles(values, catalog, meta["manager_type"])
    values = pd.concat([values, peers], axis=1)
    out = pd.concat([meta, values[catalog.names]], axis=1)
    out.index.name = "register_no"
    return out


def _group_values(
    engine: sa.Engine,
    as_of: dt.date,
    partition: str | None,
    windows: Mapping[str, str],
    wanted: set[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The groups' features as of ``as_of`` (every group producing one of ``wanted``) and the
    metadata columns, both indexed by register_no (sorted)."""
    h = history_as_of(engine, as_of, partition, windows)
    managers = h.managers
    if partition is not None:
        managers = managers[partition_of(managers["primary_invest_type"]) == partition]
    idx = pd.Index(sorted(managers.index), name="register_no", dtype="str")
    parts = []
    for names, fn in _GROUPS:
        if wanted.isdisjoint(names):
            continue
        part = fn(h, idx)
        if list(part.columns) != list(names):  # guard: a group computes what it declares
            raise RuntimeError(f"{fn.__name__} returned {list(part.columns)}, declared {names}")
        parts.append(part)
    h.memo.clear()  # the groups are done: free what they shared before assembling the frame
    values = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=idx)
    return values.astype("float64"), _metadata(managers.reindex(idx))
