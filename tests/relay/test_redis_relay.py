"""The same relay loop to a real Redis stream: each event once, in order, and a batch
published again after a crash (acknowledged, cursor not saved) adds nothing twice."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
import redis.exceptions
from tests.pg import ci

from gencredits.ledger.model import Event, Wallet
from gencredits.relay.loop import Relay
from gencredits.relay.redis_streams import RedisStreamTarget
from gencredits.storage.sql.engine import make_engine, upgrade
from gencredits.storage.sql.store import SqlStore

REDIS_URL = "redis://127.0.0.1:6379/0"
NOW = datetime(2026, 11, 21, tzinfo=UTC)


@pytest.fixture
def key() -> Iterator[str]:
    """A stream key no other test uses, deleted (with its seen-id marks) after."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        if ci():
            pytest.fail(f"Redis unreachable at {REDIS_URL}: {exc} (CI=true: a failure)")
        pytest.skip(f"Redis unreachable at {REDIS_URL}: {exc}")
    name = f"gct:{uuid.uuid4().hex[:12]}"
    yield name
    client.delete(name, *client.scan_iter(f"{name}:seen:*"))
    client.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    engine = make_engine(f"sqlite:///{tmp_path}/ledger.db")
    upgrade(engine)
    s = SqlStore(engine)
    with s.unit_of_work() as uow:
        uow.insert_wallet(Wallet("w", "user", 0, None, 0, 0, NOW, NOW))
    for n in range(8):
        with s.unit_of_work() as uow:
            uow.lock_wallet("w")
            uow.emit(Event("w", "test.event", f"e{n}", NOW))
    yield s
    s.close()


def test_each_event_once_in_order_even_when_sent_again(store: SqlStore, key: str) -> None:
    with store.reader() as reader:
        events = reader.events(after=None, limit=100)

    async def go() -> Relay:
        target = RedisStreamTarget(REDIS_URL, key=key)
        try:
            await target.publish(events[:5])  # acknowledged, then "crashed": cursor unsaved
            relay = Relay(store, target, batch=3)
            await relay.drain()
            return relay
        finally:
            await target.close()

    relay = asyncio.run(go())
    assert relay.progress.published == 8  # all sent again from the start...
    entries = redis.Redis.from_url(REDIS_URL).xrange(key)
    fields = [{k.decode(): v.decode() for k, v in f.items()} for _, f in entries]
    assert [f["id"] for f in fields] == [e.cursor for e in events]  # ...each kept once
    assert [f["version"] for f in fields] == [str(n) for n in range(1, 9)]
    assert json.loads(fields[0]["event"])["subject_id"] == "e0"
    assert store.outbound().named_cursor(f"redis:{key}") == events[-1].cursor
