"""Team wallets inside a unit of work: members, per-member caps per cycle, seat allowances.

A team is a wallet of ``owner_kind`` ``team`` with a team document (``create_team``).  Its
state lives in the wallet's state documents (:meth:`WriteUnit.get_state`), read and written
under the wallet's lock, in the same unit of work as the credits they govern:

* ``team``/``""``: the cycle's anchor day (1-31) and the near-cap alert level (percent);
* ``member``/``<member>``: cap per cycle, seat allowance per cycle, active or removed;
* ``usage``/``<cycle start>/<member>``: what the member has held and been charged in
  that cycle (``used``), the seat grant issued for it, whether the near-cap alert is out.

The rules, and where they apply:

* **Cycle**: monthly, starting at 00:00 UTC on the anchor day (the day the team was made,
  unless configured), on the month's last day when the month is shorter (anchor 31: 28 Feb,
  then 31 Mar).  A job belongs to the cycle it was submitted in, whenever it resolves.
* **Cap**: checked when credits are HELD (:func:`admit`, from the submit path, before the
  hold, under the wallet lock): ``used + required > cap`` raises ``member_cap_exceeded``
  and nothing is recorded.  ``used`` moves by the change of ``held + charged`` of the
  member's job on EVERY change of that job (:func:`attribute`: submit, capture, smaller
  capture, fail, cancel, timeout, late success), so a refund gives the room back and a job
  resolved after its member was removed, by a late callback or the sweep, is counted
  right.  Charges that settle a job already held (an extra charge, a late success) are
  counted but never refused: the work was done.
* **Seat allowance**: at a member's first hold of a cycle, a ``seat`` grant of their
  allowance is issued, expiring at the cycle's end, priority 0 (spent first) and spendable
  by that member only (:func:`spendable_by`); then the team's shared pool.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gencredits.errors import InvalidRequest, MemberCapExceeded, NotAMember
from gencredits.ledger import postings
from gencredits.ledger.model import Event, EventType, Grant, GrantState, Job, Wallet, evolve
from gencredits.ledger.postings import Key
from gencredits.ledger.store import LedgerReader, WriteUnit

from .ids import seat_grant_id

__all__ = [
    "SEAT_KIND",
    "Member",
    "Team",
    "Usage",
    "admit",
    "attribute",
    "cycle_bounds",
    "load_member",
    "load_team",
    "spendable_by",
]

TEAM, MEMBER, USAGE = "team", "member", "usage"
SEAT_KIND = "seat"
SEAT_PRIORITY = 0
NEAR_CAP_PERCENT_DEFAULT = 80


@dataclass(frozen=True, slots=True)
class Team:
    anchor_day: int
    near_cap_percent: int = NEAR_CAP_PERCENT_DEFAULT

    def to_data(self) -> dict[str, Any]:
        return {"anchor_day": self.anchor_day, "near_cap_percent": self.near_cap_percent}


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    cap: int | None
    seat_credits: int | None
    active: bool
    added_at: datetime
    removed_at: datetime | None = None

    def to_data(self) -> dict[str, Any]:
        return {
            "cap": self.cap,
            "seat_credits": self.seat_credits,
            "active": self.active,
            "added_at": self.added_at.isoformat(),
            "removed_at": None if self.removed_at is None else self.removed_at.isoformat(),
        }

    @classmethod
    def of(cls, member_id: str, data: Mapping[str, Any]) -> Member:
        removed = data.get("removed_at")
        return cls(
            id=member_id,
            cap=data.get("cap"),
            seat_credits=data.get("seat_credits"),
            active=bool(data["active"]),
            added_at=datetime.fromisoformat(data["added_at"]),
            removed_at=None if removed is None else datetime.fromisoformat(removed),
        )


@dataclass(frozen=True, slots=True)
class Usage:
    """A member's usage in one cycle: held + charged (``used``), the seat grant, the alert."""

    used: int = 0
    seat_grant: str | None = None
    near_cap: bool = False

    def to_data(self) -> dict[str, Any]:
        return {"used": self.used, "seat_grant": self.seat_grant, "near_cap": self.near_cap}

    @classmethod
    def of(cls, data: Mapping[str, Any] | None) -> Usage:
        if data is None:
            return cls()
        return cls(int(data["used"]), data.get("seat_grant"), bool(data.get("near_cap")))


