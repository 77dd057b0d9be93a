"""The wire types: what the billing service answers, one frozen type per entity.

The same class is returned by the embedded :class:`~gencredits.billing.Billing`, declared as
the HTTP routes' ``response_model`` (so the documented answer is the checked one) and parsed
by :class:`~gencredits.client.Client` from the service's JSON.  ``to_dict()`` is the JSON the
service sends: amounts are ints, instants ISO 8601 in UTC (``...Z``).

A job's ``status`` is numbered as the seed API numbers it: 0 pending, 1 success, 2 failed or
refunded (cancel and timeout also end as 2); ``state`` says which, and ``creditsUsed`` is
authoritative (held while pending, as the seed API pre-debits).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema, computed_field

from gencredits.ledger.model import (
    DEFAULT_KIND_PRIORITIES,
    JOB_STATUS,
    Grant,
    GrantState,
    Job,
    JobState,
    Posting,
    Transaction,
    TransactionKind,
)

__all__ = [
    "EntryView",
    "GrantExpiry",
    "GrantKindTotal",
    "GrantView",
    "JobView",
    "ListOrder",
    "Outcome",
    "Page",
    "PostingView",
    "SweepReport",
    "Violation",
    "WalletView",
]


class Outcome(StrEnum):
    """What a call did: stable names, also stored with the idempotency record so a replay
    answers the same.  ``already_*`` answers a duplicate or late callback: it moved nothing."""

    CREATED = "created"
    EXISTS = "exists"
    GRANTED = "granted"
    VOIDED = "voided"
    HELD = "held"
    RECORDED = "recorded"
    CAPTURED = "captured"
    CAPTURED_PARTIAL = "captured_partial"
    CHARGED_EXTRA = "charged_extra"
    EXTRA_WRITTEN_OFF = "extra_written_off"
    RELEASED = "released"
    CHARGED_AFTER_TIMEOUT = "charged_after_timeout"
    WRITTEN_OFF_AFTER_TIMEOUT = "written_off_after_timeout"
    ALREADY_SUCCEEDED = "already_succeeded"
    ALREADY_FAILED = "already_failed"
    ALREADY_CANCELLED = "already_cancelled"
    ALREADY_TIMED_OUT = "already_timed_out"
    ALREADY_VOIDED = "already_voided"
    ALREADY_EXPIRED = "already_expired"
    UPDATED = "updated"
    REMOVED = "removed"

    @classmethod
    def already(cls, state: str) -> Outcome:
        """The answer to a callback for a job (or grant) already in ``state``."""
        if state in (JobState.SUCCEEDED, JobState.SUCCEEDED_AFTER_TIMEOUT):
            return cls.ALREADY_SUCCEEDED
        return cls(f"already_{state}")


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


#: An instant on the wire: ISO 8601 in UTC with a ``Z``, as every answer has always written it.
Instant = Annotated[
    datetime,
    PlainSerializer(_iso, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


def _one_of(values: Any) -> WithJsonSchema:
    """The JSON schema of a text that is one of ``values`` (the Python type stays ``str``:
    the schema tells clients the vocabulary, the answers are unchanged)."""
    return WithJsonSchema({"type": "string", "enum": [str(v) for v in values]})


#: The vocabularies of the answers, as enums in the JSON schema.
JobStateText = Annotated[str, _one_of(JobState)]
GrantStateText = Annotated[str, _one_of(GrantState)]
#: The grant kinds of the default spend policy (the HTTP service's).
GrantKindText = Annotated[str, _one_of([*DEFAULT_KIND_PRIORITIES, "seat"])]
EntryKindText = Annotated[str, _one_of(TransactionKind)]
OutcomeText = Annotated[str, _one_of(Outcome)]
#: A job's status as the seed API numbers it.
#: A list's order: ``asc`` oldest first (wallets: by id, a to z), ``desc`` newest first.
ListOrder = Literal["asc", "desc"]

JobStatus = Annotated[int, WithJsonSchema({"type": "integer", "enum": [0, 1, 2]})]


#: Views are frozen: their slots are set as ``BaseModel.model_construct`` sets them.
_set = object.__setattr__


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def _built(cls, fields: dict[str, Any]) -> Self:
        """The view of ``fields``, every field given and already checked (they come from the
        ledger's own records): what ``model_construct`` makes, at about half its cost,
        since it skips the per-field default and alias look-ups that a complete set of
        fields does not need.  Two of these are built per job call (figures:
        bench/RESULTS.md); ``tests/billing/test_views.py`` holds each view built so equal
        to ``model_construct``'s, internals included."""
        view = cls.__new__(cls)
        _set(view, "__dict__", fields)
        _set(view, "__pydantic_fields_set__", set(fields))
        _set(view, "__pydantic_extra__", None)
        _set(view, "__pydantic_private__", None)
        return view

    @classmethod
    def of_record(cls, record: object, /, **given: object) -> Self:
        """The view of ``record``: each field is the record's attribute of the same name,
        unless ``given`` (a field the record names otherwise, or does not hold); a field
        with a default that is neither keeps its default.  Checked as the constructor
        checks its arguments."""
        values = {
            name: given[name] if name in given else getattr(record, name)
            for name in cls.model_fields
            if name in given or hasattr(record, name)
        }
        return cls.model_validate(values)

    def to_dict(self) -> dict[str, Any]:
        """The JSON the service sends for this answer."""
        return self.model_dump(mode="json")


class _Replayable(_Wire):
    replayed: bool = Field(False, description="True when this answers a retried idempotency key.")

    def as_replayed(self) -> Self:
        return self.model_copy(update={"replayed": True})


T = TypeVar("T", bound=_Wire)


class Page(_Wire, Generic[T]):
    """One page of a list; pass ``next_cursor`` back for the next (``None``: the last)."""

    items: list[T]
    next_cursor: str | None


class GrantView(_Replayable):
    id: str
    wallet_id: str
    kind: GrantKindText = Field(
        description="allowance, promotional, bonus, compensation, refund or purchase"
    )
    amount: int
    remaining: int = Field(description="Unspent and not held.")
    priority: int = Field(description="Lower is spent first.")
    effective_at: Instant
    expires_at: Instant | None
    source: str | None
    state: GrantStateText = Field(description="active, expired or voided")
    spendable: bool
    created_at: Instant
    closed_at: Instant | None
    outcome: OutcomeText | None = None

    @classmethod
    def of(
        cls, g: Grant, now: datetime, *, outcome: str | None = None, replayed: bool = False
    ) -> GrantView:
        return cls._built(
            {
                "replayed": replayed,
                "id": g.id,
                "wallet_id": g.wallet_id,
                "kind": g.kind,
                "amount": g.amount,
                "remaining": g.remaining,
                "priority": g.priority,
                "effective_at": g.effective_at,
                "expires_at": g.expires_at,
                "source": g.source,
                "state": g.state,
                "spendable": g.spendable_at(now),
                "created_at": g.created_at,
                "closed_at": g.closed_at,
                "outcome": outcome,
            }
        )


class GrantKindTotal(_Wire):
    """One line of a wallet's grants by kind: its live grants (active, with credit left,
    including any not yet started) and their remaining credits."""

    kind: GrantKindText
    grants: int
    remaining: int


class GrantExpiry(_Wire):
    """A live grant with an expiry, among a wallet's soonest to expire."""

    grant_id: str
    kind: GrantKindText
    remaining: int
    expires_at: Instant


class WalletView(_Replayable):
    """``available`` = unexpired remaining - debt (never below -overdraft_limit); ``held`` =
    reserved for pending jobs; ``balance`` = available + held.  The grants are summarised,
    in a bounded answer whatever their number: ``grant_totals`` by kind and
    ``next_expiries`` (the soonest, at most :data:`~gencredits.limits.WALLET_EXPIRIES`);
    ``list_grants`` / ``GET /v1/wallets/{id}/grants`` pages through the grants themselves.
    ``grants`` (deprecated) holds only the next few to be spent."""

    id: str
    owner_kind: str = Field(description="user or team")
    available: int = Field(description="Spendable now: unexpired remaining minus debt.")
    held: int = Field(description="Reserved by pending jobs.")
    balance: int = Field(description="available + held.")
    debt: int
    overdraft_limit: int
    hold_ttl_s: int | None
    extra_charge_share: Decimal | None = Field(
        None,
        description="The share of a job's quote a completion may charge beyond its hold "
        "(a decimal, as text); null: the service's setting.",
    )
    frozen: str | None = Field(
        None,
        description="Why the wallet refuses new submissions (a chargeback); null: it does not.",
    )
    grant_totals: tuple[GrantKindTotal, ...] = Field(
        (), description="Live grants (active, with credit left) by kind: count and remaining."
    )
    next_expiries: tuple[GrantExpiry, ...] = Field(
        (), description="The live grants that expire soonest (at most 5), soonest first."
    )
    grants: tuple[GrantView, ...] = Field(
        description="Deprecated: only the next grants to be spent (at most 5), in spend "
        "order; the summary is grant_totals and next_expiries, and every grant is listed, "
        "paged, by GET /v1/wallets/{id}/grants.",
        json_schema_extra={"deprecated": True},
    )
    created_at: Instant
    updated_at: Instant


class JobView(_Replayable):
    id: str
    wallet_id: str
    kind: str
    model: str | None
    status: JobStatus = Field(
        description="As the seed API numbers it: 0 pending, 1 success, 2 failed."
    )
    state: JobStateText = Field(description="pending, succeeded, failed, cancelled, timed_out, ...")
    credits_used: int = Field(
        description="Deprecated: the same amount as creditsUsed, the seed API's spelling.",
        json_schema_extra={"deprecated": True},
    )
    credits_held: int
    credits_quoted: int
    written_off: int
    generations: int
    params: dict[str, Any]
    quote: dict[str, Any] | None
    catalog: str | None
    catalog_version: str | None
    catalog_hash: str | None
    submitted_by: str | None
    metadata: dict[str, str]
    reason: str | None
    hold_expires_at: Instant | None
    created_at: Instant
    updated_at: Instant
    resolved_at: Instant | None
    outcome: OutcomeText | None = Field(
        None, description="For a duplicate or late callback: what had already happened."
    )

    @computed_field(description="The authoritative amount charged (held while pending).")
    def creditsUsed(self) -> int:  # the seed API spells it so
        return self.credits_used

    @classmethod
    def of(cls, j: Job, *, outcome: str | None = None, replayed: bool = False) -> JobView:
        # While pending, the credits taken are the hold (pre-debited, as the seed API says).
        used = j.credits_held if j.state == JobState.PENDING else j.credits_used
        return cls._built(
            {
                "replayed": replayed,
                "id": j.id,
                "wallet_id": j.wallet_id,
                "kind": j.kind,
                "model": j.model,
                "status": JOB_STATUS[j.state],
                "state": j.state,
                "credits_used": used,
                "credits_held": j.credits_held,
                "credits_quoted": j.credits_quoted,
                "written_off": j.written_off,
                "generations": j.generations,
                "params": dict(j.params),
                "quote": None if j.quote is None else with_line_credits(j.quote),
                "catalog": j.catalog,
                "catalog_version": j.catalog_version,
                "catalog_hash": j.catalog_hash,
                "submitted_by": j.submitted_by,
                "metadata": dict(j.metadata),
                "reason": j.reason,
                "hold_expires_at": j.hold_expires_at,
                "created_at": j.created_at,
                "updated_at": j.updated_at,
                "resolved_at": j.resolved_at,
                "outcome": outcome,
            }
        )


def with_line_credits(quote: Mapping[str, Any]) -> dict[str, Any]:
    """A stored quote as the wire shows it: jobs priced before ``line_credits`` existed
    stored their breakdown lines with ``credits`` only; each line gets both names."""
    lines = quote.get("breakdown")
    if not isinstance(lines, list) or all("line_credits" in line for line in lines):
        return dict(quote)
    breakdown = [
        {**line, "line_credits": line["credits"]} if "credits" in line else line for line in lines
    ]
    return {**quote, "breakdown": breakdown}


class PostingView(_Wire):
    account: str
    amount: int


class EntryView(_Wire):
    """One ledger transaction as a wallet sees it, with its balanced postings."""

    id: str
    seq: int
    kind: EntryKindText = Field(
        description="Why: grant, hold, capture, release, timeout, expire, ..."
    )
    created_at: Instant
    job_id: str | None
    grant_id: str | None
    available_delta: int
    held_delta: int
    postings: tuple[PostingView, ...]
    memo: str | None

    @classmethod
    def of(cls, tx: Transaction) -> EntryView:
        assert tx.seq is not None
        available = sum(
            p.amount for p in tx.postings if p.account.startswith(("grant:", "overdraft:"))
        )
        held = sum(p.amount for p in tx.postings if p.account.startswith("hold:"))
        return cls._built(
            {
                "id": tx.id,
                "seq": tx.seq,
                "kind": tx.kind,
                "created_at": tx.created_at,
                "job_id": tx.job_id,
                "grant_id": tx.grant_id,
                "available_delta": available,
                "held_delta": held,
                "postings": tuple(_posting(p) for p in tx.postings),
                "memo": tx.memo,
            }
        )


def _posting(p: Posting) -> PostingView:
    return PostingView._built({"account": p.account, "amount": p.amount})


class SweepReport(_Wire):
    holds_released: int = 0
    credits_released: int = 0
    grants_expired: int = 0
    credits_expired: int = 0
    expiry_alerts: int = Field(
        0, description="Grants announced as expiring soon (alert.grant_expiring) by this sweep."
    )
    idempotency_records_deleted: int = Field(
        0, description="Idempotency records past their retention deleted by this sweep."
    )
    outbox_events_deleted: int = Field(
        0,
        description="Outbox events past their retention, passed by the webhook deliverer and "
        "every relay, deleted by this sweep.",
    )
    webhook_deliveries_deleted: int = Field(
        0,
        description="Finished webhook deliveries (delivered, or failed for good) older than the "
        "outbox retention, deleted from the delivery log by this sweep.",
    )
    more: bool = Field(False, description="The per-call limit was reached: sweep again.")


class Violation(_Wire):
    """One broken invariant found by the auditor: a stable code, what, and why."""

    code: str
    subject: str
    message: str

    def __str__(self) -> str:
        return f"{self.code} {self.subject}: {self.message}"


#: The bases and helper of the wire types, for the modules that declare more of them.
Wire = _Wire
Replayable = _Replayable
one_of = _one_of
