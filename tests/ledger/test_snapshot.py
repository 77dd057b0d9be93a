"""A reader is ONE snapshot on both databases (issue 17), and a writer after it is not.

PostgreSQL: the reader's transaction is ``REPEATABLE READ READ ONLY`` and the connection
goes back to the pool as it came (the next writer runs at read committed again).  SQLite:
a deferred ``BEGIN`` whose WAL snapshot, taken at its first read, outlives a writer's commit.
The same holds for :func:`read_transaction`, which the API keys and /metrics read through.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from gencredits.ledger.model import Wallet
from gencredits.storage.sql.engine import make_engine, read_transaction, upgrade
from gencredits.storage.sql.store import SqlStore

NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/snapshot.db"
    else:
        url = request.getfixturevalue("postgres_url")
    yield from _store(url)


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[SqlStore]:
    yield from _store(postgres_url)


def _store(url: str) -> Iterator[SqlStore]:
    engine = make_engine(url)
    upgrade(engine)
    s = SqlStore(engine)
    with s.unit_of_work() as uow:
        uow.insert_wallet(Wallet("w", "user", 0, None, 0, 0, NOW, NOW))
    yield s
    s.close()


def _set_held(store: SqlStore, held: int) -> None:
    with store.unit_of_work() as uow:
        wallet = uow.lock_wallet("w")
        assert wallet is not None
        uow.update_wallet(replace(wallet, held=held))


def test_a_reader_keeps_its_snapshot_while_a_writer_commits(store: SqlStore) -> None:
    with store.reader() as reader:
        first = reader.get_wallet("w")
        _set_held(store, 7)  # commits while the reader is open
        again = reader.get_wallet("w")
        listed = reader.list_wallets(after_id=None, limit=10)
    assert first is not None and again is not None
    assert (first.held, again.held, [w.held for w in listed]) == (0, 0, [0])
    with store.reader() as reader:
        later = reader.get_wallet("w")
    assert later is not None and later.held == 7


def test_read_transaction_keeps_its_snapshot_too(store: SqlStore) -> None:
    held = sa.text("SELECT held FROM ledger_wallets WHERE id = 'w'")
    with read_transaction(store.engine) as conn:
        first = conn.execute(held).scalar()
        _set_held(store, 5)
        again = conn.execute(held).scalar()
    assert (first, again) == (0, 0)
    with read_transaction(store.engine) as conn:  # a new snapshot sees the commit
        assert conn.execute(held).scalar() == 5


def test_postgresql_reads_are_repeatable_read_read_only_and_writes_are_not(
    pg_store: SqlStore,
) -> None:
    store = pg_store
    show = (
        "SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only')"
    )
    for _ in range(2):  # the second time on a connection the pool got back from a reader
        with store.reader() as reader:
            assert tuple(reader.c.execute(sa.text(show)).one()) == ("repeatable read", "on")
        with read_transaction(store.engine) as conn:
            assert tuple(conn.execute(sa.text(show)).one()) == ("repeatable read", "on")
        with store.unit_of_work() as uow:
            assert tuple(uow.c.execute(sa.text(show)).one()) == ("read committed", "off")
