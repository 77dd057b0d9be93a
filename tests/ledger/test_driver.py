"""The batch writer's driver path (``DirectSelect``, ``BulkStatement``, ``driver_pipeline``)
reads and writes exactly what SQLAlchemy's own execution does, and fails the same way."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gencredits.ledger.model import HoldLeg, Job, Posting, Transaction, Wallet, evolve
from gencredits.ledger.store import RetryableConflict
from gencredits.storage.sql import schema as t
from gencredits.storage.sql.driver import BulkStatement, DirectSelect, driver_pipeline
from gencredits.storage.sql.engine import make_engine, upgrade
from gencredits.storage.sql.numbering import Numbering
from gencredits.storage.sql.rows import (
    JOB_COLUMNS,
    job_of,
    job_row,
    wallet_row,
    wallet_update_row,
)
from gencredits.storage.sql.staged import _UPDATE_WALLETS
from gencredits.storage.sql.store import as_retryable

NOW = datetime(2026, 11, 22, 3, 4, 5, 678901, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = (
        f"sqlite:///{tmp_path}/d.db"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    made = make_engine(url)
    upgrade(made)
    yield made
    made.dispose()


def _wallet(conn: Connection, wallet_id: str) -> None:
    conn.execute(t.wallets.insert(), wallet_row(_wallet_model(wallet_id)))


def _job(job_id: str, **changes: object) -> Job:
    job = Job(
        id=job_id,
        wallet_id="w",
        kind="generation",
        model="img",
        state="pending",
        params={"duration": 5, "text": "naïve ✓"},
        generations=2,
        quote={"total_credits": 20, "breakdown": [{"label": "base", "credits": 10}]},
        catalog="c",
        catalog_version="1",
        catalog_hash="h",
        credits_quoted=20,
        hold_amount=20,
        credits_held=20,
        credits_used=0,
        written_off=0,
        hold_legs=(HoldLeg("gr_1", 15), HoldLeg(None, 5)),
        hold_expires_at=NOW + timedelta(hours=1),
        submitted_by=None,
        metadata={"k": "v"},
        reason=None,
        created_at=NOW,
        updated_at=NOW,
    )
    return evolve(job, **changes)


def test_rows_written_in_bulk_read_back_through_the_driver_equal_sqlalchemys(
    engine: Engine,
) -> None:
    jobs = [_job("job_a"), _job("job_b", model=None, quote=None, hold_expires_at=None)]
    insert = BulkStatement(t.jobs.insert())
    ids = [sa.bindparam("a"), sa.bindparam("b")]
    select = DirectSelect(sa.select(*JOB_COLUMNS).where(t.jobs.c.id.in_(ids)))
    params = {"a": "job_a", "b": "job_b"}
    with engine.begin() as conn:
        _wallet(conn, "w")
        numbers = Numbering(conn, engine.dialect.name)
        with driver_pipeline(conn):
            insert.run(conn, numbers.number(t.jobs, [job_row(j) for j in jobs]))
        direct = sorted((job_of(r) for r in select.send(conn, params).rows()), key=lambda j: j.id)
        through_sqlalchemy = sorted(
            (job_of(r) for r in conn.execute(select.statement, params)), key=lambda j: j.id
        )
    assert direct == through_sqlalchemy
    # What went in comes out (the store numbers the rows).
    assert [j.seq is not None for j in direct] == [True, True]
    assert [evolve(j, seq=None) for j in direct] == jobs
    assert direct[0].hold_expires_at == NOW + timedelta(hours=1)
    assert direct[0].created_at.tzinfo is UTC


def test_a_list_expanded_at_execution_is_refused_when_compiled(engine: Engine) -> None:
    select = DirectSelect(sa.select(t.jobs.c.id).where(t.jobs.c.id.in_(["job_a", "job_b"])))
    with engine.connect() as conn, pytest.raises(AssertionError, match="expanded"):
        select.send(conn, {}).rows()


def test_a_statement_literal_is_sent_with_the_query(engine: Engine) -> None:
    """``state == "pending"`` compiles to a parameter with a value: the driver path sends it."""
    select = DirectSelect(sa.select(t.jobs.c.id).where(t.jobs.c.state == "pending"))
    with engine.begin() as conn:
        _wallet(conn, "w")
        rows = [job_row(_job("job_a")), job_row(_job("job_b", state="failed"))]
        BulkStatement(t.jobs.insert()).run(
            conn, Numbering(conn, engine.dialect.name).number(t.jobs, rows)
        )
        assert select.send(conn, {}).rows() == [("job_a",)]


def test_a_duplicate_key_written_in_a_pipeline_is_sqlalchemys_integrity_error(
    engine: Engine,
) -> None:
    """The error surfaces as SQLAlchemy's (on PostgreSQL at the end of the pipeline), so the
    group-commit writer turns it into a retryable conflict, and nothing of the block stays."""
    insert = BulkStatement(t.wallets.insert())
    with engine.begin() as conn:
        _wallet(conn, "w")
    with engine.connect() as conn:
        rows = [wallet_row(_wallet_model("x")), wallet_row(_wallet_model("w"))]  # w is taken
        with pytest.raises(sa.exc.IntegrityError) as caught, conn.begin(), driver_pipeline(conn):
            insert.run(conn, rows)
        assert isinstance(as_retryable(caught.value), RetryableConflict)
        ids = conn.execute(sa.select(t.wallets.c.id).order_by(t.wallets.c.id)).scalars().all()
        assert ids == ["w"]  # "x" was rolled back with the rest; the connection still works


def test_a_failing_query_sent_in_a_pipeline_is_raised_as_sqlalchemys_error(
    engine: Engine,
) -> None:
    bad = DirectSelect(sa.select(sa.literal_column("no_such_column")).select_from(t.wallets))
    with engine.connect() as conn:
        with pytest.raises(sa.exc.DBAPIError) as caught, conn.begin(), driver_pipeline(conn):
            bad.send(conn, {}).rows()
        assert "no_such_column" in str(caught.value)
        assert conn.execute(sa.select(sa.func.count()).select_from(t.wallets)).scalar() == 0


def _wallet_model(wallet_id: str) -> Wallet:
    return Wallet(wallet_id, "user", 0, None, 0, 0, NOW, NOW)


def test_bulk_updates_change_each_row_by_its_key(engine: Engine) -> None:
    later = NOW + timedelta(minutes=5)
    with engine.begin() as conn:
        for wallet_id in ("a", "b", "c"):
            _wallet(conn, wallet_id)
        changed = [
            wallet_update_row(Wallet("c", "user", 0, None, 7, 1, NOW, later)),
            wallet_update_row(Wallet("a", "user", 0, None, 3, 0, NOW, later)),
        ]
        _UPDATE_WALLETS.run(conn, changed)
        rows = conn.execute(
            sa.select(
                t.wallets.c.id, t.wallets.c.held, t.wallets.c.debt, t.wallets.c.updated_at
            ).order_by(t.wallets.c.id)
        ).all()
    assert [tuple(r) for r in rows] == [("a", 3, 0, later), ("b", 0, 0, NOW), ("c", 7, 1, later)]


def test_bulk_entries_find_their_transactions_and_keep_their_order(engine: Engine) -> None:
    """An entry is written under its transaction's seq (PostgreSQL: looked up by id; SQLite:
    numbered by the store), and the entries are numbered in the order given (a history lists
    postings in that order)."""
    txs = [
        Transaction("tx-1", "w", "hold", (Posting("grant:g", -5), Posting("hold:j", 5)), NOW),
        Transaction("tx-2", "w", "resolve", (Posting("hold:j", -5), Posting("consumed", 5)), NOW),
    ]
    with engine.begin() as conn:
        Numbering(conn, engine.dialect.name).write_ledger(txs)
        e, tr = t.entries, t.transactions
        rows = conn.execute(
            sa.select(tr.c.id, e.c.account, e.c.amount)
            .join(tr, sa.and_(tr.c.wallet_id == e.c.wallet_id, tr.c.seq == e.c.tx_seq))
            .order_by(e.c.seq)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("tx-1", "grant:g", -5),
        ("tx-1", "hold:j", 5),
        ("tx-2", "hold:j", -5),
        ("tx-2", "consumed", 5),
    ]
