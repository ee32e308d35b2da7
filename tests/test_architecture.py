"""The package's import structure, read from the source (ast; nothing is imported):

- the step layer (``watchtower.pipeline``) is imported only by its callers, the CLI and the
  demo: no area below it imports it back;
- no import cycle between the package's areas (``watchtower.<area>``), counting the imports
  inside functions too (a lazy import is a dependency all the same);
- other libraries' internals only in ``watchtower._compat`` (one adapter per exception, see
  its docstring and ``tests/test_compat.py``): no other module of the package or the DAGs
  imports a private module or name of another library, or assigns onto another library's
  module.
- the step layer and its callers (CLI, DAGs, demo, notebooks) import area packages, never an
  area's module; every package's ``__all__`` resolves; steps are ``run_*`` in ``steps.py``;
- each configuration file is parsed by one module.
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


#: The web layer holds connections for the area queries it calls (a request's transaction),
#: so it may name SQLAlchemy's types; SQL itself (a statement built or executed) it may not.
WEB_SQL = re.compile(
    r"\b(select|insert|update|delete|text|bindparam)\(|\.execute\(|\.exec_driver_sql\("
)
WEB_LAYER = (ROOT / "console" / "app.py",)


def test_no_sql_in_the_web_layer() -> None:
    found = {
        str(path.relative_to(ROOT.parent)): [
            f"{n}: {line.strip()}"
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if WEB_SQL.search(line)
        ]
        for path in WEB_LAYER
    }
    assert {k: v for k, v in found.items() if v} == {}, "query in the area's queries module"
    assert WEB_SQL.search("q = sa.select(alerts)") and WEB_SQL.search("conn.execute(q)")
    assert not WEB_SQL.search("def _scoped_alert(c: _Console, conn: sa.Connection) -> None:")


def test_the_sql_check_sees_sql() -> None:
    assert sql_in("import sqlalchemy as sa\nx = 1\nq = sa.select(t)") == [
        "1: import sqlalchemy as sa",
        "3: q = sa.select(t)",
    ]
    assert sql_in('conn.execute(text("select 1"))') != []
    assert sql_in("echo(terminal_text(name))") == []


# ------------------------------------------------------------------ library internals

#: Where another library's internals may be used: one adapter per exception.
COMPAT = ROOT / "_compat"
DAGS = ROOT.parent / "dags"
#: Top-level names of our own code: the package, and the DAG folder's modules (Airflow puts
#: that folder on the path, hence ``_watchtower_common``).
FIRST_PARTY = {"watchtower"} | {p.stem for p in DAGS.glob("*.py")}


def _private(name: str) -> bool:
    """A ``_name`` component (``__future__``-style dunders are public)."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def internals_in(source: str) -> list[str]:
    """What ``source`` does with other libraries' internals, as ``number: what``: an import of
    a private module or name of a package not ours (``pandas._libs``, ``from sklearn.utils
    import _safe_indexing``), an attribute assigned or deleted on a name bound to another
    library (``pd.x = ...``, ``setattr(np, ...)``, ``delattr``), on a module from
    ``importlib.import_module`` or on a parameter typed ``ModuleType``, or a write to
    ``sys.modules``."""
    tree = ast.parse(source)
    found: list[str] = []
    foreign: set[str] = set()  # local names bound to another library's modules or objects
    for node in ast.walk(tree):
        found.extend(_private_imports(node, foreign))
    for node in ast.walk(tree):
        found.extend(_foreign_writes(node, foreign))
    return found


def _private_imports(node: ast.AST, foreign: set[str]) -> list[str]:
    """A private import in ``node``; names it binds to another library go into ``foreign``."""
    found: list[str] = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] in FIRST_PARTY:
                continue
            foreign.add(alias.asname or alias.name.split(".")[0])
            if any(_private(part) for part in alias.name.split(".")):
                found.append(f"{node.lineno}: import {alias.name}")
    elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
        if node.module.split(".")[0] in FIRST_PARTY:
            return found
        for alias in node.names:
            foreign.add(alias.asname or alias.name)
            dotted = f"{node.module}.{alias.name}"
            if any(_private(part) for part in dotted.split(".")):
                found.append(f"{node.lineno}: from {node.module} import {alias.name}")
    else:
        foreign.update(_modules_bound(node))
    return found


