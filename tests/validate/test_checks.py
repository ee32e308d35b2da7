"""Each row-level check is one definition: the GX expectation and the quarantine mask come from
it (no GX run here; tests/validate/test_gate.py runs them through GX)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from great_expectations.expectations.expectation import (
    ColumnMapExpectation,
    ColumnPairMapExpectation,
)
from great_expectations.expectations.registry import get_expectation_impl

from watchtower.validate import expectations
from watchtower.validate.checks import known_managers
from watchtower.validate.rows import CHECKS, ColumnCheck, GxCheck, PairCheck, check_for

SUITES = Path(__file__).resolve().parents[2] / "expectations"
TABLE_LEVEL = {"expect_column_to_exist"}


def test_every_row_level_type_of_the_suites_has_one_check() -> None:
    used = {
        e["type"]
        for path in SUITES.glob("*.json")
        for e in json.loads(path.read_text(encoding="utf-8"))["expectations"]
    }
    assert used - TABLE_LEVEL <= set(CHECKS)
    assert all(CHECKS[t].type == t for t in CHECKS)


def test_custom_gx_expectations_are_built_from_their_checks() -> None:
    custom = [c for c in CHECKS.values() if isinstance(c, ColumnCheck | PairCheck)]
    assert len(custom) == len(expectations.__all__) - 1  # known_managers is no expectation
    for check in custom:
        cls = get_expectation_impl(check.type)
        assert cls.__module__ == expectations.__name__ and cls.__doc__ == check.doc
        if isinstance(check, ColumnCheck):
            assert issubclass(cls, ColumnMapExpectation)
            assert cls.map_metric == check.metric
            instance = cls(column="x")
            assert cls.success_keys == ("mostly", *check.params)
            for name, (_, default) in check.params.items():
                assert getattr(instance, name) == default
        else:
            assert issubclass(cls, ColumnPairMapExpectation)
            assert cls.map_metric == check.metric
            pair = cls(column_A="a", column_B="b")
            # a field of the class built from the check at import, not of GX's base class
            assert pair.ignore_row_if == check.ignore_row_if  # type: ignore[attr-defined]
    builtins = [c for c in CHECKS.values() if isinstance(c, GxCheck)]
    assert {c.type for c in builtins}.isdisjoint(c.type for c in custom)


def test_a_check_fills_its_defaults_for_mask_and_reasons() -> None:
    check = CHECKS["expect_column_values_to_be_safe_text"]
    frame = pd.DataFrame({"name": pd.Series(["a" * 201, "a" * 200, None], dtype="string")})
    assert check.unexpected(frame, {"column": "name"}).tolist() == [True, False, False]
    assert check.unexpected(frame, {"column": "name", "max_length": 300}).tolist() == [False] * 3
    (reason,) = check.reasons(frame, {"column": "name"}, pd.Index([0]))
    assert "(limit 200)" in reason


def test_due_date_pair_skips_rows_with_a_missing_value_by_default() -> None:
    check = CHECKS["expect_column_pair_values_due_date_after_period"]
    frame = pd.DataFrame(
        {
            "period": pd.Series(["2024-05", "2024-05", None], dtype="string"),
            "due": pd.to_datetime(["2024-05-31", "2024-06-30", "2024-01-01"]),
        }
    )
    kw = {"column_A": "period", "column_B": "due"}
    assert check.unexpected(frame, kw).tolist() == [True, False, False]


def test_known_register_no_reads_the_run_s_reference_set() -> None:
    check = CHECKS["expect_column_values_to_be_known_register_no"]
    frame = pd.DataFrame({"register_no": pd.Series(["P1000001", "P1000002"], dtype="string")})
    with pytest.raises(RuntimeError, match="known_managers"):
        check.unexpected(frame, {"column": "register_no"})
    with known_managers(frozenset({"P1000001"})):
        assert check.unexpected(frame, {"column": "register_no"}).tolist() == [False, True]


def test_a_type_without_a_check_names_the_fix() -> None:
    with pytest.raises(NotImplementedError, match=r"no row check in watchtower\.validate\.rows"):
        check_for("expect_column_values_to_match_regex")
