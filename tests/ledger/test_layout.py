"""The layout rules of the ledger core and the storage adapters, read from their source.

* No module imports a private name (``_x``) from another gencredits module: a name another
  module uses is public.
* psycopg is imported by ``storage/sql/driver.py`` only, and so is SQLAlchemy's private API.
* The core (``gencredits.ledger``) imports no SQLAlchemy and no driver; it names the storage
  package in one place, :func:`gencredits.ledger.store.open_store`.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path

import pytest

import gencredits.ledger
import gencredits.storage

PACKAGES = (gencredits.ledger, gencredits.storage)
DRIVER = "gencredits.storage.sql.driver"
OPEN_STORE = "gencredits.ledger.store"
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 70


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    tree: ast.Module
    lines: int


def _modules() -> list[Module]:
    found = []
    for package in PACKAGES:
        names = [package.__name__]
        names += [
            info.name for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
        ]
        for name in names:
            module = importlib.import_module(name)  # every module imports cleanly
            assert module.__file__ is not None
            path = Path(module.__file__)
            source = path.read_text()
            found.append(Module(name, path, ast.parse(source), len(source.splitlines())))
    return found


MODULES = _modules()


def _imports(module: Module) -> list[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) of every import, relative ones resolved."""
    out: list[tuple[str, str | None, int]] = []
    package = module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            out += [(base, alias.name, node.lineno) for alias in node.names]
    return out


def _top(name: str) -> str:
    return name.partition(".")[0]


def test_the_modules_were_found() -> None:
    names = {m.name for m in MODULES}
    assert {DRIVER, OPEN_STORE, "gencredits.storage.sql.store"} <= names
    assert "gencredits.ledger.memory" in names


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.name)
def test_no_private_name_is_imported_from_another_gencredits_module(module: Module) -> None:
    private = [
        f"line {line}: {source}.{name}" if name else f"line {line}: {source}"
        for source, name, line in _imports(module)
        if _top(source) == "gencredits"
        and source != module.name
        and (
            (name is not None and name.startswith("_"))
            or any(part.startswith("_") and part != "__init__" for part in source.split("."))
        )
    ]
    assert private == []


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.name)
def test_psycopg_and_sqlalchemy_internals_only_in_the_driver_module(module: Module) -> None:
    imports = _imports(module)
    psycopg = [line for source, _name, line in imports if _top(source) == "psycopg"]
    private_sa = [
        line
        for source, name, line in imports
        if _top(source) == "sqlalchemy"
        and (
            (name is not None and name.startswith("_"))
            or any(part.startswith("_") for part in source.split("."))
        )
    ]
    if module.name == DRIVER:
        assert psycopg, "the driver module is where psycopg is used"
        return
    assert psycopg == [], f"{module.name} imports psycopg"
    assert private_sa == [], f"{module.name} imports SQLAlchemy's private names"
    if module.name.startswith("gencredits.storage."):
        # Private attributes (SQLAlchemy's among them) only of the module's own objects.
        foreign = [
            f"line {node.lineno}: .{node.attr}"
            for node in ast.walk(module.tree)
            if isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and not (isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"})
        ]
        assert foreign == [], f"{module.name} reads private attributes"


@pytest.mark.parametrize(
    "module", [m for m in MODULES if m.name.startswith("gencredits.ledger")], ids=lambda m: m.name
)
def test_the_core_names_no_database_code_but_open_store(module: Module) -> None:
    banned = [
        f"line {line}: {source}"
        for source, _name, line in _imports(module)
        if _top(source) in {"sqlalchemy", "psycopg", "alembic"}
        or (source.startswith("gencredits.storage") and module.name != OPEN_STORE)
    ]
    assert banned == []


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.name)
def test_modules_and_functions_stay_small(module: Module) -> None:
    assert module.lines <= MAX_MODULE_LINES
    long = [
        f"{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(module.tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []
