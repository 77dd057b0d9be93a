"""Reading the outbox in tests, once the server's horizon has passed.

On PostgreSQL ``Billing.events()`` holds back events newer than the oldest transaction still
open anywhere on the server (other tests' too, in other databases), so that a consumer never
skips one.  A test that compares the outbox before and after a refused call must read it once
that horizon has passed, or an event committed before the call may show up only after it.
"""

from __future__ import annotations

import time

from gencredits.billing import Billing
from gencredits.ledger.model import Event

__all__ = ["settled_events"]


def settled_events(billing: Billing, limit: int = 5000) -> list[Event]:
    """Every committed event: read until two reads 50 ms apart agree (at most 5 s)."""
    seen = billing.events(limit=limit)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        time.sleep(0.05)
        again = billing.events(limit=limit)
        if again == seen:
            break
        seen = again
    return seen