def _modules_bound(node: ast.AST) -> list[str]:
    """Names ``node`` binds to a module not imported by name: ``x = import_module(...)``, or a
    parameter typed ``ModuleType`` (a module handed in: whose is not known, count it)."""
    if (
        isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Call)
        and _imports_a_module(node.value)
    ):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.arg) and _annotation(node) in ("ModuleType", "types.ModuleType"):
        return [node.arg]
    return []


def _foreign_writes(node: ast.AST, foreign: set[str]) -> list[str]:
    """Attribute writes onto another library's names, ``setattr``/``delattr`` on them, and
    writes to ``sys.modules`` in ``node``."""
    found: list[str] = []
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign | ast.Delete):
        targets = list(node.targets)
    elif isinstance(node, ast.AugAssign | ast.AnnAssign):
        targets = [node.target]
    for target in targets:
        if isinstance(target, ast.Attribute) and _is_foreign(target.value, foreign):
            found.append(f"{getattr(node, 'lineno', 0)}: assigns {ast.unparse(target)}")
        if isinstance(target, ast.Subscript) and ast.unparse(target.value) == "sys.modules":
            found.append(f"{getattr(node, 'lineno', 0)}: writes {ast.unparse(target)}")
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("setattr", "delattr")
        and node.args
        and _is_foreign(node.args[0], foreign)
    ):
        found.append(f"{node.lineno}: {node.func.id}({ast.unparse(node.args[0])}, ...)")
    return found


def _annotation(arg: ast.arg) -> str:
    return ast.unparse(arg.annotation) if arg.annotation is not None else ""


def _imports_a_module(call: ast.Call) -> bool:
    name = ast.unparse(call.func)
    return name in ("importlib.import_module", "import_module", "__import__")


def _is_foreign(node: ast.expr, foreign: set[str]) -> bool:
    if isinstance(node, ast.Call):
        return _imports_a_module(node)
    return isinstance(node, ast.Name) and node.id in foreign


def test_other_libraries_internals_only_in_the_compat_adapters() -> None:
    found = {
        str(path.relative_to(ROOT.parent)): hits
        for path in sorted([*ROOT.rglob("*.py"), *DAGS.rglob("*.py")])
        if COMPAT not in path.parents
        if (hits := internals_in(path.read_text(encoding="utf-8")))
    }
    assert found == {}, (
        "use the library's public API, or move the access into one adapter module under "
        "watchtower/_compat/ (docstring, SUPPORTED range, public fallback, tests/test_compat.py)"
    )


def test_the_internals_check_sees_internals() -> None:
    assert internals_in("from pandas._libs.lib import to_object_array_tuples") == [
        "1: from pandas._libs.lib import to_object_array_tuples"
    ]
    assert internals_in("import sqlalchemy.engine._row as r") == [
        "1: import sqlalchemy.engine._row"
    ]
    assert internals_in("from sklearn.utils import _safe_indexing") != []
    assert internals_in("import pandas as pd\npd.read_csv = None") == ["2: assigns pd.read_csv"]
    assert internals_in("from pyod.models import hbos\nsetattr(hbos, 'k', 1)") != []
    assert internals_in("import importlib\nm = importlib.import_module('pyod')\nm.k = 1") != []
    assert internals_in("setattr(importlib.import_module('x'), 'k', 1)") != []
    assert internals_in("def swap(m: ModuleType) -> None:\n    setattr(m, 'k', 1)") != []
    assert internals_in("import sys\nsys.modules['pandas'] = None") != []
    # ours, public, and our own objects are fine
    assert internals_in("from __future__ import annotations") == []
    assert internals_in("from watchtower.features._history import History") == []
    assert internals_in("from _watchtower_common import load_settings") == []
    assert internals_in("from . import _spec") == []
    assert internals_in("import numpy as np\nw = World()\nsetattr(w, 'a', np.zeros(1))") == []
    # the rule has teeth: the adapters are exactly what it refuses elsewhere
    for adapter in sorted(COMPAT.glob("*.py")):
        if adapter.name != "__init__.py":
            assert internals_in(adapter.read_text(encoding="utf-8")) != [], adapter.name


