"""Staged batches: many units of work computed in memory, then written with a few statements.

The group-commit writer (:mod:`gencredits.storage.sql.batch`) runs a batch of callers' units in
ONE database transaction.  Running each unit's ten-odd statements one by one (in a savepoint
each) made the CPU cost per unit the same as without batching (figures: bench/RESULTS.md);
here a batch costs a handful of statements whatever its size:

1. :meth:`BatchState.prefetch` reads the hints (:class:`~gencredits.ledger.store.UnitHints`)
   of every unit and, with one query each, finds the wallets of the jobs and grants named,
   locks all the batch's wallets in id order, so two processes' batches cannot deadlock
   (``SELECT ... ORDER BY id FOR UPDATE`` on PostgreSQL; SQLite's writer lock already
   covers the file), and loads the jobs and grants named and the idempotency records.  A
   unit that spends streams the wallet's grants in spend order from the index, merged with
   what the batch changed (:meth:`StagedUnit.spend_order`).  On PostgreSQL the queries are
   pipelined (psycopg's pipeline mode): the owners of the named jobs and grants in one round
   trip, then the locks and every read made under them in a second, with the first spend
   page (4 grants) of each wallet named: a hold's page without a round trip of its own.
2. Each unit runs against a :class:`StagedUnit`: reads come from what the unit itself wrote,
   then what earlier units of the batch wrote, then what was loaded, then the database;
   writes stay in the unit.  When the unit returns, its writes join the batch; when it
   raises (a refused hold, a conflict) they are dropped, and the other units never saw them.
3. :meth:`BatchState.flush` writes the batch's net effect: each changed wallet and grant
   once (a hot wallet's row is updated once per batch, not once per operation), and the
   new jobs, ledger transactions and their entries, idempotency records and outbox events,
   one statement per table (:class:`~gencredits.storage.sql.driver.BulkStatement`).  SQLite:
   the driver's ``executemany``, a loop in C.  PostgreSQL: ONE execution per table, the rows
   passed as one array per column (``INSERT ... SELECT FROM unnest(...) WITH ORDINALITY``,
   ``UPDATE ... FROM unnest(...)``, parameters in binary format), all pipelined into one
   round trip.  A ledger entry names its transaction by id and the database looks up the
   transaction's number, so nothing is read back in between.  Then the writer commits once
   (:mod:`gencredits.storage.sql.batch` says when the callers are answered).

Every statement is compiled once and run on the driver's own cursor
(:class:`~gencredits.storage.sql.driver.DirectSelect`,
:class:`~gencredits.storage.sql.driver.BulkStatement`), with SQLAlchemy's own bind and result
processors and its error classes.

Caching is only sound under a lock, so only rows of wallets this batch has locked are kept:
the wallet rows, their grants and jobs, and the idempotency records checked after the
unit's wallet lock (every billing unit locks its wallet before it checks its key; a wallet
that does not exist locks nothing, so then nothing is kept).  Anything else is read from the
database each time.  A database error inside a unit dooms the whole transaction (PostgreSQL
aborts it), so it fails the batch, which the writer then runs again one unit at a time.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gencredits.ledger.model import (
    Event,
    Grant,
    IdempotencyRecord,
    Job,
    Transaction,
    Wallet,
    evolve,
)
from gencredits.ledger.store import RetryableConflict, UnitHints
from gencredits.storage.sql import schema as t
from gencredits.storage.sql.counters import CounterDeltas
from gencredits.storage.sql.driver import (
    BulkStatement,
    DirectSelect,
    InList,
    SentSelect,
    driver_pipeline,
)
from gencredits.storage.sql.rollups import RollupBatch, RollupStaged
from gencredits.storage.sql.rows import (
    GRANT_COLUMNS,
    IDEM_COLUMNS,
    JOB_COLUMNS,
    WALLET_COLUMNS,
    event_row,
    grant_of,
    grant_row,
    grant_update_row,
    idempotency_record,
    idempotency_row,
    job_of,
    job_row,
    job_update_row,
    wallet_of,
    wallet_row,
    wallet_update_row,
)
from gencredits.storage.sql.staged_plans import PlanBatch, PlanRows, PlanStaged
from gencredits.storage.sql.staged_state import StateBatch, StateStaged, watched_send
from gencredits.storage.sql.statements import (
    GRANT_CHANGE,
    JOB_CHANGE,
    SPEND_ORDER_PAGE,
    WALLET_CHANGE,
)
from gencredits.storage.sql.store import SqlUnit, spend_page_sizes
from gencredits.storage.sql.versions import save_versions, stamp_batch

__all__ = ["BatchState", "StagedUnit"]

_SPEND = Grant.spend_key


_JOB_OWNERS = InList(lambda m: sa.select(t.jobs.c.id, t.jobs.c.wallet_id).where(t.jobs.c.id.in_(m)))
_GRANT_OWNERS = InList(
    lambda m: sa.select(t.grants.c.id, t.grants.c.wallet_id).where(t.grants.c.id.in_(m))
)
_WALLETS = InList(
    lambda m: sa.select(*WALLET_COLUMNS).where(t.wallets.c.id.in_(m)).order_by(t.wallets.c.id)
)
_LOCK_WALLETS = InList(
    lambda m: (
        sa.select(*WALLET_COLUMNS)
        .where(t.wallets.c.id.in_(m))
        .order_by(t.wallets.c.id)
        .with_for_update()
    )
)
_JOBS = InList(lambda m: sa.select(*JOB_COLUMNS).where(t.jobs.c.id.in_(m)))
_GRANTS = InList(lambda m: sa.select(*GRANT_COLUMNS).where(t.grants.c.id.in_(m)))
# (wallet_id = ? AND scope = ? AND key = ?) OR ... walks the primary key once per key on both
# backends (a row value IN list made SQLite scan the table; IN lists read every combination).
_IDEM = t.idempotency.c
_IDEM_RECORDS = InList(
    lambda wallets, scopes, keys: sa.select(*IDEM_COLUMNS).where(
        sa.or_(
            *(
                sa.and_(_IDEM.wallet_id == wallet, _IDEM.scope == scope, _IDEM.key == key)
                for wallet, scope, key in zip(wallets, scopes, keys, strict=True)
            )
        )
    )
)
_SPEND_FIRST = DirectSelect(SPEND_ORDER_PAGE["postgresql"])
_INSERT_WALLETS = BulkStatement(t.wallets.insert())
_UPDATE_WALLETS = BulkStatement.update(*WALLET_CHANGE)
_INSERT_GRANTS = BulkStatement(t.grants.insert())
_UPDATE_GRANTS = BulkStatement.update(*GRANT_CHANGE)
_INSERT_JOBS = BulkStatement(t.jobs.insert())
_UPDATE_JOBS = BulkStatement.update(*JOB_CHANGE)
_INSERT_IDEMS = BulkStatement(t.idempotency.insert())
_INSERT_EVENTS = BulkStatement(t.outbox.insert())


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


class _HasOwner(_HasId, Protocol):
    @property
    def wallet_id(self) -> str: ...


_Keyed = TypeVar("_Keyed", bound=_HasId)
_Owned = TypeVar("_Owned", bound=_HasOwner)


class BatchState(PlanBatch, StateBatch, RollupBatch):
    """What one batch has loaded (under its locks) and what its finished units wrote."""

    def __init__(self, conn: Connection, backend: str) -> None:
        self.sql = SqlUnit(conn, backend)
        self.c = conn
        self.backend = backend
        #: wallets locked by this batch (or inserted by it), current values
        self.wallets: dict[str, Wallet] = {}
        #: grants of locked wallets, current values
        self.grants: dict[str, Grant] = {}
        #: locked wallet -> ids of its grants this batch has read or written (in self.grants)
        self.known: dict[str, dict[str, None]] = {}
        self.jobs: dict[str, Job] = {}
        self.idem: dict[tuple[str, str], IdempotencyRecord | None] = {}
        #: locked wallet -> the live grants read so far from its spend index, in order, and
        #: whether that was all of them: read once per batch, whatever its units take
        self.spend_read: dict[str, tuple[list[Grant], list[bool]]] = {}
        # What finished units wrote, in order (dicts keep insertion order).
        self.new_wallets: dict[str, None] = {}
        self.changed_wallets: dict[str, None] = {}
        self.new_grants: dict[str, None] = {}
        self.changed_grants: dict[str, None] = {}
        self.new_jobs: dict[str, None] = {}
        self.changed_jobs: dict[str, None] = {}
        #: each job this batch writes, as the database had it (None: new), for the counters
        self.jobs_before: dict[str, Job | None] = {}
        self.transactions: list[Transaction] = []
        self.tx_keys: set[tuple[str, str]] = set()
        self.new_idem: list[IdempotencyRecord] = []
        self.emitted: list[Event] = []
        self.plan_init()
        self.state_init()
        self.rollup_init()

    # ------------------------------------------------------------------ loading
    def prefetch(self, hints: Iterable[UnitHints]) -> None:
        """Lock the batch's wallets in id order and load what its units will read.

        PostgreSQL: two round trips (pipelined, see
        :func:`~gencredits.storage.sql.driver.driver_pipeline`): the owners of the jobs and grants
        named, then the wallet locks followed by everything read under them.  A job or grant
        read before its wallet is locked may change meanwhile, so its row is read after the
        lock.  SQLite: this writer holds the whole file, so one read of a job or grant serves
        both."""
        hints = list(hints)
        if not hints:
            return
        c = self.c
        job_ids = sorted({h.job_id for h in hints if h.job_id is not None})
        grant_ids = sorted({h.grant_id for h in hints if h.grant_id is not None})
        early = self.backend != "postgresql"
        jobs: list[Job] = []
        grants: list[Grant] = []
        with driver_pipeline(c):
            if early:
                sent_jobs = _JOBS.send(c, job_ids) if job_ids else None
                sent_grants = _GRANTS.send(c, grant_ids) if grant_ids else None
                jobs = [job_of(r) for r in sent_jobs.rows()] if sent_jobs else []
                grants = [grant_of(r) for r in sent_grants.rows()] if sent_grants else []
                owner = {job.id: job.wallet_id for job in jobs}
                grant_owner = {grant.id: grant.wallet_id for grant in grants}
            else:
                sent_owners = _JOB_OWNERS.send(c, job_ids) if job_ids else None
                sent_grant_owners = _GRANT_OWNERS.send(c, grant_ids) if grant_ids else None
                owner = dict(sent_owners.rows()) if sent_owners else {}
                grant_owner = dict(sent_grant_owners.rows()) if sent_grant_owners else {}
        wanted = {h.wallet_id for h in hints if h.wallet_id is not None}
        wanted.update(owner.values(), grant_owner.values())
        keys: dict[tuple[str, str], str] = {}  # idempotency key -> the wallet it is checked under
        for h in hints:
            if h.idempotency is None:
                continue
            wallet = h.wallet_id or owner.get(h.job_id or "") or grant_owner.get(h.grant_id or "")
            if wallet is not None:
                keys.setdefault(h.idempotency, wallet)
        with driver_pipeline(c):
            locking = self._send_lock(wanted)
            sent_jobs = _JOBS.send(c, job_ids) if job_ids and not early else None
            sent_grants = _GRANTS.send(c, grant_ids) if grant_ids and not early else None
            scopes, names = [scope for scope, _ in keys], [key for _, key in keys]
            owners = list(keys.values())
            sent_idem = _IDEM_RECORDS.send(c, owners, scopes, names) if keys else None
            spends = [] if early else self._send_spend_pages(h.wallet_id for h in hints)
            self._receive_lock(locking)
            if sent_jobs:
                jobs = [job_of(r) for r in sent_jobs.rows()]
            if sent_grants:
                grants = [grant_of(r) for r in sent_grants.rows()]
            records = [idempotency_record(r) for r in sent_idem.rows()] if sent_idem else []
            self._receive_spend_pages(spends)
        for job in jobs:
            self.remember(self.jobs, job)
        for grant in grants:
            self.remember(self.grants, grant)
        for key, wallet in keys.items():
            if wallet in self.wallets:  # read under the wallet's lock: absent stays absent
                self.idem[key] = None
        for record in records:
            if (record.scope, record.key) in self.idem:
                self.idem[(record.scope, record.key)] = record

    def lock_many(self, wallet_ids: Iterable[str]) -> None:
        """Lock (PostgreSQL) and load these wallets, in id order."""
        with driver_pipeline(self.c):
            self._receive_lock(self._send_lock(wallet_ids))

    def _send_lock(self, wallet_ids: Iterable[str]) -> tuple[SentSelect, SentSelect] | None:
        # A wallet's grants are NOT loaded with it: a unit streams the few it spends from in
        # spend order (StagedUnit.spend_order), whatever the number the wallet holds.
        ids = sorted(w for w in set(wallet_ids) if w not in self.wallets)
        if not ids:
            return None
        query = _LOCK_WALLETS if self.backend == "postgresql" else _WALLETS
        # The documents are read after the locks: the server runs them in the order sent.
        return query.send(self.c, ids), watched_send(self.c, ids)

    def _receive_lock(self, sent: tuple[SentSelect, SentSelect] | None) -> None:
        if sent is None:
            return
        locked = []
        for r in sent[0].rows():
            wallet = wallet_of(r)
            self.wallets[wallet.id] = wallet
            self.known[wallet.id] = {}
            locked.append(wallet.id)
        self.receive_watched(locked, sent[1].rows())

    def _send_spend_pages(self, wallet_ids: Iterable[str | None]) -> list[tuple[str, SentSelect]]:
        """PostgreSQL, after the locks: the first spend page of each wallet a unit names."""
        size = next(spend_page_sizes())
        return [
            (w, _SPEND_FIRST.send(self.c, {"wallet_id": w, "limit": size, "offset": 0}))
            for w in sorted({w for w in wallet_ids if w is not None})
        ]

    def _receive_spend_pages(self, sent: list[tuple[str, SentSelect]]) -> None:
        """Kept for the locked wallets (read under the lock, as stored_spend_order would)."""
        size = next(spend_page_sizes())
        for wallet_id, query in sent:
            page = [grant_of(r) for r in query.rows()]
            if wallet_id in self.wallets:
                self.spend_read[wallet_id] = (page, [len(page) < size])

    def stored_spend_order(self, wallet_id: str) -> Iterator[Grant]:
        """The wallet's live grants in the database, in spend order, read lazily; for a
        wallet this batch has locked, what one unit read is kept for the next (the rows
        cannot change under the lock; what the batch changed is laid over by the caller)."""
        if wallet_id not in self.wallets:
            offset = 0
            for size in spend_page_sizes():
                page = self.sql.spend_page(wallet_id, offset=offset, limit=size)
                yield from page
                if len(page) < size:
                    return
                offset += size
        read, done = self.spend_read.setdefault(wallet_id, ([], [False]))
        sizes = spend_page_sizes()
        i = 0
        while True:
            while i < len(read):
                yield read[i]
                i += 1
            if done[0]:
                return
            size = next(sizes)
            page = self.sql.spend_page(wallet_id, offset=len(read), limit=size)
            read.extend(page)
            done[0] = len(page) < size

    def remember(self, table: dict[str, _Owned], row: _Owned) -> None:
        """Keep a row read from the database, if it belongs to a wallet this batch locked."""
        if row.wallet_id in self.wallets and row.id not in table:
            table[row.id] = row
            known = self.known.get(row.wallet_id)
            if known is not None and table is self.grants:
                known[row.id] = None

    # ------------------------------------------------------------------ writing
    def absorb(self, unit: StagedUnit) -> None:
        """A unit finished: its writes become the batch's."""
        for wallet_id, wallet in unit.wallets.items():
            self.wallets[wallet_id] = wallet
            if wallet_id in unit.new_wallets:
                self.new_wallets[wallet_id] = None
                self.known.setdefault(wallet_id, {})
            elif wallet_id not in self.new_wallets:
                self.changed_wallets[wallet_id] = None
        for grant_id, grant in unit.grants.items():
            self.grants[grant_id] = grant
            if grant_id in unit.new_grants:
                self.new_grants[grant_id] = None
            elif grant_id not in self.new_grants:
                self.changed_grants[grant_id] = None
            self.known.setdefault(grant.wallet_id, {})[grant_id] = None
        for job_id, job in unit.jobs.items():
            if job_id not in self.jobs_before:  # the job as the database had it
                new = job_id in unit.new_jobs
                self.jobs_before[job_id] = None if new else self._stored_job(job_id)
            self.jobs[job_id] = job
            if job_id in unit.new_jobs:
                self.new_jobs[job_id] = None
            elif job_id not in self.new_jobs:
                self.changed_jobs[job_id] = None
        self.idem.update(unit.idem)
        self.new_idem += unit.new_idem
        self.transactions += unit.transactions
        self.tx_keys.update(unit.tx_keys)
        self.emitted += unit.emitted
        self.plan_absorb(unit.mine)
        self.state_absorb(unit.state)
        self.rollup_absorb(unit.rolled)

    def flush(self) -> None:
        """Write the batch's net effect: one multi-row statement per table, parents first.

        PostgreSQL: two round trips.  The savepoint and touch that stamp the events' versions
        (their results are in the events' rows), then everything else pipelined: the
        batch's rows, the wallets' versions, state documents, rollups and counters (these
        last, after every wallet lock, each in key order: see rollups.py, counters.py)."""
        self.emitted, versions = stamp_batch(self.c, self.emitted, self.new_wallets)
        counters = CounterDeltas()
        for job_id, before in self.jobs_before.items():
            counters.job_changed(before, self.jobs[job_id])
        with driver_pipeline(self.c):
            self._write(self.c)
            save_versions(self.c, versions)
            self.state_flush(self.c, self.backend)
            self.rollup_flush(self.c, self.backend)
            counters.write(self.c)

    def _stored_job(self, job_id: str) -> Job | None:
        """A job as the database has it: loaded by this batch (and not yet written), or read."""
        return self.jobs.get(job_id) or self.sql.get_job(job_id)

    def _write(self, c: Connection) -> None:
        # New wallets in id order: no row is locked for them, so two processes' batches that
        # create the same wallets must meet on them in the same order (no deadlock).
        _INSERT_WALLETS.run(c, [wallet_row(self.wallets[i]) for i in sorted(self.new_wallets)])
        changed = sorted(self.changed_wallets)
        _UPDATE_WALLETS.run(c, [wallet_update_row(self.wallets[i]) for i in changed])
        _INSERT_GRANTS.run(c, [grant_row(self.grants[i]) for i in self.new_grants])
        changed = sorted(self.changed_grants)
        _UPDATE_GRANTS.run(c, [grant_update_row(self.grants[i]) for i in changed])
        numbers = self.sql.numbers
        _INSERT_JOBS.run(c, numbers.number(t.jobs, [job_row(self.jobs[i]) for i in self.new_jobs]))
        _UPDATE_JOBS.run(c, [job_update_row(self.jobs[i]) for i in sorted(self.changed_jobs)])
        numbers.write_ledger(self.transactions)
        _INSERT_IDEMS.run(c, [idempotency_row(r) for r in self.new_idem])
        _INSERT_EVENTS.run(c, numbers.number(t.outbox, [event_row(e) for e in self.emitted]))
        self.plan_write(c)


