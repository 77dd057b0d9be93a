"""The one unit-of-work runner: idempotency, the wallet lock, and one retry policy.

Every mutating call is ONE unit of work on the store: lock the wallet row, check the
idempotency key, apply the effect (ledger transaction, materialised balances, job, outbox
event), write the idempotency record, commit.  The key record is written in the same
transaction as the effect, never before it, so a crash cannot leave a claimed key with no
effect (or an effect with no key).  A retry finds the first attempt by that record (and two
racing attempts cannot both commit: the key is unique), so it can never make a second hold;
a replay answers with the same object and ``replayed=True``.

Retries: a unit that meets a concurrent writer (:class:`RetryableConflict`) runs again, at
most :data:`~gencredits.limits.UNIT_RETRIES` times in all, then the call fails with
``unavailable`` having changed nothing.  The sweep's units go through the same policy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from gencredits import limits
from gencredits.clock import Clock
from gencredits.errors import GencreditsError, IdempotencyConflict, Unavailable, WalletNotFound
from gencredits.ledger.model import IdempotencyRecord, Wallet, evolve
from gencredits.ledger.store import (
    LedgerReader,
    LedgerStore,
    RetryableConflict,
    UnitHints,
    WriteUnit,
)

from . import alerts
from .inputs import Operation, check_text

__all__ = ["Done", "Later", "UnitRunner", "need_wallet"]

V = TypeVar("V")


class Later(Generic[V]):
    """An answer built by the caller once its unit has run, not by the writer inside the
    transaction (a group-commit writer runs every caller's unit in turn: what it need not
    do there, it should not)."""

    __slots__ = ("build",)

    def __init__(self, build: Callable[[], V]) -> None:
        self.build = build


@dataclass(frozen=True, slots=True)
class Done(Generic[V]):
    """What a unit produced: the answer (or a :class:`Later` that builds it) and what the
    idempotency record points at."""

    answer: V | Later[V]
    result_kind: str  # wallet | grant | job
    result_id: str
    outcome: str | None = None


Body = Callable[[WriteUnit, "Wallet | None", datetime], Done[V]]
Replay = Callable[[WriteUnit, IdempotencyRecord, datetime], V]


def need_wallet(wallet: Wallet | None, wallet_id: str) -> Wallet:
    if wallet is None:
        raise WalletNotFound(
            f"wallet_id: {wallet_id!r} does not exist; create it first",
            details={"field": "wallet_id", "value": wallet_id},
        )
    return wallet


class UnitRunner:
    def __init__(self, store: LedgerStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def run(
        self,
        op: Operation,
        *,
        key: str | None,
        body: Body[V],
        replay: Replay[V],
        locate: Callable[[WriteUnit], str] | None = None,
        scope: str | None = None,
        hints: UnitHints | None = None,
    ) -> V:
        """Run ``body`` once, atomically, under the wallet lock and the idempotency key.

        ``scope`` and ``hints`` are the operation's own (``op.scope``, ``op.hints()``)
        unless given.  The wallet is ``hints.wallet_id``, or what ``locate`` finds (from a
        job, a grant, a subscription or a purchase)."""
        in_scope = op.scope if scope is None else scope
        touched = op.hints() if hints is None else hints
        if key is not None:
            check_text("idempotency_key", key, limits.KEY_LEN_MAX)
        fingerprint, asked = op.fingerprinted()
        named = touched.wallet_id
        located: list[str] = []  # the wallet the unit found, for a conflict's question

        def unit(uow: WriteUnit) -> V | Later[V]:
            wallet_id = locate(uow) if locate is not None else named
            assert wallet_id is not None, "a unit needs hints.wallet_id or locate"
            located[:] = [wallet_id]
            wallet = uow.lock_wallet(wallet_id)
            now = self.clock.now()
            if key is not None:
                record = uow.get_idempotency(wallet_id, in_scope, key)
                if record is not None:
                    _same_request(record, op, fingerprint, in_scope, key)
                    return replay(uow, record, now)
            done = body(uow, wallet, now)
            alerts.watch(uow, wallet_id, now)  # crossings decided with the credits, atomically
            if key is not None:
                keyed = (wallet_id, in_scope, key)
                uow.insert_idempotency(_record(keyed, op, (fingerprint, asked), done, now))
            return done.answer

        # What the unit will touch, so a batching store can lock and load a batch up front.
        touched = evolve(touched, idempotency=None if key is None else (in_scope, key))

        def forgotten() -> IdempotencyConflict | None:
            # A conflict on a key whose record the retention deleted repeats on every retry
            # (its transaction keeps the key for ever): refuse at the first one.
            if (
                key is None
                or not located
                or not self.read(lambda r, _now: r.key_forgotten(located[0], in_scope, key))
            ):
                return None
            return _past_retention(op.operation, in_scope, key)

        answer = self.write(
            unit, touched, operation=op.operation, scope=in_scope, refusal=forgotten
        )
        return answer.build() if isinstance(answer, Later) else answer

    def write(
        self,
        unit: Callable[[WriteUnit], V],
        hints: UnitHints,
        *,
        operation: str,
        scope: str,
        refusal: Callable[[], GencreditsError | None] | None = None,
    ) -> V:
        """Run ``unit`` under the one retry policy: ``unavailable`` after the limit.
        ``refusal``, asked after a conflict: an error that retrying cannot cure, raised at once."""
        for _attempt in range(limits.UNIT_RETRIES):
            try:
                return self.store.run_unit(unit, hints)
            except RetryableConflict:
                found = None if refusal is None else refusal()
                if found is not None:
                    raise found from None
                continue
        raise Unavailable(
            f"{operation}: too much contention on {scope}; nothing changed, retry later",
            details={"operation": operation, "scope": scope},
        )

    def read(self, fn: Callable[[LedgerReader, datetime], V]) -> V:
        with self.store.reader() as reader:
            return fn(reader, self.clock.now())


def _record(
    keyed: tuple[str, str, str],
    op: Operation,
    signed: tuple[str, Mapping[str, Any]],
    done: Done[Any],
    now: datetime,
) -> IdempotencyRecord:
    """The record of ``done`` under the key ``keyed`` (wallet, scope, key), with the
    request's fingerprint and the request itself (``signed``)."""
    wallet_id, scope, key = keyed
    fingerprint, asked = signed
    return IdempotencyRecord(
        wallet_id=wallet_id,
        scope=scope,
        key=key,
        operation=op.operation,
        fingerprint=fingerprint,
        result_kind=done.result_kind,
        result_id=done.result_id,
        outcome=done.outcome,
        created_at=now,
        request=asked,
    )


