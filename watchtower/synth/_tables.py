"""Turn a planted :class:`World` into contract tables (canonical values, dates as day numbers).

Every table is point-in-time: a manager or fund snapshot shows the state on its snapshotDate;
a report row is placed in the monthly extraction in which it became known (its submission,
or, for a report overdue at the end of its due month, an empty-submittedDate row there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from watchtower.contract import AUDIT_OPINIONS, MANAGER_TYPES
from watchtower.synth._calendar import NEVER, IntA, month_end_days
from watchtower.synth._world import (
    INCIDENT_OF,
    MISSING,
    RISKY,
    WS_DELAYED_LIQ,
    WS_RUNNING,
    BoolA,
    FloatA,
    World,
)

GRACE_DAYS = 10  # lastQuarterUpdate tolerates a quarterly update this many days late


@dataclass(frozen=True)
class Batch:
    """Rows of one source that belong in one file (before formatting)."""

    source: str
    file_date: int
    frame: pd.DataFrame


def fund_state(w: World, days: IntA) -> IntA:
    """Working state of every fund on each day: shape [F, len(days)]."""
    d = days[None, :]
    st = np.where(w.f_liq_day[:, None] <= d, w.f_liq_state[:, None], WS_RUNNING)
    for day, state in ((w.f_s1_day, w.f_s1_state), (w.f_s2_day, w.f_s2_state)):
        on = (day[:, None] <= d) & (w.f_liq_day[:, None] > day[:, None])
        st = np.where(on, state[:, None], st)
    return st.astype(np.int64)


def _active(state: IntA) -> BoolA:
    active: BoolA = (state == WS_RUNNING) | (state == WS_DELAYED_LIQ)
    return active


#: The world's membership codes (0 普通, 1 观察, 2 特别/联席, 3 none) as the public list spells
#: them, and as a supervisor's older export does.
MEMBER_PUBLIC = np.array(["普通会员", "观察会员", "观察会员", "非会员机构"], dtype=object)
MEMBER_EXPORT = np.array(["普通会员", "观察会员", "特别会员", "非会员"], dtype=object)


def fund_totals(w: World) -> tuple[IntA, FloatA]:
    """Running funds per manager and their AUM sum (万元) at every snapshot: [M, Q] each."""
    n, nq = w.n, w.snaps.size
    states = fund_state(w, w.snaps)
    cols = np.searchsorted(w.pe, w.snaps)
    recorded = w.f_record[:, None] <= w.snaps[None, :]
    running = recorded & _active(states)
    count = np.stack([np.bincount(w.f_mgr, running[:, q], minlength=n) for q in range(nq)], 1)
    scale = np.stack(
        [
            np.bincount(w.f_mgr, np.where(running[:, q], w.aum[:, cols[q]], 0.0), minlength=n)
            for q in range(nq)
        ],
        1,
    )
    return count.astype(np.int64), scale.astype(np.float64)


def staff(w: World, idx: IntA, q: int) -> tuple[IntA, IntA]:
    """(employees, qualified employees) of managers ``idx`` at snapshot ``q``."""
    emp = np.maximum(np.round(w.emp[idx] * w.emp_factor[idx, q]), 0).astype(np.int64)
    emp = np.where(w.sc[idx] == "shell", np.minimum(emp, 4), emp)
    emp = np.where(w.sc[idx] == "new_manager", np.maximum(emp, 3), emp)
    qual = np.minimum(emp, np.round(emp * w.qual_ratio[idx] * w.qual_factor[idx, q]))
    return emp, qual.astype(np.int64)


def listed(w: World, sd: int) -> IntA:
    """Managers on the register on day ``sd``: registered, not gone."""
    return np.flatnonzero((w.register <= sd) & (w.gone_day > sd))


def manager_batches(w: World, qs: list[int]) -> list[Batch]:
    """The supervisor's own manager export (Chinese headers, inBlacklist, staff, scale) at the
    snapshots ``qs``. ``update_lag`` is drawn for every snapshot so the draws do not depend
    on ``qs``."""
    rng = w.rng
    n, nq = w.n, w.snaps.size
    count, scale = fund_totals(w)
    update_lag = rng.integers(0, 80, (n, nq))
    out: list[Batch] = []
    for q in qs:
        sd = int(w.snaps[q])
        idx = listed(w, sd)
        emp, qual = staff(w, idx, q)
        moved = w.move_day[idx] <= sd
        tips = ["；".join(t for d, t in w.tips[m] if d <= sd) for m in idx.tolist()]
        last_upd = np.maximum(
            np.minimum(sd - update_lag[idx, q], w.stale_day[idx]), w.register[idx]
        )
        member = np.where(w.member_day[idx] <= sd, w.member1[idx], w.member[idx])
        frame = pd.DataFrame(
            {
                "registerNo": w.reg_no[idx],
                "managerName": w.name[idx],
                "uscc": w.uscc[idx],
                "artificialPersonName": np.where(
                    w.person_day[idx] <= sd, w.person1[idx], w.person0[idx]
                ),
                "primaryInvestType": np.array(MANAGER_TYPES, dtype=object)[w.mtype[idx]],
                "orgForm": np.where(w.org[idx] == 1, "合伙企业", "公司").astype(object),
                "establishDate": w.establish[idx],
                "registerDate": w.register[idx],
                "registerAddress": w.reg_addr[idx],
                "registerProvince": w.reg_prov[idx],
                "registerCity": w.reg_city[idx],
                "officeAddress": np.where(moved, w.off_addr1[idx], w.off_addr[idx]),
                "officeProvince": np.where(moved, w.off_prov1[idx], w.off_prov[idx]),
                "officeCity": np.where(moved, w.off_city1[idx], w.off_city[idx]),
                "subscribedCapital": w.subscribed[idx],
                "paidInCapital": w.paid_in[idx],
                "employeeCount": emp,
                "qualifiedEmployeeCount": qual,
                "fundCount": count[idx, q],
                "fundScale": np.round(scale[idx, q], 2),
                "memberType": MEMBER_EXPORT[member],
                "hasSpecialTips": np.array([bool(t) for t in tips], dtype=bool),
                "specialTips": np.array(tips, dtype=object),
                "hasCreditTips": w.credit_day[idx] <= sd,
                "inBlacklist": w.blacklist_day[idx] <= sd,
                "lastUpdateDate": last_upd,
                "snapshotDate": np.full(idx.size, sd, dtype=np.int64),
            }
        )
        out.append(Batch("managers", sd, frame))
    return out


def last_quarter_update(w: World) -> BoolA:
    """AMAC's flag per fund and snapshot: latest due quarterly update made (within grace)."""
    nq = w.snaps.size
    qcols = np.flatnonzero(w.is_q)
    qstate = fund_state(w, w.pe[qcols])
    oblig = (w.f_record[:, None] <= w.pe[qcols][None, :]) & _active(qstate)
    late = w.delay_q[:, qcols] > GRACE_DAYS
    flag = np.ones((w.f_mgr.size, nq), dtype=bool)
    for q in range(nq):
        due_before = np.flatnonzero(w.due_q[qcols] <= w.snaps[q])
        if due_before.size == 0:
            continue
        c = due_before[-1]
        flag[:, q] = ~(oblig[:, c] & late[:, c])
    return flag