# --- one step layer: callers import area packages, areas export run_* steps ----------------

#: The modules that call the areas (the step layer and its callers, the console scripts):
#: they import an area's package (``from watchtower.detect import run_scoring``), never one of
#: its modules, so an area may rearrange its files without its callers noticing.
PACKAGE_ONLY = (
    ROOT / "pipeline.py",
    ROOT / "demo.py",
    ROOT / "digest" / "demo.py",
    *sorted((ROOT / "cli").rglob("*.py")),
    *sorted((ROOT.parent / "dags").glob("*.py")),
    *sorted((ROOT.parent / "notebooks").glob("*.py")),
    *sorted((ROOT.parent / "notebooks").glob("*.ipynb")),
)
#: The area packages: every folder of watchtower/ with an __init__.py.
AREAS = sorted(
    f"watchtower.{p.parent.name}" for p in ROOT.glob("*/__init__.py") if p.parent.name != "cli"
)
#: Areas whose steps live in another module than ``<area>/steps.py``, and why.
STEP_MODULES = {
    # fetch is one private module (the AMAC client, its pages and their resumable writing)
    "watchtower.fetch": "watchtower.fetch._amac",
}


def _python_of(path: Path) -> list[tuple[int, str]]:
    """(first line, source) of each piece of Python in ``path``: the file, or a notebook's
    code cells (line numbers counted through the notebook's cells)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".ipynb":
        return [(1, text)]
    import json

    pieces: list[tuple[int, str]] = []
    line = 1
    for cell in json.loads(text)["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code":
            pieces.append((line, source))
        line += source.count("\n") + 1
    return pieces


def submodule_imports(source: str, own_area: str | None = None, first: int = 1) -> list[str]:
    """``line: module (use package)`` for each import of an area's submodule in ``source``,
    but those of ``own_area`` (a module of an area may use its siblings)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
            names += [
                f"{node.module}.{a.name}"
                for a in node.names
                if f"{node.module}.{a.name}" in MODULES
            ]
        for name in names:
            package = area(name)
            if name != package and package in AREAS and package != own_area:
                found.append(f"{first + node.lineno - 1}: {name} (import from {package})")
    return found


def test_callers_import_area_packages_only() -> None:
    found: dict[str, list[str]] = {}
    for path in PACKAGE_ONLY:
        rel = path.relative_to(ROOT.parent)
        own = (
            f"watchtower.{rel.parts[1]}"
            if rel.parts[0] == "watchtower" and len(rel.parts) > 2
            else None
        )
        hits = [h for first, src in _python_of(path) for h in submodule_imports(src, own, first)]
        if hits:
            found[str(rel)] = hits
    assert found == {}, "import from the area's package; export the name there if it is missing"


def test_the_package_import_check_sees_submodules() -> None:
    src = (
        "import os\n"
        "from watchtower.detect.steps import run_scoring\n"
        "from watchtower.store import alerts\n"
    )
    assert submodule_imports(src) == [
        "2: watchtower.detect.steps (import from watchtower.detect)",
        "3: watchtower.store.alerts (import from watchtower.store)",
    ]
    assert submodule_imports("from watchtower.digest.outbox import x", "watchtower.digest") == []
    assert (
        submodule_imports(
            "from watchtower.detect import run_scoring\nfrom watchtower import pipeline"
        )
        == []
    )
    nb = ROOT.parent / "notebooks" / "retrain.ipynb"
    assert any("from watchtower.detect import" in src for _, src in _python_of(nb))


