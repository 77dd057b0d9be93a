"""Wire types: quotes stored by earlier versions read with today's names."""

from __future__ import annotations

from gencredits.billing.views import with_line_credits
from gencredits.pricing import CatalogSet, quote


def test_a_quote_stored_before_line_credits_reads_with_both_names() -> None:
    today = quote(CatalogSet.bundled(), "kling/v2-1-pro", {"duration": 10}).to_dict()
    assert all(line["line_credits"] == line["credits"] for line in today["breakdown"])
    stored = {
        **today,
        "breakdown": [
            {k: v for k, v in ln.items() if k != "line_credits"} for ln in today["breakdown"]
        ],
    }
    assert with_line_credits(stored) == today
    assert with_line_credits(today) == today
    assert with_line_credits({"total_credits": 5}) == {"total_credits": 5}
