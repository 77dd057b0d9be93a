"""The store port: what the billing service needs from storage, and nothing more.

Two ports, one per way of using the ledger:

* :class:`WriteUnit`: what a unit of work may do under its wallet lock.  A :class:`LedgerStore`
  runs a unit (:meth:`LedgerStore.run_unit`) as ONE atomic transaction: everything written
  through it (wallet, grants, job, ledger transaction and its entries, idempotency record,
  outbox events) commits together or not at all.  The unit calls
  :meth:`WriteUnit.lock_wallet` first; the adapter must then serialise every other writer of
  that wallet until the unit ends (PostgreSQL: ``SELECT ... FOR UPDATE`` on the wallet row;
  SQLite: ``BEGIN IMMEDIATE``; memory: one lock).
* :class:`LedgerReader`: reads, in one read-only transaction (:meth:`LedgerStore.reader`),
  including those that scan many rows (lists, history, the outbox, the sweeper's and the
  auditor's queries), which a write unit does not offer.  Everything one reader returns
  comes from ONE snapshot: whole units of work only, never a state between two statements
  (PostgreSQL: ``REPEATABLE READ READ ONLY``; SQLite: a deferred ``BEGIN`` in WAL mode;
  memory: the store's lock).  A reader never makes a writer wait.

Adapters: :class:`~gencredits.ledger.memory.MemoryStore` (the reference model, also handy in
tests of code that embeds gencredits) and :class:`~gencredits.storage.sql.store.SqlStore`
(SQLite and PostgreSQL).  One contract suite (``tests/ledger``) runs against all three.
:func:`open_store` opens the SQL one for a database URL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from gencredits.ledger.model import (
    Event,
    Grant,
    IdempotencyRecord,
    Job,
    Transaction,
    Wallet,
)
from gencredits.ledger.outbound import OutboundStore
from gencredits.ledger.records import CycleRecord, Purchase, Subscription
from gencredits.ledger.renewals import Renewal
from gencredits.ledger.rollups import Rollup, RollupRow
from gencredits.shards import bucket_of, bucket_of_id

__all__ = [
    "AuditScope",
    "AuditSnapshot",
    "AuditTotals",
    "GrantQuery",
    "LedgerReader",
    "LedgerStore",
    "RetryableConflict",
    "UnitHints",
    "WriteUnit",
    "open_store",
]

T = TypeVar("T")


class RetryableConflict(Exception):
    """A concurrent writer got there first (unique key, serialisation failure, deadlock).

    Nothing was committed; the service retries the whole unit of work, which then sees the
    winner's effect (typically its idempotency record) and answers accordingly.
    """


@dataclass(frozen=True, slots=True)
class UnitHints:
    """What a unit of work will touch, known before it runs (all optional).

    Passed with the unit to :meth:`LedgerStore.run_unit`.  A batching store reads the hints
    of a whole batch first: it locks every wallet of the batch in id order (so two processes'
    batches cannot deadlock) and loads the wallets, their grants, the jobs and the
    idempotency records with one query each, instead of a few queries per unit.  Hints only
    save work: a unit that reads something else still gets it.
    """

    wallet_id: str | None = None  # the wallet the unit locks, when known without a read
    job_id: str | None = None  # a job whose wallet the unit locks
    grant_id: str | None = None  # a grant whose wallet the unit locks
    idempotency: tuple[str, str] | None = None  # (scope, key) the unit checks
    #: the unit is a batch of its own (a tick renewing many subscriptions, written with one
    #: statement per table): a batching store runs it alone, in a transaction of its own
    alone: bool = False

    @property
    def bucket(self) -> int | None:
        """The shard bucket (:mod:`gencredits.shards`) of the wallet the unit touches, known
        without a read: the wallet id's, else the one its job or grant id carries; ``None``
        when no hint names one (or the id was made before ids carried a bucket).  What a
        sharded deployment routes the unit by, and what a group-commit store configured
        with a shard count groups its batches by."""
        if self.wallet_id is not None:
            return bucket_of(self.wallet_id)
        made = self.job_id if self.job_id is not None else self.grant_id
        return None if made is None else bucket_of_id(made)


@dataclass(frozen=True, slots=True)
class AuditSnapshot:
    """Everything the auditor compares: derived facts (from entries) and materialised ones."""

    account_balances: Mapping[str, int]
    unbalanced_transactions: Sequence[tuple[str, int]]
    wallets: Sequence[Wallet]
    grants: Sequence[Grant]
    jobs: Sequence[Job]
    #: job id -> kinds of the ledger transactions that name it, in order
    job_transactions: Mapping[str, Sequence[str]]
    #: (scope, key) of every transaction recorded under an idempotency key, with repeats
    transaction_keys: Sequence[tuple[str, str]]
    idempotency_keys: frozenset[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class AuditScope:
    """Which wallets an audit checks: every one (the default, with the ledger-wide sums), the
    ids from ``wallet_from`` to ``wallet_to`` (inclusive, either open), or those with a ledger
    transaction after the cursor ``since`` (a transaction sequence number an audit gave)."""

    wallet_from: str | None = None
    wallet_to: str | None = None
    since: int | None = None

    @property
    def whole(self) -> bool:
        return self.wallet_from is None and self.wallet_to is None and self.since is None


@dataclass(frozen=True, slots=True)
class AuditTotals:
    """The ledger-wide facts an audit of everything checks, summed by the store."""

    #: all entries summed (0 in a balanced ledger)
    grand_total: int
    #: the system accounts' balances
    system_balances: Mapping[str, int]
    #: credits the jobs say were consumed (used plus written off)
    consumed_by_jobs: int
    #: accounts with entries that no wallet, grant, job or the system owns (a few at most)
    unknown_accounts: Sequence[str]


@dataclass(frozen=True, slots=True)
class GrantQuery:
    """Which of a wallet's grants a page lists, newest first (``created_at``, then ``id``,
    descending), each filter optional: ``live`` (True: active with credit left, the active
    set; False: the others), ``kind``, ``expiring_before`` (an expiry before that instant),
    ``before`` (the (created_at, id) of the last grant of the previous page)."""

    live: bool | None = None
    kind: str | None = None
    expiring_before: datetime | None = None
    before: tuple[datetime, str] | None = None


class GrantReads(Protocol):
    """The reads of a wallet's active set (its live grants: active, with credit left) that
    both a unit of work and a reader offer, each served by an index so that its cost does
    not grow with the number of grants the wallet holds."""

    def spend_order(self, wallet_id: str, now: datetime) -> Iterator[Grant]:
        """The wallet's grants spendable at ``now`` (live, effective, unexpired) in spend
        order (:meth:`Grant.spend_key`), read lazily: a caller that stops early has read
        about as many rows as it took (plus any live grants not spendable at ``now``)."""
        ...

    def unspendable_grants(self, wallet_id: str, now: datetime) -> list[Grant]:
        """The wallet's live grants NOT spendable at ``now``: not yet effective, or past
        their expiry but not yet expired by the sweep (few: the sweep keeps up)."""
        ...

    def expiring_grants(self, wallet_id: str, *, limit: int) -> list[Grant]:
        """Up to ``limit`` live grants with an expiry, soonest first (then oldest, id)."""
        ...


class WriteUnit(GrantReads, Protocol):
    """What a unit of work may do under its wallet lock: point reads and writes."""

    # --- wallets ------------------------------------------------------------------------
    def lock_wallet(self, wallet_id: str) -> Wallet | None: ...
    def get_wallet(self, wallet_id: str) -> Wallet | None: ...
    def insert_wallet(self, wallet: Wallet) -> None: ...
    def update_wallet(self, wallet: Wallet) -> None: ...

    # --- grants -------------------------------------------------------------------------
    def wallet_grants(
        self, wallet_id: str, *, active_only: bool, nonempty_only: bool = False
    ) -> list[Grant]:
        """The wallet's grants (``active_only``: not expired/voided; ``nonempty_only``: with
        something left), oldest first: ALL of them, so never on a path whose cost must not
        grow with the wallet's grants (holds use :meth:`spend_order`, reads the bounded
        :class:`GrantReads` and :meth:`LedgerReader.list_grants`)."""
        ...

    def get_grant(self, grant_id: str) -> Grant | None: ...
    def insert_grant(self, grant: Grant) -> None: ...
    def update_grant(self, grant: Grant) -> None: ...

    # --- jobs ---------------------------------------------------------------------------
    def get_job(self, job_id: str) -> Job | None: ...
    def insert_job(self, job: Job) -> Job: ...
    def update_job(self, job: Job) -> None:
        """Write the job's lifecycle (state, credits held/used/written off, reason, times);
        what was asked for (params, quote, catalog, hold legs, metadata) is written once, by
        :meth:`insert_job`."""
        ...

    # --- the ledger proper ----------------------------------------------------------------
    def record(self, transaction: Transaction) -> None:
        """Append a balanced transaction and its entries (never updated or deleted)."""
        ...

    # --- idempotency and outbox -------------------------------------------------------------
    def get_idempotency(self, wallet_id: str, scope: str, key: str) -> IdempotencyRecord | None:
        """The record of ``key`` in ``scope``, which names a thing of ``wallet_id`` (the
        wallet this unit locked)."""
        ...

    def insert_idempotency(self, record: IdempotencyRecord) -> None: ...
    def emit(self, event: Event) -> None: ...

    def lock_wallets(self, wallet_ids: Sequence[str]) -> list[Wallet]:
        """Lock several wallets at once, in id order (a tick renewing many subscriptions
        in one unit); the missing ones are left out."""
        ...

    # --- per-wallet state documents (teams, members, usage, alert arming) ------------------
    def get_state(self, wallet_id: str, kind: str, key: str) -> Mapping[str, Any] | None:
        """The wallet's state document ``(kind, key)``: a small JSON object (whole numbers,
        text, booleans) that a service keeps beside the ledger, read under the wallet lock."""
        ...

    def put_state(self, wallet_id: str, kind: str, key: str, data: Mapping[str, Any]) -> None:
        """Write (insert or replace) the document, in the unit's transaction."""
        ...

    def list_state(self, wallet_id: str, kind: str) -> list[tuple[str, Mapping[str, Any]]]:
        """The wallet's documents of ``kind`` (key, data), by key, this unit's writes included."""
        ...

    # --- subscriptions and purchases ------------------------------------------------------------
    def get_subscription(self, subscription_id: str) -> Subscription | None: ...
    def get_subscriptions(self, subscription_ids: Sequence[str]) -> list[Subscription]:
        """Those of these subscriptions that exist (any order)."""
        ...

    def insert_subscription(self, subscription: Subscription) -> None: ...
    def update_subscription(self, subscription: Subscription) -> None: ...
    def insert_cycle(self, cycle: CycleRecord) -> None:
        """Record a granted cycle; a second record of the same (wallet, subscription,
        number) cannot commit (the unit fails with :class:`RetryableConflict`)."""
        ...

    def write_renewals(self, renewals: Sequence[Renewal], wallets: Sequence[Wallet]) -> None:
        """Write the rows of these renewals (see :class:`~gencredits.ledger.renewals.Renewal`)
        and these wallets as they are after them, as :func:`~gencredits.ledger.renewals.write_each`
        does row by row; the SQL store writes each table's rows with one statement.  A cycle
        already recorded fails the unit (:class:`RetryableConflict`), as :meth:`insert_cycle`."""
        ...

    def get_purchase(self, purchase_id: str) -> Purchase | None: ...
    def insert_purchase(self, purchase: Purchase) -> None: ...
    def update_purchase(self, purchase: Purchase) -> None: ...

    # --- report rollups ---------------------------------------------------------------------------
    def add_rollup(self, rollup: Rollup) -> None:
        """Add ``rollup``'s counters to its key's row (made at zero when new), in the unit's
        transaction (see :mod:`gencredits.ledger.rollups`)."""
        ...


