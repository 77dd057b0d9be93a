"""The shape of the house, checked: small modules and functions, one-way imports.

Read from the source with ``ast`` (nothing is imported), so a new module is checked the day it
lands.  The rules and why are in docs/architecture.md.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "gencredits"
MODULE_LINES_MAX = 600
FUNCTION_LINES_MAX = 70


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


def _name(path: Path) -> str:
    return ".".join(path.relative_to(SRC.parent).with_suffix("").parts)


def _imports(tree: ast.AST, module: str) -> Iterator[tuple[str, str]]:
    """(module imported, name imported or '') for every import, relative ones resolved."""
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ""
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base]) if base else ".".join(parts)
            for alias in node.names:
                yield base, alias.name


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_module_is_small(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MODULE_LINES_MAX, f"{_name(path)} has {lines} lines"


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_functions_are_short(path: Path) -> None:
    tree = ast.parse(path.read_text())
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines, line {node.lineno})"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > FUNCTION_LINES_MAX
    ]
    assert not long, f"{_name(path)}: {long}"


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_no_private_names_cross_modules(path: Path) -> None:
    module = _name(path)
    tree = ast.parse(path.read_text())
    private = [
        f"{name} from {source}"
        for source, name in _imports(tree, module)
        if source.startswith("gencredits") and name.startswith("_") and name != "__version__"
    ]
    assert not private, f"{module} imports private names: {private}"


FORBIDDEN_BELOW = ("fastapi", "starlette", "httpx", "typer", "psycopg", "sqlalchemy")


def _checked_layer(path: Path) -> bool:
    return _name(path).startswith(
        ("gencredits.billing", "gencredits.ledger", "gencredits.plans", "gencredits.pricing")
    )


@pytest.mark.parametrize("path", [p for p in _modules() if _checked_layer(p)], ids=_name)
def test_core_and_billing_import_no_framework_driver_or_storage(path: Path) -> None:
    """billing/, ledger/ and pricing/ never import a web framework, a client library, a
    database library or the storage package.  The one exception: the port's ``open_store``
    (gencredits.ledger.store) names the SQL adapter inside the function that opens it."""
    module = _name(path)
    imported = {source for source, _ in _imports(ast.parse(path.read_text()), module)}
    bad = sorted(s for s in imported if s.split(".")[0] in FORBIDDEN_BELOW)
    if module != "gencredits.ledger.store":
        bad += sorted(s for s in imported if s.startswith("gencredits.storage"))
    assert not bad, f"{module} imports {bad}"
