"""Every read is one snapshot (issue 17), on every store: reads taken while 32 racers move a
wallet's credits never mix two states of the ledger.

A wallet view is two statements (the wallet row, then its grants).  At PostgreSQL's read
committed each statement saw a newer snapshot, so credits released from a hold back to a
grant between the two were counted twice (``balance`` above all that was ever granted).
Here a watcher reads all the time while the racers submit, complete (in full and in part),
fail, cancel, send duplicate callbacks and grant, and checks each read against bounds that
only the racers' finished calls set:

* ``balance`` is at most what was granted (counted before each grant is sent) minus what
  jobs were charged (counted once each charging call has answered: committed before the
  read began, so the read must see it);
* history pages read during the writes, joined, are exactly the wallet's history below the
  first page's top, each entry once;
* the audit run during the writes finds nothing.

Each racer stops at a deadline, so a test takes a few seconds whatever the machine.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gencredits.billing import Billing
from gencredits.errors import InsufficientCredits, InvalidTransition

RACERS = 32
START_CREDITS = 900
RACE_SECONDS = 2.5


@dataclass
class Race:
    """What the racers have done so far, as bounds a read must respect."""

    granted: int = START_CREDITS  # upper bound: counted before a grant is sent
    charges: dict[str, int] = field(default_factory=dict)  # job id -> credits charged
    jobs: list[str] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def charged(self, job: Any) -> None:
        """Record a job as answered by a complete/fail/cancel call (charged once resolved)."""
        if job.status == 0:
            return
        with self.lock:
            self.charges[job.id] = job.credits_used

    def charged_so_far(self) -> int:
        """Credits charged by calls that have answered: a read that starts after this call
        sees every one of them."""
        with self.lock:
            return sum(self.charges.values())


def racer(billing: Billing, race: Race, i: int, deadline: float) -> None:
    rng = random.Random(i)
    k = 0
    try:
        while time.monotonic() < deadline:
            k += 1
            key = f"t{i}-r{k}"
            try:
                job = billing.submit(
                    "team", "img", generations=rng.randint(1, 4), idempotency_key=key
                )
            except InsufficientCredits:
                continue
            with race.lock:
                race.jobs.append(job.id)
                other = rng.choice(race.jobs)
            action = rng.random()
            if action < 0.25:
                done = billing.complete(job.id, idempotency_key=f"{key}-ok")
            elif action < 0.5:
                done = billing.complete(
                    job.id,
                    actual_generations=rng.randint(0, job.generations - 1),
                    idempotency_key=f"{key}-part",
                )
            elif action < 0.8:
                done = billing.fail(job.id, idempotency_key=f"{key}-fail")
            else:
                try:
                    done = billing.cancel(job.id, idempotency_key=f"{key}-cancel")
                except InvalidTransition:  # another racer's duplicate completed it first
                    done = billing.get_job(job.id)
            race.charged(done)
            # A duplicate, out-of-order callback for some job, maybe another racer's.
            late = billing.complete if rng.random() < 0.5 else billing.fail
            race.charged(late(other, idempotency_key=f"{key}-dup"))
            if k % 8 == 0:
                with race.lock:
                    race.granted += 20
                billing.grant("team", 20, kind="bonus", idempotency_key=f"{key}-bonus")
    except BaseException as exc:
        race.errors.append(exc)


def run_race(billing: Billing, watch: Callable[[Race, threading.Event], None]) -> Race:
    """32 racers on one wallet for RACE_SECONDS, ``watch(race, stop)`` in its own thread."""
    billing.create_wallet("team", owner_kind="team")
    billing.grant("team", START_CREDITS, kind="purchase", idempotency_key="seed")
    race = Race()
    stop = threading.Event()
    deadline = time.monotonic() + RACE_SECONDS
    racers = [
        threading.Thread(target=racer, args=(billing, race, i, deadline)) for i in range(RACERS)
    ]

    def watcher() -> None:
        try:
            watch(race, stop)
        except BaseException as exc:
            race.errors.append(exc)

    watching = threading.Thread(target=watcher)
    for t in racers:
        t.start()
    watching.start()
    for t in racers:
        t.join(timeout=120)
    stop.set()
    watching.join(timeout=120)
    assert race.errors == []
    return race


def all_history(billing: Billing, limit: int = 500) -> list[Any]:
    items: list[Any] = []
    cursor = None
    while True:
        page = billing.history("team", cursor=cursor, limit=limit)
        items += page.items
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


def test_every_wallet_read_is_one_snapshot_while_32_racers_move_its_credits(
    billing: Billing,
) -> None:
    reads: list[tuple[int, int, int, int]] = []  # (available, held, balance, bound)

    def watch(race: Race, stop: threading.Event) -> None:
        while not stop.is_set():
            charged = race.charged_so_far()  # before the read: all of it is in the read
            w = billing.get_wallet("team")
            granted = race.granted  # after the read: everything the read may have seen
            reads.append((w.available, w.held, w.balance, granted - charged))

    race = run_race(billing, watch)

    assert len(reads) >= 20, "the watcher hardly read: the test proved nothing"
    assert len(race.charges) >= RACERS, "the racers hardly raced"
    bad = [r for r in reads if r[0] < 0 or r[1] < 0 or r[2] != r[0] + r[1] or r[2] > r[3]]
    assert bad == [], f"{len(bad)} of {len(reads)} reads mixed two states, e.g. {bad[:3]}"
    final = billing.get_wallet("team")
    assert (final.held, final.balance) == (0, race.granted - sum(race.charges.values()))


def test_history_pages_read_during_writes_show_each_entry_once(billing: Billing) -> None:
    walks: list[list[Any]] = []

    def watch(_race: Race, stop: threading.Event) -> None:
        while not stop.is_set():
            walk: list[Any] = []
            cursor = None
            while True:  # small pages, so that writes land between them
                page = billing.history("team", cursor=cursor, limit=7)
                walk += page.items
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
            walks.append(walk)

    run_race(billing, watch)

    assert len(walks) >= 3
    final = all_history(billing)
    assert len({e.id for e in final}) == len(final)
    for walk in walks:
        ids = [e.id for e in walk]
        assert len(set(ids)) == len(ids), "an entry shown twice across pages"
        top = walk[0].seq
        assert [e.id for e in final if e.seq <= top] == ids, "an entry skipped across pages"


def test_the_audit_is_clean_while_32_racers_write(billing: Billing) -> None:
    audits: list[list[Any]] = []

    def watch(_race: Race, stop: threading.Event) -> None:
        while not stop.is_set():
            audits.append(billing.audit())

    run_race(billing, watch)

    assert len(audits) >= 3
    assert [v for found in audits for v in found] == []
    assert billing.audit() == []
