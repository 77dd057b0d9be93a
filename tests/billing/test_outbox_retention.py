"""Outbox retention: the sweep deletes an event only once it is older than the retention AND
every consumer (the webhook deliverer, each relay) has passed it, in bounded batches, on
every store, never the newest; the feed and the relays read on across the deletion with no
gap and no repeat."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from tests.outbox import settled_events

from gencredits import limits
from gencredits.billing import Billing
from gencredits.billing.webhook_ops import enqueue
from gencredits.clock import ManualClock
from gencredits.config import load_settings
from gencredits.errors import InvalidRequest, InvalidSetting
from gencredits.ledger.model import Event
from gencredits.ledger.outbound import EVERYTHING, consumed_through
from gencredits.relay.loop import Relay

KEYS = itertools.count()


class Broker:
    """A relay target that keeps what it was sent, in order."""

    def __init__(self, name: str) -> None:
        self.cursor_name = name
        self.got: list[Event] = []

    async def publish(self, events: Sequence[Event]) -> None:
        self.got.extend(events)

    async def close(self) -> None:
        pass


def _billing(store: Any, clock: ManualClock, catalogs: Any) -> Billing:
    return Billing(store, catalogs, clock, outbox_retention_days=7)


def _events(billing: Billing, count: int) -> list[Event]:
    """Grants on one wallet until the outbox holds ``count`` events more; all of them."""
    start = len(settled_events(billing))
    while len(settled_events(billing)) < start + count:
        billing.grant("w", 10, kind="purchase", idempotency_key=f"g{next(KEYS)}")
    return settled_events(billing)


def _relay_to(billing: Billing, broker: Broker, cursor: str, batch: int = 2) -> Relay:
    """A relay that has published up to the event ``cursor`` (the PostgreSQL horizon may
    hold the newest back a moment: steps until the cursor is there)."""
    relay = Relay(billing.store, broker, batch=batch)
    deadline = time.monotonic() + 10
    while relay.progress.cursor != cursor:
        assert time.monotonic() < deadline, (relay.progress.cursor, cursor)
        if asyncio.run(relay.step()) == 0:
            time.sleep(0.02)
    return relay


def _cursors(events: Sequence[Event]) -> list[str]:
    return [e.cursor for e in events]


def test_events_stay_while_a_relay_lags_and_go_once_every_cursor_passed(
    store: Any, clock: ManualClock, ledger_catalogs: Any
) -> None:
    billing = _billing(store, clock, ledger_catalogs)
    billing.create_wallet("w")
    made = _events(billing, 6)
    ahead, behind = Broker("nats:ahead"), Broker("redis:behind")
    _relay_to(billing, ahead, made[-1].cursor)
    _relay_to(billing, behind, made[1].cursor)  # two events published, the rest not yet
    clock.advance(delta=timedelta(days=7, seconds=1))
    report = billing.sweep()
    assert report.outbox_events_deleted == 2  # only what the lagging relay passed
    assert _cursors(settled_events(billing)) == _cursors(made[2:])
    # Restarted after the deletion, the lagging relay resumes where it stood.
    _relay_to(billing, behind, made[-1].cursor, batch=3)
    assert _cursors(behind.got) == _cursors(made) == _cursors(ahead.got)
    # All but the newest (kept, so that no store numbers an event again).
    assert billing.sweep().outbox_events_deleted == len(made) - 3
    assert _cursors(settled_events(billing)) == [made[-1].cursor]
    # New events read on after every deleted one: no gap, no repeat.
    later = _events(billing, 2)[1:]
    assert billing.events(after=made[-1].cursor) == later
    assert billing.events(after=made[0].cursor) == [made[-1], *later]
    _relay_to(billing, behind, later[-1].cursor)
    assert _cursors(behind.got) == _cursors(made + later)
    assert billing.sweep().outbox_events_deleted == 1  # the old one kept as the newest
    assert billing.sweep().outbox_events_deleted == 0  # passed, but younger than 7 days
    assert settled_events(billing) == later
    assert billing.audit() == []


def test_a_forgotten_cursor_no_longer_holds_events_back(
    store: Any, clock: ManualClock, ledger_catalogs: Any
) -> None:
    """A relay taken out of service keeps its cursor, and so every event after it, until it
    is forgotten (``gencredits cursors --forget NAME``); then retention goes on."""
    billing = _billing(store, clock, ledger_catalogs)
    billing.create_wallet("w")
    made = _events(billing, 5)
    _relay_to(billing, Broker("nats:live"), made[-1].cursor)
    _relay_to(billing, Broker("nats:retired"), made[1].cursor)  # two events, then stopped
    clock.advance(delta=timedelta(days=7, seconds=1))
    assert billing.sweep().outbox_events_deleted == 2
    outbound = billing.store.outbound()
    assert outbound.forget_cursor("nats:retired") is True
    assert outbound.forget_cursor("nats:retired") is False  # gone already: nothing to do
    assert set(outbound.cursors()) == {"nats:live"}
    assert billing.sweep().outbox_events_deleted == len(made) - 3  # all but the newest
    assert _cursors(settled_events(billing)) == [made[-1].cursor]


def test_events_younger_than_the_retention_stay_and_no_consumer_means_age_only(
    store: Any, clock: ManualClock, ledger_catalogs: Any
) -> None:
    billing = _billing(store, clock, ledger_catalogs)
    billing.create_wallet("w")
    made = _events(billing, 3)  # no relay and no webhook endpoint: nobody reads them
    clock.advance(delta=timedelta(days=6))
    fresh = _events(billing, 2)[len(made) :]
    assert billing.sweep().outbox_events_deleted == 0  # 6 days old: inside the window
    clock.advance(delta=timedelta(days=1, seconds=1))
    assert billing.sweep().outbox_events_deleted == len(made)
    assert settled_events(billing) == fresh
    clock.advance(delta=timedelta(days=6))
    assert billing.sweep().outbox_events_deleted == len(fresh) - 1  # the newest stays
    assert settled_events(billing) == fresh[-1:]


def test_a_webhook_endpoint_holds_events_until_the_deliverer_passes_them(
    store: Any, clock: ManualClock, ledger_catalogs: Any
) -> None:
    billing = _billing(store, clock, ledger_catalogs)
    billing.create_wallet("w")
    billing.add_webhook("http://127.0.0.1:9/hook", "s" * 32, types=["*"])
    made = _events(billing, 3)
    clock.advance(delta=timedelta(days=8))
    assert billing.sweep().outbox_events_deleted == 0  # the deliverer has not run yet
    outbound = billing.store.outbound()
    deadline = time.monotonic() + 10
    while outbound.cursor() != made[-1].cursor:
        assert time.monotonic() < deadline
        enqueue(billing.store, outbound, clock.now())
    before = len(settled_events(billing))
    assert billing.sweep().outbox_events_deleted == before - 1  # all passed and old but one
    assert enqueue(billing.store, outbound, clock.now()) == 0  # nothing enqueued twice


def test_the_sweep_deletes_events_in_bounded_batches(
    store: Any, clock: ManualClock, ledger_catalogs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "RETENTION_BATCH", 2)
    monkeypatch.setattr(limits, "RETENTION_BATCHES", 2)
    billing = _billing(store, clock, ledger_catalogs)
    billing.create_wallet("w")
    made = _events(billing, 5)
    clock.advance(delta=timedelta(days=8))
    first = billing.sweep()
    assert (first.outbox_events_deleted, first.more) == (4, True)
    assert _cursors(settled_events(billing)) == _cursors(made[4:])
    rest = billing.sweep()
    assert (rest.outbox_events_deleted, rest.more) == (len(made) - 5, False)
    assert settled_events(billing) == made[-1:]


def test_the_outbox_retention_setting_is_checked(ledger_catalogs: Any) -> None:
    from gencredits.ledger import MemoryStore

    with pytest.raises(InvalidRequest, match="outbox_retention_days") as refused:
        Billing(MemoryStore(), ledger_catalogs, outbox_retention_days=0)
    assert refused.value.details["value"] == 0
    with pytest.raises(InvalidSetting, match="outbox_retention_days"):
        load_settings(outbox_retention_days=0)
    assert load_settings().outbox_retention_days == 7


def test_the_outbox_retention_setting_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GENCREDITS_OUTBOX_RETENTION_DAYS", "3")
    assert load_settings().outbox_retention_days == 3
    monkeypatch.setenv("GENCREDITS_OUTBOX_RETENTION_DAYS", "40000")
    with pytest.raises(InvalidSetting, match="outbox_retention_days"):
        load_settings()


def test_what_every_consumer_passed() -> None:
    assert consumed_through({}, False) == EVERYTHING  # nobody reads: age only
    assert consumed_through({}, True) is None  # an endpoint, the deliverer not started
    assert consumed_through({"webhooks": "0-9", "nats:s": "0-4"}, True) == (0, 4)
    assert consumed_through({"nats:s": "12-3", "redis:k": "11-40"}, False) == (11, 40)
    assert consumed_through({"nats:s": "garbage"}, False) is None
    assert consumed_through({"webhooks": None}, False) is None
