"""Shared fixtures: an injectable clock and a real, throw-away PostgreSQL database.

``postgres_url`` creates a database with a unique name on 127.0.0.1:5432 (user postgres),
yields a ``postgresql+psycopg://`` URL and drops it afterwards, so parallel runs (xdist
workers, several people) never collide.  When the server is unreachable the test is
skipped, unless ``CI=true``: then it fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.pg import create_pg_database, drop_pg_database, pg_url

from gencredits.clock import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    """A clock that stands still until the test moves it (starts 2026-01-01T00:00Z)."""
    return ManualClock()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, uniquely named PostgreSQL database, dropped after the test."""
    name = create_pg_database()
    try:
        yield pg_url(name)
    finally:
        drop_pg_database(name)


STORES = ["memory", "sqlite", "postgresql", "sqlite+group-commit", "postgresql+group-commit"]


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    """Which store the contract suite runs on (``+group-commit``: writes batched)."""
    kind: str = request.param
    return kind


@pytest.fixture
def store_url(store_kind: str, request: pytest.FixtureRequest, tmp_path: object) -> str | None:
    """The database URL of the store under test (``None``: in memory)."""
    if store_kind == "memory":
        return None
    if store_kind.startswith("sqlite"):
        return f"sqlite:///{tmp_path}/ledger.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(store_kind: str, store_url: str | None) -> Iterator[Any]:
    """A fresh ledger store, migrated to head: memory, SQLite file, real PostgreSQL, and the
    two SQL stores behind group commit."""
    from gencredits.ledger import MemoryStore
    from gencredits.storage.sql.batch import GroupCommitStore
    from gencredits.storage.sql.engine import make_engine, upgrade
    from gencredits.storage.sql.store import SqlStore

    if store_url is None:
        yield MemoryStore()
        return
    engine = make_engine(store_url)
    upgrade(engine)
    sql_store: Any = SqlStore(engine)
    if store_kind.endswith("+group-commit"):
        sql_store = GroupCommitStore(sql_store)
    try:
        yield sql_store
    finally:
        sql_store.close()


#: A small price list the ledger tests control (bundled catalogs may change under them).
LEDGER_TEST_CATALOG = """
catalog: test-ledger
version: "1"
title: Ledger test prices
generations_max: 4
models:
  img:
    name: img
    modes: [text-to-image]
    price: {flat: 10}
  vid:
    name: vid
    modes: [text-to-video]
    accepts:
      duration: {values: [5, 10]}
    price:
      table:
        by: [duration]
        rows: {5: 100, 10: 200}
"""


@pytest.fixture
def ledger_catalogs() -> Any:
    """A CatalogSet with the one ``test-ledger`` catalog: img = 10/generation, vid = 100 or 200."""
    from gencredits.pricing import CatalogSet, parse_catalog

    return CatalogSet([parse_catalog(LEDGER_TEST_CATALOG, "test-ledger")])


@pytest.fixture
def billing(store: Any, clock: ManualClock, ledger_catalogs: Any) -> Any:
    """The billing service on each store, with the manual clock and the test catalog."""
    from gencredits.billing import Billing

    return Billing(store, ledger_catalogs, clock)
