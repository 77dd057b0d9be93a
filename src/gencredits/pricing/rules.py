"""Compiled price rules: small immutable objects that turn resolved parameters into credits.

A price is ``base`` (one of flat, table, per-second, per-clip, scale, another plan)
times each multiplier, plus each add-on.  Each step appends a :class:`QuoteLine`
so that the lines of a quote always add up to its total.  Everything here is pure
and allocation-light: it is the hot path of every quote.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple, Protocol

from gencredits.errors import BadCombination
from gencredits.pricing.schema import table_key

Params = Mapping[str, object]

ZERO = Decimal(0)
ONE = Decimal(1)
_WHOLE = Decimal(1)


def round_credits(amount: Decimal) -> int:
    """The one rounding rule: a generation's price is rounded once, to the nearest
    whole credit, halves up (``ROUND_HALF_UP``).  Totals are whole units times counts,
    so nothing else is ever rounded."""
    return int(amount.quantize(_WHOLE, rounding=ROUND_HALF_UP))


class QuoteLine(NamedTuple):
    """One step of a quote: ``kind`` is base, multiplier, route, addon, rounding or generations."""

    kind: str
    label: str
    credits: Decimal


class Lines(Protocol):
    def append(self, line: QuoteLine, /) -> None: ...


class Base(Protocol):
    def amount(self, p: Params, lines: Lines) -> Decimal: ...


class Flat:
    __slots__ = ("credits", "line")

    def __init__(self, credits: Decimal) -> None:
        self.credits = credits
        self.line = QuoteLine("base", "flat rate", credits)

    def amount(self, p: Params, lines: Lines) -> Decimal:
        lines.append(self.line)
        return self.credits


class Table:
    """Credits keyed by one or more parameters; a missing cell is a bad combination."""

    __slots__ = ("by", "label", "rows", "what")

    def __init__(self, by: tuple[str, ...], rows: dict[tuple[str, ...], Decimal], what: str):
        self.by = by
        self.rows = rows
        self.what = what
        self.label = "price by " + " x ".join(by)

    def lookup(self, p: Params) -> tuple[tuple[str, ...], Decimal]:
        key = tuple([table_key(p[name]) for name in self.by])
        try:
            return key, self.rows[key]
        except KeyError:
            pass
        asked = ", ".join(f"{n}={v}" for n, v in zip(self.by, key, strict=True))
        offered = "; ".join(
            ", ".join(f"{n}={v}" for n, v in zip(self.by, k, strict=True)) for k in self.rows
        )
        raise BadCombination(
            f"{self.what}: no price for {asked}; priced combinations: {offered}",
            details={
                "field": ",".join(self.by),
                "value": asked,
                "allowed": offered,
            },
        ) from None

    def amount(self, p: Params, lines: Lines) -> Decimal:
        key, credits = self.lookup(p)
        lines.append(QuoteLine("base", f"{self.label} ({', '.join(key)})", credits))
        return credits


class PerSecond:
    __slots__ = ("rate", "rate_table")

    def __init__(self, rate: Decimal | None, rate_table: Table | None) -> None:
        self.rate = rate
        self.rate_table = rate_table

    def amount(self, p: Params, lines: Lines) -> Decimal:
        if self.rate_table is not None:
            key, rate = self.rate_table.lookup(p)
            why = f" ({', '.join(key)})"
        else:
            assert self.rate is not None
            rate, why = self.rate, ""
        duration = p["duration"]
        assert isinstance(duration, int)
        credits = rate * duration
        lines.append(QuoteLine("base", f"{rate} per second{why} x {duration}s", credits))
        return credits


class PerClip:
    __slots__ = ("credits", "seconds")

    def __init__(self, seconds: int, credits: Decimal) -> None:
        self.seconds = seconds
        self.credits = credits

    def amount(self, p: Params, lines: Lines) -> Decimal:
        duration = p["duration"]
        assert isinstance(duration, int)
        clips = -(-duration // self.seconds)
        credits = self.credits * clips
        lines.append(
            QuoteLine("base", f"{self.credits} per {self.seconds}s clip x {clips}", credits)
        )
        return credits


class Scale:
    """``base`` at the minimum duration, in proportion to duration above it."""

    __slots__ = ("base", "min_duration")

    def __init__(self, base: Decimal, min_duration: int) -> None:
        self.base = base
        self.min_duration = min_duration

    def amount(self, p: Params, lines: Lines) -> Decimal:
        duration = p["duration"]
        assert isinstance(duration, int)
        if duration == self.min_duration:
            lines.append(QuoteLine("base", f"base at {duration}s", self.base))
            return self.base
        credits = self.base * duration / self.min_duration
        lines.append(
            QuoteLine(
                "base", f"base {self.base} at {self.min_duration}s, scaled to {duration}s", credits
            )
        )
        return credits


class RateOf:
    """Another plan's per-second rate (its price at its minimum duration over that duration)
    times this request's duration: how an extension of a video is billed."""

    __slots__ = ("label", "min_duration", "source")

    def __init__(self, source: Plan, min_duration: int, label: str) -> None:
        self.source = source
        self.min_duration = min_duration
        self.label = label

    def amount(self, p: Params, lines: Lines) -> Decimal:
        at_min = dict(p)
        at_min["duration"] = self.min_duration
        scratch: list[QuoteLine] = []
        source_credits = self.source.priced(at_min, scratch)
        duration = p["duration"]
        assert isinstance(duration, int)
        rate = source_credits / self.min_duration
        credits = rate * duration
        lines.append(
            QuoteLine(
                "base",
                f"{self.label} rate ({source_credits} per {self.min_duration}s) x {duration}s",
                credits,
            )
        )
        return credits


