"""The SQL store (SQLAlchemy 2 Core): SQLite and PostgreSQL behind one adapter.

Locking: every writing unit of work starts by locking the wallet row it changes
(``SELECT ... FOR UPDATE`` on PostgreSQL), never "the latest ledger row" (a moving target
that loses updates under read committed).  On SQLite ``BEGIN IMMEDIATE`` (see
:mod:`gencredits.storage.sql.engine`) already serialises writers.  Unique keys (wallet id,
job id, the idempotency key, the one-transaction-per-key constraint) are the backstop: a
violation becomes :class:`~gencredits.ledger.store.RetryableConflict` and the service retries.
"""

from __future__ import annotations

import functools
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from gencredits.ledger.model import (
    Event,
    Grant,
    IdempotencyRecord,
    Job,
    Posting,
    Transaction,
    Wallet,
)
from gencredits.ledger.renewals import Renewal
from gencredits.ledger.rollups import Rollup, add_counts
from gencredits.ledger.store import (
    AuditScope,
    AuditSnapshot,
    AuditTotals,
    GrantQuery,
    RetryableConflict,
    UnitHints,
    WriteUnit,
)
from gencredits.storage.sql import audit_reads, retention, rows
from gencredits.storage.sql import schema as t
from gencredits.storage.sql.counters import CounterDeltas
from gencredits.storage.sql.driver import RowStatement, driver_pipeline
from gencredits.storage.sql.engine import read_only
from gencredits.storage.sql.numbering import Numbering
from gencredits.storage.sql.outbound import SqlOutbound
from gencredits.storage.sql.plans import PlanReads, PlanWrites
from gencredits.storage.sql.renewals import write_renewals
from gencredits.storage.sql.rollups import RollupReads, upsert_rollups
from gencredits.storage.sql.statements import (
    ACTIVE_WALLET_GRANTS,
    EXPIRED_LIVE_GRANTS,
    EXPIRING_GRANTS,
    INSERT_EVENT,
    INSERT_GRANT,
    INSERT_IDEM,
    INSERT_JOB,
    INSERT_WALLET,
    LOCK_WALLET,
    NONEMPTY_ACTIVE_GRANTS,
    NONEMPTY_GRANTS,
    OUTBOX_HORIZON,
    SELECT_GRANT,
    SELECT_IDEM,
    SELECT_JOB,
    SELECT_WALLET,
    SPEND_ORDER_PAGE,
    STARTING_LIVE_GRANTS,
    UPDATE_GRANT,
    UPDATE_JOB,
    UPDATE_WALLET,
    WALLET_GRANTS,
)
from gencredits.storage.sql.versions import bump_version

__all__ = [
    "SqlReader",
    "SqlStore",
    "SqlUnit",
    "as_retryable",
    "spend_page_sizes",
    "unreachable",
    "upsert_state",
]

T = TypeVar("T")

#: SQLSTATEs after which the whole unit of work may simply be run again.
_RETRY_SQLSTATES = {"40001", "40P01", "23505"}
#: SQLSTATEs of a server that gave up waiting (statement_timeout, lock_timeout) or is going away.
_GAVE_UP = {"57014", "55P03", "57P01", "57P02", "57P03"}


def as_retryable(exc: BaseException) -> BaseException:
    """:class:`RetryableConflict` for a database error after which the whole unit of work may
    simply run again (unique key, serialisation failure, deadlock); else ``exc`` itself."""
    retry = isinstance(exc, sa.exc.IntegrityError) or (
        isinstance(exc, sa.exc.OperationalError)
        and getattr(exc.orig, "sqlstate", None) in _RETRY_SQLSTATES
    )
    if not retry:
        return exc
    assert isinstance(exc, sa.exc.DBAPIError)
    conflict = RetryableConflict(str(exc.orig))
    conflict.__cause__ = exc
    return conflict


