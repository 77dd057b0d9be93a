"""The ledger contract through pgbouncer in transaction pooling mode: every test of
tests/ledger/test_contract.py, on the group-commit store, each transaction free to land on
another server connection.  ``pooled=True`` turns off what such a pooler cannot carry
(prepared statements, session settings on connect); without it pgbouncer refuses the
connection, which the last test shows.

One database serves the module (migrated once through the pooler); each test starts from
empty tables, as the contract's other stores start from a fresh database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from tests.ledger import test_contract
from tests.pg import create_pg_database, drop_pg_database, pg_url
from tests.pgbouncer import pgbouncer, pooled_url

from gencredits.storage.sql.batch import GroupCommitStore
from gencredits.storage.sql.engine import make_engine, upgrade
from gencredits.storage.sql.store import SqlStore

#: Not run again here: a long run of one query shape, nothing the pooler changes.
LONG = {"test_with_many_grants_the_indexed_collector_takes_exactly_the_documented_order"}
# The contract's tests, collected again here with this module's ``store``.
globals().update(
    {k: v for k, v in vars(test_contract).items() if k.startswith("test_") and k not in LONG}
)

WAIT_S = 2.5


@pytest.fixture(scope="module")
def bounced() -> Iterator[tuple[str, sa.Engine]]:
    """(URL through pgbouncer, a direct engine) of one migrated database."""
    name = create_pg_database()
    try:
        with pgbouncer() as port:
            url = pooled_url(port, name)
            engine = make_engine(url, wait_s=WAIT_S, pooled=True)
            try:
                upgrade(engine)  # the migrations run through the pooler too
            finally:
                engine.dispose()
            direct = make_engine(pg_url(name))
            try:
                yield url, direct
            finally:
                direct.dispose()
    finally:
        drop_pg_database(name)


@pytest.fixture
def store_kind() -> str:
    return "pgbouncer+group-commit"


@pytest.fixture
def store(bounced: tuple[str, sa.Engine]) -> Iterator[Any]:
    url, direct = bounced
    _empty_tables(direct)
    engine = make_engine(url, wait_s=WAIT_S, pooled=True)
    grouped = GroupCommitStore(SqlStore(engine), deadline_s=2 * WAIT_S)
    try:
        yield grouped
    finally:
        grouped.close()


def _empty_tables(direct: sa.Engine) -> None:
    with direct.begin() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")  # no FK order
        for name in sa.inspect(conn).get_table_names():
            if name != "alembic_version":
                conn.exec_driver_sql(f'DELETE FROM "{name}"')


def test_without_pooled_pgbouncer_refuses_the_session_settings(
    bounced: tuple[str, sa.Engine],
) -> None:
    engine = make_engine(bounced[0], wait_s=WAIT_S, pooled=False)
    try:
        with pytest.raises(sa.exc.OperationalError, match="unsupported startup parameter"):
            engine.connect().close()
    finally:
        engine.dispose()