class LedgerReader(GrantReads, Protocol):
    """Reads, all in one read-only transaction (one consistent view)."""

    # --- wallets and grants ---------------------------------------------------------------
    def get_wallet(self, wallet_id: str) -> Wallet | None: ...
    def list_wallets(
        self, *, after_id: str | None, limit: int, descending: bool = False
    ) -> list[Wallet]:
        """Wallets by id, past ``after_id`` in that order (``descending``: z to a)."""
        ...

    def wallet_grants(
        self, wallet_id: str, *, active_only: bool, nonempty_only: bool = False
    ) -> list[Grant]:
        """As :meth:`WriteUnit.wallet_grants`."""
        ...

    def get_grant(self, grant_id: str) -> Grant | None: ...

    def list_grants(self, wallet_id: str, query: GrantQuery, *, limit: int) -> list[Grant]:
        """One page of the wallet's grants, newest first (see :class:`GrantQuery`)."""
        ...

    # --- jobs and the ledger ----------------------------------------------------------------
    def get_job(self, job_id: str) -> Job | None: ...
    def list_jobs(
        self,
        wallet_id: str,
        *,
        after_seq: int | None,
        limit: int,
        states: Sequence[str] | None,
        descending: bool = False,
    ) -> list[Job]:
        """The wallet's jobs in submission order (``descending``: newest first), past the
        job whose ``seq`` is ``after_seq`` in that order."""
        ...

    def history(
        self, wallet_id: str, *, after_seq: int | None, limit: int, descending: bool = False
    ) -> list[Transaction]:
        """The wallet's transactions in ledger order (``descending``: newest first), past
        the one whose ``seq`` is ``after_seq`` in that order."""
        ...

    def get_state(self, wallet_id: str, kind: str, key: str) -> Mapping[str, Any] | None:
        """As :meth:`WriteUnit.get_state`."""
        ...

    def list_state(self, wallet_id: str, kind: str) -> list[tuple[str, Mapping[str, Any]]]:
        """The wallet's state documents of ``kind``: (key, data), by key."""
        ...

    # --- outbox -------------------------------------------------------------------------------
    def events(self, *, after: tuple[int, int] | None, limit: int) -> list[Event]:
        """Committed events in delivery order after the position ``after`` (see
        :attr:`Event.position`): an event that commits later never sorts before one already
        handed out, so a consumer that resumes from its last position misses nothing."""
        ...

    # --- sweeper and auditor -----------------------------------------------------------------
    def key_forgotten(self, wallet_id: str, scope: str, key: str) -> bool:
        """Whether a ledger transaction carries this idempotency key (kept for ever) and its
        idempotency record is gone (deleted after the retention)."""
        ...

    def due_holds(self, now: datetime, *, limit: int) -> list[tuple[str, str]]:
        """(job id, wallet id) of pending jobs whose hold expired at or before ``now``."""
        ...

    def due_grants(self, now: datetime, *, limit: int) -> list[tuple[str, str]]:
        """(grant id, wallet id) of active grants that expired at or before ``now``."""
        ...

    def state_field_max(self, kind: str, name: str) -> int | None:
        """The largest whole number under ``name`` in the ``(kind, "")`` documents of every
        wallet (``None``: no document has one); served by an index of those documents."""
        ...

    def grants_expiring_within(
        self,
        after: datetime,
        until: datetime,
        *,
        rule: tuple[str, str],
        start: tuple[datetime, str] | None,
        limit: int,
    ) -> list[tuple[str, str, datetime]]:
        """(grant id, wallet id, expiry) of live grants (active, credit left) expiring in
        ``(after, until]``, of wallets whose state document ``(rule[0], "")`` has a value
        for the field ``rule[1]``; by expiry then id, past ``start`` in that order.  Served
        by an index of live expiring grants, so its cost follows the grants in the window."""
        ...

    def audit_snapshot(
        self, wallet_ids: Sequence[str] | None = None, *, keys_since: datetime | None = None
    ) -> AuditSnapshot:
        """What the auditor compares: of everything, or of ``wallet_ids`` only (their
        wallets, grants, jobs, the balances of their accounts and their transactions).
        ``keys_since``: the transaction keys of transactions created at or after it only
        (older ones may have lost their idempotency record to retention)."""
        ...

    def audit_wallets(self, scope: AuditScope, *, after_id: str | None, limit: int) -> list[str]:
        """Ids of the wallets in ``scope`` after ``after_id``, in id order, at most ``limit``."""
        ...

    def audit_totals(self) -> AuditTotals: ...

    def audit_cursor(self) -> int:
        """The sequence number of the newest ledger transaction (0: none): an audit's
        ``since`` for the next one."""
        ...

    # --- subscriptions and purchases --------------------------------------------------------
    def get_subscription(self, subscription_id: str) -> Subscription | None: ...
    def wallet_subscriptions(self, wallet_id: str) -> list[Subscription]:
        """The wallet's subscriptions, oldest first."""
        ...

    def subscription_cycles(self, subscription_id: str) -> list[CycleRecord]:
        """The subscription's granted cycles, by number."""
        ...

    def due_subscriptions(
        self, now: datetime, *, limit: int, plans: Sequence[str]
    ) -> list[tuple[str, str]]:
        """(subscription id, wallet id) of active or cancelled subscriptions on ``plans``
        (and, if they have a pending plan, moving to one of ``plans``) whose next cycle
        started at or before ``now``, soonest first (a unit locks its chunk's wallets
        in id order, so tickers never deadlock)."""
        ...

    def get_purchase(self, purchase_id: str) -> Purchase | None: ...

    # --- report rollups ---------------------------------------------------------------------------
    def rollup_totals(
        self,
        family: str,
        *,
        group_by: Sequence[str],
        days: tuple[str | None, str | None],
        where: Mapping[str, str],
    ) -> list[RollupRow]:
        """The family's counters summed per value of the ``group_by`` key parts, over the days
        from ``days[0]`` (included) to ``days[1]`` (excluded; ``None``: unbounded), on rows
        whose key parts equal ``where``'s; groups in key order, zero groups included."""
        ...


