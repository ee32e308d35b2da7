"""Read ``expectations/aliases.yaml``: the header spellings a user declares per source field.

The file is the one place that says under which other headers a landing file may carry a
contract field (docs/data-contract.md, "Headers"). It is checked when read: an unknown source,
an unknown field or a spelling that is not text is an error naming the file, the key and the
fix, so a typo never silently stops a column from being recognised.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from watchtower.config import ConfigError
from watchtower.contract import FIELDS, SOURCES

Aliases = dict[str, dict[str, tuple[str, ...]]]

#: The file shipped with the checkout (``WATCHTOWER_CONFIG_DIR`` may point elsewhere).
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "expectations" / "aliases.yaml"


class AliasError(ConfigError):
    """The aliases file is malformed; the message names the file, the key and the fix."""


def load_aliases(path: Path | None = None) -> Aliases:
    """The aliases declared in ``path`` (default: the checkout's), checked; cached per mtime.

    A missing file means no aliases beyond the contract's own spellings.
    """
    path = path or DEFAULT_PATH
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return {}
    return _load(path, mtime)


@lru_cache(maxsize=8)
def _load(path: Path, _mtime: int) -> Aliases:
    try:
        document: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise AliasError(f"{path}: not readable YAML ({exc})") from exc
    if not isinstance(document, dict):
        raise AliasError(f"{path}: expected a mapping of source -> field -> [headers]")
    out: Aliases = {}
    for source, fields in document.items():
        if source not in SOURCES:
            raise AliasError(f"{path}: unknown source {source!r}; use one of {', '.join(SOURCES)}")
        if not isinstance(fields, dict):
            raise AliasError(f"{path}: {source}: expected a mapping of field -> [headers]")
        names = {f.name for f in FIELDS[source]}
        table: dict[str, tuple[str, ...]] = {}
        for name, spellings in fields.items():
            if name not in names:
                raise AliasError(
                    f"{path}: {source}.{name} is not a field of {source}; fields are: "
                    + ", ".join(sorted(names))
                )
            if isinstance(spellings, str):
                spellings = [spellings]
            if not isinstance(spellings, list) or not all(
                isinstance(s, str | int) for s in spellings
            ):
                raise AliasError(f"{path}: {source}.{name}: expected a list of header texts")
            table[name] = tuple(str(s) for s in spellings)
        out[source] = table
    return out
