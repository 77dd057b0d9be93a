"""The relay against the real NATS JetStream: every event once, in order, with its stable
id; a batch acknowledged but not recorded is dropped by the stream when sent again; a relay
killed mid-stream resumes with nothing lost or repeated; a broker that is down is retried
with growing waits and the cursor stays put."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.relay.conftest import Stream

from gencredits.ledger.model import Event, Wallet
from gencredits.relay.jetstream import JetStreamTarget, subject_token
from gencredits.relay.loop import Backoff, BrokerError, Relay
from gencredits.storage.sql.engine import make_engine, upgrade
from gencredits.storage.sql.store import SqlStore

NOW = datetime(2026, 11, 21, tzinfo=UTC)
WALLETS = ("alice", "bob.smith", "team~x")


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/ledger.db"


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    engine = make_engine(db_url)
    upgrade(engine)
    s = SqlStore(engine)
    with s.unit_of_work() as uow:
        for wallet_id in WALLETS:
            uow.insert_wallet(Wallet(wallet_id, "user", 0, None, 0, 0, NOW, NOW))
    yield s
    s.close()


def _fill(store: SqlStore, units: int, per_unit: int = 2, tag: str = "") -> None:
    """``units`` units of work, each emitting ``per_unit`` events for one wallet."""
    for n in range(units):
        wallet_id = WALLETS[n % len(WALLETS)]
        with store.unit_of_work() as uow:
            uow.lock_wallet(wallet_id)
            for k in range(per_unit):
                uow.emit(Event(wallet_id, "test.event", f"{tag}{n}.{k}", NOW, {"n": n}))


def _all_events(store: SqlStore) -> list[Event]:
    with store.reader() as reader:
        return reader.events(after=None, limit=100_000)


def _target(stream: Stream, url: str | None = None) -> JetStreamTarget:
    return JetStreamTarget(
        url or stream.url, stream=stream.name, subject=stream.subject, timeout_s=2
    )


def _drain(store: SqlStore, target: JetStreamTarget, batch: int = 7) -> Relay:
    relay = Relay(store, target, batch=batch)

    async def go() -> None:
        try:
            await relay.drain()
        finally:
            await target.close()

    asyncio.run(go())
    return relay


def _check_once_in_order(stream: Stream, events: list[Event]) -> None:
    """The stream holds each event once, in outbox order, on its wallet's subject, each
    wallet's versions without a gap."""
    messages = stream.messages()
    assert [m.headers["Nats-Msg-Id"] for m in messages] == [e.cursor for e in events]
    versions: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for message, event in zip(messages, events, strict=True):
        body = json.loads(message.data)
        assert body["subject_id"] == event.subject_id
        assert message.subject == f"{stream.subject}.{subject_token(event.wallet_id)}"
        versions[body["wallet_id"]].append((body["wallet_version"], body["version_seq"]))
    for found in versions.values():
        assert found == sorted(found) and found[-1][0] == len({v for v, _ in found})


def test_every_event_once_in_order_and_the_cursor_after_the_last(
    store: SqlStore, stream: Stream
) -> None:
    _fill(store, 10)
    relay = _drain(store, _target(stream))
    assert relay.progress.published == 20 and relay.progress.batches == 3
    _fill(store, 4, tag="later-")
    relay = _drain(store, _target(stream))
    assert relay.progress.published == 8  # only the new ones
    events = _all_events(store)
    _check_once_in_order(stream, events)
    assert store.outbound().named_cursor(f"nats:{stream.name}") == events[-1].cursor
    assert subject_token("bob.smith") == "bob~2esmith" and subject_token("team~x") == "team~7ex"


def test_a_batch_acknowledged_but_not_recorded_is_dropped_when_sent_again(
    store: SqlStore, stream: Stream
) -> None:
    """A relay that died between the broker's acknowledgement and saving its cursor."""
    _fill(store, 6)
    events = _all_events(store)
    target = _target(stream)

    async def publish_without_recording() -> None:
        await target.publish(events[:7])
        await target.close()

    asyncio.run(publish_without_recording())
    assert stream.count() == 7
    assert store.outbound().named_cursor(f"nats:{stream.name}") is None
    relay = _drain(store, _target(stream), batch=5)
    assert relay.progress.published == 12  # sent again from the start...
    _check_once_in_order(stream, events)  # ...and the stream kept one of each


