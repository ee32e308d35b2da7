"""Ingestion of landing files in the data contract into the point-in-time store.

The steps (:mod:`watchtower.ingest.steps`): :func:`run_ingest` loads a landing folder,
:func:`run_readmit` loads refused batches again after a fix.
"""

from watchtower.ingest.aliases import Aliases, load_aliases
from watchtower.ingest.discover import LandingFile, discover
from watchtower.ingest.parse import ParsedFile, RowFailure, parse_frame
from watchtower.ingest.readers import ReadError, ReadLimits, read_raw
from watchtower.ingest.steps import (
    FileResult,
    GateOutcome,
    IngestSummary,
    ReadmitResult,
    run_ingest,
    run_readmit,
)

__all__ = [
    "Aliases",
    "FileResult",
    "GateOutcome",
    "IngestSummary",
    "LandingFile",
    "ParsedFile",
    "ReadError",
    "ReadLimits",
    "ReadmitResult",
    "RowFailure",
    "discover",
    "load_aliases",
    "parse_frame",
    "read_raw",
    "run_ingest",
    "run_readmit",
]
