"""Great Expectations' pandas batch fingerprint, turned off.

**Private thing touched**: the module constant
``great_expectations.execution_engine.pandas_execution_engine.HASH_THRESHOLD`` (not part of
GX's documented API): GX fingerprints every in-memory batch smaller than that many bytes (an
md5 over ``pandas.util.hash_pandas_object`` of the whole frame) and stores it only as a
batch marker. :func:`skip_batch_fingerprint` sets it to 0.

**Why**: about 3 s per million rows of every validated file, for a marker nothing reads: the
store records each file's sha256 already. GX offers no setting for it.

**Verified for** :data:`SUPPORTED`. **Fallback** (outside that range, or the constant gone):
GX is left as it is; validation results are the same, each batch is only hashed too.
"""

from __future__ import annotations

from watchtower._compat import verified

__all__ = ["SUPPORTED", "skip_batch_fingerprint"]

SUPPORTED = ("great-expectations", ">=1.24,<1.25")


def skip_batch_fingerprint() -> bool:
    """Turn GX's pandas batch fingerprint off for this process; False when left on (the
    fallback)."""
    if not verified(SUPPORTED):
        return False
    from great_expectations.execution_engine import pandas_execution_engine

    if not isinstance(getattr(pandas_execution_engine, "HASH_THRESHOLD", None), int | float):
        return False
    pandas_execution_engine.HASH_THRESHOLD = 0
    return True
