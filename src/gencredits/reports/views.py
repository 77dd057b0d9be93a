"""The reports' answers: one frozen Pydantic type each, for the library, the API (its
``response_model``, and CSV from :meth:`columns`/:meth:`table`) and the CLI's tables.

Credits are whole numbers; money, shares and rates are exact decimals (strings in JSON)."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

__all__ = [
    "BreakageReport",
    "BreakageRow",
    "MarginReport",
    "MarginRow",
    "TableRows",
    "UncostedRow",
    "UsageReport",
    "UsageRow",
]

TableRows = list[list[str]]


def _text(value: object) -> str:
    return "" if value is None else str(value)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class UsageRow(_Frozen):
    """One group of a usage report (a key part is ``None`` when not grouped by it)."""

    period: str | None = None
    wallet_id: str | None = None
    member: str | None = None
    model: str | None = None
    mode: str | None = None
    route: str | None = None
    jobs: int
    succeeded: int
    failed: int
    cancelled: int
    timed_out: int
    late_succeeded: int
    held: int
    captured: int
    refunded: int
    written_off: int
    #: (failed + timed out) / (succeeded + failed + timed out), to four places; ``None``: none
    failure_rate: Decimal | None


class UsageReport(_Frozen):
    """Credits held, captured and refunded, and jobs, per group over a period."""

    since: str | None
    until: str | None
    by: list[str]
    rows: list[UsageRow]
    total: UsageRow

    KEYS: ClassVar[tuple[str, ...]] = ("period", "wallet_id", "member", "model", "mode", "route")

    def columns(self) -> list[str]:
        keys = [k for k in self.KEYS if any(getattr(r, k) is not None for r in self.rows)]
        return keys + [name for name in UsageRow.model_fields if name not in self.KEYS]

    def table(self) -> TableRows:
        names = self.columns()
        return [[_text(getattr(row, name)) for name in names] for row in self.rows]


class MarginRow(_Frozen):
    """Revenue, provider cost and margin of one group (or of all costed usage)."""

    model: str | None = None
    route: str | None = None
    succeeded: int
    #: credits the wallets paid for these jobs (captured)
    credits_captured: int
    #: those credits at the value of a credit sold
    revenue: Decimal | None
    #: provider cost (``None``: no cost recorded for this group)
    cost: Decimal | None
    margin: Decimal | None
    #: margin / revenue, to four places
    margin_share: Decimal | None
    currency: str | None


class UncostedRow(_Frozen):
    """A model and route that was used with no provider cost recorded: listed, not guessed."""

    model: str
    route: str
    succeeded: int
    credits_captured: int


class MarginReport(_Frozen):
    """Margin per model, per route and overall over a period (method: docs/reports.md)."""

    since: str | None
    until: str | None
    by: list[str]
    currency: str | None
    #: money paid for credits sold up to the period's end, and those credits (bonus included)
    money_sold: Decimal
    credits_sold: int
    bonus_sold: int
    #: money_sold / credits_sold (``None``: nothing sold yet)
    credit_value: Decimal | None
    rows: list[MarginRow]
    #: all usage with a recorded cost
    total: MarginRow
    uncosted: list[UncostedRow]

    def columns(self) -> list[str]:
        keys = [k for k in ("model", "route") if k in self.by]
        return keys + [n for n in MarginRow.model_fields if n not in ("model", "route")]

    def table(self) -> TableRows:
        names = self.columns()
        return [[_text(getattr(row, name)) for name in names] for row in self.rows]


class BreakageRow(_Frozen):
    """Credits expired unused in one month, of one grant kind."""

    month: str
    kind: str
    credits_expired: int
    grants_expired: int


class BreakageReport(_Frozen):
    since: str | None
    until: str | None
    rows: list[BreakageRow]
    credits_expired: int
    grants_expired: int

    def columns(self) -> list[str]:
        return list(BreakageRow.model_fields)

    def table(self) -> TableRows:
        return [[_text(getattr(row, n)) for n in self.columns()] for row in self.rows]
