"""The outbox hands events out in an order that a later commit never jumps.

On PostgreSQL a sequence number is taken before commit, so "every seq above the last one
seen" loses the event of a transaction that took a lower seq and committed later.  These
tests open real concurrent transactions and resume a consumer from its cursor.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from gencredits.ledger.model import Event
from gencredits.storage.sql.engine import make_engine, upgrade
from gencredits.storage.sql.store import SqlStore

NOW = datetime(2026, 11, 21, tzinfo=UTC)


def _event(name: str) -> Event:
    return Event(wallet_id="w", type="test", subject_id=name, created_at=NOW)


@pytest.fixture
def store(postgres_url: str) -> Iterator[SqlStore]:
    engine = make_engine(postgres_url)
    upgrade(engine)
    s = SqlStore(engine)
    yield s
    s.close()


def _drain(
    store: SqlStore, after: tuple[int, int] | None
) -> tuple[list[str], tuple[int, int] | None]:
    with store.reader() as reader:
        events = reader.events(after=after, limit=100)
    return [e.subject_id for e in events], (events[-1].position if events else after)


def test_a_lower_seq_that_commits_later_is_not_skipped(store: SqlStore) -> None:
    slow = store.unit_of_work()
    slow_uow = slow.__enter__()
    slow_uow.emit(_event("slow"))  # takes the lower seq, stays open
    with store.unit_of_work() as fast:
        fast.emit(_event("fast"))
    seen, cursor = _drain(store, None)
    assert seen == []  # held back while an older transaction may still commit
    slow.__exit__(None, None, None)
    seen, cursor = _drain(store, cursor)
    assert seen == ["slow", "fast"]
    assert _drain(store, cursor)[0] == []


def test_an_older_transaction_with_a_higher_seq_is_delivered_once(store: SqlStore) -> None:
    older = store.unit_of_work()
    older_uow = older.__enter__()
    older_uow.c.execute(sa.text("SELECT pg_current_xact_id()"))  # older takes its txid first
    newer = store.unit_of_work()
    newer_uow = newer.__enter__()
    newer_uow.emit(_event("newer"))  # lower seq, newer txid
    older_uow.emit(_event("older"))  # higher seq, older txid
    older.__exit__(None, None, None)
    seen, cursor = _drain(store, None)
    assert seen == ["older"]  # a seq cursor would now stand past "newer"'s seq
    newer.__exit__(None, None, None)
    seen, cursor = _drain(store, cursor)
    assert seen == ["newer"]
    assert _drain(store, cursor)[0] == []
