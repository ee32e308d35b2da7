"""feature_snapshots: store, load back bit for bit, replace a day idempotently."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from tests.features.conftest import World
from tests.features.test_engine import AS_OF, build
from watchtower.features import Catalog, compute_features
from watchtower.store.features import feature_snapshots, load_features, store_features

T0 = dt.datetime(2024, 7, 2, 6, 0)


def _count(world: World) -> int:
    with world.engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(feature_snapshots)).scalar_one()
        )


def test_round_trip_is_exact(world: World, catalog: Catalog) -> None:
    build(world)
    frame = compute_features(world.engine, AS_OF, catalog=catalog)
    with world.engine.begin() as conn:
        assert store_features(conn, AS_OF, frame, catalog.version, created_at=T0) == 4
    loaded = load_features(world.engine, AS_OF, catalog.version)
    pd.testing.assert_frame_equal(loaded, frame, check_exact=True)
    assert loaded.attrs["feature_set_version"] == catalog.version
    # Default version: the newest stored that day.
    pd.testing.assert_frame_equal(load_features(world.engine, AS_OF), frame, check_exact=True)


def test_rerun_replaces_the_day_and_partitions_do_not_erase_each_other(
    world: World, catalog: Catalog
) -> None:
    build(world)
    frame = compute_features(world.engine, AS_OF, catalog=catalog)
    sec = compute_features(world.engine, AS_OF, catalog=catalog, partition="securities")
    pe = compute_features(world.engine, AS_OF, catalog=catalog, partition="pe_vc")
    with world.engine.begin() as conn:
        store_features(conn, AS_OF, sec, catalog.version, created_at=T0)
        store_features(conn, AS_OF, pe, catalog.version, created_at=T0)
        store_features(conn, AS_OF, sec, catalog.version, created_at=T0)
    assert _count(world) == 3
    with world.engine.begin() as conn:
        store_features(conn, AS_OF, frame, catalog.version, created_at=T0)
        store_features(conn, AS_OF, frame, catalog.version, created_at=T0)
        store_features(conn, AS_OF - dt.timedelta(days=1), frame, catalog.version, created_at=T0)
    assert _count(world) == 8
    pd.testing.assert_frame_equal(
        load_features(world.engine, AS_OF, catalog.version), frame, check_exact=True
    )


def test_nothing_stored_gives_an_empty_frame(world: World) -> None:
    assert load_features(world.engine, AS_OF).empty
