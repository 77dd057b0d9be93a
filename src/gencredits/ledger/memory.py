"""The in-memory store: the reference adapter of the store port.

Units of work are serialised by one re-entrant lock and made atomic by an undo log: every
write remembers what it replaced, and an exception rolls the writes back in reverse order.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from gencredits.ledger.memory_outbound import MemoryOutbound
from gencredits.ledger.model import (
    Event,
    Grant,
    IdempotencyRecord,
    Job,
    Transaction,
    Wallet,
)
from gencredits.ledger.store import AuditSnapshot, RetryableConflict, UnitHints, WriteUnit

__all__ = ["MemoryStore"]

_MISSING = object()
T = TypeVar("T")


class MemoryStore:
    backend = "memory"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.wallets: dict[str, Wallet] = {}
        self.grants: dict[str, Grant] = {}
        self.grants_by_wallet: dict[str, list[str]] = defaultdict(list)
        self.jobs: dict[str, Job] = {}
        self.jobs_by_wallet: dict[str, list[str]] = defaultdict(list)
        self.transactions: list[Transaction] = []
        self.tx_by_wallet: dict[str, list[int]] = defaultdict(list)
        self.tx_keys: set[tuple[str, str]] = set()
        # Indexes for the sweeper: pending jobs, and active grants that have an expiry.
        self.pending_jobs: set[str] = set()
        self.live_grants: dict[str, set[str]] = defaultdict(set)  # active, remaining > 0
        self.expiring_grants: set[str] = set()
        self.idempotency: dict[tuple[str, str], IdempotencyRecord] = {}
        self.outbox: list[Event] = []
        self.state: dict[tuple[str, str, str], Mapping[str, Any]] = {}
        self.counters: dict[str, int] = {"job": 0}
        self._undo: list[Callable[[], None]] | None = None
        self._outbound = MemoryOutbound()

    def outbound(self) -> MemoryOutbound:
        return self._outbound

    @contextmanager
    def unit_of_work(self) -> Iterator[_MemoryUnit]:
        """One atomic unit (what :meth:`run_unit` runs a unit in; also handy in tests): its
        writes are undone if the block raises."""
        with self._lock:
            outer = self._undo is None
            if outer:
                self._undo = []
            try:
                yield _MemoryUnit(self)
            except BaseException:
                if outer:
                    for undo in reversed(self._undo or []):
                        undo()
                raise
            finally:
                if outer:
                    self._undo = None

    def run_unit(self, unit: Callable[[WriteUnit], T], hints: UnitHints) -> T:
        """Run ``unit`` atomically (one at a time: ``hints`` are not needed)."""
        with self.unit_of_work() as uow:
            return unit(uow)

    @contextmanager
    def reader(self) -> Iterator[_MemoryUnit]:
        """Reads under the store's lock: one consistent view."""
        with self._lock:
            yield _MemoryUnit(self)

    def close(self) -> None:
        pass

    # --- undoable primitives ---------------------------------------------------------------
    def _set(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        old = table.get(key, _MISSING)
        table[key] = value
        assert self._undo is not None

        def undo() -> None:
            if old is _MISSING:
                del table[key]
            else:
                table[key] = old

        self._undo.append(undo)

    def _append(self, items: list[Any], value: Any) -> None:
        items.append(value)
        assert self._undo is not None
        self._undo.append(items.pop)

    def _add(self, items: set[Any], value: Any) -> None:
        if value in items:
            return
        items.add(value)
        assert self._undo is not None
        self._undo.append(lambda: items.discard(value))

    def _discard(self, items: set[Any], value: Any) -> None:
        if value not in items:
            return
        items.discard(value)
        assert self._undo is not None
        self._undo.append(lambda: items.add(value))


class _MemoryUnit:
    """A unit of work (:class:`~gencredits.ledger.store.WriteUnit`) and a reader
    (:class:`~gencredits.ledger.store.LedgerReader`) on the store's dictionaries."""

    def __init__(self, store: MemoryStore) -> None:
        self.s = store

    # wallets
    def lock_wallet(self, wallet_id: str) -> Wallet | None:
        return self.s.wallets.get(wallet_id)

    def get_wallet(self, wallet_id: str) -> Wallet | None:
        return self.s.wallets.get(wallet_id)

    def insert_wallet(self, wallet: Wallet) -> None:
        if wallet.id in self.s.wallets:
            raise RetryableConflict(f"wallet {wallet.id} exists")
        self.s._set(self.s.wallets, wallet.id, wallet)

    def update_wallet(self, wallet: Wallet) -> None:
        assert wallet.id in self.s.wallets
        self.s._set(self.s.wallets, wallet.id, wallet)

    def list_wallets(self, *, after_id: str | None, limit: int) -> list[Wallet]:
        ids = sorted(i for i in self.s.wallets if after_id is None or i > after_id)
        return [self.s.wallets[i] for i in ids[:limit]]

    # grants
    def wallet_grants(
        self, wallet_id: str, *, active_only: bool, nonempty_only: bool = False
    ) -> list[Grant]:
        if nonempty_only and active_only:
            # The hot path (every hold): only the grants that still have credit.
            live = self.s.live_grants.get(wallet_id, ())
            return sorted((self.s.grants[g] for g in live), key=lambda g: (g.created_at, g.id))
        found = [self.s.grants[g] for g in self.s.grants_by_wallet.get(wallet_id, ())]
        return [
            g
            for g in found
            if (not active_only or g.state == "active") and (not nonempty_only or g.remaining)
        ]

    def get_grant(self, grant_id: str) -> Grant | None:
        return self.s.grants.get(grant_id)

    def insert_grant(self, grant: Grant) -> None:
        if grant.id in self.s.grants:
            raise RetryableConflict(f"grant {grant.id} exists")
        self.s._set(self.s.grants, grant.id, grant)
        self.s._append(self.s.grants_by_wallet[grant.wallet_id], grant.id)
        if grant.state == "active" and grant.expires_at is not None:
            self.s._add(self.s.expiring_grants, grant.id)
        self._index_live(grant)

    def update_grant(self, grant: Grant) -> None:
        assert grant.id in self.s.grants
        self.s._set(self.s.grants, grant.id, grant)
        if grant.state != "active":
            self.s._discard(self.s.expiring_grants, grant.id)
        self._index_live(grant)

    def _index_live(self, grant: Grant) -> None:
        live = self.s.live_grants[grant.wallet_id]
        if grant.state == "active" and grant.remaining > 0:
            self.s._add(live, grant.id)
        else:
            self.s._discard(live, grant.id)

    # jobs
    def get_job(self, job_id: str) -> Job | None:
        return self.s.jobs.get(job_id)

    def insert_job(self, job: Job) -> Job:
        if job.id in self.s.jobs:
            raise RetryableConflict(f"job {job.id} exists")
        seq = self.s.counters["job"] + 1
        self.s._set(self.s.counters, "job", seq)
        job = replace(job, seq=seq)
        self.s._set(self.s.jobs, job.id, job)
        self.s._append(self.s.jobs_by_wallet[job.wallet_id], job.id)
        if job.state == "pending":
            self.s._add(self.s.pending_jobs, job.id)
        return job

    def update_job(self, job: Job) -> None:
        assert job.id in self.s.jobs
        self.s._set(self.s.jobs, job.id, job)
        if job.state != "pending":
            self.s._discard(self.s.pending_jobs, job.id)

    def list_jobs(
        self,
        wallet_id: str,
        *,
        after_seq: int | None,
        limit: int,
        states: Sequence[str] | None,
    ) -> list[Job]:
        out: list[Job] = []
        for job_id in self.s.jobs_by_wallet.get(wallet_id, ()):
            job = self.s.jobs[job_id]
            assert job.seq is not None
            if after_seq is not None and job.seq <= after_seq:
                continue
            if states is not None and job.state not in states:
                continue
            out.append(job)
            if len(out) >= limit:
                break
        return out

    # ledger
    def record(self, transaction: Transaction) -> None:
        if transaction.idem_scope is not None and transaction.idem_key is not None:
            key = (transaction.idem_scope, transaction.idem_key)
            if key in self.s.tx_keys:
                raise RetryableConflict(f"a transaction already exists under key {key}")
            self.s._add(self.s.tx_keys, key)
        seq = len(self.s.transactions) + 1
        self.s._append(self.s.transactions, replace(transaction, seq=seq))
        self.s._append(self.s.tx_by_wallet[transaction.wallet_id], seq)

    def history(self, wallet_id: str, *, before_seq: int | None, limit: int) -> list[Transaction]:
        out: list[Transaction] = []
        for seq in reversed(self.s.tx_by_wallet.get(wallet_id, ())):
            if before_seq is not None and seq >= before_seq:
                continue
            out.append(self.s.transactions[seq - 1])
            if len(out) >= limit:
                break
        return out

    # idempotency, outbox
    def get_idempotency(self, scope: str, key: str) -> IdempotencyRecord | None:
        return self.s.idempotency.get((scope, key))

    def insert_idempotency(self, record: IdempotencyRecord) -> None:
        key = (record.scope, record.key)
        if key in self.s.idempotency:
            raise RetryableConflict(f"idempotency key {key} taken")
        self.s._set(self.s.idempotency, key, record)

    def emit(self, event: Event) -> None:
        self.s._append(self.s.outbox, replace(event, seq=len(self.s.outbox) + 1))

    def get_state(self, wallet_id: str, kind: str, key: str) -> Mapping[str, Any] | None:
        return self.s.state.get((wallet_id, kind, key))

    def put_state(self, wallet_id: str, kind: str, key: str, data: Mapping[str, Any]) -> None:
        self.s._set(self.s.state, (wallet_id, kind, key), dict(data))

    def list_state(self, wallet_id: str, kind: str) -> list[tuple[str, Mapping[str, Any]]]:
        found = [(k, v) for (w, kd, k), v in self.s.state.items() if w == wallet_id and kd == kind]
        return sorted(found, key=lambda item: item[0])

    def events(self, *, after: tuple[int, int] | None, limit: int) -> list[Event]:
        # One lock serialises writers here, so seq order is commit order.
        start = after[1] if after else 0
        return self.s.outbox[start : start + limit]

    # sweeper, auditor
    def due_holds(self, now: datetime, *, limit: int) -> list[tuple[str, str]]:
        jobs = (self.s.jobs[i] for i in self.s.pending_jobs)
        due = sorted(
            (j.hold_expires_at, j.id, j.wallet_id)
            for j in jobs
            if j.hold_expires_at is not None and j.hold_expires_at <= now
        )
        return [(job_id, wallet_id) for _, job_id, wallet_id in due[:limit]]

    def due_grants(self, now: datetime, *, limit: int) -> list[tuple[str, str]]:
        grants = (self.s.grants[i] for i in self.s.expiring_grants)
        due = sorted(
            (g.expires_at, g.id, g.wallet_id)
            for g in grants
            if g.expires_at is not None and g.expires_at <= now
        )
        return [(grant_id, wallet_id) for _, grant_id, wallet_id in due[:limit]]

    def audit_snapshot(self) -> AuditSnapshot:
        balances: dict[str, int] = defaultdict(int)
        unbalanced: list[tuple[str, int]] = []
        job_txs: dict[str, list[str]] = defaultdict(list)
        keys: list[tuple[str, str]] = []
        for tx in self.s.transactions:
            total = 0
            for p in tx.postings:
                balances[p.account] += p.amount
                total += p.amount
            if total:
                unbalanced.append((tx.id, total))
            if tx.job_id is not None:
                job_txs[tx.job_id].append(tx.kind)
            if tx.idem_scope is not None and tx.idem_key is not None:
                keys.append((tx.idem_scope, tx.idem_key))
        return AuditSnapshot(
            account_balances=dict(balances),
            unbalanced_transactions=unbalanced,
            wallets=list(self.s.wallets.values()),
            grants=list(self.s.grants.values()),
            jobs=list(self.s.jobs.values()),
            job_transactions=dict(job_txs),
            transaction_keys=keys,
            idempotency_keys=frozenset(self.s.idempotency),
        )
