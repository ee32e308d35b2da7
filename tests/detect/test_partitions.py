"""Real scoring partitions: a mapped scoring task reads from the store only its partition's
feature rows and writes only its partition's score rows (the pooled partition, compared with
everyone, reads the whole cross-section), and its scores equal the same rows of an
unpartitioned run.

The world has 160 managers; the fast config's peer groups need 30: pe_vc (83) and
securities (67) are peer groups of their own, the 6 managers of "other" are pooled.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.detect.world import AS_OF, fast_config_dir, write_small_world
from watchtower import pipeline
from watchtower.clock import FixedClock
from watchtower.config import Settings, load_settings
from watchtower.contract import PARTITIONS
from watchtower.detect import run_scoring
from watchtower.detect._cells import comparison_cells
from watchtower.detect._scoring import features_at, load_catalog
from watchtower.detect.config import load_detect_config
from watchtower.detect.model import POOLED, peer_groups, peer_label, whole_peer_groups
from watchtower.detect.supervised import month_end_days, retrain_cutoff
from watchtower.features import list_partitions, manager_type_counts, partition_of_type
from watchtower.store import close_store, open_store
from watchtower.store.features import feature_snapshots, load_features
from watchtower.store.scoring import risk_scores

pytestmark = pytest.mark.slow

FEATURES_CLOCK = FixedClock(dt.datetime(2024, 1, 2, 8, 0))
FULL_CLOCK = FixedClock(dt.datetime(2024, 1, 3, 8, 0))
PART_CLOCK = FixedClock(dt.datetime(2024, 1, 4, 8, 0))
TYPE_OF = {slug: t for t, slug in PARTITIONS.items()}


def _settings(home: Path, config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("WATCHTOWER_HOME", str(home))
    monkeypatch.setenv("WATCHTOWER_CONFIG_DIR", str(config_dir))
    monkeypatch.delenv("WATCHTOWER_DB_URL", raising=False)
    return load_settings()


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fast_config_dir(tmp_path_factory.mktemp("config"))


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory, config_dir: Path) -> Iterator[Path]:
    """The store file of the world, ingested once (each test works on its own copy)."""
    landing = write_small_world(tmp_path_factory.mktemp("world") / "landing")
    home = tmp_path_factory.mktemp("ingested")
    with pytest.MonkeyPatch.context() as mp:
        settings = _settings(home, config_dir, mp)
        pipeline.ingest(settings, landing, clock=FEATURES_CLOCK)
        close_store(settings.db_url)
    yield Path(settings.db_url.removeprefix("sqlite:///"))


def _copy(src_path: Path, settings: Settings) -> None:
    dst_path = Path(settings.db_url.removeprefix("sqlite:///"))
    dst_path.parent.mkdir(parents=True, exist_ok=True)
    src, dst = sqlite3.connect(src_path), sqlite3.connect(dst_path)
    src.backup(dst)
    src.close()
    dst.close()


@pytest.fixture(scope="module")
def featured(
    ingested: Path, tmp_path_factory: pytest.TempPathFactory, config_dir: Path
) -> Iterator[Path]:
    """The ingested store with the day's features computed partition by partition (as the
    DAG does before scoring)."""
    home = tmp_path_factory.mktemp("featured")
    with pytest.MonkeyPatch.context() as mp:
        settings = _settings(home, config_dir, mp)
        _copy(ingested, settings)
        for p in pipeline.list_partitions(settings, AS_OF):
            pipeline.compute_features(settings, AS_OF, p, clock=FEATURES_CLOCK)
        close_store(settings.db_url)
    yield Path(settings.db_url.removeprefix("sqlite:///"))


@pytest.fixture
def bare(
    ingested: Path, config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Settings on a private copy of the ingested store (no feature stored)."""
    settings = _settings(tmp_path / "home", config_dir, monkeypatch)
    _copy(ingested, settings)
    yield settings
    close_store(settings.db_url)


@pytest.fixture
def settings(
    featured: Path, config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Settings on a private copy of the featured store."""
    settings = _settings(tmp_path / "home", config_dir, monkeypatch)
    _copy(featured, settings)
    yield settings
    close_store(settings.db_url)


def _stored_scores(engine: sa.Engine) -> pd.DataFrame:
    """The day's risk_scores rows as stored (every column, created_at included)."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(risk_scores).where(risk_scores.c.as_of == AS_OF).order_by("register_no")
        ).mappings()
        frame = pd.DataFrame(list(rows))
    return frame.set_index("register_no")


