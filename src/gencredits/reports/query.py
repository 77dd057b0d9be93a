"""What a report is asked: a period of days, how to group, which rows to keep; each checked,
a bad value refused naming the field, the value and what is allowed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from gencredits.errors import InvalidRequest

__all__ = [
    "BREAKDOWNS",
    "DIMENSIONS",
    "PERIODS",
    "ReportQuery",
    "bucket",
    "parse_by",
    "parse_day",
]

#: what a usage report may group by, and the rollup key part each reads
DIMENSIONS = {
    "wallet": "wallet_id",
    "member": "member",
    "model": "model",
    "mode": "mode",
    "route": "route",
}
#: time buckets (read from the rollups' day)
PERIODS = ("day", "week", "month")
BREAKDOWNS = (*DIMENSIONS, *PERIODS)


def parse_day(name: str, value: str | None) -> str | None:
    """An ISO date (``2026-01-31``) as a rollup day, or ``None``."""
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise InvalidRequest.for_field(name, value, "a date as YYYY-MM-DD") from None


def parse_by(value: str | Sequence[str] | None, allowed: Sequence[str]) -> tuple[str, ...]:
    """Group-by names, comma separated or a list, each once and each one of ``allowed``; at
    most one time bucket."""
    if value is None:
        return ()
    parts = value.split(",") if isinstance(value, str) else list(value)
    names = tuple(p.strip() for p in parts if p.strip())
    what = f"a comma-separated list of {', '.join(allowed)}"
    for name in names:
        if name not in allowed:
            raise InvalidRequest.for_field("by", name, what)
    if len(set(names)) != len(names):
        raise InvalidRequest.for_field("by", ",".join(names), f"{what}, each once")
    if sum(name in PERIODS for name in names) > 1:
        raise InvalidRequest.for_field("by", ",".join(names), "at most one of day, week, month")
    return names


def bucket(day: str, period: str) -> str:
    """The day, ISO week (``2026-W05``, Monday first) or month (``2026-01``) of a day."""
    if period == "day":
        return day
    if period == "month":
        return day[:7]
    year, week, _ = date.fromisoformat(day).isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """A report's period (``since`` included, ``until`` excluded; ``None``: unbounded), its
    grouping (``by``) and its filters (``where``: a dimension name -> the value to keep)."""

    since: str | None = None
    until: str | None = None
    by: tuple[str, ...] = ()
    where: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        *,
        since: str | None = None,
        until: str | None = None,
        days: int | None = None,
        by: str | Sequence[str] | None = None,
        allowed: Sequence[str] = BREAKDOWNS,
        now: datetime | None = None,
        wallet: str | None = None,
        member: str | None = None,
        model: str | None = None,
        mode: str | None = None,
        route: str | None = None,
    ) -> ReportQuery:
        """Checked: ``days`` (the last ``days`` days, today included) or ``since``/``until``;
        the filters keep the rows of one wallet, member, model, mode or route."""
        start, end = parse_day("since", since), parse_day("until", until)
        if days is not None:
            if days < 1 or days > 36600:
                raise InvalidRequest.for_field("days", days, "a whole number from 1 to 36600")
            if start is not None or end is not None:
                raise InvalidRequest.for_field("days", days, "days, or since/until, not both")
            today = (now or datetime.now().astimezone()).date()
            start = (today - timedelta(days=days - 1)).isoformat()
            end = (today + timedelta(days=1)).isoformat()
        if start is not None and end is not None and start >= end:
            raise InvalidRequest.for_field("until", end, f"a date after since ({start})")
        where = {"wallet": wallet, "member": member, "model": model, "mode": mode, "route": route}
        kept = {DIMENSIONS[name]: value for name, value in where.items() if value is not None}
        return cls(start, end, parse_by(by, allowed), kept)

    @property
    def days(self) -> tuple[str | None, str | None]:
        return (self.since, self.until)

    @property
    def period(self) -> str | None:
        """The time bucket asked for, if any."""
        return next((name for name in self.by if name in PERIODS), None)
