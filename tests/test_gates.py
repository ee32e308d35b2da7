"""The development gates stay as strict as they read: the pre-commit hooks run what `make lint`
and `make typecheck` run, mypy is strict on the package, tests, DAGs and bench, ruff checks
complexity and Airflow rules, every warning is an error in pytest but named third-party ones,
and no code is kept from the formatter. Reads the files only: no network, no pre-commit run."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CHECKED = ("watchtower", "tests", "dags", "bench")


def _make_variables(text: str) -> dict[str, str]:
    """The Makefile's simple assignments (``NAME ?= value``, ``NAME := value``, ``NAME =
    value``), each expanded with the ones before it."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Z_]+)\s*(?:\?=|:=|=)\s*(.*)$", line)
        if match:
            out[match[1]] = _expand(match[2].strip(), out)
    return out


def _expand(command: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\((\w+)\)", lambda m: variables[m[1]], command)


def recipe(makefile: str, target: str) -> list[str]:
    """The commands of ``target``'s recipe, variables expanded."""
    variables = _make_variables(makefile)
    lines = makefile.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"^{target}\s*:", line))
    commands = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        commands.append(_expand(line.strip(), variables))
    return commands


def hook_commands(config: dict[str, Any]) -> list[str]:
    """What each local hook runs, in order. A hook given file names would run another command
    than the Makefile's, so every hook must take none."""
    commands = []
    for repo in config["repos"]:
        assert repo["repo"] == "local", "the gate runs the project's own tools, not pinned copies"
        for hook in repo["hooks"]:
            assert hook.get("pass_filenames") is False, f"{hook['id']} would get file names"
            commands.append(" ".join([hook["entry"], *hook.get("args", [])]))
    return commands


def test_pre_commit_runs_what_make_lint_and_typecheck_run() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    expected = recipe(makefile, "lint") + recipe(makefile, "typecheck")
    assert expected == [
        ".venv/bin/ruff check watchtower tests dags bench",
        ".venv/bin/ruff format --check watchtower tests dags bench",
        ".venv/bin/mypy",
    ]
    assert hook_commands(config) == expected


def test_the_comparison_sees_a_drift() -> None:
    makefile = "VENV ?= .venv\nBIN := $(VENV)/bin\n\nlint: x\n\t$(BIN)/ruff check watchtower\n"
    hook = {"id": "r", "entry": ".venv/bin/ruff check", "pass_filenames": False}
    assert recipe(makefile, "lint") == [".venv/bin/ruff check watchtower"]
    assert hook_commands({"repos": [{"repo": "local", "hooks": [hook]}]}) != recipe(
        makefile, "lint"
    )
    given_files = {"id": "r", "entry": ".venv/bin/ruff check watchtower"}
    with pytest.raises(AssertionError, match="file names"):
        hook_commands({"repos": [{"repo": "local", "hooks": [given_files]}]})


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_mypy_is_strict_on_the_package_tests_dags_and_bench(pyproject: dict[str, Any]) -> None:
    mypy = pyproject["tool"]["mypy"]
    assert mypy["strict"] is True
    assert set(mypy["files"]) >= set(CHECKED)
    # no option that turns a part of strict back off
    relaxed = {k for k, v in mypy.items() if k.startswith(("disallow_", "warn_")) and v is False}
    assert not relaxed, relaxed
    assert not any(o.get("ignore_errors") for o in mypy.get("overrides", []))


def test_ruff_checks_complexity_and_airflow_rules(pyproject: dict[str, Any]) -> None:
    lint = pyproject["tool"]["ruff"]["lint"]
    assert {"C90", "AIR"} <= set(lint["select"])
    assert lint["mccabe"]["max-complexity"] <= 10
    ignored = set(lint.get("ignore", [])) | {
        code for codes in lint.get("per-file-ignores", {}).values() for code in codes
    }
    assert not {c for c in ignored if c.startswith(("C90", "AIR"))}, ignored


def test_every_warning_is_an_error_but_named_third_party_ones(pyproject: dict[str, Any]) -> None:
    filters = pyproject["tool"]["pytest"]["ini_options"]["filterwarnings"]
    assert filters[0] == "error"
    for entry in filters[1:]:
        action, message, category, module = (entry.split(":") + ["", "", "", ""])[:4]
        assert action == "ignore", entry
        assert message and category and module, f"not named (message, category, module): {entry}"
        assert not module.startswith(("watchtower", "tests", "dags", "bench")), entry


def test_no_code_is_kept_from_the_formatter() -> None:
    kept = [
        f"{path.relative_to(REPO)}:{n}"
        for folder in CHECKED
        for path in sorted((REPO / folder).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if re.search(r"#\s*fmt:\s*(skip|off)", line)
    ]
    assert not kept, kept
