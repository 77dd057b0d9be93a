"""The billing service: wallets, grants and the job lifecycle on top of the ledger.

Every mutating call is ONE unit of work on the store: lock the wallet row, check the
idempotency key, apply the effect (ledger transaction, materialised balances, job, outbox
event), write the idempotency record, commit.  The key record is written in the same
transaction as the effect, never before it, so a crash cannot leave a claimed key with no
effect (or an effect with no key).  A retry finds the first attempt by that record (and two
racing attempts cannot both commit: the key is unique), so it can never make a second hold;
a replay answers with the same object and ``replayed=True``.

Job lifecycle (each hold resolves exactly once)::

    submit ──> pending ──complete──> succeeded                    (capture; rest released)
                  │ ├────fail─────> failed                        (release all)
                  │ ├────cancel───> cancelled                     (release all)
                  │ └────sweep────> timed_out ──complete──> succeeded_after_timeout
                  │                                                (charged, or written off)
    record_free_job ──> succeeded (zero cost, visible in usage)

Provider callbacks that arrive twice or out of order (complete after fail, fail after
complete, anything after a timeout except a success) change nothing and answer the current
job with an ``outcome`` such as ``already_succeeded``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from gencredits.clock import Clock, SystemClock, as_utc
from gencredits.errors import (
    GrantNotFound,
    IdempotencyConflict,
    InsufficientCredits,
    InvalidRequest,
    InvalidTransition,
    JobNotFound,
    Unavailable,
    WalletExists,
    WalletNotFound,
)
from gencredits.ledger.model import (
    ACCOUNT_CONSUMED,
    ACCOUNT_EXPIRED,
    ACCOUNT_ISSUED,
    ACCOUNT_WRITTEN_OFF,
    DEFAULT_KIND_PRIORITIES,
    JOB_STATUS,
    Event,
    Grant,
    HoldLeg,
    IdempotencyRecord,
    Job,
    JobState,
    Posting,
    Transaction,
    Wallet,
    evolve,
    grant_account,
    hold_account,
    overdraft_account,
)
from gencredits.ledger.store import LedgerStore, RetryableConflict, UnitHints, UnitOfWork
from gencredits.pricing import CatalogSet, Quote, quote

from .audit import audit_snapshot
from .views import (
    EntryView,
    GrantView,
    JobView,
    Page,
    SweepReport,
    Violation,
    WalletView,
)

__all__ = ["Billing"]

V = TypeVar("V")

# Limits: every input is bounded ("put a limit on everything").
MAX_ID_LEN = 200
MAX_KEY_LEN = 200
MAX_AMOUNT = 10**15
MAX_PRIORITY = 1000
MAX_PAGE = 500
MAX_METADATA_KEYS = 20
MAX_PARAMS = 50
MAX_METADATA_VALUE_LEN = 500
MAX_HOLD_TTL_S = 7 * 24 * 3600
DEFAULT_HOLD_TTL_S = 3600
SWEEP_BATCH = 500
SWEEP_MAX_ITEMS = 10_000
OWNER_KINDS = ("user", "team")
UNIT_RETRIES = 20


@dataclass(frozen=True, slots=True)
class _Done:
    """What a unit of work produced: the answer (or a :class:`_Later` that builds it) and what
    the idempotency record points at."""

    view: Any
    result_kind: str
    result_id: str
    outcome: str | None = None


class _Later:
    """An answer built by the caller once its unit has run, not by the writer inside the
    transaction (a group-commit writer runs every caller's unit in turn: what it need not
    do there, it should not)."""

    __slots__ = ("build",)

    def __init__(self, build: Callable[[], Any]) -> None:
        self.build = build


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:24]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def job_id_for(submitted_at: datetime, wallet_id: str, idempotency_key: str) -> str:
    """A job's id: ``job_``, the millisecond of its submission in 11 hex digits, then 13 of
    sha256(wallet, key).  Ids sort by submission time, so a batch's new jobs (and their
    ``<job>/hold`` transactions, ``hold:<job>`` accounts and ``job:<job>`` keys) go to the
    last pages of the indexes keyed by them, not to random ones: on SQLite a batch of 16
    hot-wallet calls writes 66 pages instead of 136 (``bench/RESULTS.md``).  A retry finds
    the first attempt by its idempotency key (whose record commits with the job), never by
    recomputing the id."""
    millis = (submitted_at - _EPOCH) // _MILLISECOND
    return f"job_{millis:011x}{_digest('job', wallet_id, idempotency_key)[:13]}"


def _event_position(cursor: str | None) -> tuple[int, int] | None:
    if cursor is None:
        return None
    txid, sep, seq = cursor.partition("-")
    if not (sep and txid.isdigit() and seq.isdigit()) or len(cursor) > 60:
        raise InvalidRequest.for_field("after", cursor, "an event's cursor, e.g. '0-42'")
    return int(txid), int(seq)


def _fingerprint(operation: str, request: Mapping[str, Any]) -> str:
    text = json.dumps([operation, request], sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f]")


def _check_text(field: str, value: object, max_len: int) -> str:
    if (
        not isinstance(value, str)
        or not value
        or len(value) > max_len
        or _CONTROL_CHARACTER.search(value) is not None
    ):
        raise InvalidRequest.for_field(
            field, value, f"a non-empty string of at most {max_len} printable characters"
        )
    return value


def _check_int(field: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRequest.for_field(field, value, f"a whole number from {low} to {high}")
    return value


def _check_time(field: str, value: object) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidRequest.for_field(field, value, "a timezone-aware datetime (UTC)")
    return as_utc(value)


def _encode_cursor(kind: str, value: str | int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


def _decode_cursor(kind: str, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        text = ""
    prefix, _, value = text.partition(":")
    if prefix != kind or not value:
        raise InvalidRequest.for_field("cursor", cursor, "a next_cursor from a previous page")
    return value


def _int_cursor(kind: str, cursor: str | None) -> int | None:
    value = _decode_cursor(kind, cursor)
    if value is None:
        return None
    if not value.isdigit():
        raise InvalidRequest.for_field("cursor", cursor, "a next_cursor from a previous page")
    return int(value)


class Billing:
    """The one public service: wallets, grants, job billing, history, sweep and audit."""

    def __init__(
        self,
        store: LedgerStore,
        catalogs: CatalogSet | None = None,
        clock: Clock | None = None,
        *,
        default_hold_ttl_s: int = DEFAULT_HOLD_TTL_S,
        hold_ttl_by_model: Mapping[str, int] | None = None,
        kind_priorities: Mapping[str, int] | None = None,
        refund_grant_ttl_s: int | None = None,
        max_hold_ttl_s: int = MAX_HOLD_TTL_S,
    ) -> None:
        """
        ``hold_ttl_by_model`` overrides the hold time limit per model id; a wallet's own
        ``hold_ttl_s`` overrides the service default; a submit's ``hold_ttl_s`` overrides both.
        ``kind_priorities`` replaces :data:`DEFAULT_KIND_PRIORITIES` (lower is spent first).
        ``refund_grant_ttl_s``: lifetime of the credit returned when a released hold's grant
        expired meanwhile (``None``: it never expires).  ``max_hold_ttl_s``: the operator's
        ceiling on any hold's time limit (at most the ledger's own, a week).
        """
        self.store = store
        self.catalogs = catalogs if catalogs is not None else CatalogSet.bundled()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.max_hold_ttl_s = _check_int("max_hold_ttl_s", max_hold_ttl_s, 1, MAX_HOLD_TTL_S)
        self.default_hold_ttl_s = _check_int(
            "default_hold_ttl_s", default_hold_ttl_s, 1, self.max_hold_ttl_s
        )
        self.hold_ttl_by_model = dict(hold_ttl_by_model or {})
        self.kind_priorities = dict(kind_priorities or DEFAULT_KIND_PRIORITIES)
        self.refund_grant_ttl_s = refund_grant_ttl_s

    @classmethod
    def from_url(
        cls,
        database_url: str | None = None,
        catalogs: CatalogSet | None = None,
        clock: Clock | None = None,
        *,
        group_commit: bool = False,
        **options: Any,
    ) -> Billing:
        """A service on the database at ``database_url`` (default: env, then the SQLite file),
        migrated to the newest schema first.  ``group_commit``: batch the writes of this
        process into shared transactions (see :mod:`gencredits.ledger.batching`)."""
        from gencredits.db import make_engine, upgrade
        from gencredits.ledger.batching import GroupCommitStore
        from gencredits.ledger.sql import SqlStore

        engine = make_engine(database_url)
        upgrade(engine)
        store: LedgerStore = SqlStore(engine)
        if group_commit:
            store = GroupCommitStore(SqlStore(engine))
        return cls(store, catalogs, clock, **options)

    def close(self) -> None:
        self.store.close()

    # ------------------------------------------------------------------ the unit of work
    def _run(
        self,
        *,
        operation: str,
        scope: str,
        key: str | None,
        request: Mapping[str, Any],
        hints: UnitHints,
        body: Callable[[UnitOfWork, Wallet | None, datetime], _Done],
        locate: Callable[[UnitOfWork], str] | None = None,
    ) -> Any:
        """Run ``body`` once, atomically, under the wallet lock and the idempotency key.

        The wallet is ``hints.wallet_id``, or what ``locate`` finds (from a job or grant)."""
        if key is not None:
            _check_text("idempotency_key", key, MAX_KEY_LEN)
        fingerprint = _fingerprint(operation, request)
        named = hints.wallet_id
        if locate is None:
            assert named is not None, "a unit needs hints.wallet_id or locate"
            locate = lambda _uow: named  # noqa: E731

        def unit(uow: UnitOfWork) -> Any:
            wallet_id = locate(uow)
            wallet = uow.lock_wallet(wallet_id)
            now = self.clock.now()
            if key is not None:
                record = uow.get_idempotency(scope, key)
                if record is not None:
                    if record.fingerprint != fingerprint:
                        raise IdempotencyConflict(
                            f"idempotency_key: {key!r} was already used for a different "
                            f"{record.operation} request in {scope}; nothing changed",
                            details={
                                "field": "idempotency_key",
                                "value": key,
                                "scope": scope,
                                "original_operation": record.operation,
                            },
                        )
                    return self._replay(uow, record, now)
            done = body(uow, wallet, now)
            if key is not None:
                uow.insert_idempotency(
                    IdempotencyRecord(
                        scope=scope,
                        key=key,
                        operation=operation,
                        fingerprint=fingerprint,
                        result_kind=done.result_kind,
                        result_id=done.result_id,
                        outcome=done.outcome,
                        created_at=now,
                    )
                )
            return done.view

        # What the unit will touch, so a batching store can lock and load a batch up front.
        unit.hints = evolve(  # type: ignore[attr-defined]
            hints, idempotency=None if key is None else (scope, key)
        )
        for _attempt in range(UNIT_RETRIES):
            try:
                answer = self.store.run_unit(unit)
            except RetryableConflict:
                continue
            return answer.build() if isinstance(answer, _Later) else answer
        raise Unavailable(
            f"{operation}: too much contention on {scope}; nothing changed, retry later",
            details={"operation": operation, "scope": scope},
        )

    def _replay(self, uow: UnitOfWork, record: IdempotencyRecord, now: datetime) -> Any:
        if record.result_kind == "job":
            job = uow.get_job(record.result_id)
            assert job is not None, record
            return JobView.of(job, outcome=record.outcome, replayed=True)
        if record.result_kind == "grant":
            grant = uow.get_grant(record.result_id)
            assert grant is not None, record
            return GrantView.of(grant, now, outcome=record.outcome, replayed=True)
        assert record.result_kind == "wallet", record
        return self._wallet_view(uow, record.result_id, now).as_replayed()

    def _read(self, fn: Callable[[UnitOfWork, datetime], V]) -> V:
        with self.store.unit_of_work(readonly=True) as uow:
            return fn(uow, self.clock.now())

    @staticmethod
    def _need_wallet(wallet: Wallet | None, wallet_id: str) -> Wallet:
        if wallet is None:
            raise WalletNotFound(
                f"wallet_id: {wallet_id!r} does not exist; create it first",
                details={"field": "wallet_id", "value": wallet_id},
            )
        return wallet

    # ------------------------------------------------------------------ wallets
    def create_wallet(
        self,
        wallet_id: str,
        *,
        owner_kind: str = "user",
        overdraft_limit: int = 0,
        hold_ttl_s: int | None = None,
        idempotency_key: str | None = None,
    ) -> WalletView:
        """Create a wallet.  Creating an existing wallet with the same settings returns it;
        with different settings it is a ``wallet_exists`` conflict."""
        _check_text("wallet_id", wallet_id, MAX_ID_LEN)
        if owner_kind not in OWNER_KINDS:
            raise InvalidRequest.for_field("owner_kind", owner_kind, "one of user, team")
        _check_int("overdraft_limit", overdraft_limit, 0, MAX_AMOUNT)
        if hold_ttl_s is not None:
            _check_int("hold_ttl_s", hold_ttl_s, 1, self.max_hold_ttl_s)
        request = {
            "wallet_id": wallet_id,
            "owner_kind": owner_kind,
            "overdraft_limit": overdraft_limit,
            "hold_ttl_s": hold_ttl_s,
        }

        def body(uow: UnitOfWork, wallet: Wallet | None, now: datetime) -> _Done:
            if wallet is not None:
                same = (wallet.owner_kind, wallet.overdraft_limit, wallet.hold_ttl_s) == (
                    owner_kind,
                    overdraft_limit,
                    hold_ttl_s,
                )
                if not same:
                    raise WalletExists(
                        f"wallet_id: {wallet_id!r} already exists with other settings",
                        details={"field": "wallet_id", "value": wallet_id},
                    )
                view = self._wallet_view(uow, wallet_id, now).as_replayed()
                return _Done(view, "wallet", wallet_id, "exists")
            uow.insert_wallet(
                Wallet(
                    id=wallet_id,
                    owner_kind=owner_kind,
                    overdraft_limit=overdraft_limit,
                    hold_ttl_s=hold_ttl_s,
                    held=0,
                    debt=0,
                    created_at=now,
                    updated_at=now,
                )
            )
            uow.emit(Event(wallet_id, "wallet.created", wallet_id, now, request))
            return _Done(self._wallet_view(uow, wallet_id, now), "wallet", wallet_id, "created")

        view: WalletView = self._run(
            operation="create_wallet",
            scope=f"wallet:{wallet_id}",
            key=idempotency_key,
            request=request,
            hints=UnitHints(wallet_id=wallet_id),
            body=body,
        )
        return view

    def _wallet_view(self, uow: UnitOfWork, wallet_id: str, now: datetime) -> WalletView:
        wallet = self._need_wallet(uow.get_wallet(wallet_id), wallet_id)
        grants = uow.wallet_grants(wallet_id, active_only=True, nonempty_only=True)
        return self._view_of(wallet, grants, now)

    def _view_of(self, wallet: Wallet, grants: Sequence[Grant], now: datetime) -> WalletView:
        spendable = sum(g.remaining for g in grants if g.spendable_at(now))
        available = spendable - wallet.debt
        ordered = sorted(grants, key=Grant.spend_key)
        return WalletView(
            id=wallet.id,
            owner_kind=wallet.owner_kind,
            available=available,
            held=wallet.held,
            balance=available + wallet.held,
            debt=wallet.debt,
            overdraft_limit=wallet.overdraft_limit,
            hold_ttl_s=wallet.hold_ttl_s,
            grants=tuple(GrantView.of(g, now) for g in ordered),
            created_at=wallet.created_at,
            updated_at=wallet.updated_at,
        )

    def get_wallet(self, wallet_id: str) -> WalletView:
        _check_text("wallet_id", wallet_id, MAX_ID_LEN)
        return self._read(lambda uow, now: self._wallet_view(uow, wallet_id, now))

    def list_wallets(self, *, cursor: str | None = None, limit: int = 50) -> Page[WalletView]:
        _check_int("limit", limit, 1, MAX_PAGE)
        after = _decode_cursor("w", cursor)

        def read(uow: UnitOfWork, now: datetime) -> Page[WalletView]:
            wallets = uow.list_wallets(after_id=after, limit=limit + 1)
            items = [
                self._view_of(w, uow.wallet_grants(w.id, active_only=True, nonempty_only=True), now)
                for w in wallets[:limit]
            ]
            more = len(wallets) > limit
            return Page(
                items=items, next_cursor=_encode_cursor("w", items[-1].id) if more else None
            )

        return self._read(read)

    # ------------------------------------------------------------------ grants
    def grant(
        self,
        wallet_id: str,
        amount: int,
        *,
        kind: str,
        priority: int | None = None,
        expires_at: datetime | None = None,
        effective_at: datetime | None = None,
        source: str | None = None,
        idempotency_key: str,
    ) -> GrantView:
        """Add ``amount`` credits to the wallet as a grant of ``kind``.  A wallet in overdraft
        repays its debt from the new grant first (when the grant is already effective)."""
        _check_text("wallet_id", wallet_id, MAX_ID_LEN)
        _check_int("amount", amount, 1, MAX_AMOUNT)
        if kind not in self.kind_priorities:
            raise InvalidRequest.for_field(
                "kind", kind, f"one of {', '.join(sorted(self.kind_priorities))}"
            )
        if priority is not None:
            _check_int("priority", priority, 0, MAX_PRIORITY)
        expires = None if expires_at is None else _check_time("expires_at", expires_at)
        effective = None if effective_at is None else _check_time("effective_at", effective_at)
        if source is not None:
            _check_text("source", source, MAX_ID_LEN)
        request = {
            "wallet_id": wallet_id,
            "amount": amount,
            "kind": kind,
            "priority": priority,
            "expires_at": expires,
            "effective_at": effective,
            "source": source,
        }
        grant_id = "gr_" + _digest("grant", wallet_id, idempotency_key)

        def body(uow: UnitOfWork, wallet: Wallet | None, now: datetime) -> _Done:
            wallet = self._need_wallet(wallet, wallet_id)
            start = effective or now
            if expires is not None and expires <= start:
                raise InvalidRequest.for_field(
                    "expires_at", expires, f"an instant after {start.isoformat()}"
                )
            remaining = amount
            postings = [Posting(ACCOUNT_ISSUED, -amount), Posting(grant_account(grant_id), amount)]
            repaid = 0
            if wallet.debt > 0 and start <= now:
                repaid = min(wallet.debt, amount)
                remaining -= repaid
                postings += [
                    Posting(grant_account(grant_id), -repaid),
                    Posting(overdraft_account(wallet_id), repaid),
                ]
                uow.update_wallet(evolve(wallet, debt=wallet.debt - repaid, updated_at=now))
            grant = Grant(
                id=grant_id,
                wallet_id=wallet_id,
                kind=kind,
                amount=amount,
                remaining=remaining,
                priority=self.kind_priorities[kind] if priority is None else priority,
                effective_at=start,
                expires_at=expires,
                source=source,
                state="active",
                created_at=now,
            )
            uow.insert_grant(grant)
            uow.record(
                Transaction(
                    id=f"{grant_id}/issue",
                    wallet_id=wallet_id,
                    kind="grant",
                    postings=tuple(_merge(postings)),
                    created_at=now,
                    grant_id=grant_id,
                    idem_scope=f"wallet:{wallet_id}",
                    idem_key=idempotency_key,
                    memo=source,
                )
            )
            uow.emit(
                Event(
                    wallet_id,
                    "grant.created",
                    grant_id,
                    now,
                    {"kind": kind, "amount": amount, "debt_repaid": repaid},
                )
            )
            return _Done(GrantView.of(grant, now, outcome="granted"), "grant", grant_id, "granted")

        view: GrantView = self._run(
            operation="grant",
            scope=f"wallet:{wallet_id}",
            key=idempotency_key,
            request=request,
            hints=UnitHints(wallet_id=wallet_id),
            body=body,
        )
        return view

    def void_grant(self, grant_id: str, *, idempotency_key: str) -> GrantView:
        """Take back what is left of a grant (to ``issued``).  Credits of it that are held
        return to ``issued`` too when their hold is released, never to the wallet."""
        _check_text("grant_id", grant_id, MAX_ID_LEN)

        def locate(uow: UnitOfWork) -> str:
            grant = uow.get_grant(grant_id)
            if grant is None:
                raise GrantNotFound(
                    f"grant_id: {grant_id!r} does not exist",
                    details={"field": "grant_id", "value": grant_id},
                )
            return grant.wallet_id

        def body(uow: UnitOfWork, wallet: Wallet | None, now: datetime) -> _Done:
            grant = uow.get_grant(grant_id)
            assert grant is not None
            if grant.state != "active":
                outcome = f"already_{grant.state}"
                return _Done(GrantView.of(grant, now, outcome=outcome), "grant", grant_id, outcome)
            voided = _close_grant(
                uow,
                grant,
                state="voided",
                to_account=ACCOUNT_ISSUED,
                at=now,
                idem_scope=f"grant:{grant_id}",
                idem_key=idempotency_key,
            )
            return _Done(GrantView.of(voided, now, outcome="voided"), "grant", grant_id, "voided")

        view: GrantView = self._run(
            operation="void_grant",
            scope=f"grant:{grant_id}",
            key=idempotency_key,
            request={"grant_id": grant_id},
            locate=locate,
            hints=UnitHints(grant_id=grant_id),
            body=body,
        )
        return view

    def list_grants(self, wallet_id: str) -> list[GrantView]:
        _check_text("wallet_id", wallet_id, MAX_ID_LEN)

        def read(uow: UnitOfWork, now: datetime) -> list[GrantView]:
            self._need_wallet(uow.get_wallet(wallet_id), wallet_id)
            grants = sorted(uow.wallet_grants(wallet_id, active_only=False), key=Grant.spend_key)
            return [GrantView.of(g, now) for g in grants]

        return self._read(read)

    # ------------------------------------------------------------------ spending
    def _take(
        self, uow: UnitOfWork, wallet: Wallet, amount: int, now: datetime
    ) -> tuple[list[HoldLeg], Wallet]:
        """Take ``amount`` from the wallet's grants in spend order, then from its overdraft.

        Updates the grants and returns the legs and the wallet with its new debt; raises
        :class:`InsufficientCredits` (having changed nothing) when it cannot.
        """
        grants = sorted(
            (
                g
                for g in uow.wallet_grants(wallet.id, active_only=True, nonempty_only=True)
                if g.spendable_at(now)
            ),
            key=Grant.spend_key,
        )
        spendable = sum(g.remaining for g in grants)
        can_take = spendable + wallet.overdraft_limit - wallet.debt
        if amount > can_take:
            raise InsufficientCredits(required=amount, available=max(can_take, 0), wallet=wallet.id)
        legs: list[HoldLeg] = []
        left = amount
        for g in grants:
            if left == 0:
                break
            part = min(left, g.remaining)
            uow.update_grant(evolve(g, remaining=g.remaining - part))
            legs.append(HoldLeg(g.id, part))
            left -= part
        if left:
            legs.append(HoldLeg(None, left))
            wallet = evolve(wallet, debt=wallet.debt + left)
        return legs, wallet

    def _return(
        self,
        uow: UnitOfWork,
        wallet: Wallet,
        job_id: str,
        legs: Sequence[HoldLeg],
        now: datetime,
        tx_tag: str,
    ) -> tuple[list[Posting], Wallet]:
        """Give released credits back to the grants they came from.

        Policy: a leg whose grant is still spendable goes back to it; a voided grant's leg
        goes to ``issued`` (the void completes); a leg whose grant expired meanwhile, and an
        overdraft leg already repaid by a later grant, come back as ONE new ``refund`` grant
        (lifetime ``refund_grant_ttl_s``), so an expiry never swallows a refund.
        """
        postings: list[Posting] = []
        refund = 0
        for leg in legs:
            if leg.amount == 0:
                continue
            if leg.grant_id is None:
                back = min(leg.amount, wallet.debt)
                if back:
                    postings.append(Posting(overdraft_account(wallet.id), back))
                    wallet = evolve(wallet, debt=wallet.debt - back)
                refund += leg.amount - back
                continue
            grant = uow.get_grant(leg.grant_id)
            assert grant is not None
            if grant.state == "voided":
                postings.append(Posting(ACCOUNT_ISSUED, leg.amount))
            elif grant.state == "active" and (grant.expires_at is None or now < grant.expires_at):
                uow.update_grant(evolve(grant, remaining=grant.remaining + leg.amount))
                postings.append(Posting(grant_account(grant.id), leg.amount))
            else:
                refund += leg.amount
        if refund:
            refund_id = "gr_" + _digest("refund", job_id, tx_tag)
            expires = (
                None
                if self.refund_grant_ttl_s is None
                else now + timedelta(seconds=self.refund_grant_ttl_s)
            )
            uow.insert_grant(
                Grant(
                    id=refund_id,
                    wallet_id=wallet.id,
                    kind="refund",
                    amount=refund,
                    remaining=refund,
                    priority=self.kind_priorities.get("refund", DEFAULT_KIND_PRIORITIES["refund"]),
                    effective_at=now,
                    expires_at=expires,
                    source=f"job:{job_id}",
                    state="active",
                    created_at=now,
                )
            )
            postings.append(Posting(grant_account(refund_id), refund))
        return postings, wallet

    # ------------------------------------------------------------------ jobs
    def _hold_ttl_s(self, wallet: Wallet, model: str, override: int | None) -> int:
        if override is not None:
            return override
        if model in self.hold_ttl_by_model:
            return self.hold_ttl_by_model[model]
        if wallet.hold_ttl_s is not None:
            return wallet.hold_ttl_s
        return self.default_hold_ttl_s

    def submit(
        self,
        wallet_id: str,
        model: str,
        params: Mapping[str, object] | None = None,
        *,
        generations: int = 1,
        catalog: str | None = None,
        submitted_by: str | None = None,
        idempotency_key: str,
        hold_ttl_s: int | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> JobView:
        """Quote the request and hold its total on the wallet: a pending job (status 0)."""
        _check_text("wallet_id", wallet_id, MAX_ID_LEN)
        _check_text("model", model, MAX_ID_LEN)
        if submitted_by is not None:
            _check_text("submitted_by", submitted_by, MAX_ID_LEN)
        if hold_ttl_s is not None:
            _check_int("hold_ttl_s", hold_ttl_s, 1, self.max_hold_ttl_s)
        meta = _check_metadata(metadata)
        raw_params = _check_params(params)
        request = {
            "wallet_id": wallet_id,
            "model": model,
            "params": raw_params,
            "generations": generations,
            "catalog": catalog,
            "submitted_by": submitted_by,
            "hold_ttl_s": hold_ttl_s,
            "metadata": meta,
        }
        # The price depends on the request alone: worked out here, by the caller, not under
        # the wallet's lock.  A pricing error is raised where it always was (after the wallet
        # check, and never on a replay), so the order of errors does not change.
        priced: Quote | Exception
        try:
            priced = quote(self._catalog_for(catalog), model, raw_params, generations)
            quoted = priced.to_dict()
        except Exception as exc:  # re-raised inside the unit, unchanged
            priced, quoted = exc, {}

        def body(uow: UnitOfWork, wallet: Wallet | None, now: datetime) -> _Done:
            wallet = self._need_wallet(wallet, wallet_id)
            if isinstance(priced, Exception):
                raise priced
            job_id = job_id_for(now, wallet_id, idempotency_key)
            q = priced
            amount = q.total_credits
            legs, wallet = self._take(uow, wallet, amount, now) if amount else ([], wallet)
            ttl = self._hold_ttl_s(wallet, q.model, hold_ttl_s)
            job = uow.insert_job(
                Job(
                    id=job_id,
                    wallet_id=wallet_id,
                    kind="generation",
                    model=q.model,
                    state=JobState.PENDING,
                    params=raw_params,
                    generations=q.generations,
                    quote=quoted,
                    catalog=q.catalog,
                    catalog_version=q.catalog_version,
                    catalog_hash=q.catalog_hash,
                    credits_quoted=amount,
                    hold_amount=amount,
                    credits_held=amount,
                    credits_used=0,
                    written_off=0,
                    hold_legs=tuple(legs),
                    hold_expires_at=now + timedelta(seconds=ttl),
                    submitted_by=submitted_by,
                    metadata=meta,
                    reason=None,
                    created_at=now,
                    updated_at=now,
                )
            )
            if amount:
                postings = [
                    Posting(
                        grant_account(leg.grant_id)
                        if leg.grant_id is not None
                        else overdraft_account(wallet_id),
                        -leg.amount,
                    )
                    for leg in legs
                ]
                postings.append(Posting(hold_account(job_id), amount))
                uow.record(
                    Transaction(
                        id=f"{job_id}/hold",
                        wallet_id=wallet_id,
                        kind="hold",
                        postings=tuple(postings),
                        created_at=now,
                        job_id=job_id,
                        idem_scope=f"wallet:{wallet_id}",
                        idem_key=idempotency_key,
                    )
                )
            uow.update_wallet(evolve(wallet, held=wallet.held + amount, updated_at=now))
            uow.emit(
                Event(
                    wallet_id,
                    "job.submitted",
                    job_id,
                    now,
                    {"model": q.model, "credits_held": amount, "submitted_by": submitted_by},
                )
            )
            return _Done(_Later(partial(JobView.of, job, outcome="held")), "job", job_id, "held")

        view: JobView = self._run(
            operation="submit",
            scope=f"wallet:{wallet_id}",
            key=idempotency_key,
            request=request,
            hints=UnitHints(wallet_id=wallet_id),
            body=body,
        )
        return view

    def _catalog_for(self, name: str | None) -> CatalogSet:
        if name is None:
            return self.catalogs
        return CatalogSet([self.catalogs[name]])

    def record_free_job(
        self,
        wallet_id: str,
        kind: str,
        *,
        submitted_by: str | None = None,
        idempotency_key: str,
    ) -> JobView:
        """Record zero-cost usage (scheduling, publishing, voiceover) so it shows in usage."""
        _check_text("wallet_id", wallet_id, MAX_ID_LEN)
        _check_text("kind", kind, 40)
        if kind == "generation":
            raise InvalidRequest.for_field("kind", kind, "a usage kind other than generation")
        if submitted_by is not None:
            _check_text("submitted_by", submitted_by, MAX_ID_LEN)

        def body(uow: UnitOfWork, wallet: Wallet | None, now: datetime) -> _Done:
            self._need_wallet(wallet, wallet_id)
            job_id = job_id_for(now, wallet_id, idempotency_key)
            job = uow.insert_job(
                Job(
                    id=job_id,
                    wallet_id=wallet_id,
                    kind=kind,
                    model=None,
                    state=JobState.SUCCEEDED,
                    params={},
                    generations=0,
                    quote=None,
                    catalog=None,
                    catalog_version=None,
                    catalog_hash=None,
                    credits_quoted=0,
                    hold_amount=0,
                    credits_held=0,
                    credits_used=0,
                    written_off=0,
                    hold_legs=(),
                    hold_expires_at=None,
                    submitted_by=submitted_by,
                    metadata={},
                    reason=None,
                    created_at=now,
                    updated_at=now,
                    resolved_at=now,
                )
            )
            uow.emit(Event(wallet_id, "job.recorded", job_id, now, {"kind": kind}))
            return _Done(JobView.of(job, outcome="recorded"), "job", job_id, "recorded")

        view: JobView = self._run(
            operation="record_free_job",
            scope=f"wallet:{wallet_id}",
            key=idempotency_key,
            request={"wallet_id": wallet_id, "kind": kind, "submitted_by": submitted_by},
            hints=UnitHints(wallet_id=wallet_id),
            body=body,
        )
        return view

    def _locate_job(self, job_id: str) -> Callable[[UnitOfWork], str]:
        _check_text("job_id", job_id, MAX_ID_LEN)

        def locate(uow: UnitOfWork) -> str:
            job = uow.get_job(job_id)
            if job is None:
                raise JobNotFound(
                    f"job_id: {job_id!r} does not exist",
                    details={"field": "job_id", "value": job_id},
                )
            return job.wallet_id

        return locate

    def _job_callback(
        self,
        operation: str,
        job_id: str,
        key: str,
        request: Mapping[str, Any],
        on_job: Callable[[UnitOfWork, Wallet, Job, datetime], tuple[Job, str]],
    ) -> JobView:
        def body(uow: UnitOfWork, wallet: Wallet | None, now: datetime) -> _Done:
            job = uow.get_job(job_id)
            assert job is not None and wallet is not None
            job, outcome = on_job(uow, wallet, job, now)
            return _Done(_Later(partial(JobView.of, job, outcome=outcome)), "job", job_id, outcome)

        view: JobView = self._run(
            operation=operation,
            scope=f"job:{job_id}",
            key=key,
            request={"job_id": job_id, **request},
            locate=self._locate_job(job_id),
            hints=UnitHints(job_id=job_id),
            body=body,
        )
        return view

    def complete(
        self,
        job_id: str,
        *,
        actual_params: Mapping[str, object] | None = None,
        actual_generations: int | None = None,
        idempotency_key: str,
    ) -> JobView:
        """The provider delivered: capture the hold (status 1).

        ``actual_params`` / ``actual_generations`` report what was really made; it is priced
        on the submission's quote.  Capturing less releases the rest; costing more charges
        the difference when the wallet can pay it, else the difference is written off.
        After a timeout the whole charge is taken if the wallet can pay it, else written off.
        """
        if actual_generations is not None:
            _check_int("actual_generations", actual_generations, 0, 10_000)
        if actual_params is not None and not isinstance(actual_params, Mapping):
            raise InvalidRequest.for_field("actual_params", actual_params, "a mapping")
        request = {
            "actual_params": dict(actual_params or {}),
            "actual_generations": actual_generations,
        }

        def on_job(uow: UnitOfWork, wallet: Wallet, job: Job, now: datetime) -> tuple[Job, str]:
            if job.state == JobState.PENDING:
                charge = self._price_actual(job, actual_params, actual_generations)
                return self._capture(uow, wallet, job, charge, now, idempotency_key)
            if job.state == JobState.TIMED_OUT:
                charge = self._price_actual(job, actual_params, actual_generations)
                return self._late_capture(uow, wallet, job, charge, now, idempotency_key)
            if job.state in (JobState.SUCCEEDED, JobState.SUCCEEDED_AFTER_TIMEOUT):
                return job, "already_succeeded"
            return job, f"already_{job.state}"

        return self._job_callback("complete", job_id, idempotency_key, request, on_job)

    def fail(self, job_id: str, *, reason: str | None = None, idempotency_key: str) -> JobView:
        """The provider failed: release the whole hold to the grants it came from (status 2).
        A failure after a success or a timeout changes nothing."""
        if reason is not None:
            _check_text("reason", reason, 500)

        def on_job(uow: UnitOfWork, wallet: Wallet, job: Job, now: datetime) -> tuple[Job, str]:
            if job.state == JobState.PENDING:
                return self._release(
                    uow, wallet, job, now, JobState.FAILED, reason, idempotency_key
                )
            if job.state in (JobState.SUCCEEDED, JobState.SUCCEEDED_AFTER_TIMEOUT):
                return job, "already_succeeded"
            return job, f"already_{job.state}"

        return self._job_callback("fail", job_id, idempotency_key, {"reason": reason}, on_job)

    def cancel(self, job_id: str, *, idempotency_key: str) -> JobView:
        """Cancel a pending job: released like a failure.  A finished job cannot be cancelled
        (``invalid_transition``); cancelling a failed or timed-out job changes nothing."""

        def on_job(uow: UnitOfWork, wallet: Wallet, job: Job, now: datetime) -> tuple[Job, str]:
            if job.state == JobState.PENDING:
                return self._release(
                    uow, wallet, job, now, JobState.CANCELLED, "cancelled", idempotency_key
                )
            if job.state in (JobState.SUCCEEDED, JobState.SUCCEEDED_AFTER_TIMEOUT):
                raise InvalidTransition(
                    f"job_id: {job_id!r} is {job.state}; only a pending job can be cancelled",
                    details={"field": "job_id", "value": job_id, "state": job.state},
                )
            return job, f"already_{job.state}"

        return self._job_callback("cancel", job_id, idempotency_key, {}, on_job)

    def _price_actual(
        self,
        job: Job,
        actual_params: Mapping[str, object] | None,
        actual_generations: int | None,
    ) -> int:
        """The charge for what was actually made, on the price quoted at submission."""
        if not actual_params and actual_generations is None:
            return job.credits_quoted
        gens = job.generations if actual_generations is None else actual_generations
        if gens == 0:
            return 0
        unit = int(job.quote["unit_credits"]) if job.quote else 0
        scales = unit * job.generations == job.credits_quoted
        if not actual_params and scales:
            return unit * gens
        catalog = self.catalogs.get(job.catalog or "")
        if catalog is not None and catalog.hash == job.catalog_hash and job.model is not None:
            merged = {**job.params, **(actual_params or {})}
            return quote(catalog, job.model, merged, gens).total_credits
        # The catalog the job was priced on is gone: never reprice on another one.  Scale the
        # quote by generations when it is a per-generation price, else keep the quote.
        return unit * gens if scales else job.credits_quoted

    def _settle_legs(self, job: Job, capture: int) -> tuple[list[HoldLeg], list[HoldLeg]]:
        """Split the hold: the first legs (spend order) are captured, the rest released."""
        captured: list[HoldLeg] = []
        released: list[HoldLeg] = []
        left = capture
        for leg in job.hold_legs:
            part = min(left, leg.amount)
            left -= part
            if part:
                captured.append(HoldLeg(leg.grant_id, part))
            if leg.amount - part:
                released.append(HoldLeg(leg.grant_id, leg.amount - part))
        return captured, released

    def _capture(
        self,
        uow: UnitOfWork,
        wallet: Wallet,
        job: Job,
        charge: int,
        now: datetime,
        key: str,
    ) -> tuple[Job, str]:
        held = job.credits_held
        capture = min(charge, held)
        _captured, released = self._settle_legs(job, capture)
        postings: list[Posting] = []
        if held:
            postings.append(Posting(hold_account(job.id), -held))
        if capture:
            postings.append(Posting(ACCOUNT_CONSUMED, capture))
        back, wallet = self._return(uow, wallet, job.id, released, now, "resolve")
        postings += back
        extra = charge - capture
        used, written_off = capture, 0
        outcome = "captured" if charge == held else "captured_partial"
        if extra:
            try:
                legs, wallet = self._take(uow, wallet, extra, now)
            except InsufficientCredits:
                postings += [Posting(ACCOUNT_WRITTEN_OFF, -extra), Posting(ACCOUNT_CONSUMED, extra)]
                written_off, outcome = extra, "extra_written_off"
            else:
                postings += _leg_debits(wallet.id, legs)
                postings.append(Posting(ACCOUNT_CONSUMED, extra))
                used, outcome = charge, "charged_extra"
        if postings:
            uow.record(
                Transaction(
                    id=f"{job.id}/resolve",
                    wallet_id=job.wallet_id,
                    kind="capture",
                    postings=tuple(_merge(postings)),
                    created_at=now,
                    job_id=job.id,
                    idem_scope=f"job:{job.id}",
                    idem_key=key,
                )
            )
        uow.update_wallet(evolve(wallet, held=wallet.held - held, updated_at=now))
        job = evolve(
            job,
            state=JobState.SUCCEEDED,
            credits_held=0,
            credits_used=used,
            written_off=written_off,
            updated_at=now,
            resolved_at=now,
        )
        uow.update_job(job)
        uow.emit(
            Event(
                job.wallet_id,
                "job.succeeded",
                job.id,
                now,
                {"credits_used": used, "released": held - capture, "written_off": written_off},
            )
        )
        return job, outcome

    def _late_capture(
        self,
        uow: UnitOfWork,
        wallet: Wallet,
        job: Job,
        charge: int,
        now: datetime,
        key: str,
    ) -> tuple[Job, str]:
        """A success after the hold timed out: charge it if the wallet can pay, else write off."""
        used, written_off = 0, 0
        postings: list[Posting] = []
        if charge:
            try:
                legs, wallet = self._take(uow, wallet, charge, now)
            except InsufficientCredits:
                postings = [
                    Posting(ACCOUNT_WRITTEN_OFF, -charge),
                    Posting(ACCOUNT_CONSUMED, charge),
                ]
                written_off, outcome = charge, "written_off_after_timeout"
            else:
                postings = [*_leg_debits(wallet.id, legs), Posting(ACCOUNT_CONSUMED, charge)]
                used, outcome = charge, "charged_after_timeout"
            uow.record(
                Transaction(
                    id=f"{job.id}/late",
                    wallet_id=job.wallet_id,
                    kind="late_capture" if used else "write_off",
                    postings=tuple(_merge(postings)),
                    created_at=now,
                    job_id=job.id,
                    idem_scope=f"job:{job.id}",
                    idem_key=key,
                )
            )
            uow.update_wallet(evolve(wallet, updated_at=now))
        else:
            outcome = "charged_after_timeout"
        job = evolve(
            job,
            state=JobState.SUCCEEDED_AFTER_TIMEOUT,
            credits_used=used,
            written_off=written_off,
            updated_at=now,
            resolved_at=now,
        )
        uow.update_job(job)
        uow.emit(
            Event(
                job.wallet_id,
                "job.succeeded_after_timeout",
                job.id,
                now,
                {"credits_used": used, "written_off": written_off},
            )
        )
        return job, outcome

    def _release(
        self,
        uow: UnitOfWork,
        wallet: Wallet,
        job: Job,
        now: datetime,
        state: str,
        reason: str | None,
        key: str | None,
    ) -> tuple[Job, str]:
        held = job.credits_held
        if held:
            back, wallet = self._return(uow, wallet, job.id, job.hold_legs, now, "resolve")
            uow.record(
                Transaction(
                    id=f"{job.id}/resolve",
                    wallet_id=job.wallet_id,
                    kind="timeout" if state == JobState.TIMED_OUT else "release",
                    postings=tuple(_merge([Posting(hold_account(job.id), -held), *back])),
                    created_at=now,
                    job_id=job.id,
                    idem_scope=None if key is None else f"job:{job.id}",
                    idem_key=key,
                )
            )
        uow.update_wallet(evolve(wallet, held=wallet.held - held, updated_at=now))
        job = evolve(
            job,
            state=state,
            credits_held=0,
            credits_used=0,
            reason=reason,
            updated_at=now,
            resolved_at=now,
        )
        uow.update_job(job)
        uow.emit(Event(job.wallet_id, f"job.{state}", job.id, now, {"released": held}))
        return job, "released"

    def get_job(self, job_id: str) -> JobView:
        _check_text("job_id", job_id, MAX_ID_LEN)

        def read(uow: UnitOfWork, _now: datetime) -> JobView:
            job = uow.get_job(job_id)
            if job is None:
                raise JobNotFound(
                    f"job_id: {job_id!r} does not exist",
                    details={"field": "job_id", "value": job_id},
                )
            return JobView.of(job)

        return self._read(read)

    def list_jobs(
        self,
        wallet_id: str,
        *,
        status: int | None = None,
        state: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[JobView]:
        """The wallet's jobs, oldest first, optionally by numbered status or state name."""
        _check_text("wallet_id", wallet_id, MAX_ID_LEN)
        _check_int("limit", limit, 1, MAX_PAGE)
        states: list[str] | None = None
        if status is not None:
            if status not in (0, 1, 2) or isinstance(status, bool):
                raise InvalidRequest.for_field("status", status, "0, 1 or 2")
            states = [s for s, n in JOB_STATUS.items() if n == status]
        if state is not None:
            if state not in tuple(JobState):
                raise InvalidRequest.for_field(
                    "state", state, f"one of {', '.join(tuple(JobState))}"
                )
            states = [s for s in (states or [state]) if s == state]
        after = _int_cursor("j", cursor)

        def read(uow: UnitOfWork, _now: datetime) -> Page[JobView]:
            self._need_wallet(uow.get_wallet(wallet_id), wallet_id)
            jobs = uow.list_jobs(wallet_id, after_seq=after, limit=limit + 1, states=states)
            items = jobs[:limit]
            more = len(jobs) > limit
            last = items[-1].seq if items else None
            return Page(
                items=[JobView.of(j) for j in items],
                next_cursor=_encode_cursor("j", last) if more and last is not None else None,
            )

        return self._read(read)

    # ------------------------------------------------------------------ history, outbox
    def history(
        self, wallet_id: str, *, cursor: str | None = None, limit: int = 50
    ) -> Page[EntryView]:
        """The wallet's ledger transactions, newest first, with their balanced postings."""
        _check_text("wallet_id", wallet_id, MAX_ID_LEN)
        _check_int("limit", limit, 1, MAX_PAGE)
        before = _int_cursor("h", cursor)

        def read(uow: UnitOfWork, _now: datetime) -> Page[EntryView]:
            self._need_wallet(uow.get_wallet(wallet_id), wallet_id)
            txs = uow.history(wallet_id, before_seq=before, limit=limit + 1)
            items = [EntryView.of(tx) for tx in txs[:limit]]
            more = len(txs) > limit
            return Page(
                items=items, next_cursor=_encode_cursor("h", items[-1].seq) if more else None
            )

        return self._read(read)

    def events(self, *, after: str | None = None, limit: int = 100) -> list[Event]:
        """Committed outbox events in delivery order (for webhooks, alerts, reports).

        Resume with ``after=<the last event's cursor>``: an event that commits later never
        sorts before one already handed out, so a consumer misses and repeats nothing."""
        _check_int("limit", limit, 1, 10 * MAX_PAGE)
        position = _event_position(after)
        return self._read(lambda uow, _now: uow.events(after=position, limit=limit))

    # ------------------------------------------------------------------ sweep, audit
    def sweep(self, now: datetime | None = None) -> SweepReport:
        """Release holds past their time limit and expire grants past their expiry.

        Each item is its own unit of work under its wallet's lock and re-checks its state,
        so many sweepers may run at once: an item is handled by exactly one of them.
        """
        at = self.clock.now() if now is None else _check_time("now", now)
        holds, released, seen, _done = self._sweep_due(
            lambda uow: uow.due_holds(at, limit=SWEEP_BATCH),
            lambda job_id, wallet_id: (
                UnitHints(wallet_id=wallet_id, job_id=job_id),
                partial(self._timeout, job_id=job_id, at=at),
            ),
            SWEEP_MAX_ITEMS,
        )
        grants, expired, more_seen, done = self._sweep_due(
            lambda uow: uow.due_grants(at, limit=SWEEP_BATCH),
            lambda grant_id, wallet_id: (
                UnitHints(wallet_id=wallet_id, grant_id=grant_id),
                partial(self._expire, grant_id=grant_id, at=at),
            ),
            SWEEP_MAX_ITEMS - seen,
        )
        more = not done or seen + more_seen >= SWEEP_MAX_ITEMS
        return SweepReport(
            holds_released=holds,
            credits_released=released,
            grants_expired=grants,
            credits_expired=expired,
            more=more,
        )

    def _sweep_due(
        self,
        due: Callable[[UnitOfWork], list[tuple[str, str]]],
        unit_for: Callable[
            [str, str], tuple[UnitHints, Callable[[UnitOfWork, Wallet], int | None]]
        ],
        budget: int,
    ) -> tuple[int, int, int, bool]:
        """Handle due (item id, wallet id) pairs page by page, looking at no more than
        ``budget``: (items handled, credits they moved, items looked at, all done)."""
        handled = moved = seen = 0
        while seen < budget:
            page = self._read(lambda uow, _now: due(uow))
            for item_id, wallet_id in page:
                amount = self._sweep_unit(*unit_for(item_id, wallet_id))
                if amount is not None:
                    handled, moved = handled + 1, moved + amount
            seen += len(page)
            if len(page) < SWEEP_BATCH:
                return handled, moved, seen, True
        return handled, moved, seen, False

    def _sweep_unit(
        self, hints: UnitHints, fn: Callable[[UnitOfWork, Wallet], int | None]
    ) -> int | None:
        wallet_id = hints.wallet_id
        assert wallet_id is not None

        def unit(uow: UnitOfWork) -> int | None:
            wallet = uow.lock_wallet(wallet_id)
            assert wallet is not None
            return fn(uow, wallet)

        unit.hints = hints  # type: ignore[attr-defined]

        for _attempt in range(UNIT_RETRIES):
            try:
                result: int | None = self.store.run_unit(unit)
                return result
            except RetryableConflict:
                continue
        return None

    def _timeout(self, uow: UnitOfWork, wallet: Wallet, job_id: str, at: datetime) -> int | None:
        job = uow.get_job(job_id)
        if job is None or job.state != JobState.PENDING:
            return None  # another sweeper, or a callback, resolved it first
        if job.hold_expires_at is None or job.hold_expires_at > at:
            return None
        held = job.credits_held
        self._release(uow, wallet, job, at, JobState.TIMED_OUT, "hold timed out", None)
        return held

    def _expire(self, uow: UnitOfWork, wallet: Wallet, grant_id: str, at: datetime) -> int | None:
        grant = uow.get_grant(grant_id)
        if grant is None or grant.state != "active":
            return None
        if grant.expires_at is None or grant.expires_at > at:
            return None
        _close_grant(uow, grant, state="expired", to_account=ACCOUNT_EXPIRED, at=at)
        uow.update_wallet(evolve(wallet, updated_at=at))
        return grant.remaining

    def audit(self) -> list[Violation]:
        """Check every invariant of the ledger; an empty list means clean."""
        return self._read(lambda uow, now: audit_snapshot(uow.audit_snapshot(), now))


