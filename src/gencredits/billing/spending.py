"""Applying the collector inside a unit of work: read the grants it needs, write what it
decided.  The decisions themselves (which grants, in which order, where a release goes) are
the pure rules of :mod:`gencredits.ledger.collector`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from gencredits.ledger import collector
from gencredits.ledger.model import (
    DEFAULT_KIND_PRIORITIES,
    Grant,
    GrantState,
    HoldLeg,
    Posting,
    Wallet,
    evolve,
    grant_account,
)
from gencredits.ledger.store import WriteUnit

from .ids import refund_grant_id
from .teams import spendable_by

__all__ = ["SpendPolicy", "give_back", "take"]


@dataclass(frozen=True, slots=True)
class SpendPolicy:
    """The operator's choices about spending: grant kinds with their default priority (lower
    is spent first), and the lifetime of a refund grant (``None``: it never expires)."""

    kind_priorities: Mapping[str, int] = field(
        default_factory=lambda: dict(DEFAULT_KIND_PRIORITIES)
    )
    refund_grant_ttl_s: int | None = None

    @property
    def refund_priority(self) -> int:
        return self.kind_priorities.get("refund", DEFAULT_KIND_PRIORITIES["refund"])


def take(
    uow: WriteUnit, wallet: Wallet, amount: int, now: datetime, spender: str | None = None
) -> tuple[tuple[HoldLeg, ...], Wallet]:
    """Take ``amount`` from the wallet (grants in spend order, then overdraft) and write the
    grants drawn on.  ``spender``: the member spending (a team's seat grants are theirs
    alone).  Returns the legs and the wallet with its new debt and grant totals; raises
    :class:`~gencredits.errors.InsufficientCredits` having written nothing.

    The grants are streamed from the store in spend order (its index), only as far as the
    amount needs: the cost follows the grants taken from, not the grants the wallet holds
    (a team's other members' seat grants, one each a cycle, are passed over)."""
    mine = (g for g in uow.spend_order(wallet.id, now) if spendable_by(g, spender))
    taken = collector.take(wallet, mine, amount)
    for leg, grant in zip(taken.legs, taken.grants, strict=False):  # grant legs come first
        uow.update_grant(grant)
        wallet = wallet.tallied(evolve(grant, remaining=grant.remaining + leg.amount), grant)
    if taken.debt != wallet.debt:
        wallet = evolve(wallet, debt=taken.debt)
    return taken.legs, wallet


def give_back(
    uow: WriteUnit,
    wallet: Wallet,
    job_id: str,
    legs: Sequence[HoldLeg],
    now: datetime,
    policy: SpendPolicy,
) -> tuple[list[Posting], Wallet]:
    """Return released ``legs`` by the collector's rule and write the grants refilled and
    the one ``refund`` grant it may call for.  Returns the credit postings and the wallet
    with its new debt and grant totals."""
    named = dict.fromkeys(leg.grant_id for leg in legs if leg.grant_id is not None)
    grants: dict[str, Grant] = {}
    for grant_id in named:
        grant = uow.get_grant(grant_id)
        assert grant is not None, grant_id
        grants[grant_id] = grant
    returned = collector.give_back(wallet, legs, grants, now)
    for grant in returned.grants:
        uow.update_grant(grant)
        wallet = wallet.tallied(grants[grant.id], grant)
    postings = list(returned.postings)
    if returned.refund:
        refund = _refund_grant(wallet.id, job_id, returned.refund, now, policy)
        uow.insert_grant(refund)
        wallet = wallet.tallied(None, refund)
        postings.append(Posting(grant_account(refund.id), refund.amount))
    if returned.debt != wallet.debt:
        wallet = evolve(wallet, debt=returned.debt)
    return postings, wallet


def _refund_grant(
    wallet_id: str, job_id: str, amount: int, now: datetime, policy: SpendPolicy
) -> Grant:
    ttl = policy.refund_grant_ttl_s
    return Grant(
        id=refund_grant_id(job_id, wallet_id),
        wallet_id=wallet_id,
        kind="refund",
        amount=amount,
        remaining=amount,
        priority=policy.refund_priority,
        effective_at=now,
        expires_at=None if ttl is None else now + timedelta(seconds=ttl),
        source=f"job:{job_id}",
        state=GrantState.ACTIVE,
        created_at=now,
    )