class LedgerStore(Protocol):
    backend: str  # "memory", "sqlite", "postgresql"

    def run_unit(self, unit: Callable[[WriteUnit], T], hints: UnitHints) -> T:
        """Run ``unit`` atomically and return its result once it is durable (committed).

        ``hints``: what the unit will touch (``UnitHints()`` when unknown).  Plain adapters
        run the unit in a transaction of its own and need no hints; a group-commit adapter
        runs many callers' units in one database transaction (each staged in memory, see
        :mod:`gencredits.storage.sql.staged`), locking and loading what the batch's hints
        name up front, and answers each caller after the shared commit.
        """
        ...

    def reader(self) -> AbstractContextManager[LedgerReader]:
        """One read-only transaction that sees one snapshot, ended when the block ends; never
        queued behind writes."""
        ...

    def outbound(self) -> OutboundStore:
        """Where outbound webhooks keep their endpoints and deliveries (same database)."""
        ...

    def forget_idempotency(self, before: datetime, *, limit: int) -> int:
        """Delete at most ``limit`` idempotency records created before ``before``, oldest
        first, in one short transaction of their own: how many went.  The ledger's
        transactions keep their keys (one effect per key, for ever)."""
        ...

    def forget_events(self, before: datetime, *, limit: int) -> int:
        """Delete the oldest outbox events, at most ``limit``, in delivery order, stopping at
        the first one created at or after ``before`` or not yet passed by every consumer
        (:func:`~gencredits.ledger.outbound.consumed_through`), never the newest (highest
        seq: SQLite would number the next event after what is left), in one short
        transaction of their own: how many went.  Reads after any position still neither
        skip nor repeat."""
        ...

    def close(self) -> None: ...


def open_store(
    database_url: str | None = None, *, group_commit: bool = False, shard_count: int = 0
) -> LedgerStore:
    """The SQL store on the database at ``database_url`` (default: ``$GENCREDITS_DATABASE_URL``,
    else the SQLite file under ``./var``), migrated to the newest schema first.
    ``group_commit``: batch the writes of this process into shared transactions (see
    :mod:`gencredits.storage.sql.batch`); ``shard_count``: a group-commit batch then holds
    units of one shard only (a power of two up to 1024; 0: off).

    This is the one place the core names the SQL adapter package
    (:mod:`gencredits.storage.sql`), imported here, on first use, so that the core itself
    imports no database code.
    """
    from gencredits.storage.sql.batch import GroupCommitStore
    from gencredits.storage.sql.engine import make_engine, upgrade
    from gencredits.storage.sql.store import SqlStore

    engine = make_engine(database_url)
    upgrade(engine)
    store = SqlStore(engine)
    return GroupCommitStore(store, shard_count=shard_count) if group_commit else store