def _close_grant(
    uow: UnitOfWork,
    grant: Grant,
    *,
    state: str,
    to_account: str,
    at: datetime,
    idem_scope: str | None = None,
    idem_key: str | None = None,
) -> Grant:
    """Move what is left of a grant to ``to_account`` (``issued`` for a void, ``expired`` for
    breakage), close it in ``state`` and emit ``grant.<state>``: one posting pair, one event."""
    kind = {"voided": "void", "expired": "expire"}[state]
    if grant.remaining > 0:
        uow.record(
            Transaction(
                id=f"{grant.id}/{kind}",
                wallet_id=grant.wallet_id,
                kind=kind,
                postings=(
                    Posting(grant_account(grant.id), -grant.remaining),
                    Posting(to_account, grant.remaining),
                ),
                created_at=at,
                grant_id=grant.id,
                idem_scope=idem_scope,
                idem_key=idem_key,
            )
        )
    closed = evolve(grant, remaining=0, state=state, closed_at=at)
    uow.update_grant(closed)
    uow.emit(Event(grant.wallet_id, f"grant.{state}", grant.id, at, {"amount": grant.remaining}))
    return closed


def _check_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping) or len(metadata) > MAX_METADATA_KEYS:
        raise InvalidRequest.for_field(
            "metadata", metadata, f"a mapping of at most {MAX_METADATA_KEYS} string pairs"
        )
    for k, v in metadata.items():
        _check_text("metadata key", k, 100)
        if not isinstance(v, str) or len(v) > MAX_METADATA_VALUE_LEN:
            raise InvalidRequest.for_field(
                f"metadata[{k}]", v, f"a string of at most {MAX_METADATA_VALUE_LEN} characters"
            )
    return dict(metadata)


