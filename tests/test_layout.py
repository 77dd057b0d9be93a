"""The shape of the house, checked: small modules and functions, one-way imports.

Read from the source with ``ast``, so a new module is checked the day it lands (and each
module is imported once, to show it imports cleanly).  The rules and why are in
docs/architecture.md:

* No module is over 600 lines and no function over 70.
* No module imports a private name (``_x``) from another gencredits module, nor a private
  module (``pkg._x``) of another package: a name another module uses is public.
* ``billing/``, ``ledger/`` and ``pricing/`` import no web framework, client library,
  database library or the storage package; the port's ``open_store`` is the one exception.
* psycopg is imported by ``storage/sql/driver.py`` only, and so is SQLAlchemy's private
  API; storage modules read private attributes only of their own objects.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "gencredits"
MODULE_LINES_MAX = 600
FUNCTION_LINES_MAX = 70
DRIVER = "gencredits.storage.sql.driver"
OPEN_STORE = "gencredits.ledger.store"
FORBIDDEN_BELOW = ("fastapi", "starlette", "httpx", "typer", "psycopg", "sqlalchemy", "alembic")


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


def _name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(path: Path) -> str:
    name = _name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _imports(path: Path) -> Iterator[tuple[str, str, int]]:
    """(module imported, name imported or '', line) for every import, relative ones resolved."""
    package = _package(path)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, "", node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            for alias in node.names:
                yield base, alias.name, node.lineno


def _top(name: str) -> str:
    return name.partition(".")[0]


def test_the_modules_were_found() -> None:
    names = {_name(p) for p in _modules()}
    assert {DRIVER, OPEN_STORE, "gencredits.storage.sql.store", "gencredits.ledger.memory"} <= (
        names
    )


@pytest.mark.parametrize("path", [p for p in _modules() if p.stem != "__main__"], ids=_name)
def test_module_imports_cleanly(path: Path) -> None:
    """Every module but ``__main__`` (which runs the CLI) imports on its own."""
    assert importlib.import_module(_name(path)).__file__ == str(path)


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


def _private_module_elsewhere(source: str, package: str) -> bool:
    """``source`` is a private module (``pkg._x``) of a package other than ``package``."""
    parts = source.split(".")
    private = [i for i, part in enumerate(parts) if part.startswith("_") and part != "__init__"]
    return bool(private) and ".".join(parts[: private[0]]) != package


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_no_private_names_cross_modules(path: Path) -> None:
    module, package = _name(path), _package(path)
    private = [
        f"line {line}: {name} from {source}" if name else f"line {line}: {source}"
        for source, name, line in _imports(path)
        if _top(source) == "gencredits"
        and source != module
        and (
            (name.startswith("_") and name != "__version__")
            or _private_module_elsewhere(source, package)
        )
    ]
    assert not private, f"{module} imports private names: {private}"


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
    imported = {source for source, _, _ in _imports(path)}
    bad = sorted(s for s in imported if _top(s) in FORBIDDEN_BELOW)
    if module != OPEN_STORE:
        bad += sorted(s for s in imported if s.startswith("gencredits.storage"))
    assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_psycopg_and_sqlalchemy_internals_only_in_the_driver_module(path: Path) -> None:
    module = _name(path)
    imports = list(_imports(path))
    psycopg = [line for source, _, line in imports if _top(source) == "psycopg"]
    private_sa = [
        line
        for source, name, line in imports
        if _top(source) == "sqlalchemy"
        and (name.startswith("_") or any(part.startswith("_") for part in source.split(".")))
    ]
    if module == DRIVER:
        assert psycopg, "the driver module is where psycopg is used"
        return
    assert psycopg == [], f"{module} imports psycopg"
    assert private_sa == [], f"{module} imports SQLAlchemy's private names"
    if module.startswith("gencredits.storage."):
        # Private attributes (SQLAlchemy's among them) only of the module's own objects.
        foreign = [
            f"line {node.lineno}: .{node.attr}"
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and not (isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"})
        ]
        assert foreign == [], f"{module} reads private attributes"