class StagedUnit(PlanStaged, StateStaged, RollupStaged):
    """One unit of work of a batch (a :class:`~gencredits.ledger.store.WriteUnit`): its writes
    stay here until it finishes (see module)."""

    def __init__(self, batch: BatchState) -> None:
        self.b = batch
        self.locked = False
        self.mine = PlanRows()
        self.wallets: dict[str, Wallet] = {}
        self.new_wallets: set[str] = set()
        self.grants: dict[str, Grant] = {}
        self.new_grants: set[str] = set()
        self.jobs: dict[str, Job] = {}
        self.new_jobs: set[str] = set()
        self.idem: dict[tuple[str, str], IdempotencyRecord | None] = {}
        self.new_idem: list[IdempotencyRecord] = []
        self.transactions: list[Transaction] = []
        self.tx_keys: set[tuple[str, str]] = set()
        self.emitted: list[Event] = []
        self.state: dict[tuple[str, str, str], Mapping[str, Any]] = {}
        self.rolled: dict[tuple[str, tuple[str, ...]], tuple[int, ...]] = {}

    # wallets
    def lock_wallet(self, wallet_id: str) -> Wallet | None:
        if wallet_id not in self.b.wallets and wallet_id not in self.wallets:
            self.b.lock_many([wallet_id])
        wallet = self.get_wallet(wallet_id)
        # A missing row locks nothing (PostgreSQL): what is read next is not under a lock.
        self.locked = wallet is not None
        return wallet

    def get_wallet(self, wallet_id: str) -> Wallet | None:
        wallet = self.wallets.get(wallet_id) or self.b.wallets.get(wallet_id)
        if wallet is None:
            return self.b.sql.get_wallet(wallet_id)  # not locked here: read, never kept
        return wallet

    # Inserts check what this batch knows; the database's unique keys catch the rest when
    # the batch is written (the batch then fails and its callers retry, seeing the winner).
    def insert_wallet(self, wallet: Wallet) -> None:
        self._stage_new("wallet", wallet, self.wallets, self.b.wallets, self.new_wallets)

    def _stage_new(
        self,
        what: str,
        row: _Keyed,
        mine: dict[str, _Keyed],
        batch: dict[str, _Keyed],
        new: set[str],
    ) -> None:
        if row.id in mine or row.id in batch:
            raise RetryableConflict(f"{what} {row.id} exists")
        mine[row.id] = row
        new.add(row.id)

    def update_wallet(self, wallet: Wallet) -> None:
        self.wallets[wallet.id] = wallet

    # grants: the database's rows with what this batch and this unit wrote laid over them
    def _overlay(self, wallet_id: str) -> dict[str, Grant]:
        """The wallet's grants this batch or unit has read or written, as they are now."""
        out = {g: self.b.grants[g] for g in self.b.known.get(wallet_id, ())}
        out.update((g.id, g) for g in self.grants.values() if g.wallet_id == wallet_id)
        return out

    def wallet_grants(
        self, wallet_id: str, *, active_only: bool, nonempty_only: bool = False
    ) -> list[Grant]:
        found = {
            g.id: g
            for g in self.b.sql.wallet_grants(
                wallet_id, active_only=active_only, nonempty_only=nonempty_only
            )
        }
        found.update(self._overlay(wallet_id))
        return [
            g
            for g in found.values()
            if (not active_only or g.state == "active") and (not nonempty_only or g.remaining > 0)
        ]

    def spend_order(self, wallet_id: str, now: datetime) -> Iterator[Grant]:
        """The database's spend order with the batch's grants merged in by the same key."""
        mine = self._overlay(wallet_id)
        stored = (
            g
            for g in self.b.stored_spend_order(wallet_id)
            if g.id not in mine and g.spendable_at(now)
        )
        ours = sorted((g for g in mine.values() if g.live and g.spendable_at(now)), key=_SPEND)
        return heapq.merge(stored, ours, key=_SPEND)

    def unspendable_grants(self, wallet_id: str, now: datetime) -> list[Grant]:
        mine = self._overlay(wallet_id)
        found = [g for g in self.b.sql.unspendable_grants(wallet_id, now) if g.id not in mine]
        found += [g for g in mine.values() if g.live and not g.spendable_at(now)]
        return sorted(found, key=_SPEND)

    def expiring_grants(self, wallet_id: str, *, limit: int) -> list[Grant]:
        mine = self._overlay(wallet_id)
        stored = self.b.sql.expiring_grants(wallet_id, limit=limit + len(mine))
        found = [g for g in stored if g.id not in mine]
        found += [g for g in mine.values() if g.live and g.expires_at is not None]
        found.sort(key=lambda g: (g.expires_at, g.created_at, g.id))
        return found[:limit]

    def get_grant(self, grant_id: str) -> Grant | None:
        return self._get(self.grants, self.b.grants, grant_id, self.b.sql.get_grant)

    def insert_grant(self, grant: Grant) -> None:
        self._stage_new("grant", grant, self.grants, self.b.grants, self.new_grants)

    def update_grant(self, grant: Grant) -> None:
        self.grants[grant.id] = grant

    # jobs
    def get_job(self, job_id: str) -> Job | None:
        return self._get(self.jobs, self.b.jobs, job_id, self.b.sql.get_job)

    def _get(
        self,
        mine: dict[str, _Owned],
        batch: dict[str, _Owned],
        key: str,
        load: Callable[[str], _Owned | None],
    ) -> _Owned | None:
        """This unit's row, else the batch's, else the database's (kept if under our lock)."""
        row = mine.get(key) or batch.get(key)
        if row is None:
            row = load(key)
            if row is not None:
                self.b.remember(batch, row)
        return row

    def insert_job(self, job: Job) -> Job:
        self._stage_new("job", job, self.jobs, self.b.jobs, self.new_jobs)
        return job  # its seq is given by the database when the batch is written

    def update_job(self, job: Job) -> None:
        self.jobs[job.id] = job

    # ledger
    def record(self, transaction: Transaction) -> None:
        if transaction.idem_scope is not None and transaction.idem_key is not None:
            key = (transaction.idem_scope, transaction.idem_key)
            if key in self.tx_keys or key in self.b.tx_keys:
                raise RetryableConflict(f"a transaction already exists under key {key}")
            self.tx_keys.add(key)
        self.transactions.append(transaction)

    # idempotency, outbox
    def get_idempotency(self, wallet_id: str, scope: str, key: str) -> IdempotencyRecord | None:
        wanted = (scope, key)  # a scope names one wallet's thing: the key is enough here
        if wanted in self.idem:
            return self.idem[wanted]
        if wanted in self.b.idem:
            return self.b.idem[wanted]
        record = self.b.sql.get_idempotency(wallet_id, scope, key)
        if self.locked:  # checked under the unit's wallet lock: it stays true for the batch
            self.b.idem[wanted] = record
        return record

    def insert_idempotency(self, record: IdempotencyRecord) -> None:
        key = (record.scope, record.key)
        if self.idem.get(key) is not None or self.b.idem.get(key) is not None:
            raise RetryableConflict(f"idempotency key {key} taken")
        self.idem[key] = record
        self.new_idem.append(record)

    def emit(self, event: Event) -> None:
        place = sum(1 for e in self.emitted if e.wallet_id == event.wallet_id)
        self.emitted.append(evolve(event, version_seq=place))  # versions: at flush

    def lock_wallets(self, wallet_ids: Sequence[str]) -> list[Wallet]:
        """Lock and load these wallets (and their live grants) with two queries."""
        self.b.lock_many(wallet_ids)
        found = [w for w in (self.get_wallet(i) for i in sorted(set(wallet_ids))) if w]
        self.locked = self.locked or bool(found)
        return found
