"""Ingestion of landing files in the data contract into the point-in-time store."""

from watchtower.ingest.discover import LandingFile, discover
from watchtower.ingest.loader import (
    FileResult,
    GateOutcome,
    IngestSummary,
    ReadmitResult,
    ingest_dir,
    ingest_file,
    readmit,
)
from watchtower.ingest.parse import ParsedFile, RowFailure, parse_frame
from watchtower.ingest.readers import ReadError, read_raw

__all__ = [
    "FileResult",
    "GateOutcome",
    "IngestSummary",
    "LandingFile",
    "ParsedFile",
    "ReadError",
    "ReadmitResult",
    "RowFailure",
    "discover",
    "ingest_dir",
    "ingest_file",
    "parse_frame",
    "read_raw",
    "readmit",
]
