"""The spend-order collector: which grants a hold takes from, and where released credits go.

Pure: given grants and a wallet, it returns legs and changed copies, never writes.  The
billing service applies what it returns inside the wallet's unit of work.

Taking (:func:`take`): grants are burnt in spend order (:meth:`Grant.spend_key`: priority,
then soonest expiry, never-expiring last, then oldest), then the wallet's overdraft up to its
limit.  Each part taken is a :class:`HoldLeg` naming its grant (``None``: the overdraft).

Returning (:func:`give_back`), the rule for returning held credits:

- a leg whose grant is still spendable goes back to that grant;
- a leg of a voided grant goes to ``issued`` (the void completes);
- a leg whose grant expired meanwhile, and an overdraft leg already repaid by a later grant,
  come back as ONE new ``refund`` grant (so an expiry never swallows a refund);
- an overdraft leg not yet repaid cancels that much debt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from gencredits.errors import InsufficientCredits
from gencredits.ledger.model import (
    ACCOUNT_ISSUED,
    Grant,
    GrantState,
    HoldLeg,
    Posting,
    Wallet,
    evolve,
    grant_account,
    overdraft_account,
)

__all__ = ["Returned", "Taken", "give_back", "leg_debits", "split_legs", "take"]


@dataclass(frozen=True, slots=True)
class Taken:
    """What :func:`take` took: the legs in spend order, the grants it drew on (with their new
    ``remaining``), and the wallet's debt afterwards."""

    legs: tuple[HoldLeg, ...]
    grants: tuple[Grant, ...]
    debt: int


@dataclass(frozen=True, slots=True)
class Returned:
    """What :func:`give_back` decided: the credit postings (the caller adds the debit of the
    hold), the grants it refilled, the wallet's debt afterwards, and how much comes back as a
    new ``refund`` grant (0: none)."""

    postings: tuple[Posting, ...]
    grants: tuple[Grant, ...]
    debt: int
    refund: int


def take(wallet: Wallet, spendable: Iterable[Grant], amount: int) -> Taken:
    """Take ``amount`` from ``spendable`` (the wallet's spendable grants IN SPEND ORDER), then
    from its overdraft; raise :class:`InsufficientCredits` when both together cannot cover it.

    ``spendable`` is read only as far as needed, so a caller that streams grants in spend
    order pays for the grants taken from, not for all the wallet has."""
    legs: list[HoldLeg] = []
    drawn: list[Grant] = []
    left = amount
    seen = 0  # what the grants read so far had: all of them when they do not cover it
    for grant in spendable if amount else ():
        seen += grant.remaining
        part = min(left, grant.remaining)
        if part:
            drawn.append(evolve(grant, remaining=grant.remaining - part))
            legs.append(HoldLeg(grant.id, part))
            left -= part
            if left == 0:
                break
    room = wallet.overdraft_limit - wallet.debt
    if left > room:
        raise InsufficientCredits(required=amount, available=max(seen + room, 0), wallet=wallet.id)
    debt = wallet.debt
    if left:
        legs.append(HoldLeg(None, left))
        debt += left
    return Taken(tuple(legs), tuple(drawn), debt)


def split_legs(
    legs: Sequence[HoldLeg], capture: int
) -> tuple[tuple[HoldLeg, ...], tuple[HoldLeg, ...]]:
    """Split a hold: the first ``capture`` credits of its legs (spend order) are captured,
    the rest released.  Returns (captured legs, released legs)."""
    captured: list[HoldLeg] = []
    released: list[HoldLeg] = []
    left = capture
    for leg in legs:
        part = min(left, leg.amount)
        left -= part
        if part:
            captured.append(HoldLeg(leg.grant_id, part))
        if leg.amount - part:
            released.append(HoldLeg(leg.grant_id, leg.amount - part))
    return tuple(captured), tuple(released)


def give_back(
    wallet: Wallet,
    legs: Sequence[HoldLeg],
    grants: Mapping[str, Grant],
    now: datetime,
) -> Returned:
    """Return released ``legs`` by the rule in this module's docstring.  ``grants`` holds (at
    least) every grant the legs name, as they are now."""
    postings: list[Posting] = []
    refilled: dict[str, Grant] = {}
    debt = wallet.debt
    refund = 0
    for leg in legs:
        if leg.amount == 0:
            continue
        if leg.grant_id is None:
            back = min(leg.amount, debt)
            if back:
                postings.append(Posting(overdraft_account(wallet.id), back))
                debt -= back
            refund += leg.amount - back
            continue
        grant = refilled.get(leg.grant_id) or grants[leg.grant_id]
        if grant.state == GrantState.VOIDED:
            postings.append(Posting(ACCOUNT_ISSUED, leg.amount))
        elif grant.state == GrantState.ACTIVE and (
            grant.expires_at is None or now < grant.expires_at
        ):
            refilled[grant.id] = evolve(grant, remaining=grant.remaining + leg.amount)
            postings.append(Posting(grant_account(grant.id), leg.amount))
        else:
            refund += leg.amount
    return Returned(tuple(postings), tuple(refilled.values()), debt, refund)


def leg_debits(wallet_id: str, legs: Iterable[HoldLeg]) -> list[Posting]:
    """The postings that take ``legs`` out of their grants (or the wallet's overdraft)."""
    return [
        Posting(
            grant_account(leg.grant_id)
            if leg.grant_id is not None
            else overdraft_account(wallet_id),
            -leg.amount,
        )
        for leg in legs
    ]
