"""The adapters of ``watchtower._compat``: each one's private access, checked three ways.

1. The installed library lies in the range the adapter was verified for. This test fails
   on an upgrade on purpose: re-run the other tests of this file against the new version
   and, when they pass, widen the adapter's ``SUPPORTED`` (or drop the adapter if the
   library now offers a public way).
2. The adapter gives what the public path gives, on a small input.
3. The fallback works: with the private name missing, or the version outside the range,
   the result is still correct (only slower).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
from packaging.specifiers import SpecifierSet

from watchtower._compat import gx_fingerprint, installed_version, pandas_rows, pyod_numba, verified

ADAPTERS: list[ModuleType] = [pyod_numba, pandas_rows, gx_fingerprint]


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda m: m.__name__)
def test_the_installed_version_is_the_one_the_adapter_was_verified_for(
    adapter: ModuleType,
) -> None:
    distribution, specifier = adapter.SUPPORTED
    installed = installed_version(distribution)
    assert installed is not None, f"{distribution} is not installed"
    assert SpecifierSet(specifier).contains(installed, prereleases=True), (
        f"{distribution} {installed} is outside {specifier}, the range {adapter.__name__} was "
        f"verified for: re-verify it (tests/test_compat.py) and widen its SUPPORTED"
    )
    assert verified(adapter.SUPPORTED)


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda m: m.__name__)
def test_every_adapter_documents_its_private_access(adapter: ModuleType) -> None:
    doc = adapter.__doc__ or ""
    for part in ("Private thing touched", "Why", "Verified for", "Fallback"):
        assert f"**{part}**" in doc, f"{adapter.__name__}: its docstring lacks {part!r}"


def test_verified_refuses_a_version_outside_the_range_or_a_missing_package() -> None:
    assert not verified(("pandas", ">=999"))
    assert not verified(("no-such-distribution-watchtower", ">=0"))


# --------------------------------------------------------------------- pandas_rows

ROWS = [
    ("P1", 1, 2.5, None, "2024-01-31"),
    ("P2", None, float("nan"), True, None),
    ("P3", 3, -1.0, False, "2024-03-31"),
]


@pytest.fixture
def fresh_converter() -> Iterator[None]:
    """The adapter resolves pandas' helper once per process: forget it around the test."""
    pandas_rows._converter.cache_clear()
    yield
    pandas_rows._converter.cache_clear()


def _same_objects(a: np.ndarray, b: np.ndarray) -> bool:
    return (
        a.shape == b.shape
        and a.dtype == b.dtype
        and all(x is y for x, y in zip(a.flat, b.flat, strict=True))
    )


def test_pandas_rows_equals_the_public_path(fresh_converter: None) -> None:
    assert pandas_rows._converter() is not None  # the private helper is in use
    fast = pandas_rows.rows_to_array(ROWS, 5)
    public = pandas_rows.public_rows_to_array(ROWS, 5)
    assert fast.shape == (3, 5) and fast.dtype == object
    assert _same_objects(fast, public)
    assert _same_objects(fast, np.array(ROWS, dtype=object))
    assert pandas_rows.rows_to_array([], 5).shape == (0, 5)


def test_pandas_rows_falls_back_without_the_private_helper(
    fresh_converter: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = importlib.import_module("pandas._libs.lib")
    monkeypatch.delattr(lib, "to_object_array_tuples")
    assert pandas_rows._converter() is None
    assert _same_objects(pandas_rows.rows_to_array(ROWS, 5), np.array(ROWS, dtype=object))


def test_pandas_rows_falls_back_outside_the_verified_range(
    fresh_converter: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pandas_rows, "SUPPORTED", ("pandas", ">=999"))
    assert pandas_rows._converter() is None
    assert _same_objects(pandas_rows.rows_to_array(ROWS, 5), np.array(ROWS, dtype=object))


# ---------------------------------------------------------------------- pyod_numba


def _scores() -> np.ndarray:
    """HBOS and ECOD scores (the two kernels) on a small matrix with ties."""
    from watchtower.detect.detectors import ECODDetector, HBOSDetector

    rng = np.random.default_rng(3)
    X = np.round(rng.normal(size=(200, 4)), 1)
    return np.concatenate(
        [HBOSDetector().fit(X).decision_function(X), ECODDetector().fit(X).decision_function(X)]
    )


@pytest.fixture
def pyod_kernels(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, str], object]:
    """pyod's kernels as pyod compiled them (``njit`` of the same Python function, no cache),
    the adapter idle (its kernels marked done) until the test resets it; monkeypatch restores
    everything after the test."""
    from numba import njit

    plain = {}
    for module_name, name in pyod_numba.KERNELS:
        module = importlib.import_module(module_name)
        plain[module_name, name] = njit(getattr(module, name).py_func)
        monkeypatch.setattr(module, name, plain[module_name, name])
    monkeypatch.setattr(pyod_numba, "_DONE", set(pyod_numba.KERNELS))
    return plain


