"""Quarantine for the few places Watchtower relies on another library's internals.

The rule (checked by ``tests/test_architecture.py``): no module outside this package imports
a private module or name of a third-party library, or assigns attributes onto a third-party
module. When no public API is as fast, the exception lives here, one module per exception,
each with:

- a docstring saying which private thing it touches and why;
- ``SUPPORTED = (distribution, specifier)``: the versions it was verified for;
- a fallback to the public path, correct but slower, used when the installed version is
  outside that range or the private name is missing.

``tests/test_compat.py`` fails when an upgrade leaves a range: re-verify the adapter against
the new version (its tests compare it with the public path), then widen ``SUPPORTED``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

__all__ = ["installed_version", "verified"]


def installed_version(distribution: str) -> Version | None:
    """The installed version of ``distribution``; None when absent or unparsable."""
    try:
        return Version(version(distribution))
    except (PackageNotFoundError, InvalidVersion):
        return None


def verified(supported: tuple[str, str]) -> bool:
    """Whether the installed ``supported[0]`` lies in the range ``supported[1]`` an adapter
    was verified for (pre-releases included: a release candidate inside the range counts)."""
    distribution, specifier = supported
    installed = installed_version(distribution)
    return installed is not None and SpecifierSet(specifier).contains(installed, prereleases=True)