def _check_params(params: Mapping[str, object] | None) -> dict[str, object]:
    """The request's parameters as stored with the job: names, and JSON scalar values."""
    if params is None:
        return {}
    if not isinstance(params, Mapping) or len(params) > MAX_PARAMS:
        raise InvalidRequest.for_field(
            "params", params, f"a mapping of at most {MAX_PARAMS} parameter names"
        )
    for name, value in params.items():
        _check_text("params name", name, 100)
        scalar = value is None or isinstance(value, str | bool)
        scalar = scalar or (isinstance(value, int) and abs(value) < 2**63)
        scalar = scalar or (isinstance(value, float) and math.isfinite(value))
        if not scalar or (isinstance(value, str) and len(value) > MAX_METADATA_VALUE_LEN):
            raise InvalidRequest.for_field(
                f"params[{name}]",
                value,
                "a string, a whole number, a finite decimal number, true/false or null",
            )
    return dict(params)


def _leg_debits(wallet_id: str, legs: Sequence[HoldLeg]) -> list[Posting]:
    return [
        Posting(
            grant_account(leg.grant_id)
            if leg.grant_id is not None
            else overdraft_account(wallet_id),
            -leg.amount,
        )
        for leg in legs
    ]


def _merge(postings: Sequence[Posting]) -> list[Posting]:
    """One posting per account (in first-seen order), zero postings dropped."""
    totals: dict[str, int] = {}
    for p in postings:
        totals[p.account] = totals.get(p.account, 0) + p.amount
    return [Posting(a, n) for a, n in totals.items() if n]


if TYPE_CHECKING:
    from .protocol import BillingAPI

    def _implements(billing: Billing) -> BillingAPI:  # mypy checks Billing against the protocol
        return billing
