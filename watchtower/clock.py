"""The clock seam: steps take an as-of date; only the CLI edge asks the clock for today.

Also the one owner of month ends (:func:`month_end`, :func:`is_month_end`,
:func:`month_end_on_or_before`): file dates, reference days of change features and the
supervised layer's cut-offs are all month ends."""

from __future__ import annotations

import datetime as dt
from typing import Protocol


class Clock(Protocol):
    def today(self) -> dt.date: ...

    def now(self) -> dt.datetime: ...


class SystemClock:
    """Wall clock in UTC."""

    def today(self) -> dt.date:
        return self.now().date()

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class FixedClock:
    """A clock stopped at one instant (tests, replays)."""

    def __init__(self, instant: dt.datetime) -> None:
        self._instant = instant

    def today(self) -> dt.date:
        return self._instant.date()

    def now(self) -> dt.datetime:
        return self._instant


def month_end(year: int, month: int) -> dt.date:
    """The last day of ``month`` (1-12) of ``year``."""
    first_next = dt.date(year + month // 12, month % 12 + 1, 1)
    return first_next - dt.timedelta(days=1)


def is_month_end(day: dt.date) -> bool:
    """True when ``day`` is the last day of its month."""
    return (day + dt.timedelta(days=1)).day == 1


def month_end_on_or_before(day: dt.date) -> dt.date:
    """``day`` itself when it is a month end, else the last day of the month before."""
    return day if is_month_end(day) else day.replace(day=1) - dt.timedelta(days=1)
