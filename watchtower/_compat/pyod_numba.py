"""pyod's numba kernels, recompiled with numba's on-disk cache.

**Private thing touched**: two module-level functions of pyod, compiled by pyod with
``@njit`` (no ``cache=True``): ``pyod.models.hbos._calculate_outlier_scores`` (a private
name) and ``pyod.utils.stat_models.ecdf_terminate_equals_inplace`` (not part of pyod's
documented API). :func:`use_cached_kernels` replaces each module attribute by the same
Python function (numba's public ``Dispatcher.py_func``) compiled with ``njit(cache=True)``;
pyod looks the kernel up as a module global at each call, so its estimators use the swap.

**Why**: without the cache every new process (each Airflow task, each CLI call) compiles the
kernels again, about 4-5 s for HBOS, ECOD and COPOD together; with it only the first
process of a machine compiles. Same Python function, same argument types, same numba flags:
the machine code and therefore the scores are identical.

**Verified for** :data:`SUPPORTED`. **Fallback** (outside that range, a kernel missing or
not a numba dispatcher, numba unable to cache): pyod's own kernels are left in place; the
scores are the same, each process only compiles again.
"""

from __future__ import annotations

import importlib
import threading
from types import ModuleType

from watchtower._compat import verified

__all__ = ["KERNELS", "SUPPORTED", "cache_kernel", "use_cached_kernels"]

SUPPORTED = ("pyod", ">=3.6,<3.7")

#: pyod's numba kernels as (module, function).
KERNELS: tuple[tuple[str, str], ...] = (
    ("pyod.models.hbos", "_calculate_outlier_scores"),
    ("pyod.utils.stat_models", "ecdf_terminate_equals_inplace"),
)

_DONE: set[tuple[str, str]] = set()
_LOCK = threading.Lock()


def cache_kernel(module: ModuleType, name: str) -> bool:
    """Replace ``module.name`` (a numba dispatcher) by its Python function compiled with
    ``cache=True``. False, and ``module`` untouched, when the name is missing, is not a numba
    dispatcher, or numba has no writable cache location."""
    py_func = getattr(getattr(module, name, None), "py_func", None)
    if py_func is None:
        return False
    try:
        from numba import njit

        cached = njit(cache=True)(py_func)
    except Exception:  # numba cannot cache here (no cache locator): keep pyod's kernel
        return False
    setattr(module, name, cached)
    return True


def use_cached_kernels() -> None:
    """Swap each of :data:`KERNELS` once per process, if the installed pyod was verified."""
    if not verified(SUPPORTED):
        return
    with _LOCK:
        for module_name, name in KERNELS:
            if (module_name, name) in _DONE:
                continue
            _DONE.add((module_name, name))
            cache_kernel(importlib.import_module(module_name), name)