def _exports(package: str) -> dict[str, object]:
    module = importlib.import_module(package)
    names = getattr(module, "__all__", None)
    assert names is not None, f"{package} has no __all__: list what it exports"
    missing = [n for n in names if not hasattr(module, n)]
    assert missing == [], f"{package}.__all__ names {missing}, which it does not define"
    return {n: getattr(module, n) for n in names}


def test_every_area_package_exports_what_it_lists() -> None:
    assert len(AREAS) >= 10
    for package in [*AREAS, "watchtower.cli"]:
        _exports(package)


def test_every_step_is_run_something_in_the_steps_module() -> None:
    import inspect

    wrong: list[str] = []
    for package in AREAS:
        steps = STEP_MODULES.get(package, f"{package}.steps")
        exported = {n: o for n, o in _exports(package).items() if inspect.isfunction(o)}
        for name, fn in exported.items():
            if name.startswith("run_") and fn.__module__ != steps:
                wrong.append(f"{package}.{name} is defined in {fn.__module__}, not {steps}")
            if (
                fn.__module__ == steps
                and not name.startswith("run_")
                and package not in STEP_MODULES
            ):
                wrong.append(
                    f"{package}.{name}: a step is named run_<what>; a helper lives elsewhere"
                )
        if steps in MODULES:
            module = importlib.import_module(steps)
            hidden = [
                n
                for n, o in vars(module).items()
                if n.startswith("run_")
                and inspect.isfunction(o)
                and o.__module__ == steps
                and n not in exported
            ]
            wrong += [f"{steps}.{n} is not exported by {package}" for n in hidden]
    assert wrong == []
    # the scheme holds where it matters: the areas the step layer calls have their steps
    for package, step in [
        ("watchtower.ingest", "run_ingest"),
        ("watchtower.detect", "run_scoring"),
        ("watchtower.warn", "run_warn"),
        ("watchtower.digest", "run_send"),
    ]:
        assert step in _exports(package)


# --- one reader per configuration file ---------------------------------------------------

#: The module reading each configuration file of models/, features/ and expectations/ (YAML
#: or JSON parsed there and nowhere else); everyone else calls its loader.
CONFIG_READERS = {
    "watchtower.detect.config": "models/detectors.yaml",
    "watchtower.warn.policy": "models/tiers.yaml; models/rules.yaml (read_rule_file, for "
    "the rule engine and the floors); the YAML of models/service_levels.yaml (read_yaml_file, "
    "validated by watchtower.warn.service.load_service_levels)",
    "watchtower.warn.routing": "models/subscriptions.yaml",
    "watchtower.features.catalog": "features/*.yaml",
    "watchtower.ingest.aliases": "expectations/aliases.yaml",
    "watchtower.validate.suites": "expectations/<source>.json",
}
#: Modules parsing data (landing files, fetched pages, stored JSON), not configuration.
DATA_PARSERS = {
    "watchtower.features._history",
    "watchtower.fetch._amac",
    "watchtower.digest.webhook",  # a webhook's answer (a robot's errcode)
    "watchtower.evaluate.labels",  # a synthetic world's _truth/family.json
    "watchtower.ingest.parse",
    "watchtower.ingest.readers",
    "watchtower.ingest.shapes",
}
LOADS = re.compile(r"\b(yaml\.(safe_)?load|json\.loads?)\(")


def test_each_configuration_file_has_one_reader() -> None:
    readers = {
        name
        for name, path in MODULES.items()
        if not name.startswith("watchtower.synth")  # writes landing files, reads none
        and LOADS.search(path.read_text(encoding="utf-8"))
    }
    assert readers - DATA_PARSERS == set(CONFIG_READERS), (
        "read a configuration file through its loader (CONFIG_READERS), not a second parse"
    )
    assert LOADS.search("data = yaml.safe_load(text)") and LOADS.search("json.loads(s)")
