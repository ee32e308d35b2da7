"""The shared conversions: a finite number from anything, plain JSON, CSV cell neutralising."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from watchtower.text import FORMULA_PREFIXES, neutralize_cell
from watchtower.values import finite_float, plain_json


@pytest.mark.parametrize(
    ("value", "number"),
    [
        (1, 1.0),
        ("2.5", 2.5),
        (np.float32(0.5), 0.5),
        (np.int64(3), 3.0),
        (Decimal("1.5"), 1.5),
        (None, None),
        (math.nan, None),
        (math.inf, None),
        (-math.inf, None),
        (pd.NA, None),
        ("x", None),
        ([1], None),
    ],
)
def test_finite_float(value: object, number: float | None) -> None:
    out = finite_float(value)
    assert out == number and (out is None or type(out) is float)


def test_plain_json_is_json() -> None:
    @dataclasses.dataclass
    class Summary:
        day: dt.date
        path: Path
        counts: dict[int, float]
        tags: frozenset[str]
        other: object

    value = Summary(dt.date(2024, 6, 30), Path("/a/b"), {1: math.nan, 2: 0.5}, frozenset("x"), 1j)
    out = plain_json(value)
    assert out == {
        "day": "2024-06-30",
        "path": "/a/b",
        "counts": {"1": None, "2": 0.5},
        "tags": ["x"],
        "other": "1j",
    }
    assert json.loads(json.dumps(out, allow_nan=False)) == out


def test_neutralize_cell_owns_the_formula_prefixes() -> None:
    for prefix in FORMULA_PREFIXES:
        cell = neutralize_cell(prefix + "1")
        assert isinstance(cell, str) and not cell.startswith(FORMULA_PREFIXES)
        assert neutralize_cell(cell) == cell  # idempotent
    assert neutralize_cell(3) == 3 and neutralize_cell(None) is None
