"""Shared constants are defined once, in watchtower/contract.py, and the others are it."""

from __future__ import annotations

from typing import get_args

from watchtower import contract
from watchtower.contract import (
    KNOWN_FROM,
    MANAGER_TYPES,
    META_COLUMNS,
    PARTITION_SLUGS,
    PARTITIONS,
    SNAPSHOT_SOURCES,
    SOURCES,
    UNKNOWN_PARTITION,
)


def test_sources_are_the_source_type_in_order() -> None:
    assert get_args(contract.Source) == SOURCES
    assert SOURCES[0] == "managers" and SOURCES[-1] == "incidents"
    assert set(contract.FIELDS) == set(SOURCES) == set(KNOWN_FROM) == set(contract.KEYS)
    assert SNAPSHOT_SOURCES == (
        "managers",
        "manager_details",
        "funds",
        "fund_details",
        "cancellations",
    )
    assert set(contract.PUBLIC_SOURCES) <= set(SOURCES)


def test_partitions_are_the_manager_types() -> None:
    assert tuple(PARTITIONS) == MANAGER_TYPES
    assert PARTITION_SLUGS == ("securities", "pe_vc", "asset_allocation", "other", "unknown")
    assert PARTITION_SLUGS[-1] == UNKNOWN_PARTITION


def test_the_other_modules_use_the_contract_constants() -> None:
    from watchtower import features
    from watchtower.detect import model
    from watchtower.features import _history, engine
    from watchtower.store import features as stored

    assert features.PARTITIONS is PARTITIONS and vars(_history)["PARTITIONS"] is PARTITIONS
    assert features.UNKNOWN_PARTITION == UNKNOWN_PARTITION
    assert META_COLUMNS == ("manager_name", "manager_type", "province", "city")
    assert features.META_COLUMNS is META_COLUMNS and engine.META_COLUMNS is META_COLUMNS
    assert model.META_COLUMNS is META_COLUMNS and stored.SNAPSHOT_META is META_COLUMNS
