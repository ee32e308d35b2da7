"""Point-in-time features: the catalog declared in ``features/`` and the engine computing it.

- :func:`load_catalog` reads and validates ``features/*.yaml`` (a :class:`Catalog`).
- :func:`compute_features` computes every declared feature for every manager as of day D
  from history known by D; :func:`run_features` (the step) computes and stores a day;
  :func:`list_partitions` (a query) names the partitions (manager types present),
  :func:`manager_type_counts` their sizes.
- Snapshots are stored by :mod:`watchtower.store.features`.
"""

from watchtower.contract import META_COLUMNS, PARTITIONS, UNKNOWN_PARTITION
from watchtower.features.catalog import (
    CATEGORIES,
    Catalog,
    CatalogError,
    FeatureSpec,
    load_catalog,
    parse_catalog,
)
from watchtower.features.engine import compute_features, computed_features
from watchtower.features.queries import list_partitions, manager_type_counts, partition_of_type
from watchtower.features.steps import FeatureSummary, run_features

__all__ = [
    "CATEGORIES",
    "META_COLUMNS",
    "PARTITIONS",
    "UNKNOWN_PARTITION",
    "Catalog",
    "CatalogError",
    "FeatureSpec",
    "FeatureSummary",
    "compute_features",
    "computed_features",
    "list_partitions",
    "load_catalog",
    "manager_type_counts",
    "parse_catalog",
    "partition_of_type",
    "run_features",
]
