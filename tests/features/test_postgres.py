"""The feature engine reads PostgreSQL as it reads SQLite: the same history, the same frame.

The history readers take dialect-specific paths (raw DBAPI cursors, driver value types,
SQLite-only query hints), so the hand-made world of test_engine is built in both stores.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from tests.features.conftest import World
from tests.features.test_engine import AS_OF, build
from tests.features.test_leakage import add_future
from watchtower.features import Catalog, compute_features
from watchtower.store import open_store


@pytest.mark.slow
def test_postgres_frame_equals_sqlite(world: World, postgres_url: str, catalog: Catalog) -> None:
    pg = World(open_store(postgres_url))
    try:
        for w in (world, pg):
            build(w)
            add_future(w, AS_OF)  # rows known after D must stay out on both
        for as_of in (AS_OF, AS_OF + dt.timedelta(days=1), dt.date(2024, 1, 15)):
            lite = compute_features(world.engine, as_of, catalog=catalog)
            post = compute_features(pg.engine, as_of, catalog=catalog)
            assert len(lite) > 0
            pd.testing.assert_frame_equal(post, lite, check_exact=True)
        part = compute_features(pg.engine, AS_OF, catalog=catalog, partition="securities")
        full = compute_features(pg.engine, AS_OF, catalog=catalog)
        pd.testing.assert_frame_equal(part, full.loc[part.index], check_exact=True)
    finally:
        pg.engine.dispose()
