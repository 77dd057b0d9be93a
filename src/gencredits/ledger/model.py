"""Domain values of the ledger: immutable, integer credits, aware-UTC instants.

Accounts (every :class:`Posting` names one; a transaction's postings sum to zero)::

    grant:<grant_id>          the unspent, unheld credits of one grant (credit-normal, >= 0)
    hold:<job_id>             credits reserved for one pending job (TigerBeetle's "pending")
    overdraft:<wallet_id>     a wallet's debt when it spends past zero (<= 0, >= -limit)
    issued                    where granted credits come from (goes negative)
    consumed                  credits spent on usable results
    expired                   breakage: what was left of grants at their expiry
    written_off               charges the platform absorbed (a late success it could not bill)

A posting's ``amount`` is signed: positive credits the account, negative debits it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from operator import attrgetter
from typing import Any, TypeVar, cast

__all__ = [
    "ACCOUNT_CONSUMED",
    "ACCOUNT_EXPIRED",
    "ACCOUNT_ISSUED",
    "ACCOUNT_WRITTEN_OFF",
    "DEFAULT_KIND_PRIORITIES",
    "JOB_STATUS",
    "Event",
    "EventType",
    "Grant",
    "GrantState",
    "HoldLeg",
    "IdempotencyRecord",
    "Job",
    "JobState",
    "Posting",
    "Transaction",
    "TransactionKind",
    "Wallet",
    "evolve",
    "grant_account",
    "hold_account",
    "overdraft_account",
]

ACCOUNT_ISSUED = "issued"
ACCOUNT_CONSUMED = "consumed"
ACCOUNT_EXPIRED = "expired"
ACCOUNT_WRITTEN_OFF = "written_off"
SYSTEM_ACCOUNTS = (ACCOUNT_ISSUED, ACCOUNT_CONSUMED, ACCOUNT_EXPIRED, ACCOUNT_WRITTEN_OFF)

#: Default spend priority per grant kind (lower is spent first).  The monthly allowance goes
#: first (it is lost at cycle end), then promotional and bonus credits (they expire soon),
#: then compensation/refund credits, and purchased packs last (they persist).
DEFAULT_KIND_PRIORITIES: Mapping[str, int] = {
    "allowance": 10,
    "promotional": 20,
    "bonus": 30,
    "compensation": 40,
    "refund": 40,
    "purchase": 50,
}


def grant_account(grant_id: str) -> str:
    return f"grant:{grant_id}"


def hold_account(job_id: str) -> str:
    return f"hold:{job_id}"


def overdraft_account(wallet_id: str) -> str:
    return f"overdraft:{wallet_id}"


class JobState(StrEnum):
    """A job's state; :attr:`status` is the seed API's number for it (0 pending, 1 success,
    2 failed: cancel and timeout also end as 2)."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    SUCCEEDED_AFTER_TIMEOUT = "succeeded_after_timeout"

    @property
    def status(self) -> int:
        return JOB_STATUS[self]


#: The seed API's numbered status of each job state.
JOB_STATUS: Mapping[str, int] = {
    JobState.PENDING: 0,
    JobState.SUCCEEDED: 1,
    JobState.SUCCEEDED_AFTER_TIMEOUT: 1,
    JobState.FAILED: 2,
    JobState.CANCELLED: 2,
    JobState.TIMED_OUT: 2,
}


class GrantState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    VOIDED = "voided"


class TransactionKind(StrEnum):
    """Why a ledger transaction was recorded (one posting template each, see
    :mod:`gencredits.ledger.postings`)."""

    GRANT = "grant"
    HOLD = "hold"
    CAPTURE = "capture"
    RELEASE = "release"
    TIMEOUT = "timeout"
    LATE_CAPTURE = "late_capture"
    WRITE_OFF = "write_off"
    VOID = "void"
    EXPIRE = "expire"


