"""Shared fixtures: a temporary Watchtower home, and a real PostgreSQL server per session."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg import find_bindir, new_database, postgres_cluster
from watchtower.config import Settings, load_settings

_db_counter = itertools.count()


@pytest.fixture(autouse=True, scope="session")
def _model_key_outside_the_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The key that signs model artifacts, for this session only: tests (and the processes
    they start) never create one in the home of whoever runs them."""
    path = tmp_path_factory.mktemp("model-key") / "model.key"
    before = os.environ.get("WATCHTOWER_MODEL_KEY_FILE")
    os.environ["WATCHTOWER_MODEL_KEY_FILE"] = str(path)
    yield
    if before is None:
        os.environ.pop("WATCHTOWER_MODEL_KEY_FILE", None)
    else:
        os.environ["WATCHTOWER_MODEL_KEY_FILE"] = before


@pytest.fixture(autouse=True)
def _landing_files_are_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests write their landing files whole before ingesting them: no settle time (the
    landing protocol's own tests set theirs, with a fixed wall clock)."""
    monkeypatch.setenv("WATCHTOWER_LANDING_SETTLE_SECONDS", "0")


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings on a fresh WATCHTOWER_HOME (embedded SQLite) under tmp_path."""
    home = tmp_path / "home"
    monkeypatch.setenv("WATCHTOWER_HOME", str(home))
    monkeypatch.delenv("WATCHTOWER_DB_URL", raising=False)
    return load_settings()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of the admin database of a throwaway PostgreSQL cluster for this test session."""
    if find_bindir() is None:
        pytest.skip("PostgreSQL server binaries not installed (/usr/lib/postgresql/*/bin)")
    with postgres_cluster() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty PostgreSQL database for one test."""
    return new_database(postgres_server, f"wt_test_{next(_db_counter)}")
