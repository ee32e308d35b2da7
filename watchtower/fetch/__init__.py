"""Fetch public-disclosure data into a landing folder (``watchtower fetch ...``).

:func:`run_fetch` is the step the CLI and an Airflow task both call: it writes the AMAC list
pages and detail pages, byte for byte as received, under ``OUT_DIR/<fetch-date>/`` and
resumes an interrupted run of the same date.
"""

from __future__ import annotations

from watchtower.fetch._amac import (
    DEFAULT_BASE_URL,
    DEFAULT_WHAT,
    USER_AGENT,
    WHAT_CHOICES,
    AmacQuery,
    FetchConfigError,
    FetchError,
    FetchOptions,
    FetchSummary,
    ProgressBar,
    ProgressFactory,
    QueryResult,
    RateLimiter,
    SystemTimer,
    Timer,
    build_queries,
    make_client,
    page_envelope,
    parse_retry_after,
    run_fetch,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_WHAT",
    "USER_AGENT",
    "WHAT_CHOICES",
    "AmacQuery",
    "FetchConfigError",
    "FetchError",
    "FetchOptions",
    "FetchSummary",
    "ProgressBar",
    "ProgressFactory",
    "QueryResult",
    "RateLimiter",
    "SystemTimer",
    "Timer",
    "build_queries",
    "make_client",
    "page_envelope",
    "parse_retry_after",
    "run_fetch",
]
