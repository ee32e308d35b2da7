"""Point-in-time features: the catalog declared in ``features/`` and the engine computing it.

- :func:`load_catalog` reads and validates ``features/*.yaml`` (a :class:`Catalog`).
- :func:`compute_features` computes every declared feature for every manager as of day D
  from history known by D; :func:`run_features` (the step) computes and stores a day;
  :func:`list_partitions` (a query) names the partitions (manager types present),
  :func:`manager_type_counts` their sizes.
- :func:`read_facts` and :func:`links_between` are the relationship graph of managers as
  known on D (shared people and addresses; :mod:`watchtower.features._graph`), read by the
  ``network`` features and by the manager page's related managers; :func:`network_ties`
  says which links a manager's network features counted (their reasons name the kinds).
- Snapshots are stored by :mod:`watchtower.store.features`.
"""

from watchtower.contract import META_COLUMNS, PARTITIONS, UNKNOWN_PARTITION
from watchtower.features._graph import (
    HUB_MAX,
    KINDS,
    PERSON_LABELS,
    TIED_FEATURES,
    incident_managers,
    latest_snapshots,
    latest_tiers,
    links_between,
    network_ties,
    read_facts,
)
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
    "HUB_MAX",
    "KINDS",
    "META_COLUMNS",
    "PARTITIONS",
    "PERSON_LABELS",
    "TIED_FEATURES",
    "UNKNOWN_PARTITION",
    "Catalog",
    "CatalogError",
    "FeatureSpec",
    "FeatureSummary",
    "compute_features",
    "computed_features",
    "incident_managers",
    "latest_snapshots",
    "latest_tiers",
    "links_between",
    "list_partitions",
    "load_catalog",
    "manager_type_counts",
    "network_ties",
    "parse_catalog",
    "partition_of_type",
    "read_facts",
    "run_features",
]
