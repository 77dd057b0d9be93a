"""The spend chart's geometry is exact (Decimal to the hundredth, credits stay integers)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from gencredits.web.chart import BOTTOM, HEIGHT, TOP, grouped_chart, spend_chart


def _job(model: str, credits: int, day: int) -> Any:
    at = datetime(2026, 11, day, 12, tzinfo=UTC)
    return SimpleNamespace(status=1, resolved_at=at, credits_used=credits, model=model, kind="x")


def test_bars_stack_to_the_day_total_and_ticks_are_round() -> None:
    jobs = [_job("a", 300, 29), _job("b", 100, 29), _job("a", 200, 30)]
    chart = spend_chart(jobs, date(2026, 11, 30), 2)
    assert (chart.peak, chart.total) == (400, 600)
    assert all(isinstance(v, Decimal) for b in chart.bars for v in (b.x, b.y, b.width, b.height))
    span = Decimal(HEIGHT - BOTTOM - TOP)
    first_day = [b for b in chart.bars if b.group == "2026-11-29"]
    assert sum(b.height for b in first_day) == span  # the peak day fills the plot
    assert [(b.series, b.value) for b in first_day] == [
        ("a", 300),
        ("b", 100),
    ]  # most spent model at the bottom
    assert [v for v, _y in chart.ticks] == [100, 200, 300, 400]
    assert chart.ticks[-1][1] == Decimal(TOP)


def test_grouped_bars_stand_side_by_side_scaled_to_the_peak() -> None:
    values = [("veo", {"captured": 800, "refunded": 375}), ("kling", {"captured": 150})]
    chart = grouped_chart(values, ("captured", "refunded"))
    assert chart.peak == 800 and chart.groups == ("veo", "kling")
    span = Decimal(HEIGHT - BOTTOM - TOP)
    heights = {(b.group, b.series): b.height for b in chart.bars}
    assert heights[("veo", "captured")] == span
    assert heights[("veo", "refunded")] == (span * 375 / 800).quantize(Decimal("0.01"))
    assert heights[("kling", "refunded")] == 0  # a missing series is a bar of nothing
    veo = [b for b in chart.bars if b.group == "veo"]
    assert veo[0].x + veo[0].width == veo[1].x  # captured, then refunded beside it
    assert all(isinstance(v, Decimal) for b in chart.bars for v in (b.x, b.y, b.width, b.height))
    assert grouped_chart([], ("captured",)).bars == ()
