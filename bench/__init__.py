"""Watchtower's performance benchmark: ``python -m bench`` (``make bench``).

Synthetic worlds at three scales (up to national: 20,000 managers); every pipeline stage and a
floor for it measured in its own process; results in docs/benchmarks.md. See
:mod:`bench.runner` and :mod:`bench.stages`.
"""
