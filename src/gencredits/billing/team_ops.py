"""Team operations of :class:`~gencredits.billing.Billing`: make a team wallet, add, change and
remove members, read the team.  The rules that govern credits (caps, seats, attribution)
are in :mod:`.teams` and run inside the job lifecycle's units of work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from gencredits import limits
from gencredits.errors import MemberNotFound, WalletExists, WalletNotFound
from gencredits.ledger.model import Event, EventType, IdempotencyRecord, Wallet
from gencredits.ledger.store import LedgerReader, WriteUnit

from . import teams
from .inputs import WalletOperation, check_id, check_int
from .runner import Done, UnitRunner, need_wallet
from .team_views import MemberView, TeamView, member_view
from .teams import MEMBER, TEAM, Member, Team
from .views import Outcome

__all__ = ["CreateTeam", "RemoveMember", "SetMember", "TeamOperations"]

CAP_MAX = limits.AMOUNT_MAX


@dataclass(frozen=True, slots=True)
class CreateTeam(WalletOperation):
    operation: ClassVar[str] = "create_team"
    wallet_id: str
    anchor_day: int | None = None
    near_cap_percent: int = teams.NEAR_CAP_PERCENT_DEFAULT
    overdraft_limit: int = 0

    def __post_init__(self) -> None:
        check_id("wallet_id", self.wallet_id)
        if self.anchor_day is not None:
            check_int("anchor_day", self.anchor_day, 1, 31)
        check_int("near_cap_percent", self.near_cap_percent, 1, 100)
        check_int("overdraft_limit", self.overdraft_limit, 0, limits.AMOUNT_MAX)


@dataclass(frozen=True, slots=True)
class SetMember(WalletOperation):
    operation: ClassVar[str] = "set_member"
    wallet_id: str
    member_id: str
    cap: int | None = None
    seat_credits: int | None = None

    def __post_init__(self) -> None:
        check_id("wallet_id", self.wallet_id)
        check_id("member_id", self.member_id)
        if self.cap is not None:
            check_int("cap", self.cap, 0, CAP_MAX)
        if self.seat_credits is not None:
            check_int("seat_credits", self.seat_credits, 1, CAP_MAX)


@dataclass(frozen=True, slots=True)
class RemoveMember(WalletOperation):
    operation: ClassVar[str] = "remove_member"
    wallet_id: str
    member_id: str

    def __post_init__(self) -> None:
        check_id("wallet_id", self.wallet_id)
        check_id("member_id", self.member_id)


def _need_team(reader: LedgerReader | WriteUnit, wallet: Wallet | None, wallet_id: str) -> Team:
    team = teams.load_team(reader, need_wallet(wallet, wallet_id))
    if team is None:
        raise WalletNotFound(
            f"wallet_id: {wallet_id!r} is not a team wallet; make it one with create_team",
            details={"field": "wallet_id", "value": wallet_id},
        )
    return team


def team_view(
    reader: LedgerReader | WriteUnit, wallet_id: str, now: datetime, outcome: str | None = None
) -> TeamView:
    team = _need_team(reader, reader.get_wallet(wallet_id), wallet_id)
    start, end = teams.cycle_bounds(team.anchor_day, now)
    members = tuple(
        member_view(reader, wallet_id, team, Member.of(key, data), now)
        for key, data in reader.list_state(wallet_id, MEMBER)
    )
    return TeamView(
        wallet_id=wallet_id,
        anchor_day=team.anchor_day,
        near_cap_percent=team.near_cap_percent,
        cycle_start=start,
        cycle_end=end,
        members=members,
        outcome=outcome,
    )


class TeamOperations:
    """Mixed into :class:`~gencredits.billing.Billing` (it provides ``_runner``)."""

    _runner: UnitRunner

    @staticmethod
    def _replay_team(uow: WriteUnit, record: IdempotencyRecord, now: datetime) -> TeamView:
        return team_view(uow, record.result_id, now, record.outcome).as_replayed()

    def create_team(
        self,
        wallet_id: str,
        *,
        anchor_day: int | None = None,
        near_cap_percent: int = teams.NEAR_CAP_PERCENT_DEFAULT,
        overdraft_limit: int = 0,
        idempotency_key: str | None = None,
    ) -> TeamView:
        """Make ``wallet_id`` a team wallet (created when missing, ``owner_kind`` team), or
        change its settings.  Cycles start on ``anchor_day`` (default: today's day)."""
        asked = CreateTeam(wallet_id, anchor_day, near_cap_percent, overdraft_limit)

        def body(uow: WriteUnit, wallet: Wallet | None, now: datetime) -> Done[TeamView]:
            outcome = Outcome.UPDATED
            if wallet is None:
                wallet = Wallet(wallet_id, "team", overdraft_limit, None, 0, 0, now, now)
                uow.insert_wallet(wallet)
                request = {"owner_kind": "team", "overdraft_limit": overdraft_limit}
                uow.emit(Event(wallet_id, EventType.WALLET_CREATED, wallet_id, now, request))
                outcome = Outcome.CREATED
            elif wallet.owner_kind != "team":
                raise WalletExists(
                    f"wallet_id: {wallet_id!r} is a {wallet.owner_kind} wallet, not a team's",
                    details={"field": "wallet_id", "value": wallet_id},
                )
            old = teams.load_team(uow, wallet)
            day = anchor_day or (old.anchor_day if old else now.day)
            team = Team(day, near_cap_percent)
            if old == team:
                outcome = Outcome.EXISTS
            else:
                uow.put_state(wallet_id, TEAM, "", team.to_data())
                uow.emit(Event(wallet_id, EventType.TEAM_UPDATED, wallet_id, now, team.to_data()))
            return Done(team_view(uow, wallet_id, now, outcome), "team", wallet_id, outcome)

        return self._runner.run(
            asked,
            key=idempotency_key,
            body=body,
            replay=self._replay_team,
        )

    def _member_op(
        self,
        asked: SetMember | RemoveMember,
        key: str | None,
        change: Callable[[Member | None, datetime], tuple[Member, str]],
    ) -> MemberView:
        wallet_id, member_id = asked.wallet_id, asked.member_id

        def body(uow: WriteUnit, wallet: Wallet | None, now: datetime) -> Done[MemberView]:
            team = _need_team(uow, wallet, wallet_id)
            member, outcome = change(teams.load_member(uow, wallet_id, member_id), now)
            uow.put_state(wallet_id, MEMBER, member_id, member.to_data())
            kind = EventType.MEMBER_UPDATED if member.active else EventType.MEMBER_REMOVED
            uow.emit(Event(wallet_id, kind, member_id, now, member.to_data()))
            view = member_view(uow, wallet_id, team, member, now, outcome)
            return Done(view, "member", member_id, outcome)

        def replay(uow: WriteUnit, record: IdempotencyRecord, now: datetime) -> MemberView:
            team = _need_team(uow, uow.get_wallet(wallet_id), wallet_id)
            member = teams.load_member(uow, wallet_id, member_id)
            assert member is not None
            return member_view(uow, wallet_id, team, member, now, record.outcome).as_replayed()

        return self._runner.run(
            asked,
            key=key,
            body=body,
            replay=replay,
        )

    def set_member(
        self,
        wallet_id: str,
        member_id: str,
        *,
        cap: int | None = None,
        seat_credits: int | None = None,
        idempotency_key: str | None = None,
    ) -> MemberView:
        """Add a member to a team wallet, or change their cap (credits per cycle, held +
        charged; ``None``: no cap) and seat allowance; a removed member comes back."""
        asked = SetMember(wallet_id, member_id, cap, seat_credits)

        def change(old: Member | None, now: datetime) -> tuple[Member, str]:
            added = old.added_at if old is not None and old.active else now
            outcome = Outcome.CREATED if old is None or not old.active else Outcome.UPDATED
            return Member(member_id, cap, seat_credits, True, added), outcome

        return self._member_op(asked, idempotency_key, change)

    def remove_member(
        self, wallet_id: str, member_id: str, *, idempotency_key: str | None = None
    ) -> MemberView:
        """Remove a member: no new submissions; their pending jobs still resolve and refund
        (and still count in their cycle's usage)."""
        asked = RemoveMember(wallet_id, member_id)

        def change(old: Member | None, now: datetime) -> tuple[Member, str]:
            if old is None:
                raise MemberNotFound(
                    f"member_id: {member_id!r} is not a member of team wallet {wallet_id!r}",
                    details={"field": "member_id", "value": member_id, "wallet": wallet_id},
                )
            if not old.active:
                return old, Outcome.REMOVED
            removed = Member(old.id, old.cap, old.seat_credits, False, old.added_at, now)
            return removed, Outcome.REMOVED

        return self._member_op(asked, idempotency_key, change)

    def get_team(self, wallet_id: str) -> TeamView:
        """The team's settings, its current cycle and each member's usage in it."""
        check_id("wallet_id", wallet_id)
        return self._runner.read(lambda reader, now: team_view(reader, wallet_id, now))