class EventType(StrEnum):
    """The outbox's event types: one per kind of change a consumer may act on."""

    WALLET_CREATED = "wallet.created"
    GRANT_CREATED = "grant.created"
    GRANT_VOIDED = "grant.voided"
    GRANT_EXPIRED = "grant.expired"
    JOB_SUBMITTED = "job.submitted"
    JOB_RECORDED = "job.recorded"
    JOB_SUCCEEDED = "job.succeeded"
    JOB_FAILED = "job.failed"
    JOB_CANCELLED = "job.cancelled"
    JOB_TIMED_OUT = "job.timed_out"
    JOB_SUCCEEDED_AFTER_TIMEOUT = "job.succeeded_after_timeout"
    TEAM_UPDATED = "team.updated"
    MEMBER_UPDATED = "team.member_updated"
    MEMBER_REMOVED = "team.member_removed"
    # Alerts: decided in the unit of work that moves the credits, once per crossing.
    MEMBER_NEAR_CAP = "alert.member_near_cap"
    BALANCE_BELOW = "alert.balance_below"
    BALANCE_DEPLETED = "alert.balance_depleted"
    GRANT_EXPIRING = "alert.grant_expiring"
    TOPUP_REQUESTED = "topup.requested"


@dataclass(frozen=True, slots=True)
class Wallet:
    id: str
    owner_kind: str
    overdraft_limit: int
    hold_ttl_s: int | None
    held: int  # materialised: sum of this wallet's hold accounts
    debt: int  # materialised: minus the balance of overdraft:<id>
    created_at: datetime
    updated_at: datetime
    #: the share of a job's quote a completion may charge beyond its hold (``None``: the
    #: service's setting); see docs/ledger.md, "Charging more than the hold"
    extra_charge_share: Decimal | None = None
    #: why the wallet refuses new submissions (a chargeback), until an operator lifts it
    frozen: str | None = None
    #: materialised: kind -> [live grants, their remaining credits], where a grant is live
    #: while it is active with credit left (see :meth:`tallied`); kept in the same
    #: transaction as the grants, and checked against them by the auditor
    grant_totals: Mapping[str, Sequence[int]] = field(default_factory=dict)

    @property
    def remaining(self) -> int:
        """The remaining credits of the wallet's active grants (materialised)."""
        return sum(total[1] for total in self.grant_totals.values())

    def tallied(self, before: Grant | None, after: Grant | None) -> Wallet:
        """This wallet with its :attr:`grant_totals` moved from ``before`` to ``after`` (one
        grant as it was and as it is now; ``None``: it did not exist)."""
        totals = {kind: list(total) for kind, total in self.grant_totals.items()}
        for grant, sign in ((before, -1), (after, 1)):
            if grant is not None and grant.live:
                total = totals.setdefault(grant.kind, [0, 0])
                total[0] += sign
                total[1] += sign * grant.remaining
        return evolve(self, grant_totals={k: v for k, v in sorted(totals.items()) if v[0]})


@dataclass(frozen=True, slots=True)
class Grant:
    id: str
    wallet_id: str
    kind: str
    amount: int
    remaining: int  # materialised: the balance of grant:<id> (unspent and not held)
    priority: int
    effective_at: datetime
    expires_at: datetime | None
    source: str | None
    state: str  # a GrantState
    created_at: datetime
    closed_at: datetime | None = None

    @property
    def live(self) -> bool:
        """Active with credit left: in the wallet's active set (and its spend-order index)."""
        return self.state == GrantState.ACTIVE and self.remaining > 0

    def spendable_at(self, now: datetime) -> bool:
        return (
            self.state == GrantState.ACTIVE
            and self.effective_at <= now
            and (self.expires_at is None or now < self.expires_at)
        )

    def spend_key(self) -> tuple[int, int, datetime, datetime, str]:
        """Priority, then soonest expiry (never-expiring last), then oldest, then id."""
        never = 1 if self.expires_at is None else 0
        expiry = self.expires_at if self.expires_at is not None else self.effective_at
        return (self.priority, never, expiry, self.created_at, self.id)