def unreachable(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot be reached or gave up waiting (a lost
    connection, a timeout), as opposed to refusing one unit's values: running a failed
    batch's units again one by one would then only wait again, once per unit."""
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
    return exc.connection_invalidated or sqlstate.startswith("08") or sqlstate in _GAVE_UP


Row = TypeVar("Row", bound=tuple[object, ...])


def _seq_order(
    q: sa.Select[Row], seq: sa.ColumnElement[int], after: int | None, descending: bool
) -> sa.Select[Row]:
    """``q`` in ``seq`` order (``descending``: newest first), past ``after`` in that order."""
    if after is not None:
        q = q.where(seq < after if descending else seq > after)
    return q.order_by(seq.desc() if descending else seq)


def spend_page_sizes() -> Iterator[int]:
    """The sizes of the pages a spend order is read in: 4, 32, 256, then 1,024 each."""
    yield from (4, 32, 256)
    while True:
        yield 1024


@functools.cache
def _upsert_state(backend: str) -> RowStatement:
    ws = t.wallet_state
    insert = pg_insert(ws) if backend == "postgresql" else sqlite_insert(ws)
    return RowStatement(
        insert.on_conflict_do_update(
            index_elements=[ws.c.wallet_id, ws.c.kind, ws.c.key],
            set_={"data": insert.excluded.data},
        )
    )


def upsert_state(conn: Connection, backend: str, found: Sequence[Mapping[str, Any]]) -> None:
    """Insert or replace state documents (rows of ``ledger_wallet_state``), in the order
    given, through the driver (inside a :func:`driver_pipeline` block: no round trip of
    their own)."""
    _upsert_state(backend).run(conn, found)


class SqlStore:
    """The store port on one SQLAlchemy engine: each unit of work in a transaction of its own."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.backend = engine.dialect.name
        # SQLite admits one writer at a time; writers of this process queue on a mutex instead
        # of on SQLite's busy handler, which sleeps in growing steps and wasted most of the
        # time under contention (figures: bench/RESULTS.md).  Other processes still meet
        # busy_timeout.
        self._writer = threading.Lock() if self.backend == "sqlite" else None

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Held around every writing transaction of this process (SQLite only; else no-op)."""
        if self._writer is None:
            yield
        else:
            with self._writer:
                yield

    @contextmanager
    def unit_of_work(self) -> Iterator[SqlUnit]:
        """One writing transaction, the one :meth:`run_unit` runs its unit in (also handy in
        tests): it commits when the block ends normally, else rolls back."""
        with self.writer_lock(), self._transaction(readonly=False) as conn:
            uow = SqlUnit(conn, self.backend)
            yield uow
            # last, after every wallet lock, in key order (see rollups.py, counters.py); on
            # PostgreSQL pipelined: one round trip for all of them
            with driver_pipeline(conn):
                upsert_rollups(conn, self.backend, uow.rollups.items())
                uow.counters.write(conn)

    def run_unit(self, unit: Callable[[WriteUnit], T], hints: UnitHints) -> T:
        """Run ``unit`` in its own transaction (it runs alone: ``hints`` are not needed)."""
        with self.unit_of_work() as uow:
            return unit(uow)

    @contextmanager
    def reader(self) -> Iterator[SqlReader]:
        """One read-only transaction that sees ONE snapshot, whatever it reads: PostgreSQL
        ``REPEATABLE READ READ ONLY``; SQLite a deferred ``BEGIN`` (no writer lock), whose WAL
        snapshot is taken at its first read and kept (see :func:`.engine.read_only`)."""
        with self._transaction(readonly=True) as conn:
            yield SqlReader(conn, self.backend)

    @contextmanager
    def _transaction(self, *, readonly: bool) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                if readonly:
                    conn = read_only(conn)
                with conn.begin():
                    yield conn
        except sa.exc.DBAPIError as exc:
            conflict = as_retryable(exc)
            if conflict is exc:
                raise
            raise conflict from exc

    def outbound(self) -> SqlOutbound:
        return SqlOutbound(self.engine)

    def forget_idempotency(self, before: datetime, *, limit: int) -> int:
        with self.writer_lock(), self._transaction(readonly=False) as conn:
            return retention.forget_idempotency(conn, before, limit)

    def forget_events(self, before: datetime, *, limit: int) -> int:
        postgresql = self.backend == "postgresql"
        with self.writer_lock(), self._transaction(readonly=False) as conn:
            return retention.forget_events(conn, before, limit, postgresql=postgresql)

    def close(self) -> None:
        self.engine.dispose()


class SqlReader(PlanReads, RollupReads):
    """The reads of the store port (:class:`~gencredits.ledger.store.LedgerReader`) on one
    connection, inside its transaction."""

    def __init__(self, conn: Connection, backend: str) -> None:
        self.c = conn
        self.backend = backend

    def get_wallet(self, wallet_id: str) -> Wallet | None:
        row = self.c.execute(SELECT_WALLET, {"id": wallet_id}).first()
        return None if row is None else rows.wallet_of(row)

    def list_wallets(
        self, *, after_id: str | None, limit: int, descending: bool = False
    ) -> list[Wallet]:
        key = t.wallets.c.id
        q = sa.select(*rows.WALLET_COLUMNS).order_by(key.desc() if descending else key)
        if after_id is not None:
            q = q.where(key < after_id if descending else key > after_id)
        return [rows.wallet_of(r) for r in self.c.execute(q.limit(limit))]

    def wallet_grants(
        self, wallet_id: str, *, active_only: bool, nonempty_only: bool = False
    ) -> list[Grant]:
        if nonempty_only:
            q = NONEMPTY_ACTIVE_GRANTS if active_only else NONEMPTY_GRANTS
        else:
            q = ACTIVE_WALLET_GRANTS if active_only else WALLET_GRANTS
        return [rows.grant_of(r) for r in self.c.execute(q, {"wallet_id": wallet_id})]

    def get_grant(self, grant_id: str) -> Grant | None:
        row = self.c.execute(SELECT_GRANT, {"id": grant_id}).first()
        return None if row is None else rows.grant_of(row)

    def spend_page(self, wallet_id: str, *, offset: int, limit: int) -> list[Grant]:
        """Live grants of the wallet in spend order, ``limit`` of them from ``offset``."""
        params = {"wallet_id": wallet_id, "limit": limit, "offset": offset}
        return [rows.grant_of(r) for r in self.c.execute(SPEND_ORDER_PAGE[self.backend], params)]

    def spend_order(self, wallet_id: str, now: datetime) -> Iterator[Grant]:
        """Pages of the partial spend index, each larger than the last (4, 32, 256, then
        1,024 rows): a hold that takes from one grant reads one short page.  Live grants
        not spendable at ``now`` (not started, or expired but not yet swept) are skipped."""
        offset = 0
        for size in spend_page_sizes():
            page = self.spend_page(wallet_id, offset=offset, limit=size)
            yield from (g for g in page if g.spendable_at(now))
            if len(page) < size:
                return
            offset += size

    def unspendable_grants(self, wallet_id: str, now: datetime) -> list[Grant]:
        params = {"wallet_id": wallet_id, "now": now}
        found = {
            g.id: g
            for q in (EXPIRED_LIVE_GRANTS[self.backend], STARTING_LIVE_GRANTS[self.backend])
            for g in map(rows.grant_of, self.c.execute(q, params))
        }
        return sorted(found.values(), key=Grant.spend_key)

    def expiring_grants(self, wallet_id: str, *, limit: int) -> list[Grant]:
        params = {"wallet_id": wallet_id, "limit": limit}
        return [rows.grant_of(r) for r in self.c.execute(EXPIRING_GRANTS[self.backend], params)]

    def list_grants(self, wallet_id: str, query: GrantQuery, *, limit: int) -> list[Grant]:
        g = t.grants.c
        q = sa.select(*rows.GRANT_COLUMNS).where(g.wallet_id == wallet_id)
        if query.before is not None:
            at, grant_id = query.before
            q = q.where(sa.or_(g.created_at < at, sa.and_(g.created_at == at, g.id < grant_id)))
        if query.live is not None:
            q = q.where(t.LIVE_GRANT if query.live else sa.not_(t.LIVE_GRANT))
        if query.kind is not None:
            q = q.where(g.kind == query.kind)
        if query.expiring_before is not None:
            q = q.where(g.expires_at < query.expiring_before)
        q = q.order_by(g.created_at.desc(), g.id.desc()).limit(limit)
        return [rows.grant_of(r) for r in self.c.execute(q)]

    def get_job(self, job_id: str) -> Job | None:
        row = self.c.execute(SELECT_JOB, {"id": job_id}).first()
        return None if row is None else rows.job_of(row)

    def list_jobs(
        self,
        wallet_id: str,
        *,
        after_seq: int | None,
        limit: int,
        states: Sequence[str] | None,
        descending: bool = False,
    ) -> list[Job]:
        q = sa.select(*rows.JOB_COLUMNS).where(t.jobs.c.wallet_id == wallet_id)
        q = _seq_order(q, t.jobs.c.seq, after_seq, descending)
        if states is not None:
            q = q.where(t.jobs.c.state.in_(list(states)))
        return [rows.job_of(r) for r in self.c.execute(q.limit(limit))]

    def history(
        self, wallet_id: str, *, after_seq: int | None, limit: int, descending: bool = False
    ) -> list[Transaction]:
        q = sa.select(t.transactions).where(t.transactions.c.wallet_id == wallet_id)
        q = _seq_order(q, t.transactions.c.seq, after_seq, descending)
        found = list(self.c.execute(q.limit(limit)))
        if not found:
            return []
        postings: dict[int, list[Posting]] = defaultdict(list)
        eq = (
            sa.select(t.entries.c.tx_seq, t.entries.c.account, t.entries.c.amount)
            .where(t.entries.c.wallet_id == wallet_id)
            .where(t.entries.c.tx_seq.in_([r.seq for r in found]))
            .order_by(t.entries.c.seq)
        )
        for e in self.c.execute(eq):
            postings[e.tx_seq].append(Posting(e.account, e.amount))
        return [
            Transaction(
                id=r.id,
                wallet_id=r.wallet_id,
                kind=r.kind,
                postings=tuple(postings[r.seq]),
                created_at=r.created_at,
                job_id=r.job_id,
                grant_id=r.grant_id,
                idem_scope=r.idem_scope,
                idem_key=r.idem_key,
                memo=r.memo,
                seq=r.seq,
            )
            for r in found
        ]

    def get_state(self, wallet_id: str, kind: str, key: str) -> Mapping[str, Any] | None:
        ws = t.wallet_state
        q = sa.select(ws.c.data).where(
            ws.c.wallet_id == wallet_id, ws.c.kind == kind, ws.c.key == key
        )
        row = self.c.execute(q).first()
        return None if row is None else dict(row.data)

    def list_state(self, wallet_id: str, kind: str) -> list[tuple[str, Mapping[str, Any]]]:
        ws = t.wallet_state
        q = (
            sa.select(ws.c.key, ws.c.data)
            .where(ws.c.wallet_id == wallet_id, ws.c.kind == kind)
            .order_by(ws.c.key)
        )
        return [(r.key, dict(r.data)) for r in self.c.execute(q)]

    def events(self, *, after: tuple[int, int] | None, limit: int) -> list[Event]:
        o = t.outbox
        if self.backend == "postgresql":
            # seq is handed out before commit, so a lower seq can commit after a higher one.
            # Hand out only events of transactions older than every transaction of this
            # database still running (the horizon), in (txid, seq) order: whatever commits
            # later has a txid at or above the horizon, so it sorts after everything handed
            # out so far.  pg_current_snapshot() is the reader's one snapshot (repeatable
            # read): every transaction below its horizon had ended when the snapshot was
            # taken, so its events are all in the snapshot or never will be (rolled back).
            q = (
                sa.select(o)
                .where(o.c.txid < OUTBOX_HORIZON)
                .order_by(o.c.txid, o.c.seq)
                .limit(limit)
            )
            if after is not None:
                mark = sa.tuple_(sa.literal(after[0]), sa.literal(after[1]))
                q = q.where(sa.tuple_(o.c.txid, o.c.seq) > mark)
        else:
            # SQLite admits one writer at a time: seq order is commit order.
            q = sa.select(o).order_by(o.c.seq).limit(limit)
            if after is not None:
                q = q.where(o.c.seq > after[1])
        return [
            Event(
                wallet_id=r.wallet_id,
                type=r.type,
                subject_id=r.subject_id,
                created_at=r.created_at,
                payload=r.payload,
                seq=r.seq,
                txid=r.txid,
                wallet_version=r.wallet_version,
                version_seq=r.version_seq,
            )
            for r in self.c.execute(q)
        ]

    def key_forgotten(self, wallet_id: str, scope: str, key: str) -> bool:
        tx, idem = t.transactions, t.idempotency
        used = sa.exists().where(
            tx.c.wallet_id == wallet_id, tx.c.idem_scope == scope, tx.c.idem_key == key
        )
        kept = sa.exists().where(
            idem.c.wallet_id == wallet_id, idem.c.scope == scope, idem.c.key == key
        )
        return bool(self.c.execute(sa.select(sa.and_(used, sa.not_(kept)))).scalar())

    def due_holds(self, now: datetime, *, limit: int) -> list[tuple[str, str]]:
        q = (
            sa.select(t.jobs.c.id, t.jobs.c.wallet_id)
            .where(t.jobs.c.state == "pending", t.jobs.c.hold_expires_at <= now)
            .order_by(t.jobs.c.hold_expires_at)
            .limit(limit)
        )
        return [(r.id, r.wallet_id) for r in self.c.execute(q)]

    def due_grants(self, now: datetime, *, limit: int) -> list[tuple[str, str]]:
        q = (
            sa.select(t.grants.c.id, t.grants.c.wallet_id)
            .where(t.grants.c.state == "active", t.grants.c.expires_at <= now)
            .order_by(t.grants.c.expires_at)
            .limit(limit)
        )
        return [(r.id, r.wallet_id) for r in self.c.execute(q)]

    def state_field_max(self, kind: str, name: str) -> int | None:
        st = t.wallet_state
        q = sa.select(sa.func.max(st.c.data[name].as_integer())).where(
            st.c.kind == t.rule_kind(kind), st.c.key == sa.literal_column("''")
        )
        found = self.c.execute(q).scalar()
        return None if found is None else int(found)

    def grants_expiring_within(
        self,
        after: datetime,
        until: datetime,
        *,
        rule: tuple[str, str],
        start: tuple[datetime, str] | None,
        limit: int,
    ) -> list[tuple[str, str, datetime]]:
        g, st = t.grants, t.wallet_state
        has_rule = (
            sa.select(sa.literal(1))
            .where(st.c.wallet_id == g.c.wallet_id, st.c.kind == rule[0], st.c.key == "")
            .where(st.c.data[rule[1]].as_string().is_not(None))
            .exists()
        )
        q = sa.select(g.c.id, g.c.wallet_id, g.c.expires_at).where(
            t.LIVE_GRANT, g.c.expires_at.is_not(None), g.c.expires_at > after
        )
        q = q.where(g.c.expires_at <= until, has_rule)
        if start is not None:
            at, grant_id = start
            q = q.where(
                sa.or_(g.c.expires_at > at, sa.and_(g.c.expires_at == at, g.c.id > grant_id))
            )
        q = q.order_by(g.c.expires_at, g.c.id).limit(limit)
        return [(r.id, r.wallet_id, r.expires_at) for r in self.c.execute(q)]

    def audit_snapshot(
        self, wallet_ids: Sequence[str] | None = None, *, keys_since: datetime | None = None
    ) -> AuditSnapshot:
        return audit_reads.snapshot(self.c, wallet_ids, keys_since)

    def audit_wallets(self, scope: AuditScope, *, after_id: str | None, limit: int) -> list[str]:
        return audit_reads.wallet_ids(self.c, scope, after_id=after_id, limit=limit)

    def audit_totals(self) -> AuditTotals:
        return audit_reads.totals(self.c)

    def audit_cursor(self) -> int:
        return audit_reads.cursor(self.c)


class SqlUnit(SqlReader, PlanWrites):
    """A unit of work (:class:`~gencredits.ledger.store.WriteUnit`) on one connection, inside
    its writing transaction; the reads of :class:`SqlReader` come with it."""

    def __init__(self, conn: Connection, backend: str) -> None:
        super().__init__(conn, backend)
        #: wallet -> (the version this unit set, how many events it emitted for it)
        self.stamps: dict[str, tuple[int | None, int]] = {}
        #: PostgreSQL: the id that orders this unit's events (see :mod:`.versions`)
        self.order: int | None = None
        self.counters = CounterDeltas()
        #: report rollups this unit added to, summed per row (written once, at the end)
        self.rollups: dict[tuple[str, tuple[str, ...]], tuple[int, ...]] = {}
        #: each job as this transaction last read or wrote it, for what its update changes
        #: (an update is computed from the job read under its wallet's lock, the last read)
        self.jobs_read: dict[str, Job | None] = {}
        #: SQLite: the seq numbers this transaction hands out (see :mod:`.numbering`)
        self.numbers = Numbering(conn, backend)

    def get_job(self, job_id: str) -> Job | None:
        job = super().get_job(job_id)
        self.jobs_read[job_id] = job
        return job

    def lock_wallet(self, wallet_id: str) -> Wallet | None:
        q = LOCK_WALLET if self.backend == "postgresql" else SELECT_WALLET
        row = self.c.execute(q, {"id": wallet_id}).first()
        return None if row is None else rows.wallet_of(row)

    def insert_wallet(self, wallet: Wallet) -> None:
        self.c.execute(INSERT_WALLET, rows.wallet_row(wallet))

    def update_wallet(self, wallet: Wallet) -> None:
        self.c.execute(UPDATE_WALLET, rows.wallet_update_row(wallet))

    def insert_grant(self, grant: Grant) -> None:
        self.c.execute(INSERT_GRANT, rows.grant_row(grant))

    def update_grant(self, grant: Grant) -> None:
        self.c.execute(UPDATE_GRANT, rows.grant_update_row(grant))

    def insert_job(self, job: Job) -> Job:
        row = self.numbers.number(t.jobs, [rows.job_row(job)])[0]
        pk = self.c.execute(INSERT_JOB, row).inserted_primary_key
        assert pk is not None
        self.counters.job_changed(None, job)
        self.jobs_read[job.id] = job
        return replace(job, seq=int(pk.seq))

    def update_job(self, job: Job) -> None:
        before = self.jobs_read[job.id] if job.id in self.jobs_read else self.get_job(job.id)
        self.c.execute(UPDATE_JOB, rows.job_update_row(job))
        self.counters.job_changed(before, job)
        self.jobs_read[job.id] = job

    def record(self, transaction: Transaction) -> None:
        self.numbers.write_ledger([transaction])

    def get_idempotency(self, wallet_id: str, scope: str, key: str) -> IdempotencyRecord | None:
        params = {"wallet_id": wallet_id, "scope": scope, "key": key}
        row = self.c.execute(SELECT_IDEM, params).first()
        return None if row is None else rows.idempotency_record(row)

    def insert_idempotency(self, record: IdempotencyRecord) -> None:
        self.c.execute(INSERT_IDEM, rows.idempotency_row(record))

    def emit(self, event: Event) -> None:
        """Insert the event, stamped with the wallet's version: the unit's first event for
        the wallet bumps it (under the wallet's lock, see :mod:`.versions`)."""
        stamp = self.stamps.get(event.wallet_id)
        if stamp is None:
            first = not self.stamps and self.backend == "postgresql"
            version, order = bump_version(self.c, event.wallet_id, order=first)
            if first:
                self.order = order
            stamp = (version, 0)
        version, place = stamp
        self.stamps[event.wallet_id] = (version, place + 1)
        seq = None if version is None else place
        stamped = replace(event, wallet_version=version, version_seq=seq, txid=self.order)
        self.c.execute(INSERT_EVENT, self.numbers.number(t.outbox, [rows.event_row(stamped)]))

    def write_renewals(self, renewals: Sequence[Renewal], wallets: Sequence[Wallet]) -> None:
        write_renewals(self.numbers, renewals, wallets)

    def put_state(self, wallet_id: str, kind: str, key: str, data: Mapping[str, Any]) -> None:
        row = {"wallet_id": wallet_id, "kind": kind, "key": key, "data": dict(data)}
        upsert_state(self.c, self.backend, [row])

    def add_rollup(self, rollup: Rollup) -> None:
        name = (rollup.family, rollup.key)
        self.rollups[name] = add_counts(self.rollups.get(name), rollup.counts)
