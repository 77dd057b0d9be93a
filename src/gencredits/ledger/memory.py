"""The in-memory store: the reference adapter of the store port.

Units of work are serialised by one re-entrant lock and made atomic by an undo log: every
write remembers what it replaced, and an exception rolls the writes back in reverse order.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from gencredits.ledger.memory_outbound import MemoryOutbound
from gencredits.ledger.model import (
    SYSTEM_ACCOUNTS,
    Event,
    Grant,
    IdempotencyRecord,
    Job,
    Transaction,
    Wallet,
    evolve,
    grant_account,
    hold_account,
    overdraft_account,
)
from gencredits.ledger.outbound import consumed_through
from gencredits.ledger.records import CycleRecord, Purchase, Subscription
from gencredits.ledger.renewals import Renewal, write_each
from gencredits.ledger.rollups import Rollup, RollupRow, add_counts, sum_rows
from gencredits.ledger.store import (
    AuditScope,
    AuditSnapshot,
    AuditTotals,
    GrantQuery,
    RetryableConflict,
    UnitHints,
    WriteUnit,
)

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
        self.outbox_base = 0  # events deleted from the front: seq of outbox[i] is base + i + 1
        self.versions: dict[str, int] = {}  # wallet -> version (see Event.wallet_version)
        self.state: dict[tuple[str, str, str], Mapping[str, Any]] = {}
        self.counters: dict[str, int] = {"job": 0}
        self.subscriptions: dict[str, Subscription] = {}
        self.cycles: dict[tuple[str, str, int], CycleRecord] = {}
        self.purchases: dict[str, Purchase] = {}
        #: report rollups: (family, key) -> counters
        self.rollups: dict[tuple[str, tuple[str, ...]], tuple[int, ...]] = {}
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

    def forget_idempotency(self, before: datetime, *, limit: int) -> int:
        with self._lock:
            old = sorted(
                (r.created_at, k) for k, r in self.idempotency.items() if r.created_at < before
            )
            for _at, key in old[:limit]:
                del self.idempotency[key]
            return min(len(old), limit)

    def forget_events(self, before: datetime, *, limit: int) -> int:
        out = self._outbound
        with self._lock:
            mark = consumed_through(out.cursors(), bool(out.list_endpoints())) or (0, 0)
            gone = 0
            for e in self.outbox[: min(limit, len(self.outbox) - 1)]:  # the newest stays
                if e.created_at >= before or e.position > mark:
                    break
                gone += 1
            del self.outbox[:gone]
            self.outbox_base += gone
            return gone

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
        self.stamps: dict[str, tuple[int | None, int]] = {}  # wallet -> (version, events)

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

    def list_wallets(
        self, *, after_id: str | None, limit: int, descending: bool = False
    ) -> list[Wallet]:
        ids = sorted(self.s.wallets, reverse=descending)
        if after_id is not None:
            ids = [i for i in ids if (i < after_id if descending else i > after_id)]
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

    def _live(self, wallet_id: str) -> list[Grant]:
        return [self.s.grants[g] for g in self.s.live_grants.get(wallet_id, ())]

    def spend_order(self, wallet_id: str, now: datetime) -> Iterator[Grant]:
        # The reference: sort the live set by the documented key (no index to trust).
        spendable = (g for g in self._live(wallet_id) if g.spendable_at(now))
        return iter(sorted(spendable, key=Grant.spend_key))

    def unspendable_grants(self, wallet_id: str, now: datetime) -> list[Grant]:
        return sorted(
            (g for g in self._live(wallet_id) if not g.spendable_at(now)), key=Grant.spend_key
        )

    def expiring_grants(self, wallet_id: str, *, limit: int) -> list[Grant]:
        expiring = [g for g in self._live(wallet_id) if g.expires_at is not None]
        expiring.sort(key=lambda g: (g.expires_at, g.created_at, g.id))
        return expiring[:limit]

    def list_grants(self, wallet_id: str, query: GrantQuery, *, limit: int) -> list[Grant]:
        found = [self.s.grants[g] for g in self.s.grants_by_wallet.get(wallet_id, ())]
        found.sort(key=lambda g: (g.created_at, g.id), reverse=True)
        out: list[Grant] = []
        for g in found:
            if query.before is not None and (g.created_at, g.id) >= query.before:
                continue
            if query.live is not None and g.live != query.live:
                continue
            if query.kind is not None and g.kind != query.kind:
                continue
            if query.expiring_before is not None and not (
                g.expires_at is not None and g.expires_at < query.expiring_before
            ):
                continue
            out.append(g)
            if len(out) >= limit:
                break
        return out

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
        job = evolve(job, seq=seq)
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
        descending: bool = False,
    ) -> list[Job]:
        out: list[Job] = []
        ids = self.s.jobs_by_wallet.get(wallet_id, ())
        for job_id in reversed(ids) if descending else ids:
            job = self.s.jobs[job_id]
            assert job.seq is not None
            if after_seq is not None and (
                job.seq >= after_seq if descending else job.seq <= after_seq
            ):
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
        self.s._append(self.s.transactions, evolve(transaction, seq=seq))
        self.s._append(self.s.tx_by_wallet[transaction.wallet_id], seq)

    def history(
        self, wallet_id: str, *, after_seq: int | None, limit: int, descending: bool = False
    ) -> list[Transaction]:
        out: list[Transaction] = []
        seqs = self.s.tx_by_wallet.get(wallet_id, ())
        for seq in reversed(seqs) if descending else seqs:
            if after_seq is not None and (seq >= after_seq if descending else seq <= after_seq):
                continue
            out.append(self.s.transactions[seq - 1])
            if len(out) >= limit:
                break
        return out

    # idempotency, outbox
    def get_idempotency(self, wallet_id: str, scope: str, key: str) -> IdempotencyRecord | None:
        return self.s.idempotency.get((scope, key))

    def insert_idempotency(self, record: IdempotencyRecord) -> None:
        key = (record.scope, record.key)
        if key in self.s.idempotency:
            raise RetryableConflict(f"idempotency key {key} taken")
        self.s._set(self.s.idempotency, key, record)

    def emit(self, event: Event) -> None:
        """Append the event, stamped with the wallet's version: the unit's first event for
        the wallet bumps it."""
        wallet_id = event.wallet_id
        if wallet_id not in self.stamps:
            version = None
            if wallet_id in self.s.wallets:
                version = self.s.versions.get(wallet_id, 0) + 1
                self.s._set(self.s.versions, wallet_id, version)
            self.stamps[wallet_id] = (version, 0)
        version, place = self.stamps[wallet_id]
        self.stamps[wallet_id] = (version, place + 1)
        seq = self.s.outbox_base + len(self.s.outbox) + 1
        place_of = None if version is None else place
        stamped = evolve(event, seq=seq, wallet_version=version, version_seq=place_of)
        self.s._append(self.s.outbox, stamped)

    def get_state(self, wallet_id: str, kind: str, key: str) -> Mapping[str, Any] | None:
        return self.s.state.get((wallet_id, kind, key))

    def put_state(self, wallet_id: str, kind: str, key: str, data: Mapping[str, Any]) -> None:
        self.s._set(self.s.state, (wallet_id, kind, key), dict(data))

    def list_state(self, wallet_id: str, kind: str) -> list[tuple[str, Mapping[str, Any]]]:
        found = [(k, v) for (w, kd, k), v in self.s.state.items() if w == wallet_id and kd == kind]
        return sorted(found, key=lambda item: item[0])

    def events(self, *, after: tuple[int, int] | None, limit: int) -> list[Event]:
        # One lock serialises writers here, so seq order is commit order.
        start = max((after[1] if after else 0) - self.s.outbox_base, 0)
        return self.s.outbox[start : start + limit]

    # sweeper, auditor
    def key_forgotten(self, wallet_id: str, scope: str, key: str) -> bool:
        return (scope, key) in self.s.tx_keys and (scope, key) not in self.s.idempotency

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

    def state_field_max(self, kind: str, name: str) -> int | None:
        found = [
            int(doc[name])
            for (_w, kd, key), doc in self.s.state.items()
            if kd == kind and key == "" and doc.get(name) is not None
        ]
        return max(found, default=None)

    def grants_expiring_within(
        self,
        after: datetime,
        until: datetime,
        *,
        rule: tuple[str, str],
        start: tuple[datetime, str] | None,
        limit: int,
    ) -> list[tuple[str, str, datetime]]:
        kind, name = rule
        found = []
        for grant_id in self.s.expiring_grants:
            g = self.s.grants[grant_id]
            if g.expires_at is None or g.remaining <= 0 or not after < g.expires_at <= until:
                continue
            if start is not None and (g.expires_at, g.id) <= start:
                continue
            doc = self.s.state.get((g.wallet_id, kind, ""))
            if doc is not None and doc.get(name) is not None:
                found.append((g.expires_at, g.id, g.wallet_id))
        return [(grant_id, wallet_id, at) for at, grant_id, wallet_id in sorted(found)[:limit]]

    def audit_snapshot(
        self, wallet_ids: Sequence[str] | None = None, *, keys_since: datetime | None = None
    ) -> AuditSnapshot:
        chosen = None if wallet_ids is None else set(wallet_ids)
        balances: dict[str, int] = defaultdict(int)
        unbalanced: list[tuple[str, int]] = []
        job_txs: dict[str, list[str]] = defaultdict(list)
        keys: list[tuple[str, str]] = []
        for tx in self.s.transactions:
            for p in tx.postings:
                balances[p.account] += p.amount
            if chosen is not None and tx.wallet_id not in chosen:
                continue
            total = sum(p.amount for p in tx.postings)
            if total:
                unbalanced.append((tx.id, total))
            if tx.job_id is not None:
                job_txs[tx.job_id].append(tx.kind)
            recent = keys_since is None or tx.created_at >= keys_since
            if recent and tx.idem_scope is not None and tx.idem_key is not None:
                keys.append((tx.idem_scope, tx.idem_key))
        wallets = [w for w in self.s.wallets.values() if chosen is None or w.id in chosen]
        grants = [g for g in self.s.grants.values() if chosen is None or g.wallet_id in chosen]
        jobs = [j for j in self.s.jobs.values() if chosen is None or j.wallet_id in chosen]
        if chosen is not None:  # the chosen wallets' own accounts only
            mine = {overdraft_account(w.id) for w in wallets}
            mine |= {grant_account(g.id) for g in grants} | {hold_account(j.id) for j in jobs}
            balances = defaultdict(int, {a: v for a, v in balances.items() if a in mine})
        key_set = set(keys)
        return AuditSnapshot(
            account_balances=dict(balances),
            unbalanced_transactions=unbalanced,
            wallets=wallets,
            grants=grants,
            jobs=jobs,
            job_transactions=dict(job_txs),
            transaction_keys=keys,
            idempotency_keys=frozenset(
                k for k in self.s.idempotency if chosen is None or k in key_set
            ),
        )

    def audit_wallets(self, scope: AuditScope, *, after_id: str | None, limit: int) -> list[str]:
        touched = None
        if scope.since is not None:
            touched = {tx.wallet_id for tx in self.s.transactions[scope.since :]}
        ids = sorted(
            w
            for w in self.s.wallets
            if (after_id is None or w > after_id)
            and (scope.wallet_from is None or w >= scope.wallet_from)
            and (scope.wallet_to is None or w <= scope.wallet_to)
            and (touched is None or w in touched)
        )
        return ids[:limit]

    def audit_totals(self) -> AuditTotals:
        balances: dict[str, int] = defaultdict(int)
        for tx in self.s.transactions:
            for p in tx.postings:
                balances[p.account] += p.amount
        owned = set(SYSTEM_ACCOUNTS) | {overdraft_account(w) for w in self.s.wallets}
        owned |= {grant_account(g) for g in self.s.grants} | {hold_account(j) for j in self.s.jobs}
        return AuditTotals(
            grand_total=sum(balances.values()),
            system_balances={a: balances.get(a, 0) for a in SYSTEM_ACCOUNTS},
            consumed_by_jobs=sum(j.credits_used + j.written_off for j in self.s.jobs.values()),
            unknown_accounts=sorted(a for a in balances if a not in owned),
        )

    def audit_cursor(self) -> int:
        return len(self.s.transactions)

    # subscriptions and purchases
    def get_subscription(self, subscription_id: str) -> Subscription | None:
        return self.s.subscriptions.get(subscription_id)

    def insert_subscription(self, subscription: Subscription) -> None:
        if subscription.id in self.s.subscriptions:
            raise RetryableConflict(f"subscription {subscription.id} exists")
        self.s._set(self.s.subscriptions, subscription.id, subscription)

    def get_subscriptions(self, subscription_ids: Sequence[str]) -> list[Subscription]:
        found = (self.s.subscriptions.get(i) for i in subscription_ids)
        return [s for s in found if s is not None]

    def lock_wallets(self, wallet_ids: Sequence[str]) -> list[Wallet]:
        found = (self.s.wallets.get(i) for i in sorted(set(wallet_ids)))
        return [w for w in found if w is not None]

    def update_subscription(self, subscription: Subscription) -> None:
        assert subscription.id in self.s.subscriptions
        self.s._set(self.s.subscriptions, subscription.id, subscription)

    def insert_cycle(self, cycle: CycleRecord) -> None:
        key = (cycle.wallet_id, cycle.subscription_id, cycle.number)
        if key in self.s.cycles:
            raise RetryableConflict(f"cycle {key} already granted")
        self.s._set(self.s.cycles, key, cycle)

    def write_renewals(self, renewals: Sequence[Renewal], wallets: Sequence[Wallet]) -> None:
        write_each(self, renewals, wallets)

    def wallet_subscriptions(self, wallet_id: str) -> list[Subscription]:
        found = [s for s in self.s.subscriptions.values() if s.wallet_id == wallet_id]
        return sorted(found, key=lambda s: (s.created_at, s.id))

    def subscription_cycles(self, subscription_id: str) -> list[CycleRecord]:
        found = [c for c in self.s.cycles.values() if c.subscription_id == subscription_id]
        return sorted(found, key=lambda c: c.number)

    def due_subscriptions(
        self, now: datetime, *, limit: int, plans: Sequence[str]
    ) -> list[tuple[str, str]]:
        known = set(plans)
        due = sorted(
            (s.wallet_id, s.id)
            for s in self.s.subscriptions.values()
            if s.state in ("active", "cancelled")
            and s.next_at <= now
            and s.plan in known
            and (s.pending_plan is None or s.pending_plan in known)
        )
        return [(sub_id, wallet_id) for wallet_id, sub_id in due[:limit]]

    def get_purchase(self, purchase_id: str) -> Purchase | None:
        return self.s.purchases.get(purchase_id)

    def insert_purchase(self, purchase: Purchase) -> None:
        if purchase.id in self.s.purchases:
            raise RetryableConflict(f"purchase {purchase.id} exists")
        self.s._set(self.s.purchases, purchase.id, purchase)

    def update_purchase(self, purchase: Purchase) -> None:
        assert purchase.id in self.s.purchases
        self.s._set(self.s.purchases, purchase.id, purchase)

    def add_rollup(self, rollup: Rollup) -> None:
        name = (rollup.family, rollup.key)
        self.s._set(self.s.rollups, name, add_counts(self.s.rollups.get(name), rollup.counts))

    def rollup_totals(
        self,
        family: str,
        *,
        group_by: Sequence[str],
        days: tuple[str | None, str | None],
        where: Mapping[str, str],
    ) -> list[RollupRow]:
        rows = ((key, counts) for (f, key), counts in self.s.rollups.items() if f == family)
        return sum_rows(family, rows, group_by=group_by, days=days, where=where)
