"""The feature engine reads PostgreSQL as it reads SQLite: the same history, the same frame,
the same stored snapshot.

The history readers and the snapshot writer take dialect-specific paths (raw DBAPI cursors,
driver value types, SQLite-only query hints), so the hand-made world of test_engine is built
in both stores.
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
from watchtower.store.features import load_features, store_features


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
        for w in (world, pg):  # the snapshot round trip is exact on both
            with w.engine.begin() as conn:
                assert store_features(conn, AS_OF, full, catalog.version) == len(full)
                store_features(conn, AS_OF, full, catalog.version)  # a re-run replaces
            back = load_features(w.engine, AS_OF, catalog.version)
            pd.testing.assert_frame_equal(back, full, check_exact=True)
    finally:
        pg.engine.dispose()
