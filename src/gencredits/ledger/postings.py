"""Posting templates: every kind of ledger transaction, each a pure function returning ONE
balanced :class:`Transaction` (or ``None`` where nothing moves).

The accounts are drawn in :mod:`gencredits.ledger.model`.  Who decides WHICH template applies
is the job lifecycle (:mod:`gencredits.billing.jobs`); which grants a hold takes from and where
a release goes back is the collector (:mod:`gencredits.ledger.collector`).  Here is only how
each movement is written:

=================  ===============================================================  ==========
template           postings (``-`` debits, ``+`` credits)                           kind
=================  ===============================================================  ==========
issue              issued -n, grant +n  (then grant -r, overdraft +r to repay debt)  grant
hold               each leg's grant/overdraft -leg, hold +total                     hold
capture            hold -held, consumed +captured, returned legs +, extra legs -,   capture
                   consumed +extra (or written_off -extra, consumed +extra)
release            hold -held, returned legs +                                      release,
                                                                                    timeout
late_capture       legs -, consumed +charge  (or written_off -charge, consumed +)   late_capture,
                                                                                    write_off
close_grant        grant -remaining, issued +remaining (void) / expired + (expire)  void, expire
void_part          grant -n, issued +n (a partial refund; the grant stays open)      void
=================  ===============================================================  ==========
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from gencredits.ledger.collector import leg_debits
from gencredits.ledger.model import (
    ACCOUNT_CONSUMED,
    ACCOUNT_EXPIRED,
    ACCOUNT_ISSUED,
    ACCOUNT_WRITTEN_OFF,
    Grant,
    HoldLeg,
    Posting,
    Transaction,
    TransactionKind,
    grant_account,
    hold_account,
    overdraft_account,
)

__all__ = [
    "Charge",
    "Key",
    "capture",
    "close_grant",
    "hold",
    "issue",
    "late_capture",
    "merge",
    "release",
    "void_part",
]


@dataclass(frozen=True, slots=True)
class Key:
    """The idempotency scope and key a transaction was recorded under (both ``None``: none)."""

    scope: str | None = None
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Charge:
    """Credits charged beyond a hold: taken from ``legs`` (what the wallet paid), and
    ``written_off`` (what the platform absorbs: the wallet could not pay it, or the
    completion policy does not let it be charged)."""

    legs: tuple[HoldLeg, ...] = ()
    written_off: int = 0

    @property
    def amount(self) -> int:
        return self.taken + self.written_off

    @property
    def taken(self) -> int:
        return sum(leg.amount for leg in self.legs)

    def postings(self, wallet_id: str) -> list[Posting]:
        postings: list[Posting] = []
        if self.legs:
            postings += [*leg_debits(wallet_id, self.legs), Posting(ACCOUNT_CONSUMED, self.taken)]
        if self.written_off:
            postings += [
                Posting(ACCOUNT_WRITTEN_OFF, -self.written_off),
                Posting(ACCOUNT_CONSUMED, self.written_off),
            ]
        return postings


def merge(postings: Iterable[Posting]) -> tuple[Posting, ...]:
    """One posting per account (in first-seen order), zero postings dropped."""
    totals: dict[str, int] = {}
    for p in postings:
        totals[p.account] = totals.get(p.account, 0) + p.amount
    return tuple(Posting(a, n) for a, n in totals.items() if n)


def issue(grant: Grant, *, repaid: int, at: datetime, key: Key, memo: str | None) -> Transaction:
    """New credits into ``grant``; ``repaid`` of them straight on to the wallet's debt."""
    account = grant_account(grant.id)
    postings = [Posting(ACCOUNT_ISSUED, -grant.amount), Posting(account, grant.amount)]
    if repaid:
        postings += [Posting(account, -repaid), Posting(overdraft_account(grant.wallet_id), repaid)]
    return Transaction(
        id=f"{grant.id}/issue",
        wallet_id=grant.wallet_id,
        kind=TransactionKind.GRANT,
        postings=merge(postings),
        created_at=at,
        grant_id=grant.id,
        idem_scope=key.scope,
        idem_key=key.key,
        memo=memo,
    )


