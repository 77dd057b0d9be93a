"""The wire types of teams: a team with its members, and one member with their cycle's usage.

Same rules as :mod:`.views`: one frozen type per entity, for the library, the API's
``response_model`` and the client.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from gencredits.ledger.store import LedgerReader, WriteUnit

from .teams import Member, Team, cycle_bounds, load_usage, usage_key
from .views import Instant, OutcomeText, Replayable

__all__ = ["MemberView", "TeamView", "member_view"]


class MemberView(Replayable):
    wallet_id: str
    member_id: str
    active: bool = Field(description="False once removed (their pending jobs still resolve).")
    cap: int | None = Field(description="Credits per cycle (held + charged); null: no cap.")
    seat_credits: int | None = Field(
        description="Seat allowance per cycle, spent before the team's pool; null: none."
    )
    used: int = Field(description="Held + charged by this member in the current cycle.")
    cap_left: int | None = Field(description="cap - used (never below 0); null: no cap.")
    seat_left: int | None = Field(description="What is left of this cycle's seat allowance.")
    cycle_start: Instant
    cycle_end: Instant
    added_at: Instant
    removed_at: Instant | None = None
    outcome: OutcomeText | None = None


class TeamView(Replayable):
    wallet_id: str
    anchor_day: int = Field(description="Cycles start at 00:00 UTC on this day of each month.")
    near_cap_percent: int = Field(description="A member's near-cap alert fires at this share.")
    cycle_start: Instant
    cycle_end: Instant
    members: tuple[MemberView, ...]
    outcome: OutcomeText | None = None


def member_view(
    reader: LedgerReader | WriteUnit,
    wallet_id: str,
    team: Team,
    member: Member,
    now: datetime,
    outcome: str | None = None,
) -> MemberView:
    start, end = cycle_bounds(team.anchor_day, now)
    usage = load_usage(reader, wallet_id, usage_key(start, member.id))
    seat_left = member.seat_credits
    if usage.seat_grant is not None:
        grant = reader.get_grant(usage.seat_grant)
        live = grant is not None and grant.spendable_at(now)
        seat_left = grant.remaining if grant is not None and live else 0
    return MemberView(
        wallet_id=wallet_id,
        member_id=member.id,
        active=member.active,
        cap=member.cap,
        seat_credits=member.seat_credits,
        used=usage.used,
        cap_left=None if member.cap is None else max(member.cap - usage.used, 0),
        seat_left=seat_left,
        cycle_start=start,
        cycle_end=end,
        added_at=member.added_at,
        removed_at=member.removed_at,
        outcome=outcome,
    )
