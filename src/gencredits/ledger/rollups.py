"""Report rollups: counters kept per day beside the ledger, in the same transaction.

A unit of work adds a :class:`Rollup` (a family, its key, counter deltas) through
:meth:`~gencredits.ledger.store.WriteUnit.add_rollup`; the store sums it into one row per key
(an upsert on SQL, a dict in memory, summed over the batch under group commit).  Reports read
sums over a range of days (:meth:`~gencredits.ledger.store.LedgerReader.rollup_totals`), so
their cost grows with the number of days and keys, never with the number of jobs.

Families (the design and what each counter means: docs/reports.md):

* ``usage``: jobs by day, wallet, team member, model, mode, route and provider currency;
* ``usage_month``: the same, per month (its ``day`` is the month's first day): a period's
  whole months are read here, only its partial months at the edges from ``usage``;
* ``usage_total``: the same counters without wallet and member (the reports that do not
  group or filter by them read this much smaller table), per routing group of the wallets
  (``anchor``: :func:`gencredits.shards.anchor_of`, so that a sharded database keeps a row
  on its wallets' node; reads sum over the groups);
* ``flows``: credits that left or entered by a route other than jobs: ``expired`` (breakage,
  by grant kind) and ``sold`` (plans and packs, by source, with the money paid).

Days are ISO dates (``2026-01-31``, UTC), so a range of days is a range of text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "COUNTERS",
    "FAMILIES",
    "FLOW_EXPIRED",
    "FLOW_SOLD",
    "KEYS",
    "MICROS",
    "Rollup",
    "RollupRow",
    "add_counts",
    "day_of",
    "month_of",
    "sum_rows",
]

#: money and provider cost are kept in millionths of their currency unit (whole numbers)
MICROS = 1_000_000

FLOW_EXPIRED = "expired"
FLOW_SOLD = "sold"

USAGE_COUNTERS = (
    "jobs",  # jobs submitted (or recorded) that day
    "succeeded",  # jobs that succeeded that day
    "failed",  # jobs that failed that day
    "cancelled",
    "timed_out",
    "late_succeeded",  # succeeded after their hold timed out
    "held",  # credits put on hold
    "captured",  # credits the wallets paid (consumed, less what was written off)
    "refunded",  # held credits given back (failure, cancel, timeout, a smaller result)
    "written_off",  # credits charged that the platform absorbed
    "cost_micros",  # provider cost of the jobs that succeeded, in millionths
    "uncosted",  # jobs that succeeded on a model or route with no recorded provider cost
)

#: the key columns of each family, in order (``day`` first)
KEYS: Mapping[str, tuple[str, ...]] = {
    "usage": ("day", "wallet_id", "member", "model", "mode", "route", "currency"),
    "usage_month": ("day", "wallet_id", "member", "model", "mode", "route", "currency"),
    "usage_total": ("day", "anchor", "model", "mode", "route", "currency"),
    "flows": ("day", "wallet_id", "flow", "kind", "currency"),
}

#: the counter columns of each family, in order
COUNTERS: Mapping[str, tuple[str, ...]] = {
    "usage": USAGE_COUNTERS,
    "usage_month": USAGE_COUNTERS,
    "usage_total": USAGE_COUNTERS,
    # credits: expired, or sold (allowance or pack credits, bonus included); bonus: of those,
    # the bonus; items: grants expired, or plan cycles and packs sold; money_micros: paid
    "flows": ("credits", "bonus", "items", "money_micros"),
}

FAMILIES = tuple(KEYS)


@dataclass(frozen=True, slots=True)
class Rollup:
    """Counter deltas for one key of one family (``key`` and ``counts`` in the order of
    :data:`KEYS` and :data:`COUNTERS`)."""

    family: str
    key: tuple[str, ...]
    counts: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.key) != len(KEYS[self.family]):
            raise AssertionError(f"{self.family} rollup key {self.key} has the wrong length")
        if len(self.counts) != len(COUNTERS[self.family]):
            raise AssertionError(f"{self.family} rollup counts {self.counts} have the wrong length")

    @classmethod
    def of(cls, family: str, key: Mapping[str, str], counts: Mapping[str, int]) -> Rollup:
        """From named key parts and counters (counters not named are 0)."""
        get = counts.get
        return cls(
            family,
            tuple([key[name] for name in KEYS[family]]),
            tuple([get(name, 0) for name in COUNTERS[family]]),
        )


@dataclass(frozen=True, slots=True)
class RollupRow:
    """Summed counters of one group: ``group`` holds the grouped key parts, in the order asked."""

    group: tuple[str, ...]
    counts: Mapping[str, int]


def day_of(at: datetime) -> str:
    """The UTC day of an aware instant, as its rollup key (``2026-01-31``)."""
    return at.astimezone(UTC).date().isoformat()


def month_of(day: str) -> str:
    """The monthly rollups' key of a day: the month's first day (``2026-01-01``)."""
    return f"{day[:7]}-01"


def add_counts(before: tuple[int, ...] | None, delta: tuple[int, ...]) -> tuple[int, ...]:
    """A row's counters after adding ``delta`` (``before`` ``None``: a new row)."""
    return delta if before is None else tuple(a + b for a, b in zip(before, delta, strict=True))


def sum_rows(
    family: str,
    rows: Iterable[tuple[tuple[str, ...], tuple[int, ...]]],
    *,
    group_by: Sequence[str],
    days: tuple[str | None, str | None],
    where: Mapping[str, str],
) -> list[RollupRow]:
    """:meth:`~gencredits.ledger.store.LedgerReader.rollup_totals` over rows held in memory."""
    names = KEYS[family]
    at = {name: i for i, name in enumerate(names)}
    since, until = days
    sums: dict[tuple[str, ...], tuple[int, ...]] = {}
    for key, counts in rows:
        day = key[0]
        if (since is not None and day < since) or (until is not None and day >= until):
            continue
        if any(key[at[name]] != value for name, value in where.items()):
            continue
        group = tuple(key[at[name]] for name in group_by)
        sums[group] = add_counts(sums.get(group), counts)
    counters = COUNTERS[family]
    return [RollupRow(g, dict(zip(counters, sums[g], strict=True))) for g in sorted(sums)]