def _anchor(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, min(day, calendar.monthrange(year, month)[1]), tzinfo=UTC)


def _month_after(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def cycle_bounds(anchor_day: int, at: datetime) -> tuple[datetime, datetime]:
    """The team cycle holding ``at``: [start, end), monthly on ``anchor_day`` at 00:00 UTC
    (the month's last day when it has fewer days)."""
    at = at.astimezone(UTC)
    start = _anchor(at.year, at.month, anchor_day)
    if start > at:
        year, month = (at.year - 1, 12) if at.month == 1 else (at.year, at.month - 1)
        start = _anchor(year, month, anchor_day)
    return start, _anchor(*_month_after(start.year, start.month), anchor_day)


def usage_key(cycle_start: datetime, member_id: str) -> str:
    return f"{cycle_start.date().isoformat()}/{member_id}"


def load_team(reader: LedgerReader | WriteUnit, wallet: Wallet) -> Team | None:
    if wallet.owner_kind != "team":
        return None
    data = reader.get_state(wallet.id, TEAM, "")
    if data is None:
        return None
    return Team(int(data["anchor_day"]), int(data.get("near_cap_percent", 80)))


def load_member(reader: LedgerReader | WriteUnit, wallet_id: str, member_id: str) -> Member | None:
    data = reader.get_state(wallet_id, MEMBER, member_id)
    return None if data is None else Member.of(member_id, data)


def load_usage(reader: LedgerReader | WriteUnit, wallet_id: str, key: str) -> Usage:
    return Usage.of(reader.get_state(wallet_id, USAGE, key))


def spendable_by(grant: Grant, member: str | None) -> bool:
    """A seat grant is spent by its member only; every other grant by anyone."""
    return grant.kind != SEAT_KIND or grant.source == f"seat:{member}"


def admit(
    uow: WriteUnit, wallet: Wallet, member_id: str | None, required: int, now: datetime
) -> Wallet:
    """Before a hold of ``required`` on a team wallet: the submitter must be an active member
    and stay within their cap for this cycle; their seat grant for the cycle is issued at
    their first hold.  Returns the wallet as it is now (with the seat grant's totals); raises
    having written nothing; a no-op for other wallets."""
    team = load_team(uow, wallet)
    if team is None:
        return wallet
    if member_id is None:
        raise InvalidRequest.for_field(
            "submitted_by", None, f"the id of a member of team wallet {wallet.id!r}"
        )
    member = load_member(uow, wallet.id, member_id)
    if member is None or not member.active:
        state = "was removed from" if member is not None else "is not a member of"
        raise NotAMember(
            f"submitted_by: {member_id!r} {state} team wallet {wallet.id!r}; "
            "add them as a member first",
            details={"field": "submitted_by", "value": member_id, "wallet": wallet.id},
        )
    start, end = cycle_bounds(team.anchor_day, now)
    key = usage_key(start, member_id)
    usage = load_usage(uow, wallet.id, key)
    if member.cap is not None and usage.used + required > member.cap:
        raise MemberCapExceeded(
            wallet=wallet.id,
            member=member_id,
            cap=member.cap,
            used=usage.used,
            required=required,
            cycle_end=end.isoformat().replace("+00:00", "Z"),
        )
    if member.seat_credits and usage.seat_grant is None and required:
        grant = _issue_seat(uow, wallet, member, member.seat_credits, (start, end), now)
        uow.put_state(wallet.id, USAGE, key, _with(usage, seat_grant=grant.id).to_data())
        wallet = evolve(wallet.tallied(None, grant), updated_at=now)
        uow.update_wallet(wallet)
    return wallet


def _with(usage: Usage, **changes: Any) -> Usage:
    now = {"used": usage.used, "seat_grant": usage.seat_grant, "near_cap": usage.near_cap}
    return Usage(**{**now, **changes})


def _issue_seat(
    uow: WriteUnit,
    wallet: Wallet,
    member: Member,
    amount: int,
    cycle: tuple[datetime, datetime],
    now: datetime,
) -> Grant:
    start, end = cycle
    name = f"seat/{member.id}/{start.date().isoformat()}"
    grant = Grant(
        id=seat_grant_id(wallet.id, name),
        wallet_id=wallet.id,
        kind=SEAT_KIND,
        amount=amount,
        remaining=amount,
        priority=SEAT_PRIORITY,
        effective_at=now,
        expires_at=end,
        source=f"seat:{member.id}",
        state=GrantState.ACTIVE,
        created_at=now,
    )
    uow.insert_grant(grant)
    key = Key(None, None)  # once per member and cycle: the usage document and the grant id
    uow.record(postings.issue(grant, repaid=0, at=now, key=key, memo=grant.source))
    payload = {"kind": SEAT_KIND, "amount": amount, "debt_repaid": 0, "member": member.id}
    uow.emit(Event(wallet.id, EventType.GRANT_CREATED, grant.id, now, payload))
    return grant


def _counted(job: Job | None) -> int:
    return 0 if job is None else job.credits_held + job.credits_used


def attribute(
    uow: WriteUnit, wallet: Wallet, before: Job | None, after: Job, now: datetime
) -> None:
    """Count the change of a job's held + charged credits against its member's usage in the
    cycle it was submitted in (every path calls this: submit, captures, releases, the
    sweep's timeouts, late successes), and raise or re-arm the member's near-cap alert."""
    delta = _counted(after) - _counted(before)
    if not delta or after.submitted_by is None:
        return
    team = load_team(uow, wallet)
    if team is None:
        return
    start, _end = cycle_bounds(team.anchor_day, after.created_at)
    key = usage_key(start, after.submitted_by)
    usage = load_usage(uow, wallet.id, key)
    used = usage.used + delta
    near = usage.near_cap
    member = load_member(uow, wallet.id, after.submitted_by)
    if member is not None and member.cap:
        level = member.cap * team.near_cap_percent // 100
        if used >= level and not near:
            payload = {"member": member.id, "cap": member.cap, "used": used, "level": level}
            payload["cycle_start"] = start.isoformat().replace("+00:00", "Z")
            uow.emit(Event(wallet.id, EventType.MEMBER_NEAR_CAP, member.id, now, payload))
            near = True
        elif used < level:
            near = False  # re-armed: the next crossing alerts again
    uow.put_state(wallet.id, USAGE, key, Usage(used, usage.seat_grant, near).to_data())


def audit_usage(reader: LedgerReader, jobs: Sequence[Job], wallets: Sequence[Wallet]) -> list[str]:
    """Each team member's usage document against what their jobs say (held + charged, by
    the cycle of submission): the counter is a cache the jobs can rebuild.  Returns one
    line per difference (``subject: message``)."""
    problems: list[str] = []
    for wallet in wallets:
        team = load_team(reader, wallet)
        if team is None:
            continue
        expected: dict[str, int] = {}
        for job in jobs:
            if job.wallet_id != wallet.id or job.submitted_by is None:
                continue
            start, _end = cycle_bounds(team.anchor_day, job.created_at)
            key = usage_key(start, job.submitted_by)
            expected[key] = expected.get(key, 0) + _counted(job)
        stored = {key: Usage.of(data).used for key, data in reader.list_state(wallet.id, USAGE)}
        for key in sorted(set(expected) | set(stored)):
            if expected.get(key, 0) != stored.get(key, 0):
                problems.append(
                    f"{wallet.id}/{key}: usage {stored.get(key, 0)}, "
                    f"its jobs hold and were charged {expected.get(key, 0)}"
                )
    return problems
