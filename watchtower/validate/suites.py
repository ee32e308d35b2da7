"""Load the expectation suites (``expectations/<source>.json``) and hold the GX context.

A suite is a Great Expectations 1.x ``ExpectationSuite`` saved as JSON. Watchtower reads two
things beyond plain GX from it:

- suite ``meta.watchtower.max_failure_share``: the batch gate. A batch whose share of rows
  failing ``quarantine`` expectations exceeds it is rejected as a whole.
- expectation ``meta.action``, chosen by the consequence of a failure (docs/data-quality.md):
  ``quarantine`` (the row's identity cannot be trusted: failing rows are quarantined; GX
  severity ``critical``), ``flag`` (odd but usable: the row loads and carries a data-quality
  flag on the field, counted; an enum's unknown values are reported as vocabulary drift; GX
  severity ``warning``), ``warn`` (advisory: counted and reported only; ``warning``) or
  ``reject`` (table-level, e.g. a required column: failing rejects the batch).

GX is slow to import and to set up, so the context, the batch definitions and parsed suites
are cached per process.
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import great_expectations as gx
from great_expectations.core.batch_definition import BatchDefinition
from great_expectations.data_context.types.base import ProgressBarsConfig

import watchtower.validate.expectations  # noqa: F401  (registers the custom expectations)
from watchtower._compat.gx_fingerprint import skip_batch_fingerprint
from watchtower.config import ConfigError
from watchtower.contract import SOURCES, Source

Action = Literal["quarantine", "flag", "warn", "reject"]
ACTIONS: tuple[Action, ...] = ("quarantine", "flag", "warn", "reject")
_SEVERITY_OF: dict[Action, str] = {
    "quarantine": "critical",
    "reject": "critical",
    "flag": "warning",
    "warn": "warning",
}
_TABLE_TYPES = {"expect_column_to_exist"}
#: The expectation whose reference set is the known managers (skipped when none is known).
KNOWN_MANAGERS_TYPE = "expect_column_values_to_be_known_register_no"


class SuiteError(ConfigError):
    """A suite file is missing or malformed; the message names the file and the problem."""


@dataclass(frozen=True, eq=False)  # hashed by identity (cache keys)
class SuiteExpectation:
    """One expectation of a suite as configured: GX type, kwargs, Watchtower action."""

    type: str
    kwargs: dict[str, Any]
    action: Action
    config: dict[str, Any]  # the JSON object as stored (type, kwargs, meta, severity)

    @property
    def columns(self) -> tuple[str, ...]:
        """Columns the expectation reads (column, column_A/column_B or column_list)."""
        kw = self.kwargs
        if "column" in kw:
            return (kw["column"],)
        if "column_A" in kw:
            return (kw["column_A"], kw["column_B"])
        return tuple(kw.get("column_list", ()))

    @property
    def table_level(self) -> bool:
        return self.type in _TABLE_TYPES

    @property
    def uses_known_managers(self) -> bool:
        return self.type == KNOWN_MANAGERS_TYPE


@dataclass(frozen=True, eq=False)  # hashed by identity (cache keys)
class Suite:
    """A parsed suite file."""

    name: str
    source: Source
    path: Path
    max_failure_share: float
    expectations: tuple[SuiteExpectation, ...]
    document: dict[str, Any]  # the whole JSON document


def suite_path(expectations_dir: Path, source: Source) -> Path:
    return expectations_dir / f"{source}.json"


def load_suite(expectations_dir: Path, source: Source) -> Suite:
    """Read and check ``expectations_dir/<source>.json`` (cached until the file changes)."""
    path = suite_path(expectations_dir, source)
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError as exc:
        raise SuiteError(f"no expectation suite for {source}: {path} does not exist") from exc
    return _load_suite(path, source, mtime)


@lru_cache(maxsize=32)
def _load_suite(path: Path, source: Source, _mtime: int) -> Suite:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SuiteError(f"{path}: not a readable JSON suite ({exc})") from exc
    try:
        gx.ExpectationSuite(**copy.deepcopy(document))  # GX itself must accept the file
    except Exception as exc:  # GX raises many types for bad configs
        raise SuiteError(f"{path}: Great Expectations rejects the suite: {exc}") from exc
    share = document.get("meta", {}).get("watchtower", {}).get("max_failure_share")
    if not isinstance(share, int | float) or not 0 <= share <= 1:
        raise SuiteError(f"{path}: meta.watchtower.max_failure_share must be a number in [0, 1]")
    expectations = []
    for i, config in enumerate(document.get("expectations", [])):
        action = config.get("meta", {}).get("action")
        if action is None:
            table = config["type"] in _TABLE_TYPES
            action = (
                "reject"
                if table
                else ("warn" if config.get("severity") == "warning" else "quarantine")
            )
        if action not in ACTIONS:
            raise SuiteError(f"{path}: expectation {i} has meta.action {action!r}, not {ACTIONS}")
        if config.get("severity", "critical") != _SEVERITY_OF[action]:
            raise SuiteError(
                f"{path}: expectation {i} ({config['type']}) has action {action} but GX severity "
                f"{config.get('severity')!r}; use {_SEVERITY_OF[action]!r}"
            )
        expectations.append(
            SuiteExpectation(config["type"], dict(config.get("kwargs", {})), action, config)
        )
    return Suite(
        name=str(document.get("name") or source),
        source=source,
        path=path,
        max_failure_share=float(share),
        expectations=tuple(expectations),
        document=document,
    )


def load_suites(expectations_dir: Path) -> dict[Source, Suite]:
    """Every source's suite."""
    return {source: load_suite(expectations_dir, source) for source in SOURCES}


_lock = threading.Lock()


@lru_cache(maxsize=1)
def gx_context() -> Any:
    """The process's ephemeral GX context (progress bars off).

    Also turns off GX's batch fingerprint (an md5 over ``hash_pandas_object`` of the whole
    frame, ~3 s per million rows, used only as a batch marker): the store records the file's
    sha256 already (``watchtower._compat.gx_fingerprint``).
    """
    skip_batch_fingerprint()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def batch_definition(source: Source) -> BatchDefinition[None]:
    """A whole-dataframe batch definition for ``source`` on the cached context."""
    with _lock:
        return _batch_definition(source)


@lru_cache(maxsize=8)
def _batch_definition(source: Source) -> BatchDefinition[None]:
    context = gx_context()
    try:
        datasource = context.data_sources.get("watchtower")
    except Exception:  # not created yet in this process
        datasource = context.data_sources.add_pandas("watchtower")
    asset = datasource.add_dataframe_asset(name=source)
    # A whole-dataframe definition has no partitioner (GX annotates the return unparametrised).
    definition: BatchDefinition[None] = asset.add_batch_definition_whole_dataframe(f"{source}_file")
    return definition


def gx_suite(suite: Suite, expectations: tuple[SuiteExpectation, ...]) -> gx.ExpectationSuite:
    """A GX suite of ``suite``'s name holding only ``expectations`` (cached by their identity)."""
    return _gx_suite(suite, expectations)


@lru_cache(maxsize=64)
def _gx_suite(suite: Suite, expectations: tuple[SuiteExpectation, ...]) -> gx.ExpectationSuite:
    document = {k: v for k, v in suite.document.items() if k != "expectations"}
    configs = []
    for i, e in enumerate(expectations):
        config = copy.deepcopy(e.config)
        # GX does not keep suite order in its results; this meta key pairs them back up.
        config["meta"] = {**config.get("meta", {}), "wt_index": i}
        configs.append(config)
    document["expectations"] = configs
    return gx.ExpectationSuite(**document)
