"""Job billing on top of the ledger: the one public service, :class:`Billing`."""

from gencredits.billing.protocol import BillingAPI
from gencredits.billing.service import Billing
from gencredits.billing.team_views import MemberView, TeamView
from gencredits.billing.views import (
    EntryView,
    GrantView,
    JobView,
    Page,
    SweepReport,
    Violation,
    WalletView,
)

__all__ = [
    "Billing",
    "BillingAPI",
    "EntryView",
    "GrantView",
    "JobView",
    "MemberView",
    "Page",
    "SweepReport",
    "TeamView",
    "Violation",
    "WalletView",
]
