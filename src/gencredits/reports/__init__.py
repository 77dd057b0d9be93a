"""Reports over the ledger's rollups: usage, margin, breakage (docs/reports.md).

Pure aggregation: each report reads sums from a :class:`~gencredits.ledger.store.LedgerReader`
(:meth:`~gencredits.ledger.store.LedgerReader.rollup_totals`) and folds them; the API, the CLI
and the operator pages show the same answer types (:mod:`gencredits.reports.views`).
"""

from gencredits.reports.build import breakage_report, failure_rate, usage_report
from gencredits.reports.margin import MARGIN_BREAKDOWNS, margin_report
from gencredits.reports.query import BREAKDOWNS, ReportQuery
from gencredits.reports.views import (
    BreakageReport,
    BreakageRow,
    MarginReport,
    MarginRow,
    UncostedRow,
    UsageReport,
    UsageRow,
)

__all__ = [
    "BREAKDOWNS",
    "MARGIN_BREAKDOWNS",
    "BreakageReport",
    "BreakageRow",
    "MarginReport",
    "MarginRow",
    "ReportQuery",
    "UncostedRow",
    "UsageReport",
    "UsageRow",
    "breakage_report",
    "failure_rate",
    "margin_report",
    "usage_report",
]