class Multiplier:
    __slots__ = ("by", "factors", "kind", "labels")

    def __init__(self, by: str, factors: dict[str, Decimal], label: str, kind: str = "multiplier"):
        self.by = by
        self.factors = factors
        self.kind = kind
        self.labels = {k: f"{label} {k} x{f}" for k, f in factors.items()}

    def apply(self, amount: Decimal, p: Params, lines: Lines) -> Decimal:
        key = table_key(p[self.by])
        factor = self.factors.get(key)
        if factor is None or factor == ONE:
            return amount
        out = amount * factor
        lines.append(QuoteLine(self.kind, self.labels[key], out - amount))
        return out


class ConstantFactor:
    """A route's multiplier on the model's price."""

    __slots__ = ("factor", "label")

    def __init__(self, factor: Decimal, label: str) -> None:
        self.factor = factor
        self.label = label

    def apply(self, amount: Decimal, p: Params, lines: Lines) -> Decimal:
        out = amount * self.factor
        lines.append(QuoteLine("route", self.label, out - amount))
        return out


class Addon:
    __slots__ = ("credits", "how", "label", "param")

    def __init__(self, param: str, credits: Decimal, how: str, label: str) -> None:
        self.param = param
        self.credits = credits
        self.how = how  # "flat" | "each" | "per_second"
        self.label = label

    def amount(self, p: Params, lines: Lines) -> Decimal:
        value = p[self.param]
        if not value:
            return ZERO
        if self.how == "flat":
            credits = self.credits
            label = self.label
        elif self.how == "each":
            assert isinstance(value, int)
            credits = self.credits * value
            label = f"{self.label} x {value}"
        else:
            duration = p["duration"]
            assert isinstance(duration, int)
            credits = self.credits * duration
            label = f"{self.label} ({self.credits}/s x {duration}s)"
        lines.append(QuoteLine("addon", label, credits))
        return credits


class Factor(Protocol):
    def apply(self, amount: Decimal, p: Params, lines: Lines) -> Decimal: ...


class Plan:
    """base x factors + add-ons, unrounded; what one generation costs."""

    __slots__ = ("addons", "base", "factors")

    def __init__(self, base: Base, factors: tuple[Factor, ...], addons: tuple[Addon, ...]):
        self.base = base
        self.factors = factors
        self.addons = addons

    def priced(self, p: Params, lines: Lines) -> Decimal:
        """The price before add-ons (what another plan reuses as a rate)."""
        amount = self.base.amount(p, lines)
        for f in self.factors:
            amount = f.apply(amount, p, lines)
        return amount

    def amount(self, p: Params, lines: Lines) -> Decimal:
        amount = self.priced(p, lines)
        for a in self.addons:
            amount += a.amount(p, lines)
        return amount
