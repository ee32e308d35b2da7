"""The clock seam: steps take an as-of date; only the CLI edge asks the clock for today."""

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
