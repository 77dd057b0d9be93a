"""An audit that streams: one page of wallets at a time, in one snapshot, with bounded
memory, over every wallet, a range of them, or those changed since a cursor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from gencredits.ledger.store import AuditScope, LedgerReader

from . import teams
from .audit import audit_snapshot, audit_totals
from .views import Violation

__all__ = ["AUDIT_PAGE", "AuditRun", "run_audit"]

#: Wallets read and checked at a time: what an audit holds in memory (with their grants,
#: jobs and transaction kinds), whatever the size of the ledger.
AUDIT_PAGE = 200


@dataclass(frozen=True, slots=True)
class AuditRun:
    """What an audit found, how many wallets it checked, and the cursor to pass as
    ``since`` next time (the newest ledger transaction it saw)."""

    violations: list[Violation]
    wallets: int
    cursor: int


def run_audit(
    reader: LedgerReader,
    now: datetime,
    scope: AuditScope,
    *,
    page: int = AUDIT_PAGE,
    progress: Callable[[int], None] | None = None,
    keys_since: datetime | None = None,
) -> AuditRun:
    """Audit ``scope`` from ``reader``'s one snapshot; ``progress`` is told the number of
    wallets checked so far after each page.  The ledger-wide sums are checked only when the
    scope is everything.  ``keys_since``: effects older than it need no idempotency record
    (retention deleted it)."""
    cursor = reader.audit_cursor()
    found = audit_totals(reader.audit_totals()) if scope.whole else []
    after: str | None = None
    done = 0
    while ids := reader.audit_wallets(scope, after_id=after, limit=page):
        snapshot = reader.audit_snapshot(ids, keys_since=keys_since)
        found += audit_snapshot(snapshot, now, whole=False)
        for problem in teams.audit_usage(reader, snapshot.jobs, snapshot.wallets):
            subject, _, message = problem.partition(": ")
            found.append(Violation(code="member_usage_mismatch", subject=subject, message=message))
        done += len(ids)
        after = ids[-1]
        if progress is not None:
            progress(done)
    return AuditRun(found, done, cursor)
