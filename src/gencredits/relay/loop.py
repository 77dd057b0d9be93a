"""The relay: the outbox, published to a message broker, each event once for a consumer
that drops repeats by message id.

One loop, whatever the broker (:class:`Target`): read the events after the relay's cursor
(:meth:`~gencredits.ledger.store.LedgerReader.events`, in commit order), publish them as one
batch, wait until the broker has acknowledged every one, and only then move the cursor, by
compare-and-set (:meth:`~gencredits.ledger.outbound.OutboundStore.move_cursor`).  Each
message carries the event's stable id (its outbox cursor, also the id outbound webhooks
send), which the broker uses to drop a message it already has:

* a relay that dies after the broker's acknowledgement but before its cursor moved
  publishes that batch again on restart, and the broker drops the repeats (JetStream within
  its stream's duplicate window), so nothing is lost and, for a consumer that honours the
  id, nothing is repeated;
* two relays on one cursor (every worker of ``gencredits serve --relay``) may publish the
  same batch; the broker keeps one copy, and only one of them moves the cursor;
* a broker that fails or does not answer: the batch is tried again with growing waits
  (:class:`Backoff`), and the cursor does not move.

Each event also carries its wallet's version (``wallet_version``, ``version_seq``), which
orders and deduplicates one wallet's events exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gencredits.errors import Unavailable
from gencredits.ledger.model import Event
from gencredits.ledger.store import LedgerStore

__all__ = [
    "Backoff",
    "BrokerError",
    "Relay",
    "RelayProgress",
    "Target",
    "parse_cursor",
    "relay_forever",
]

log = logging.getLogger("gencredits.relay")


class BrokerError(Unavailable):
    """The broker refused, failed or did not acknowledge in time: try the batch again."""


class Target(Protocol):
    """A broker the relay publishes to."""

    #: the relay's cursor name for this target (at most 40 characters), e.g. ``nats:STREAM``
    cursor_name: str

    async def publish(self, events: Sequence[Event]) -> None:
        """Publish every event (with its stable id) and return once the broker has
        acknowledged each; raise :class:`BrokerError` otherwise."""
        ...

    async def close(self) -> None: ...


def parse_cursor(cursor: str | None) -> tuple[int, int] | None:
    """The outbox position of an event cursor ``TXID-SEQ`` (``None``: the start)."""
    if cursor is None:
        return None
    txid, _, seq = cursor.partition("-")
    return int(txid), int(seq)


@dataclass
class Backoff:
    """Waits between failed attempts, in whole milliseconds: ``first_ms``, doubling up to
    ``most_ms``, each drawn between half and all of it (so relays that failed together do
    not retry together)."""

    first_ms: int = 500
    most_ms: int = 30_000
    failures: int = 0

    def next_wait_ms(self) -> int:
        self.failures += 1
        ceiling = min(self.most_ms, self.first_ms * 2 ** (self.failures - 1))
        return random.randint(ceiling // 2, ceiling)

    def reset(self) -> None:
        self.failures = 0


@dataclass
class RelayProgress:
    """What a relay has done so far."""

    published: int = 0  # events acknowledged by the broker and passed by the cursor
    batches: int = 0
    failures: int = 0  # failed attempts (each retried)
    lost_races: int = 0  # batches another relay moved the cursor past first
    cursor: str | None = None
    waits_ms: list[int] = field(default_factory=list)  # the backoff waits, in order


class Relay:
    """Publishes the outbox of ``store`` to ``target`` (see the module)."""

    def __init__(
        self,
        store: LedgerStore,
        target: Target,
        *,
        batch: int = 200,
        backoff: Backoff | None = None,
    ) -> None:
        if not 1 <= batch <= 10_000:
            raise ValueError(f"batch: {batch} is not between 1 and 10,000")
        self.store = store
        self.target = target
        self.batch = batch
        self.backoff = backoff or Backoff()
        self.progress = RelayProgress()
        self._outbound = store.outbound()

    def _pending(self) -> tuple[str | None, list[Event]]:
        cursor = self._outbound.named_cursor(self.target.cursor_name)
        with self.store.reader() as reader:
            events = reader.events(after=parse_cursor(cursor), limit=self.batch)
        return cursor, events

    async def step(self) -> int:
        """Publish the next batch and move the cursor past it: how many events (0: none
        pending, or another relay moved the cursor first).  Raises :class:`BrokerError`
        with the cursor unmoved."""
        cursor, events = await asyncio.to_thread(self._pending)
        self.progress.cursor = cursor
        if not events:
            return 0
        await self.target.publish(events)
        name, last = self.target.cursor_name, events[-1].cursor
        moved = await asyncio.to_thread(self._outbound.move_cursor, name, cursor, last)
        if not moved:
            self.progress.lost_races += 1
            return 0
        self.progress.published += len(events)
        self.progress.batches += 1
        self.progress.cursor = last
        return len(events)

    async def drain(self, *, attempts: int = 5) -> int:
        """Publish until nothing is pending: how many events.  A batch the broker fails is
        tried ``attempts`` times in all (with the backoff's waits); then the last
        :class:`BrokerError` is raised, the cursor standing after what was acknowledged."""
        total, failed = 0, 0
        while True:
            try:
                sent = await self.step()
            except BrokerError as exc:
                failed += 1
                if failed >= attempts:
                    raise
                await self._failed(None, exc)
                continue
            failed = 0
            self.backoff.reset()
            if sent == 0 and not (await asyncio.to_thread(self._pending))[1]:
                return total
            total += sent

    async def run(
        self,
        stop: asyncio.Event,
        *,
        poll_ms: int = 500,
        on_progress: Callable[[RelayProgress], None] | None = None,
    ) -> None:
        """Publish until ``stop`` is set, looking for new events every ``poll_ms`` when
        none are pending; a failed batch is tried again after the backoff's wait, forever."""
        while not stop.is_set():
            try:
                sent = await self.step()
            except BrokerError as exc:
                await self._failed(stop, exc)
                continue
            self.backoff.reset()
            if sent and on_progress is not None:
                on_progress(self.progress)
            if sent == 0:
                await _wait(stop, poll_ms)

    async def _failed(self, stop: asyncio.Event | None, exc: BrokerError) -> None:
        """Count a failed attempt and wait the backoff's time (less if ``stop`` is set)."""
        self.progress.failures += 1
        wait_ms = self.backoff.next_wait_ms()
        self.progress.waits_ms.append(wait_ms)
        log.warning("relay: %s; trying again in %d ms", exc.message, wait_ms)
        await _wait(stop or asyncio.Event(), wait_ms)


async def relay_forever(relay: Relay, *, poll_ms: int = 500) -> None:
    """:meth:`Relay.run` until cancelled (the service's background task), through any
    error: logged, then tried again after the backoff's wait; the target closed at the end."""
    stop = asyncio.Event()
    try:
        while True:
            try:
                await relay.run(stop, poll_ms=poll_ms)
            except Exception:  # the database away, say: never let the relay stop for good
                wait_ms = relay.backoff.next_wait_ms()
                log.exception("relay failed; starting again in %d ms", wait_ms)
                await asyncio.sleep(wait_ms / 1000)
    finally:
        await relay.target.close()


async def _wait(stop: asyncio.Event, wait_ms: int) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), wait_ms / 1000)
