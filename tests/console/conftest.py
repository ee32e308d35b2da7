"""One console world per module, copied for each test (building it warns ten days)."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.console.world import build_console_world
from tests.warn.scores import NOW
from watchtower.config import Settings, load_settings
from watchtower.console import create_app
from watchtower.store import close_store


class StepClock:
    """A clock that stands still until a test moves it (sessions, throttle windows)."""

    def __init__(self, instant: dt.datetime) -> None:
        self.instant = instant

    def now(self) -> dt.datetime:
        return self.instant

    def today(self) -> dt.date:
        return self.instant.date()

    def advance(self, **delta: float) -> None:
        self.instant += dt.timedelta(**delta)


@pytest.fixture(scope="module")
def world_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("console-world")
    settings = load_settings(
        {
            "WATCHTOWER_HOME": str(root / "home"),
            "WATCHTOWER_MODEL_KEY_FILE": str(root / "keys" / "model.key"),
        }
    )
    build_console_world(settings)
    close_store(settings.db_url)  # the file whole (WAL checkpointed) before it is copied
    return root / "home" / "watchtower.db"


@pytest.fixture
def console_settings(world_db: Path, tmp_path: Path) -> Settings:
    db = tmp_path / "console.db"
    shutil.copy(world_db, db)
    settings = load_settings(
        {
            "WATCHTOWER_HOME": str(tmp_path / "home"),
            "WATCHTOWER_MODEL_KEY_FILE": str(tmp_path / "keys" / "model.key"),
        }
    )
    return replace(settings, db_url=f"sqlite:///{db}")


@pytest.fixture
def clock() -> StepClock:
    return StepClock(NOW)


@pytest.fixture
def make_client(
    console_settings: Settings, clock: StepClock
) -> Iterator[Callable[..., TestClient]]:
    """``make_client()``: a new browser (its own cookies) on one console application."""
    app = create_app(console_settings, clock=clock)
    clients: list[TestClient] = []

    def make(base_url: str = "http://testserver") -> TestClient:
        client = TestClient(app, base_url=base_url)
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.close()
    close_store(console_settings.db_url)