def test_pyod_numba_scores_equal_pyods_own_kernels(
    pyod_kernels: dict[tuple[str, str], object], monkeypatch: pytest.MonkeyPatch
) -> None:
    public = _scores()  # pyod's own, uncached kernels
    monkeypatch.setattr(pyod_numba, "_DONE", set())
    pyod_numba.use_cached_kernels()
    for (module_name, name), plain in pyod_kernels.items():
        swapped = getattr(importlib.import_module(module_name), name)
        assert swapped is not plain and swapped.py_func is plain.py_func  # type: ignore[attr-defined]
    assert np.array_equal(_scores(), public)


def test_pyod_numba_falls_back_outside_the_verified_range(
    pyod_kernels: dict[tuple[str, str], object], monkeypatch: pytest.MonkeyPatch
) -> None:
    public = _scores()
    monkeypatch.setattr(pyod_numba, "SUPPORTED", ("pyod", ">=999"))
    monkeypatch.setattr(pyod_numba, "_DONE", set())
    pyod_numba.use_cached_kernels()
    for (module_name, name), plain in pyod_kernels.items():
        assert getattr(importlib.import_module(module_name), name) is plain  # left alone
    assert np.array_equal(_scores(), public)


def test_pyod_numba_leaves_a_module_without_the_kernel_alone() -> None:
    module = ModuleType("fake_pyod")
    assert not pyod_numba.cache_kernel(module, "_calculate_outlier_scores")  # missing name
    module.not_a_kernel = len  # type: ignore[attr-defined]
    assert not pyod_numba.cache_kernel(module, "not_a_kernel")  # no numba dispatcher
    assert module.not_a_kernel is len


# ------------------------------------------------------------------ gx_fingerprint


def _batch(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """GX's pandas engine loading ``frame`` as a batch: (its data, its markers)."""
    from great_expectations.core.batch_spec import RuntimeDataBatchSpec
    from great_expectations.execution_engine.pandas_execution_engine import (
        PandasExecutionEngine,
    )

    data, markers = PandasExecutionEngine().get_batch_data_and_markers(
        RuntimeDataBatchSpec(batch_data=frame)
    )
    return data.dataframe, dict(markers)


@pytest.fixture
def gx_engine_module(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """GX's pandas engine module with its own threshold back, restored after the test."""
    module = importlib.import_module("great_expectations.execution_engine.pandas_execution_engine")
    monkeypatch.setattr(module, "HASH_THRESHOLD", 1e9)
    return module


FRAME = pd.DataFrame({"register_no": ["P1", "P2", None], "paid_in": [1.0, None, 3.5]})


def test_gx_fingerprint_skips_only_the_marker(gx_engine_module: ModuleType) -> None:
    public, public_markers = _batch(FRAME)
    assert "pandas_data_fingerprint" in public_markers  # GX as shipped hashes the batch
    assert gx_fingerprint.skip_batch_fingerprint()
    data, markers = _batch(FRAME)
    assert "pandas_data_fingerprint" not in markers
    pd.testing.assert_frame_equal(data, public)  # the same batch, only not hashed


def test_gx_fingerprint_falls_back_outside_the_verified_range(
    gx_engine_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gx_fingerprint, "SUPPORTED", ("great-expectations", ">=999"))
    assert not gx_fingerprint.skip_batch_fingerprint()
    assert gx_engine_module.HASH_THRESHOLD == 1e9  # left as shipped
    data, markers = _batch(FRAME)
    assert "pandas_data_fingerprint" in markers
    pd.testing.assert_frame_equal(data, FRAME)


def test_gx_fingerprint_falls_back_without_the_constant(
    gx_engine_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(gx_engine_module, "HASH_THRESHOLD")
    assert not gx_fingerprint.skip_batch_fingerprint()
    assert not hasattr(gx_engine_module, "HASH_THRESHOLD")  # nothing invented