def _month_of(days: IntA) -> IntA:
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _window_sum(mat: FloatA, k: int) -> FloatA:
    """Sum over the last ``k`` months (fewer at the matrix's left edge)."""
    c = np.cumsum(mat, axis=1)
    out = c.copy()
    out[:, k:] = c[:, k:] - c[:, :-k]
    return out


def _period_labels(w: World) -> dict[str, list[str]]:
    years = (w.months // 12 + 1970).tolist()
    mons = (w.months % 12 + 1).tolist()
    return {
        "monthly": [f"{y}-{m:02d}" for y, m in zip(years, mons, strict=True)],
        "quarterly": [f"{y}Q{(m - 1) // 3 + 1}" for y, m in zip(years, mons, strict=True)],
        "annual": [str(y) for y in years],
    }


def report_batches(w: World) -> list[Batch]:
    """Monthly extraction files: each holds the report rows that became known that month."""
    nf, nt = w.ret.shape
    state = fund_state(w, w.pe)
    active = (w.f_record[:, None] <= w.pe[None, :]) & _active(state)
    labels = _period_labels(w)
    sec = (w.f_type == 0)[:, None]
    specs = (
        ("monthly", w.delay_m, w.due_m, np.ones(nt, dtype=bool), sec, 1),
        ("quarterly", w.delay_q, w.due_q, w.is_q, np.ones((nf, 1), dtype=bool), 3),
        ("annual", w.delay_a, w.due_a, w.is_a, np.ones((nf, 1), dtype=bool), 12),
    )
    end_m = int(_month_of(np.array([w.end]))[0])
    start_m = int(_month_of(np.array([w.start]))[0])
    parts: list[pd.DataFrame] = []
    for kind_i, (kind, delay, due, valid, eligible, k) in enumerate(specs):
        ob = active & valid[None, :] & eligible
        f, t = np.nonzero(ob)
        d = due[t]
        dl = delay[f, t]
        sub = np.where(dl >= MISSING, NEVER, np.maximum(d + dl, w.pe[t] + 1))
        due_file_m = _month_of(d)
        due_file_day = np.minimum(month_end_days(due_file_m), w.end)
        # A: the submitted row, in the month of submission
        a = (sub <= w.end) & (_month_of(np.minimum(sub, w.end)) >= start_m)
        # B: the overdue row, in the month of the due date, when not in by that file's date
        b = (d <= w.end) & (due_file_m >= start_m) & (sub > due_file_day)
        subs = _window_sum(w.subs, k)
        reds = _window_sum(w.reds, k)
        for mask, is_sub in ((a, True), (b, False)):
            ff, tt = f[mask], t[mask]
            sm = sub[mask]
            file_m = _month_of(sm) if is_sub else due_file_m[mask]
            nan = np.full(ff.size, np.nan)
            frame = pd.DataFrame(
                {
                    "_file_m": file_m,
                    "_f": ff,
                    "_k": np.full(ff.size, kind_i),
                    "_t": tt,
                    "fundNo": w.f_no[ff],
                    "registerNo": w.reg_no[w.f_mgr[ff]],
                    "reportType": np.full(ff.size, kind, dtype=object),
                    "period": np.array(labels[kind], dtype=object)[tt],
                    "dueDate": due[tt],
                    "submittedDate": sm if is_sub else np.full(ff.size, NEVER, dtype=np.int64),
                    "nav": np.round(w.nav[ff, tt], 4) if is_sub else nan,
                    "aum": np.round(w.aum[ff, tt], 2) if is_sub else nan,
                    "investorCount": pd.array(
                        w.inv[ff, tt].astype(np.int64) if is_sub else [None] * ff.size,
                        dtype="Int64",
                    ),
                    "subscriptions": np.round(subs[ff, tt], 2) if is_sub else nan,
                    "redemptions": np.round(reds[ff, tt], 2) if is_sub else nan,
                    "leverageRatio": np.round(w.lev[ff, tt], 3) if is_sub else nan,
                    "auditOpinion": (
                        np.array(AUDIT_OPINIONS, dtype=object)[w.audit[ff, tt]]
                        if is_sub and kind == "annual"
                        else np.full(ff.size, "", dtype=object)
                    ),
                }
            )
            parts.append(frame)
    allr = pd.concat(parts, ignore_index=True)
    allr = allr[allr["_file_m"] <= end_m]
    allr = allr.sort_values(["_file_m", "_f", "_k", "_t", "submittedDate"], kind="stable")
    out: list[Batch] = []
    for fm, grp in allr.groupby("_file_m", sort=True):
        file_day = min(int(month_end_days(np.array([fm], dtype=np.int64))[0]), w.end)
        frame = grp.drop(columns=["_file_m", "_f", "_k", "_t"]).reset_index(drop=True)
        out.append(Batch("reports", file_day, frame))
    return out


def event_batches(w: World) -> list[Batch]:
    """Quarterly event files by reportedDate; only events known inside the window."""
    rows = [
        e
        for e in w.events
        if w.start <= e.reported <= w.end
        and e.day <= w.end
        and e.day < w.gone_day[e.m]
        and e.day >= w.register[e.m] - 30
    ]
    rows.sort(key=lambda e: (e.reported, e.m, e.day, e.etype, e.severity, e.description))
    if not rows:
        return []
    m = np.array([e.m for e in rows])
    ident = np.array([e.ident for e in rows], dtype=object)
    frame = pd.DataFrame(
        {
            "registerNo": np.where(ident == "uscc", "", w.reg_no[m]).astype(object),
            "uscc": np.where(ident == "reg", "", w.uscc[m]).astype(object),
            "eventDate": np.array([e.day for e in rows], dtype=np.int64),
            "reportedDate": np.array([e.reported for e in rows], dtype=np.int64),
            "eventType": np.array([e.etype for e in rows], dtype=object),
            "severity": np.array([e.severity for e in rows], dtype=np.int64),
            "source": np.array([e.source for e in rows], dtype=object),
            "description": np.array([e.description for e in rows], dtype=object),
        }
    )
    qe = _quarter_end(frame["reportedDate"].to_numpy())
    out: list[Batch] = []
    for q in np.unique(qe).tolist():
        sel = qe == q
        out.append(Batch("events", min(int(q), w.end), frame[sel].reset_index(drop=True)))
    return out


def _quarter_end(days: IntA) -> IntA:
    months = _month_of(days)
    return month_end_days(months - months % 3 + 2)


def incident_frame(w: World) -> pd.DataFrame:
    idx = np.flatnonzero(np.isin(w.sc, RISKY) & (w.incident <= w.end))
    idx = idx[np.argsort(w.incident[idx], kind="stable")]
    return pd.DataFrame(
        {
            "registerNo": w.reg_no[idx],
            "incidentDate": w.incident[idx],
            "incidentType": np.array([INCIDENT_OF[str(s)] for s in w.sc[idx]], dtype=object),
        }
    )


def incident_batches(w: World) -> list[Batch]:
    frame = incident_frame(w)
    years = (
        frame["incidentDate"]
        .to_numpy()
        .astype("datetime64[D]")
        .astype("datetime64[Y]")
        .astype(np.int64)
        + 1970
    )
    out: list[Batch] = []
    for y in np.unique(years).tolist():
        sel = years == y
        year_end = int(np.datetime64(f"{y}-12-31").astype("datetime64[D]").astype(np.int64))
        out.append(Batch("incidents", min(year_end, w.end), frame[sel].reset_index(drop=True)))
    return out


def truth_frame(w: World, fmt: Callable[[int], str]) -> pd.DataFrame:
    """Ground truth for every manager (``fmt`` formats a day number as ISO)."""
    risky = np.isin(w.sc, RISKY)
    benign = ~risky & (w.sc != "healthy")
    return pd.DataFrame(
        {
            "register_no": w.reg_no,
            "scenario": w.sc,
            "family": w.family,
            "is_risky": risky.astype(np.int64),
            "is_benign_outlier": benign.astype(np.int64),
            "incident_type": [INCIDENT_OF.get(str(s), "") for s in w.sc],
            "incident_date": [fmt(int(d)) for d in w.incident],
            "onset_date": [fmt(int(d)) for d in w.onset],
        }
    )