class Trace:
    """Every SQL statement SQLite runs on the engine's connections, bound values inlined
    (raw DBAPI cursors included), recorded between ``start`` and ``stop``."""

    def __init__(self, engine: sa.Engine) -> None:
        self.statements: list[str] = []
        self.on = False
        engine.dispose()  # new connections, each traced from its opening
        sa.event.listen(engine, "connect", self._connect)

    def _connect(self, dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.set_trace_callback(self._record)

    def _record(self, sql: str) -> None:
        if self.on:
            self.statements.append(sql)

    def touching(self, table: str, verb: str) -> list[str]:
        pattern = re.compile(rf"^\s*{verb}\b.*\b{table}\b", re.IGNORECASE | re.DOTALL)
        return [s for s in self.statements if pattern.search(s)]


def _rows_read(engine: sa.Engine, select: str) -> int:
    """How many rows a traced SELECT returned (run again on the same store)."""
    with engine.connect() as conn:
        return len(conn.exec_driver_sql(select).fetchall())


def test_peer_groups_decide_from_counts_what_the_frame_decides() -> None:
    counts = {"a": 50, "b": 39, "c": 40, None: 60}
    assert [peer_label(v, n, 40) for v, n in counts.items()] == ["a", POOLED, "c", POOLED]
    frame = pd.DataFrame(
        {"manager_type": [v for v, n in counts.items() for _ in range(n)]},
        index=[f"M{i}" for i in range(sum(counts.values()))],
    )
    groups = peer_groups(frame, "manager_type", 40)
    for value, n in counts.items():
        rows = frame["manager_type"].isna() if value is None else frame["manager_type"] == value
        assert set(groups[rows]) == {peer_label(value, n, 40)}
    assert whole_peer_groups({"a": 50, "c": 40}, "manager_type", 40)
    assert not whole_peer_groups({"a": 50, "b": 39}, "manager_type", 40)
    assert not whole_peer_groups({None: 60}, "manager_type", 40)
    assert not whole_peer_groups({"a": 50}, "province", 40)  # other key: groups cross types
    assert not whole_peer_groups({"a": 50}, None, 40)  # one pooled population
    assert whole_peer_groups({}, "manager_type", 40)  # nobody: nothing to compare with


def test_partitions_are_manager_types_and_their_counts(bare: Settings) -> None:
    settings = bare
    engine = open_store(settings.db_url)
    counts = manager_type_counts(engine, AS_OF)
    assert counts == {TYPE_OF["pe_vc"]: 83, TYPE_OF["securities"]: 67, TYPE_OF["other"]: 6}
    assert list_partitions(engine, AS_OF) == ["other", "pe_vc", "securities"]
    assert pipeline.list_partitions(settings, AS_OF) == list_partitions(engine, AS_OF)
    frame = features_at(engine, load_catalog(settings), AS_OF, store=False)
    assert frame["manager_type"].value_counts().to_dict() == counts  # what the model groups
    config = load_detect_config(settings.models_dir / "detectors.yaml")
    whole = {
        p: whole_peer_groups(
            {t: n for t, n in counts.items() if partition_of_type(t) == p},
            config.peer_key,
            config.peer_min_size,
        )
        for p in list_partitions(engine, AS_OF)
    }
    assert whole == {"pe_vc": True, "securities": True, "other": False}
    # the equality tests below compare within cells, not only within whole types
    groups = peer_groups(frame, config.peer_key, config.peer_min_size)
    cells = comparison_cells(
        frame, groups, config.comparable_by, config.cell_min_size, POOLED
    ).labels
    assert config.comparable_by and (cells != groups).any()


def test_partitioned_scores_equal_the_unpartitioned_run(settings: Settings) -> None:
    engine = open_store(settings.db_url)
    full = pipeline.score(settings, AS_OF, clock=FULL_CLOCK)
    before = _stored_scores(engine)
    assert full.managers_scored == len(before) == 156
    parts = [
        pipeline.score(settings, AS_OF, p, clock=PART_CLOCK)
        for p in pipeline.list_partitions(settings, AS_OF)
    ]
    assert [(s.partition, s.managers_scored) for s in parts] == [
        ("other", 6),
        ("pe_vc", 83),
        ("securities", 67),
    ]
    after = _stored_scores(engine)
    assert (after["created_at"] == PART_CLOCK.now()).all()  # every row rewritten
    pd.testing.assert_frame_equal(
        after.drop(columns=["id", "created_at"]), before.drop(columns=["id", "created_at"])
    )  # the pooled partition ("other") included


@pytest.mark.parametrize("partition", ["securities", "pe_vc"])
def test_a_whole_partition_reads_and_writes_only_its_rows(
    settings: Settings, partition: str
) -> None:
    engine = open_store(settings.db_url)
    pipeline.score(settings, AS_OF, clock=FULL_CLOCK)
    before = _stored_scores(engine)
    trace = Trace(engine)
    trace.on = True
    summary = run_scoring(engine, settings, AS_OF, partition, clock=PART_CLOCK)
    trace.on = False
    mine = before.index[before["manager_type"] == TYPE_OF[partition]]
    assert summary.managers_scored == len(mine) > 0
    # Feature rows: one read, filtered by the partition's manager type in SQL, fetching
    # exactly the partition's rows.
    reads = trace.touching("feature_snapshots", "SELECT")
    rows = [s for s in reads if '"values"' in s or 'feature_snapshots."values"' in s]
    assert len(rows) == 1, reads
    assert f"feature_snapshots.manager_type IN ('{TYPE_OF[partition]}')" in rows[0]
    assert _rows_read(engine, rows[0]) == len(mine)
    # Score rows: deleted and inserted for the partition's managers only.
    deletes = trace.touching("risk_scores", "DELETE")
    assert deletes and all(set(re.findall(r"'(P\d+)'", d)) <= set(mine) for d in deletes), deletes
    assert not trace.touching("risk_scores", "UPDATE")
    after = _stored_scores(engine)
    others = before.index.difference(mine)
    pd.testing.assert_frame_equal(after.loc[others], before.loc[others])  # byte-identical
    assert (after.loc[mine, "created_at"] == PART_CLOCK.now()).all()
    pd.testing.assert_frame_equal(
        after.loc[mine].drop(columns=["id", "created_at"]),
        before.loc[mine].drop(columns=["id", "created_at"]),
    )


def test_the_pooled_partition_reads_everyone_and_writes_only_its_rows(
    settings: Settings,
) -> None:
    """The documented exception: pooled managers are compared with the whole population, so
    their partition reads the whole day's feature rows; it still writes only its own."""
    engine = open_store(settings.db_url)
    pipeline.score(settings, AS_OF, clock=FULL_CLOCK)
    before = _stored_scores(engine)
    trace = Trace(engine)
    trace.on = True
    summary = run_scoring(engine, settings, AS_OF, "other", clock=PART_CLOCK)
    trace.on = False
    mine = before.index[before["manager_type"] == TYPE_OF["other"]]
    assert summary.managers_scored == len(mine) == 6
    reads = [
        s
        for s in trace.touching("feature_snapshots", "SELECT")
        if 'feature_snapshots."values"' in s
    ]
    assert len(reads) == 1 and "manager_type IN" not in reads[0]
    assert _rows_read(engine, reads[0]) == len(before)  # the whole cross-section
    after = _stored_scores(engine)
    others = before.index.difference(mine)
    pd.testing.assert_frame_equal(after.loc[others], before.loc[others])
    assert (after.loc[mine, "created_at"] == PART_CLOCK.now()).all()
    pd.testing.assert_frame_equal(
        after.drop(columns=["id", "created_at"]), before.drop(columns=["id", "created_at"])
    )


def test_a_whole_partition_computes_only_its_features_when_none_are_stored(
    bare: Settings,
) -> None:
    settings = bare
    engine = open_store(settings.db_url)
    part = pipeline.score(settings, AS_OF, "securities", clock=PART_CLOCK)
    assert part.managers_scored == 67
    stored = load_features(engine, AS_OF)
    assert len(stored) == 67 and set(stored["manager_type"]) == {TYPE_OF["securities"]}
    with engine.connect() as conn:
        fs = feature_snapshots
        n = conn.execute(
            sa.select(sa.func.count()).select_from(fs).where(fs.c.as_of == AS_OF)
        ).scalar_one()
        days = conn.execute(sa.select(fs.c.as_of).distinct()).scalars().all()
    assert n == 67
    # The only other days stored are the walk-forward layer's month-end training snapshots,
    # whole days (every partition: the layer is the same whichever partition is scored).
    cfg = load_detect_config(settings.models_dir / "detectors.yaml")
    cutoff = retrain_cutoff(AS_OF, cfg.retrain_every)
    training = set(month_end_days(cutoff, cfg.horizon_days, cfg.lookback_days))
    assert set(days) - {AS_OF} <= training
    for day in set(days) - {AS_OF}:
        kinds = {partition_of_type(t) for t in load_features(engine, day)["manager_type"]}
        assert kinds == set(list_partitions(engine, day))
    # The full run then computes the rest and scores the securities rows identically.
    pipeline.score(settings, AS_OF, clock=FULL_CLOCK)
    rows = _stored_scores(engine)
    assert len(rows) == 156
    again = pipeline.score(settings, AS_OF, "securities", clock=PART_CLOCK)
    assert again.managers_scored == 67
    pd.testing.assert_frame_equal(
        _stored_scores(engine).drop(columns=["id", "created_at"]),
        rows.drop(columns=["id", "created_at"]),
    )


def test_a_corrected_type_leaves_no_stale_row_in_a_partition(settings: Settings) -> None:
    """A stored row whose manager is no longer of the partition's type (a type corrected
    since, the other partition not recomputed yet) makes the partition hold one row too many:
    it is not trusted, the partition's features are computed again."""
    engine = open_store(settings.db_url)
    pipeline.score(settings, AS_OF, clock=FULL_CLOCK)
    before = _stored_scores(engine)
    mover = str(load_features(engine, AS_OF, partition="pe_vc").index[0])
    t = feature_snapshots
    with engine.begin() as conn:  # as the row stored while it was a securities manager
        conn.execute(
            t.update().where(t.c.register_no == mover).values(manager_type=TYPE_OF["securities"])
        )
    assert len(load_features(engine, AS_OF, partition="securities")) == 68
    summary = pipeline.score(settings, AS_OF, "securities", clock=PART_CLOCK)
    assert summary.managers_scored == 67
    after = _stored_scores(engine)
    assert after.loc[mover, "created_at"] == FULL_CLOCK.now()  # not scored as securities
    pd.testing.assert_frame_equal(
        after.drop(columns=["id", "created_at"]), before.drop(columns=["id", "created_at"])
    )


def test_an_unknown_partition_is_a_clear_error(bare: Settings) -> None:
    settings = bare
    with pytest.raises(ValueError, match="unknown partition 'hedge'"):
        pipeline.score(settings, AS_OF, "hedge", clock=PART_CLOCK)


def test_a_snapshot_another_task_stored_meanwhile_is_no_failure(
    bare: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The partition score tasks of one run each compute the whole-day month ends their
    walk-forward layer trains on, in parallel on Celery workers: on PostgreSQL the second
    task's insert then meets the first one's committed rows (a unique violation, as CI saw).
    Simulated here: the other task's snapshot is committed just before ours is written, and
    our insert fails as PostgreSQL's constraint makes it fail. The day is still computed,
    the other task's snapshot stands, one row per manager."""
    import watchtower.store.features as store_features_module

    engine = open_store(bare.db_url)
    catalog = load_catalog(bare)
    day = dt.date(2023, 3, 31)
    real = store_features_module.store_features
    raced: list[dt.date] = []

    def other_task_first(
        conn: sa.Connection,
        as_of: dt.date,
        frame: pd.DataFrame,
        version: str,
        *,
        created_at: dt.datetime | None = None,
    ) -> int:
        with engine.begin() as other:  # the other task's transaction, committed first
            real(other, as_of, frame, version, created_at=FULL_CLOCK.now())
        raced.append(as_of)
        raise sa.exc.IntegrityError("INSERT INTO feature_snapshots", {}, Exception("duplicate"))

    monkeypatch.setattr(store_features_module, "store_features", other_task_first)
    frame = features_at(engine, catalog, day, created_at=PART_CLOCK.now())
    assert raced == [day] and len(frame) > 0
    stored = load_features(engine, day)
    assert sorted(stored.index) == sorted(frame.index)  # one row per manager, the other's
    with engine.connect() as conn:
        fs = feature_snapshots
        stamps = (
            conn.execute(sa.select(fs.c.created_at).where(fs.c.as_of == day).distinct())
            .scalars()
            .all()
        )
    assert stamps == [FULL_CLOCK.now()]