def _past_retention(operation: str, scope: str, key: str) -> IdempotencyConflict:
    """A key whose effect stands but whose record the retention deleted: no replay, and no
    second effect (the ledger keeps one transaction per key for ever)."""
    return IdempotencyConflict(
        f"idempotency_key: {key!r} was used in {scope} longer ago than the idempotency "
        f"retention; its effect stands and cannot be replayed; {operation} with a new key "
        "to do it again; nothing changed",
        details={"scope": scope, "key": key, "reason": "past_retention"},
    )


def _same_request(
    record: IdempotencyRecord, op: Operation, fingerprint: str, scope: str, key: str
) -> None:
    """A replay needs the request the key was first used for: the same fingerprint (or the
    one an earlier version wrote for it).  Else a conflict whose details say what the key
    points at (``result_kind``, ``result_id``: e.g. the job it holds) and, when the record
    kept its request, which fields differ (``differs``)."""
    if record.fingerprint == fingerprint or record.fingerprint in op.legacy_fingerprints():
        return
    details: dict[str, Any] = {
        "field": "idempotency_key",
        "value": key,
        "scope": scope,
        "original_operation": record.operation,
        "result_kind": record.result_kind,
        "result_id": record.result_id,
    }
    if record.request is not None:
        details["differs"] = _differs(record.request, op.request_json(), record, op)
    raise IdempotencyConflict(
        f"idempotency_key: {key!r} was already used for a different "
        f"{record.operation} request in {scope} ({record.result_kind} "
        f"{record.result_id}); nothing changed",
        details=details,
    )


def _differs(
    first: Mapping[str, Any], now: Mapping[str, Any], record: IdempotencyRecord, op: Operation
) -> list[str]:
    """The names of the request's fields whose values differ (``operation`` first when the
    key was used for another operation)."""
    fields = sorted(name for name in {*first, *now} if first.get(name) != now.get(name))
    return ["operation", *fields] if record.operation != op.operation else fields
