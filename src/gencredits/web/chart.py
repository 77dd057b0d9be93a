"""Credits spent per day by model, drawn as an inline SVG on the server (no chart library).

Spent means charged: what succeeded jobs used (``credits_used``), on the day they were
resolved (UTC).  Bars are stacked by model; each model keeps one colour (from a palette
with enough contrast on white) and the legend and a table beside the chart say the same
numbers in words, for screen readers and for anyone who does not read colours.  Credits
stay integers; only the drawing's coordinates are floats.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from gencredits.billing import JobView

__all__ = [
    "PERIODS_D",
    "Bar",
    "Frame",
    "GroupedChart",
    "SpendChart",
    "grouped_chart",
    "spend_chart",
]

#: The periods offered, in days.
PERIODS_D = (7, 30, 90)
#: Colours with at least 3:1 contrast against white (WCAG's bar for graphics).
PALETTE = (
    "#1f5fa8",
    "#b3471d",
    "#2e7d32",
    "#7b3fa0",
    "#a3195b",
    "#00695c",
    "#6d5a00",
    "#4e5b6b",
)
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 640, 240, 56, 28, 12
PX = Decimal("0.01")
#: The widest bar of a grouped chart (one or two groups would fill the plot otherwise).
GROUP_BAR_MAX = Decimal(64)


@dataclass(frozen=True, slots=True)
class Bar:
    """One series' bar in one group, in SVG units: in the spend chart a model's part of a
    day's stack (group: the day, ISO; series: the model), in a grouped chart one bar of
    those side by side (captured, refunded...) over a model or a day."""

    group: str
    series: str
    value: int
    x: Decimal
    y: Decimal
    width: Decimal
    height: Decimal
    colour: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    """A chart's plot: its size and margins in SVG units, its highest value and the ticks
    of its credits axis."""

    peak: int
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom: int = BOTTOM
    top: int = TOP

    @property
    def ticks(self) -> list[tuple[int, Decimal]]:
        """Up to four round values on the credits axis, with their y."""
        return _ticks(self.peak)


@dataclass(frozen=True, slots=True)
class SpendChart(Frame):
    days: tuple[date, ...]
    models: tuple[tuple[str, str], ...]  # (model, colour), most spent first
    totals: dict[date, dict[str, int]]
    bars: tuple[Bar, ...]
    total: int


def _px(value: Decimal) -> Decimal:
    """A length in SVG units, to the hundredth (credits themselves stay integers)."""
    return value.quantize(PX)


def _ticks(peak: int) -> list[tuple[int, Decimal]]:
    """Up to four round values on the credits axis, with their y."""
    if peak <= 0:
        return []
    step = _round_step(peak)
    span = HEIGHT - BOTTOM - TOP
    return [
        (v, _px(Decimal(HEIGHT - BOTTOM) - Decimal(span * v) / peak))
        for v in range(step, peak + 1, step)
    ]


def _round_step(peak: int) -> int:
    """The round step (1, 2 or 5 times a power of ten) that cuts ``peak`` in at most four."""
    magnitude = 1
    while magnitude * 10 * 4 <= peak:
        magnitude *= 10
    for factor in (1, 2, 5, 10):
        if magnitude * factor * 4 >= peak:
            return max(1, magnitude * factor)
    return max(1, magnitude * 10)


def spend_chart(jobs: Iterable[JobView], today: date, period_d: int) -> SpendChart:
    """The chart of the ``period_d`` days ending ``today``."""
    days = tuple(today - timedelta(days=i) for i in range(period_d - 1, -1, -1))
    totals: dict[date, dict[str, int]] = {d: defaultdict(int) for d in days}
    by_model: dict[str, int] = defaultdict(int)
    for job in jobs:
        when: datetime | None = job.resolved_at
        if job.status != 1 or when is None or job.credits_used <= 0:
            continue
        day = when.date()
        if day in totals:
            model = job.model or job.kind
            totals[day][model] += job.credits_used
            by_model[model] += job.credits_used
    ranked = sorted(by_model, key=lambda m: (-by_model[m], m))
    colours = {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(ranked)}
    peak = max((sum(t.values()) for t in totals.values()), default=0)
    return SpendChart(
        days=days,
        models=tuple((m, colours[m]) for m in ranked),
        totals={d: dict(t) for d, t in totals.items()},
        bars=tuple(_bars(days, totals, ranked, colours, peak)),
        peak=peak,
        total=sum(by_model.values()),
    )


def _bars(
    days: tuple[date, ...],
    totals: dict[date, dict[str, int]],
    ranked: list[str],
    colours: dict[str, str],
    peak: int,
) -> Iterable[Bar]:
    if peak <= 0:
        return
    slot = Decimal(WIDTH - LEFT) / len(days)
    span = HEIGHT - BOTTOM - TOP
    for i, day in enumerate(days):
        base = Decimal(HEIGHT - BOTTOM)
        for model in ranked:
            credits = totals[day].get(model, 0)
            if credits <= 0:
                continue
            h = Decimal(span * credits) / peak
            base -= h
            yield Bar(
                day.isoformat(),
                model,
                credits,
                _px(LEFT + i * slot + slot * Decimal("0.15")),
                _px(base),
                _px(slot * Decimal("0.7")),
                _px(h),
                colours[model],
            )


@dataclass(frozen=True, slots=True)
class GroupedChart(Frame):
    """Bars side by side per group: one per series (captured and refunded, say)."""

    groups: tuple[str, ...]
    series: tuple[tuple[str, str], ...]  # (name, colour)
    bars: tuple[Bar, ...]
    labels: tuple[tuple[str, Decimal], ...]  # (group, x of its middle)


def grouped_chart(
    values: list[tuple[str, dict[str, int]]], series: tuple[str, ...]
) -> GroupedChart:
    """A grouped bar chart of ``values`` (group -> series -> credits, in the order given);
    each series keeps a colour of :data:`PALETTE`."""
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(series)}
    peak = max((v.get(s, 0) for _, v in values for s in series), default=0)
    bars: list[Bar] = []
    labels: list[tuple[str, Decimal]] = []
    if values:
        slot = Decimal(WIDTH - LEFT) / len(values)
        span = HEIGHT - BOTTOM - TOP
        bar_w = min(slot * Decimal("0.8") / len(series), GROUP_BAR_MAX)
        for i, (group, by_series) in enumerate(values):
            start = LEFT + i * slot + (slot - bar_w * len(series)) / 2
            labels.append((group, _px(LEFT + i * slot + slot / 2)))
            for j, name in enumerate(series):
                value = by_series.get(name, 0)
                h = Decimal(span * value) / peak if peak > 0 and value > 0 else Decimal(0)
                bars.append(
                    Bar(
                        group,
                        name,
                        value,
                        _px(start + j * bar_w),
                        _px(HEIGHT - BOTTOM - h),
                        _px(bar_w),
                        _px(h),
                        colours[name],
                    )
                )
    return GroupedChart(
        groups=tuple(g for g, _ in values),
        series=tuple((s, colours[s]) for s in series),
        bars=tuple(bars),
        labels=tuple(labels),
        peak=peak,
    )
