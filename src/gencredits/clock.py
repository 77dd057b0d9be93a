"""The injectable clock: every "now" in the ledger and billing comes from a :class:`Clock`.

Time is always a timezone-aware UTC :class:`~datetime.datetime`.  Production code uses
:class:`SystemClock`; tests use :class:`ManualClock` and move time on purpose, so no test
ever sleeps to pass an expiry.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "SystemClock", "as_utc"]


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The machine's wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to (thread-safe); starts at ``start`` or 2026-01-01Z."""

    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._now = as_utc(start) if start is not None else datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = as_utc(when)

    def advance(self, seconds: float = 0.0, *, delta: timedelta | None = None) -> datetime:
        with self._lock:
            self._now = self._now + (delta if delta is not None else timedelta(seconds=seconds))
            return self._now


def as_utc(when: datetime) -> datetime:
    """``when`` in UTC; a naive datetime is refused (it is ambiguous), never guessed."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"naive datetime {when.isoformat()} refused: give a timezone (UTC)")
    return when.astimezone(UTC)
