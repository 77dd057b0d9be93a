"""Cycle arithmetic of subscriptions: pure functions of instants, no clock and no storage.

A subscription's cycles are anchored on the instant it started: cycle ``n`` starts at
``anchor + n months`` (``dateutil.relativedelta``, always from the anchor, never chained from
the previous cycle), so a subscription started on 31 January renews at the end of February
(28 or 29) and then on 31 March, not on 28 March.  Cycle ``n`` ends where cycle ``n + 1``
starts.  Yearly plans are billed yearly but grant monthly: their cycles are months too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from dateutil.relativedelta import relativedelta

__all__ = [
    "CYCLES_PER_TICK_MAX",
    "Cycle",
    "change_timing",
    "cycle",
    "cycle_at",
    "cycle_start",
    "due_cycles",
    "rolled_over",
]

#: The most cycles one subscription catches up in one tick (ten years of downtime).
CYCLES_PER_TICK_MAX = 120


@dataclass(frozen=True, slots=True)
class Cycle:
    number: int  # 0 for the cycle the subscription started in
    starts_at: datetime
    ends_at: datetime


@lru_cache(maxsize=4096)
def cycle_start(anchor: datetime, number: int) -> datetime:
    """Where cycle ``number`` starts: ``anchor`` plus ``number`` months, from the anchor.
    Cached: a tick renews many subscriptions that share an anchor (the first of the month
    on a calendar-anchored platform), and relativedelta is most of a renewal's arithmetic."""
    if number < 0:
        raise ValueError(f"cycle number: 0 or more (got {number})")
    return anchor + relativedelta(months=number)


def cycle(anchor: datetime, number: int) -> Cycle:
    return Cycle(number, cycle_start(anchor, number), cycle_start(anchor, number + 1))


def cycle_at(anchor: datetime, at: datetime) -> int:
    """The number of the cycle ``at`` falls in (0 before and in the first cycle)."""
    if at < anchor:
        return 0
    delta = relativedelta(at, anchor)
    guess = max(delta.years * 12 + delta.months - 1, 0)
    while cycle_start(anchor, guess + 1) <= at:
        guess += 1
    return guess


def due_cycles(anchor: datetime, next_number: int, at: datetime) -> list[Cycle]:
    """The cycles from ``next_number`` that have started by ``at``, oldest first (at most
    :data:`CYCLES_PER_TICK_MAX`): what a tick at ``at`` grants after downtime."""
    due: list[Cycle] = []
    number = next_number
    while len(due) < CYCLES_PER_TICK_MAX and cycle_start(anchor, number) <= at:
        due.append(cycle(anchor, number))
        number += 1
    return due


def rolled_over(left: int, cap: int) -> int:
    """What carries into the next cycle of the ``left`` unused allowance: at most ``cap``."""
    return max(0, min(left, cap))


def change_timing(
    old_rank: tuple[Decimal, int], new_rank: tuple[Decimal, int], upgrade_timing: str
) -> str:
    """When a plan change takes effect: ``immediate`` or ``next_cycle``.  An upgrade (a
    higher rank) follows the catalog's ``upgrade_timing``; a downgrade or a sideways move
    always waits for the next cycle (credits already granted are never taken back)."""
    assert upgrade_timing in ("immediate", "next_cycle"), upgrade_timing
    return upgrade_timing if new_rank > old_rank else "next_cycle"
