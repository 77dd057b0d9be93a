"""Grants inside a unit of work: issuing credits, voiding what is left, expiring (breakage).

A wallet in overdraft repays its debt from a new grant first, when the grant is already
effective.  Credits of a voided grant that are held return to ``issued`` when their hold is
released, never to the wallet (the collector's rule).
"""

from __future__ import annotations

from datetime import datetime

from gencredits.errors import InvalidRequest
from gencredits.ledger import postings
from gencredits.ledger.model import Event, EventType, Grant, GrantState, Wallet, evolve
from gencredits.ledger.postings import Key
from gencredits.ledger.store import WriteUnit

from . import usage
from .ids import grant_id_for
from .inputs import GrantCredits

__all__ = ["close", "issue", "reduce"]


def issue(uow: WriteUnit, wallet: Wallet, asked: GrantCredits, key: str, now: datetime) -> Grant:
    """Add the credits ``asked`` for to ``wallet`` as a new grant, repaying debt first."""
    start = asked.effective_at or now
    expires = asked.expires_at
    if expires is not None and expires <= start:
        raise InvalidRequest.for_field(
            "expires_at", expires, f"an instant after {start.isoformat()}"
        )
    grant_id = grant_id_for(asked.wallet_id, key)
    repaid = min(wallet.debt, asked.amount) if wallet.debt > 0 and start <= now else 0
    grant = Grant(
        id=grant_id,
        wallet_id=asked.wallet_id,
        kind=asked.kind,
        amount=asked.amount,
        remaining=asked.amount - repaid,
        priority=asked.spend_priority,
        effective_at=start,
        expires_at=expires,
        source=asked.source,
        state=GrantState.ACTIVE,
        created_at=now,
    )
    uow.insert_grant(grant)
    tallied = wallet.tallied(None, grant)
    uow.update_wallet(evolve(tallied, debt=wallet.debt - repaid, updated_at=now))
    uow.record(
        postings.issue(grant, repaid=repaid, at=now, key=Key(asked.scope, key), memo=asked.source)
    )
    payload = {"kind": asked.kind, "amount": asked.amount, "debt_repaid": repaid}
    uow.emit(Event(asked.wallet_id, EventType.GRANT_CREATED, grant_id, now, payload))
    return grant


def close(
    uow: WriteUnit, wallet: Wallet, grant: Grant, *, voided: bool, at: datetime, key: Key
) -> Grant:
    """Move what is left of ``grant`` to ``issued`` (a void) or ``expired`` (breakage), close
    it (it leaves the wallet's active set and its totals) and emit ``grant.voided`` /
    ``grant.expired``: one posting pair, one event."""
    tx = postings.close_grant(grant, voided=voided, at=at, key=key)
    if tx is not None:
        uow.record(tx)
        if not voided:
            usage.expired(uow, grant, grant.remaining, at)
    state = GrantState.VOIDED if voided else GrantState.EXPIRED
    closed = evolve(grant, remaining=0, state=state, closed_at=at)
    uow.update_grant(closed)
    uow.update_wallet(evolve(wallet.tallied(grant, closed), updated_at=at))
    kind = EventType.GRANT_VOIDED if voided else EventType.GRANT_EXPIRED
    uow.emit(Event(grant.wallet_id, kind, grant.id, at, {"amount": grant.remaining}))
    return closed


def reduce(
    uow: WriteUnit, wallet: Wallet, grant: Grant, amount: int, *, step: int, at: datetime, key: Key
) -> Grant:
    """Move ``amount`` of what is left of ``grant`` back to ``issued`` and keep it open (a
    partial refund): one posting pair, one ``grant.voided`` event naming the amount."""
    uow.record(postings.void_part(grant, amount, step=step, at=at, key=key))
    reduced = evolve(grant, remaining=grant.remaining - amount)
    uow.update_grant(reduced)
    uow.update_wallet(evolve(wallet.tallied(grant, reduced), updated_at=at))
    payload = {"amount": amount, "remaining": reduced.remaining}
    uow.emit(Event(grant.wallet_id, EventType.GRANT_VOIDED, grant.id, at, payload))
    return reduced
