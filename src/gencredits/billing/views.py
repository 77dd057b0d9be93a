"""What the billing service answers: frozen views with JSON-ready ``to_dict()``.

Amounts are ints; instants are ISO 8601 strings in UTC.  ``JobView.to_dict()`` numbers
``status`` as the seed API does: 0 pending, 1 success, 2 failed/refunded (cancel and
timeout also end as 2); ``state`` says which, and ``creditsUsed`` is authoritative.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from gencredits.ledger.model import (
    Grant,
    Job,
    JobState,
    Posting,
    Transaction,
)

__all__ = [
    "EntryView",
    "GrantView",
    "JobView",
    "Page",
    "SweepReport",
    "Violation",
    "WalletView",
]


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat().replace("+00:00", "Z")


class _HasToDict(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


T = TypeVar("T", bound=_HasToDict)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"items": [i.to_dict() for i in self.items], "next_cursor": self.next_cursor}


@dataclass(frozen=True, slots=True)
class GrantView:
    id: str
    wallet_id: str
    kind: str
    amount: int
    remaining: int
    priority: int
    effective_at: datetime
    expires_at: datetime | None
    source: str | None
    state: str
    created_at: datetime
    closed_at: datetime | None
    spendable: bool
    outcome: str | None = None
    replayed: bool = False

    @classmethod
    def of(
        cls, g: Grant, now: datetime, *, outcome: str | None = None, replayed: bool = False
    ) -> GrantView:
        return cls(
            id=g.id,
            wallet_id=g.wallet_id,
            kind=g.kind,
            amount=g.amount,
            remaining=g.remaining,
            priority=g.priority,
            effective_at=g.effective_at,
            expires_at=g.expires_at,
            source=g.source,
            state=g.state,
            created_at=g.created_at,
            closed_at=g.closed_at,
            spendable=g.spendable_at(now),
            outcome=outcome,
            replayed=replayed,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "wallet_id": self.wallet_id,
            "kind": self.kind,
            "amount": self.amount,
            "remaining": self.remaining,
            "priority": self.priority,
            "effective_at": _iso(self.effective_at),
            "expires_at": _iso(self.expires_at),
            "source": self.source,
            "state": self.state,
            "spendable": self.spendable,
            "created_at": _iso(self.created_at),
            "closed_at": _iso(self.closed_at),
            "outcome": self.outcome,
            "replayed": self.replayed,
        }


@dataclass(frozen=True, slots=True)
class WalletView:
    """``available`` = unexpired remaining - debt (never below -overdraft_limit); ``grants`` are
    the active grants with credit left, in spend order;
    ``held`` = reserved for pending jobs; ``balance`` = available + held."""

    id: str
    owner_kind: str
    available: int
    held: int
    balance: int
    debt: int
    overdraft_limit: int
    hold_ttl_s: int | None
    grants: tuple[GrantView, ...]
    created_at: datetime
    updated_at: datetime
    replayed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "owner_kind": self.owner_kind,
            "available": self.available,
            "held": self.held,
            "balance": self.balance,
            "debt": self.debt,
            "overdraft_limit": self.overdraft_limit,
            "hold_ttl_s": self.hold_ttl_s,
            "grants": [g.to_dict() for g in self.grants],
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "replayed": self.replayed,
        }


@dataclass(frozen=True, slots=True)
class JobView:
    id: str
    wallet_id: str
    kind: str
    model: str | None
    state: str
    status: int
    credits_used: int
    credits_held: int
    credits_quoted: int
    written_off: int
    generations: int
    params: Mapping[str, Any]
    quote: Mapping[str, Any] | None
    catalog: str | None
    catalog_version: str | None
    catalog_hash: str | None
    submitted_by: str | None
    metadata: Mapping[str, str]
    reason: str | None
    hold_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    outcome: str | None = None
    replayed: bool = False

    @classmethod
    def of(cls, j: Job, *, outcome: str | None = None, replayed: bool = False) -> JobView:
        # While pending, the credits taken are the hold (pre-debited, as the seed API says).
        used = j.credits_held if j.state == JobState.PENDING else j.credits_used
        return cls(
            id=j.id,
            wallet_id=j.wallet_id,
            kind=j.kind,
            model=j.model,
            state=j.state,
            status=JobState.STATUS[j.state],
            credits_used=used,
            credits_held=j.credits_held,
            credits_quoted=j.credits_quoted,
            written_off=j.written_off,
            generations=j.generations,
            params=j.params,
            quote=j.quote,
            catalog=j.catalog,
            catalog_version=j.catalog_version,
            catalog_hash=j.catalog_hash,
            submitted_by=j.submitted_by,
            metadata=j.metadata,
            reason=j.reason,
            hold_expires_at=j.hold_expires_at,
            created_at=j.created_at,
            updated_at=j.updated_at,
            resolved_at=j.resolved_at,
            outcome=outcome,
            replayed=replayed,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "wallet_id": self.wallet_id,
            "kind": self.kind,
            "model": self.model,
            "status": self.status,
            "state": self.state,
            "creditsUsed": self.credits_used,
            "credits_used": self.credits_used,
            "credits_held": self.credits_held,
            "credits_quoted": self.credits_quoted,
            "written_off": self.written_off,
            "generations": self.generations,
            "params": dict(self.params),
            "quote": None if self.quote is None else dict(self.quote),
            "catalog": self.catalog,
            "catalog_version": self.catalog_version,
            "catalog_hash": self.catalog_hash,
            "submitted_by": self.submitted_by,
            "metadata": dict(self.metadata),
            "reason": self.reason,
            "hold_expires_at": _iso(self.hold_expires_at),
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "resolved_at": _iso(self.resolved_at),
            "outcome": self.outcome,
            "replayed": self.replayed,
        }


@dataclass(frozen=True, slots=True)
class EntryView:
    """One ledger transaction as a wallet sees it, with its balanced postings."""

    id: str
    seq: int
    kind: str
    created_at: datetime
    job_id: str | None
    grant_id: str | None
    available_delta: int
    held_delta: int
    postings: tuple[Posting, ...]
    memo: str | None

    @classmethod
    def of(cls, tx: Transaction) -> EntryView:
        assert tx.seq is not None
        available = sum(
            p.amount for p in tx.postings if p.account.startswith(("grant:", "overdraft:"))
        )
        held = sum(p.amount for p in tx.postings if p.account.startswith("hold:"))
        return cls(
            id=tx.id,
            seq=tx.seq,
            kind=tx.kind,
            created_at=tx.created_at,
            job_id=tx.job_id,
            grant_id=tx.grant_id,
            available_delta=available,
            held_delta=held,
            postings=tx.postings,
            memo=tx.memo,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "seq": self.seq,
            "kind": self.kind,
            "created_at": _iso(self.created_at),
            "job_id": self.job_id,
            "grant_id": self.grant_id,
            "available_delta": self.available_delta,
            "held_delta": self.held_delta,
            "postings": [{"account": p.account, "amount": p.amount} for p in self.postings],
            "memo": self.memo,
        }


@dataclass(frozen=True, slots=True)
class SweepReport:
    holds_released: int = 0
    credits_released: int = 0
    grants_expired: int = 0
    credits_expired: int = 0
    more: bool = False  # the per-call limit was reached: run the sweep again

    def to_dict(self) -> dict[str, Any]:
        return {
            "holds_released": self.holds_released,
            "credits_released": self.credits_released,
            "grants_expired": self.grants_expired,
            "credits_expired": self.credits_expired,
            "more": self.more,
        }


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken invariant found by the auditor: a stable code, what, and why."""

    code: str
    subject: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "subject": self.subject, "message": self.message}

    def __str__(self) -> str:
        return f"{self.code} {self.subject}: {self.message}"