def test_a_broker_that_is_down_is_retried_with_growing_waits(
    store: SqlStore, stream: Stream
) -> None:
    _fill(store, 3)
    down = _target(stream, "nats://127.0.0.1:1")  # nothing listens there
    relay = Relay(store, down, backoff=Backoff(first_ms=10, most_ms=40))

    async def run_for_a_while() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.4, stop.set)
        await relay.run(stop, poll_ms=10)

    asyncio.run(run_for_a_while())
    assert relay.progress.failures >= 3 and relay.progress.published == 0
    waits = relay.progress.waits_ms
    caps = [min(40, 10 * 2**i) for i in range(len(waits))]
    assert all(cap // 2 <= wait <= cap for wait, cap in zip(waits, caps, strict=True))
    assert store.outbound().named_cursor(f"nats:{stream.name}") is None
    with pytest.raises(BrokerError):
        asyncio.run(Relay(store, down, backoff=Backoff(first_ms=10)).drain(attempts=2))
    # The broker is back: everything goes, once.
    _drain(store, _target(stream))
    _check_once_in_order(stream, _all_events(store))


def _relay_process(db_url: str, stream: Stream, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "gencredits.cli", "--database-url", db_url, "relay"]
    command += ["--nats", stream.url, "--stream", stream.name, "--subject", stream.subject]
    return subprocess.Popen(
        [*command, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_a_relay_killed_mid_stream_resumes_without_loss_or_repeat(
    store: SqlStore, db_url: str, stream: Stream
) -> None:
    # 3,000 events in batches of 3: far more than it can publish between two looks below,
    # so the kill always lands mid-stream (300 were once all out before the first look)
    _fill(store, 150, per_unit=20)
    events = _all_events(store)
    process = _relay_process(db_url, stream, "--batch", "3")
    try:
        deadline = time.monotonic() + 30
        while stream.count() < 30 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    published = stream.count()
    assert 30 <= published < len(events)  # killed mid-stream
    cursor = store.outbound().named_cursor(f"nats:{stream.name}")
    done = [e.cursor for e in events].index(cursor) + 1 if cursor else 0
    assert done <= published  # the cursor never passes what the broker acknowledged
    relay = _drain(store, _target(stream), batch=50)  # restarted
    assert relay.progress.published == len(events) - done
    _check_once_in_order(stream, events)


def test_the_command_publishes_once_and_names_a_bad_stream(
    store: SqlStore, db_url: str, stream: Stream
) -> None:
    from typer.testing import CliRunner

    from gencredits.cli import app

    _fill(store, 5)
    base = ["--database-url", db_url, "relay", "--nats", stream.url, "--subject", stream.subject]
    runner = CliRunner()
    first = runner.invoke(app, [*base, "--stream", stream.name, "--once", "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["published"] == 10
    again = runner.invoke(app, [*base, "--stream", stream.name, "--once", "--json"])
    assert json.loads(again.output)["published"] == 0
    _check_once_in_order(stream, _all_events(store))
    bad = runner.invoke(app, [*base, "--stream", "no.dots", "--once"])
    assert bad.exit_code != 0 and "stream: 'no.dots' is not allowed" in str(bad.exception)
    neither = runner.invoke(app, ["--database-url", db_url, "relay", "--once"])
    assert "--nats/--redis: None is not allowed; exactly one" in str(neither.exception)


def test_the_service_relays_with_its_relay_setting(tmp_path: Path, stream: Stream) -> None:
    """``serve --relay URL`` sets ``relay_nats_url``: each worker runs the relay."""
    from fastapi.testclient import TestClient

    from gencredits.api import create_app
    from gencredits.config import Settings

    url = f"sqlite:///{tmp_path}/service.db"
    upgrade(make_engine(url))  # as `serve` does first
    settings = Settings(
        database_url=url,
        relay_nats_url=stream.url,
        relay_stream=stream.name,
        relay_subject=stream.subject,
        sweep_interval_s=0,
        webhook_interval_s=0,
    )
    app = create_app(settings)
    with TestClient(app):
        billing = app.state.services.billing
        billing.create_wallet("w.1", idempotency_key="c")
        billing.grant("w.1", 5, kind="promotional", idempotency_key="g")
        deadline = time.monotonic() + 10
        while stream.count() < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    [created, granted] = [json.loads(m.data) for m in stream.messages()]
    assert (created["type"], created["wallet_version"]) == ("wallet.created", 1)
    assert (granted["type"], granted["wallet_version"]) == ("grant.created", 2)
