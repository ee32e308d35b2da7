"""docs/architecture.md stays true: every ``watchtower.…`` name it mentions imports, and every
file or folder path it mentions exists."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "architecture.md"
_CODE = re.compile(r"`([^`\s]+)`")


def _names() -> tuple[list[str], list[str]]:
    dotted, paths = [], []
    for token in _CODE.findall(DOC.read_text(encoding="utf-8")):
        if "…" in token:  # the page's own "watchtower.…" placeholder
            continue
        if token.startswith("watchtower.") and "/" not in token:
            dotted.append(token.rstrip("."))
        elif "/" in token and not token.startswith(("http", "-")):
            paths.append(token.rstrip("/"))
    return dotted, paths


def _resolves(name: str) -> bool:
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


def test_every_name_the_architecture_page_mentions_imports() -> None:
    dotted, _ = _names()
    assert len(dotted) > 30  # the page names the flow's functions
    missing = [n for n in dotted if not _resolves(n)]
    assert not missing, f"docs/architecture.md names what does not exist: {missing}"


def test_every_path_the_architecture_page_mentions_exists() -> None:
    _, paths = _names()
    assert len(paths) > 10
    missing = [p for p in paths if not (REPO / p).exists()]
    assert not missing, f"docs/architecture.md points at missing files: {missing}"


def test_the_check_catches_a_wrong_name() -> None:
    assert _resolves("watchtower.pipeline.ingest")
    assert not _resolves("watchtower.pipeline.no_such_step")
    assert not _resolves("watchtower.no_such_module")