def hold(
    job_id: str, wallet_id: str, legs: Sequence[HoldLeg], *, at: datetime, key: Key
) -> Transaction:
    """Reserve the legs' credits on the job's hold account."""
    total = sum(leg.amount for leg in legs)
    return Transaction(
        id=f"{job_id}/hold",
        wallet_id=wallet_id,
        kind=TransactionKind.HOLD,
        postings=(*leg_debits(wallet_id, legs), Posting(hold_account(job_id), total)),
        created_at=at,
        job_id=job_id,
        idem_scope=key.scope,
        idem_key=key.key,
    )


def capture(
    job_id: str,
    wallet_id: str,
    *,
    held: int,
    captured: int,
    returned: Sequence[Posting],
    extra: Charge,
    at: datetime,
    key: Key,
) -> Transaction | None:
    """Settle a hold on success: ``captured`` of it consumed, the rest ``returned`` (postings
    from the collector), plus an ``extra`` charge beyond the hold."""
    postings: list[Posting] = []
    if held:
        postings.append(Posting(hold_account(job_id), -held))
    if captured:
        postings.append(Posting(ACCOUNT_CONSUMED, captured))
    postings += returned
    if extra.amount:
        postings += extra.postings(wallet_id)
    merged = merge(postings)
    if not merged:
        return None
    return Transaction(
        id=f"{job_id}/resolve",
        wallet_id=wallet_id,
        kind=TransactionKind.CAPTURE,
        postings=merged,
        created_at=at,
        job_id=job_id,
        idem_scope=key.scope,
        idem_key=key.key,
    )


def release(
    job_id: str,
    wallet_id: str,
    *,
    held: int,
    returned: Sequence[Posting],
    timed_out: bool,
    at: datetime,
    key: Key,
    memo: str | None = None,
) -> Transaction:
    """Give a whole hold back (failure, cancel, or the sweep's timeout); ``memo`` is why
    (a failure's reason)."""
    return Transaction(
        id=f"{job_id}/resolve",
        wallet_id=wallet_id,
        kind=TransactionKind.TIMEOUT if timed_out else TransactionKind.RELEASE,
        postings=merge([Posting(hold_account(job_id), -held), *returned]),
        created_at=at,
        job_id=job_id,
        idem_scope=key.scope,
        idem_key=key.key,
        memo=memo,
    )


def late_capture(
    job_id: str, wallet_id: str, charge: Charge, *, at: datetime, key: Key
) -> Transaction:
    """A success after the hold timed out: charged from ``charge.legs``, the rest written
    off (a ``write_off`` when nothing at all was charged)."""
    return Transaction(
        id=f"{job_id}/late",
        wallet_id=wallet_id,
        kind=TransactionKind.LATE_CAPTURE if charge.legs else TransactionKind.WRITE_OFF,
        postings=merge(charge.postings(wallet_id)),
        created_at=at,
        job_id=job_id,
        idem_scope=key.scope,
        idem_key=key.key,
    )


def close_grant(grant: Grant, *, voided: bool, at: datetime, key: Key) -> Transaction | None:
    """Move what is left of ``grant`` to ``issued`` (a void) or ``expired`` (breakage)."""
    if grant.remaining <= 0:
        return None
    kind = TransactionKind.VOID if voided else TransactionKind.EXPIRE
    return Transaction(
        id=f"{grant.id}/{kind}",
        wallet_id=grant.wallet_id,
        kind=kind,
        postings=(
            Posting(grant_account(grant.id), -grant.remaining),
            Posting(ACCOUNT_ISSUED if voided else ACCOUNT_EXPIRED, grant.remaining),
        ),
        created_at=at,
        grant_id=grant.id,
        idem_scope=key.scope,
        idem_key=key.key,
    )


def void_part(grant: Grant, amount: int, *, step: int, at: datetime, key: Key) -> Transaction:
    """Move ``amount`` of what is left of ``grant`` back to ``issued``, the grant staying open
    (the ``step``-th partial refund of it: each its own transaction id)."""
    assert 0 < amount <= grant.remaining, (amount, grant.remaining)
    return Transaction(
        id=f"{grant.id}/{TransactionKind.VOID}/{step}",
        wallet_id=grant.wallet_id,
        kind=TransactionKind.VOID,
        postings=(
            Posting(grant_account(grant.id), -amount),
            Posting(ACCOUNT_ISSUED, amount),
        ),
        created_at=at,
        grant_id=grant.id,
        idem_scope=key.scope,
        idem_key=key.key,
    )
