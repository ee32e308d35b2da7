"""The package's import structure, read from the source (ast; nothing is imported):

- the step layer (``watchtower.pipeline``) is imported only by its callers, the CLI and the
  demo: no area below it imports it back;
- no import cycle between the package's areas (``watchtower.<area>``), counting the imports
  inside functions too (a lazy import is a dependency all the same).
"""

from __future__ import annotations

import ast
import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path

import watchtower

ROOT = Path(watchtower.__file__).parent
STEP_LAYER = "watchtower.pipeline"
#: Who may call the step layer: the CLI and the demo (a script of steps the CLI runs).
CALLERS = ("watchtower.cli", "watchtower.demo")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def imports_of(name: str, path: Path) -> set[str]:
    """The watchtower modules (or packages) ``name`` imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = importlib.util.resolve_name("." * node.level + base, package)
            for alias in node.names:  # ``from watchtower import pipeline`` imports a module
                full = f"{base}.{alias.name}"
                found.add(full if full in MODULES else base)
    return {m for m in found if m == "watchtower" or m.startswith("watchtower.")}


def area(module: str) -> str:
    """``watchtower.detect.steps`` -> ``watchtower.detect``; top-level modules are their own."""
    return ".".join(module.split(".")[:2])


def area_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {area(m): set() for m in MODULES}
    for name, path in MODULES.items():
        for target in imports_of(name, path):
            if area(target) != area(name):
                graph[area(name)].add(area(target))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = _pop_component(stack, on_stack, node)
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _pop_component(stack: list[str], on_stack: set[str], root: str) -> list[str]:
    """Tarjan's step: the nodes on the stack down to ``root``, one strongly connected
    component, taken off the stack."""
    component: list[str] = []
    while True:
        top = stack.pop()
        on_stack.discard(top)
        component.append(top)
        if top == root:
            return component


def _importers_of(target: str) -> Iterator[str]:
    for name, path in MODULES.items():
        if target in imports_of(name, path):
            yield name


def test_nothing_below_the_step_layer_imports_it() -> None:
    below = [
        m
        for m in _importers_of(STEP_LAYER)
        if not any(m == c or m.startswith(c + ".") for c in CALLERS)
    ]
    assert below == [], f"{below} import {STEP_LAYER} back: pass what they need in instead"


def test_no_import_cycle_between_areas() -> None:
    assert cycles(area_graph()) == []


def test_the_checks_see_what_they_look_for() -> None:
    # the walker resolves every import form, and the cycle finder finds a cycle
    assert "watchtower.pipeline" in imports_of(
        "watchtower.cli.ingest", MODULES["watchtower.cli.ingest"]
    )
    assert "watchtower.store.features" in imports_of(
        "watchtower.features.steps", MODULES["watchtower.features.steps"]
    )
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


#: SQL in a caller of the step layer: an import of SQLAlchemy, a select, raw SQL text, or a
#: statement executed on a connection. ``\btext\(`` leaves ``terminal_text(`` alone.
SQL = re.compile(r"sqlalchemy|\bsa\.|\bselect\(|\btext\(|\.execute\(")
CALLER_DIRS = (ROOT / "cli", ROOT.parent / "dags")


def sql_in(source: str) -> list[str]:
    """The lines of ``source`` with SQL, as ``number: line``."""
    return [
        f"{n}: {line.strip()}" for n, line in enumerate(source.splitlines(), 1) if SQL.search(line)
    ]


def test_no_sql_in_the_cli_or_the_dags() -> None:
    found = {
        str(path.relative_to(ROOT.parent)): hits
        for folder in CALLER_DIRS
        for path in sorted(folder.rglob("*.py"))
        if (hits := sql_in(path.read_text(encoding="utf-8")))
    }
    assert found == {}, "query the store in the area's read functions, through watchtower.pipeline"


def test_the_sql_check_sees_sql() -> None:
    assert sql_in("import sqlalchemy as sa\nx = 1\nq = sa.select(t)") == [
        "1: import sqlalchemy as sa",
        "3: q = sa.select(t)",
    ]
    assert sql_in('conn.execute(text("select 1"))') != []
    assert sql_in("echo(terminal_text(name))") == []
