"""Team wallets: make a team, add, change and remove members, read the team's cycle usage.

Thin calls of :class:`~gencredits.billing.Billing`'s team operations; the answers are the
library's :class:`~gencredits.billing.TeamView` and :class:`~gencredits.billing.MemberView`.
Changing a team needs a ``billing`` key, reading it a ``read`` key.  ``Idempotency-Key`` is
optional: a team and a member are their own natural keys.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from gencredits.api.auth import BillingKey, ReadKey
from gencredits.api.routes.common import (
    WRITE,
    Change,
    OptionalIdempotencyHeader,
    Routes,
    WalletId,
    change_of,
)
from gencredits.api.schemas import MemberSet, TeamCreate
from gencredits.api.state import ServicesDep
from gencredits.billing.team_views import MemberView, TeamView
from gencredits.limits import ID_LEN_MAX

_route = Routes()
router = _route.router

MemberId = WalletId
#: A change to a team: the team wallet in the path, a ``billing`` key, an optional key.
OnTeam = Annotated[Change, Depends(change_of("wallet_id", ID_LEN_MAX))]


@_route.writes(
    "/teams",
    "teams",
    TeamView,
    created=True,
    responses={
        200: {
            "model": TeamView,
            "description": "The team existed: settings changed "
            "(outcome updated) or the same (outcome exists).",
        },
        **WRITE,
    },
)
async def create_team(
    body: TeamCreate,
    services: ServicesDep,
    _key: BillingKey,
    idempotency_key: OptionalIdempotencyHeader = None,
) -> TeamView | JSONResponse:
    """Make a team wallet (created when missing, owner_kind team): 201.  On an existing
    team it changes the cycle anchor day or the near-cap level: 200."""
    view = await run_in_threadpool(
        services.billing.create_team,
        body.id,
        anchor_day=body.anchor_day,
        near_cap_percent=body.near_cap_percent,
        overdraft_limit=body.overdraft_limit,
        idempotency_key=idempotency_key,
    )
    if view.outcome != "created" or view.replayed:
        return JSONResponse(view.to_dict(), status_code=200)
    return view


@_route.reads("/teams/{wallet_id}", "teams", TeamView)
async def get_team(wallet_id: WalletId, services: ServicesDep, _key: ReadKey) -> TeamView:
    """The team's current cycle and each member's cap, seat allowance and usage in it."""
    return await run_in_threadpool(services.billing.get_team, wallet_id)


@_route.writes("/teams/{wallet_id}/members", "teams", MemberView)
async def set_member(body: MemberSet, call: OnTeam) -> MemberView:
    """Add a member, or change their cap (credits per cycle, held + charged) and seat
    allowance.  A member over their cap gets ``402 member_cap_exceeded`` on submit."""
    return await run_in_threadpool(
        call.billing.set_member,
        call.id,
        body.member_id,
        cap=body.cap,
        seat_credits=body.seat_credits,
        idempotency_key=call.idempotency_key,
    )


@_route.writes("/teams/{wallet_id}/members/{member_id}/remove", "teams", MemberView)
async def remove_member(
    wallet_id: WalletId,
    member_id: MemberId,
    services: ServicesDep,
    _key: BillingKey,
    idempotency_key: OptionalIdempotencyHeader = None,
) -> MemberView:
    """Remove a member: no new submissions; their pending jobs still resolve and refund."""
    return await run_in_threadpool(
        services.billing.remove_member, wallet_id, member_id, idempotency_key=idempotency_key
    )
