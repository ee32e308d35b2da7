"""Dates as integer day numbers (days since 1970-01-01), vectorized.

The generator keeps every date as an ``int64`` day number so numpy can shift, compare and
format millions of them at once. :data:`NEVER` marks "does not happen" (far future).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt

IntA = npt.NDArray[np.int64]
ObjA = npt.NDArray[np.object_]

EPOCH = dt.date(1970, 1, 1)
NEVER = 10**7  # a day number far beyond any window: "never"
SHANGHAI_MS = 8 * 3600 * 1000  # Asia/Shanghai is UTC+8 (no DST since 1991)


def day_of(d: dt.date) -> int:
    return (d - EPOCH).days


def date_of(n: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(n))


def month_index(d: dt.date) -> int:
    """Months since 1970-01 (2024-09 -> 656)."""
    return (d.year - 1970) * 12 + d.month - 1


def month_end_days(months: IntA) -> IntA:
    """Day number of the last day of each month index."""
    nxt = (months + 1).astype("datetime64[M]").astype("datetime64[D]")
    return (nxt.astype(np.int64) - 1).astype(np.int64)


def working_days_after(days: IntA, n: int) -> IntA:
    """The n-th working day (Mon-Fri) after each day (public holidays ignored)."""
    d = days.astype("datetime64[D]")
    return np.busday_offset(d, n, roll="backward").astype(np.int64)


def quarter_ends_between(start: dt.date, end: dt.date) -> list[dt.date]:
    out: list[dt.date] = []
    y, q = start.year, (start.month - 1) // 3
    while True:
        m = 3 * q + 3
        last = dt.date(y + (m == 12), 1, 1) if m == 12 else dt.date(y, m + 1, 1)
        qe = last - dt.timedelta(days=1)
        if qe > end:
            return out
        if qe >= start:
            out.append(qe)
        q += 1
        if q == 4:
            y, q = y + 1, 0


class DateFormatter:
    """Formats day numbers in one of the contract's date styles via a lookup table.

    Styles: ``iso`` (2024-09-30), ``slash`` (2024/09/30), ``cn`` (2024年09月30日). Values
    outside the table (e.g. :data:`NEVER`) format as the empty string.
    """

    def __init__(self, lo: int, hi: int) -> None:
        self.lo = lo
        self.hi = hi
        iso = np.datetime_as_string(np.arange(lo, hi + 1).astype("datetime64[D]"))
        self._tables: dict[str, ObjA] = {
            "iso": np.array(list(iso) + [""], dtype=object),
            "slash": np.array([s.replace("-", "/") for s in iso] + [""], dtype=object),
            "cn": np.array([f"{s[:4]}年{s[5:7]}月{s[8:10]}日" for s in iso] + [""], dtype=object),
        }

    def format(self, days: IntA, style: str) -> ObjA:
        idx = days - self.lo
        bad = (idx < 0) | (days > self.hi)
        idx = np.where(bad, self.hi - self.lo + 1, idx)
        return self._tables[style][idx]


def epoch_ms(days: IntA, hi: int) -> list[int | None]:
    """AMAC epoch milliseconds: midnight Asia/Shanghai of each day; None beyond ``hi``."""
    ms = days * 86_400_000 - SHANGHAI_MS
    return [None if d > hi else int(v) for d, v in zip(days.tolist(), ms.tolist(), strict=True)]
