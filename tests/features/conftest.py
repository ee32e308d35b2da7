"""Hand-made histories: rows inserted straight into the history tables.

``World`` writes manager/fund snapshots, reports and events with the contract's point-in-time
rule for ``known_from`` (snapshots: snapshotDate; reports: submittedDate, else the given file
date; events: reportedDate, else eventDate), so a test states only what matters to it.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.store_rows import loaded_batch
from watchtower.features import Catalog, load_catalog
from watchtower.store import open_store
from watchtower.store.schema import (
    change_events,
    events,
    fund_details,
    fund_snapshots,
    manager_details,
    manager_snapshots,
    reports,
)

ROOT = Path(__file__).resolve().parents[2]
D = dt.date


class World:
    """Writes history rows into a fresh store; ``engine`` is the store."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._rows = itertools.count(1)
        with engine.begin() as conn:
            self.batch_id = loaded_batch(conn, source="test", at=dt.datetime(2024, 1, 1))

    def _insert(self, table: sa.Table, values: dict[str, Any]) -> None:
        row = {"batch_id": self.batch_id, "row_number": next(self._rows), **values}
        with self.engine.begin() as conn:
            conn.execute(table.insert().values(**row))

    def manager(self, register_no: str, snapshot: dt.date, **fields: Any) -> None:
        values: dict[str, Any] = {
            "register_no": register_no,
            "manager_name": f"{register_no}投资管理有限公司",
            "uscc": None,
            "artificial_person_name": "张三",
            "primary_invest_type": "私募证券投资基金管理人",
            "org_form": "公司",
            "establish_date": D(2017, 6, 1),
            "register_date": D(2018, 1, 15),
            "register_address": f"上海市浦东新区{register_no}路1号",
            "register_province": "上海市",
            "register_city": "上海市",
            "office_address": f"上海市浦东新区{register_no}路1号",
            "office_province": "上海市",
            "office_city": "上海市",
            "subscribed_capital": 1000.0,
            "paid_in_capital": 1000.0,
            "employee_count": 10,
            "qualified_employee_count": 8,
            "fund_count": 0,
            "fund_scale": 5000.0,
            "member_type": "普通会员",
            "has_special_tips": False,
            "has_credit_tips": False,
            "in_blacklist": False,
            "snapshot_date": snapshot,
        }
        values.update(fields)
        values.setdefault("known_from", values["snapshot_date"])
        self._insert(manager_snapshots, values)

    def fund(self, fund_no: str, register_no: str | None, snapshot: dt.date, **fields: Any) -> None:
        values: dict[str, Any] = {
            "fund_no": fund_no,
            "fund_name": f"{fund_no}私募证券投资基金",
            "register_no": register_no,
            "fund_type": "私募证券投资基金",
            "establish_date": D(2019, 1, 10),
            "put_on_record_date": D(2019, 1, 20),
            "mandator_name": "招商银行股份有限公司",
            "working_state": "正在运作",
            "last_quarter_update": True,
            "snapshot_date": snapshot,
        }
        values.update(fields)
        values.setdefault("known_from", values["snapshot_date"])
        self._insert(fund_snapshots, values)

    def report(
        self,
        fund_no: str,
        report_type: str,
        period: str,
        submitted: dt.date | None,
        *,
        file_date: dt.date | None = None,
        **fields: Any,
    ) -> None:
        values: dict[str, Any] = {
            "fund_no": fund_no,
            "report_type": report_type,
            "period": period,
            "submitted_date": submitted,
        }
        values.update(fields)
        known = submitted or file_date
        assert known is not None, "an unsubmitted report needs the file_date it became known"
        values.setdefault("known_from", known)
        self._insert(reports, values)

    def event(
        self, register_no: str | None, event_date: dt.date, event_type: str, **fields: Any
    ) -> None:
        values: dict[str, Any] = {
            "register_no": register_no,
            "event_date": event_date,
            "event_type": event_type,
            "severity": 3,
            "source": "test",
        }
        values.update(fields)
        values.setdefault("reported_date", event_date)
        values.setdefault("known_from", values["reported_date"])
        self._insert(events, values)

    def detail(self, register_no: str, snapshot: dt.date, **fields: Any) -> None:
        """A manager detail page (known from its snapshot date unless ``known_from``)."""
        values: dict[str, Any] = {"register_no": register_no, "snapshot_date": snapshot}
        values.update(fields)
        values.setdefault("known_from", values["snapshot_date"])
        self._insert(manager_details, values)

    def fund_detail(self, fund_no: str, snapshot: dt.date, **fields: Any) -> None:
        """A fund detail page with its disclosure counts."""
        values: dict[str, Any] = {"fund_no": fund_no, "snapshot_date": snapshot}
        values.update(fields)
        values.setdefault("known_from", values["snapshot_date"])
        self._insert(fund_details, values)

    def change(
        self,
        register_no: str,
        event_date: dt.date,
        event_type: str,
        known_from: dt.date | None = None,
        **fields: Any,
    ) -> None:
        """A change event (as snapshot_diff writes them), known from ``known_from``."""
        values: dict[str, Any] = {
            "natural_key": f"{register_no}|{event_type}|{event_date}|{next(self._rows)}",
            "register_no": register_no,
            "event_type": event_type,
            "event_date": event_date,
            "known_from": known_from or event_date,
            "source": "snapshot_diff",
            "severity": 1,
        }
        values.update(fields)
        with self.engine.begin() as conn:
            conn.execute(change_events.insert().values(**values))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """An empty store (SQLite under tmp_path) and a writer for hand-made history."""
    engine = open_store(f"sqlite:///{tmp_path / 'features.db'}")
    yield World(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """The project's catalog (features/), validated against the engine."""
    return load_catalog(ROOT / "features")