@dataclass(frozen=True, slots=True)
class HoldLeg:
    """Part of a hold taken from one grant (``grant_id=None``: from the wallet's overdraft)."""

    grant_id: str | None
    amount: int


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    wallet_id: str
    kind: str  # "generation", or the zero-cost usage kind ("scheduling", "publishing", ...)
    model: str | None
    state: str
    params: Mapping[str, Any]
    generations: int
    quote: Mapping[str, Any] | None
    catalog: str | None
    catalog_version: str | None
    catalog_hash: str | None
    credits_quoted: int
    hold_amount: int  # what was held at submission
    credits_held: int  # what is held now (0 once resolved)
    credits_used: int  # what the wallet paid
    written_off: int
    hold_legs: tuple[HoldLeg, ...]
    hold_expires_at: datetime | None
    submitted_by: str | None
    metadata: Mapping[str, str]
    reason: str | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    seq: int | None = None  # assigned by the store: list order and cursors


@dataclass(frozen=True, slots=True)
class Posting:
    account: str
    amount: int


@dataclass(frozen=True, slots=True)
class Transaction:
    """One movement: postings that sum to zero, recorded once and never changed."""

    id: str
    wallet_id: str
    kind: str
    postings: tuple[Posting, ...]
    created_at: datetime
    job_id: str | None = None
    grant_id: str | None = None
    idem_scope: str | None = None
    idem_key: str | None = None
    memo: str | None = None
    seq: int | None = None

    def __post_init__(self) -> None:
        total = sum(p.amount for p in self.postings)
        if total != 0:
            raise AssertionError(f"transaction {self.id} does not balance: sum {total}")
        if not self.postings:
            raise AssertionError(f"transaction {self.id} has no postings")


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    #: the wallet whose unit the key was used under (every scope names one wallet's thing)
    wallet_id: str
    scope: str
    key: str
    operation: str
    fingerprint: str
    result_kind: str  # wallet | grant | job
    result_id: str
    outcome: str | None
    created_at: datetime
    #: the request the fingerprint covers, as JSON (``None`` in records of earlier versions):
    #: what a conflict compares to name the fields that differ
    request: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """An outbox event, written in the same database transaction as the change it reports."""

    wallet_id: str
    type: str
    subject_id: str
    created_at: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)
    seq: int | None = None
    #: PostgreSQL: the id of the transaction that wrote it (None where writers are serialised)
    txid: int | None = None
    #: the wallet's version after the unit that wrote this event: every unit that emits
    #: events for a wallet bumps its version by one, under the wallet's lock, so a wallet's
    #: versions run 1, 2, 3... in commit order (None: written before versions existed)
    wallet_version: int | None = None
    #: this event's place among the events of its unit for the wallet (0, 1, ...)
    version_seq: int | None = None

    @property
    def position(self) -> tuple[int, int]:
        """Where this event stands in delivery order: (transaction id, seq)."""
        return (self.txid or 0, self.seq or 0)

    @property
    def cursor(self) -> str:
        """Pass it back as ``events(after=...)`` to read the events after this one."""
        txid, seq = self.position
        return f"{txid}-{seq}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "cursor": self.cursor,
            "wallet_id": self.wallet_id,
            "type": self.type,
            "subject_id": self.subject_id,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
            "payload": dict(self.payload),
            "wallet_version": self.wallet_version,
            "version_seq": self.version_seq,
        }


_FIELDS: dict[type, tuple[Callable[[Any], tuple[Any, ...]], dict[str, int]]] = {}
_D = TypeVar("_D")


def evolve(record: _D, **changes: Any) -> _D:
    """A copy of a dataclass ``record`` with ``changes``: :func:`dataclasses.replace` without
    its per-call field introspection, fields read by one ``attrgetter`` and passed by position,
    much cheaper per call, and a ledger operation makes several (figures:
    bench/RESULTS.md).  ``__init__`` still runs, with its checks."""
    cls = type(record)
    plan = _FIELDS.get(cls)
    if plan is None:
        names = tuple(f.name for f in fields(cast(Any, cls)))
        read = attrgetter(*names) if len(names) > 1 else (lambda r: (getattr(r, names[0]),))
        plan = _FIELDS[cls] = (read, {name: i for i, name in enumerate(names)})
    read, position = plan
    values = list(read(record))
    for name, value in changes.items():
        if name not in position:
            raise TypeError(f"{cls.__name__} has no field {name!r}")
        values[position[name]] = value
    return cls(*values)
