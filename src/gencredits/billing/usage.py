"""Report rollups written in the unit of work that moves the credits (see
:mod:`gencredits.ledger.rollups` and docs/reports.md): a job's change of state and credits,
a grant's expiry (breakage), a sale (a plan cycle or a pack, with the money paid).

Every path that changes a job calls :func:`job_changed` with the job before and after (submit,
free usage, captures, releases, the sweep's timeouts, late successes), so the rollups hold
exactly what the ledger's entries say, dated by the day of the change.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from gencredits.ledger.model import Grant, Job, JobState
from gencredits.ledger.rollups import FLOW_EXPIRED, FLOW_SOLD, MICROS, Rollup, day_of, month_of
from gencredits.ledger.store import WriteUnit
from gencredits.shards import anchor_of

__all__ = ["expired", "job_changed", "job_counts", "micros", "sold", "usage_key"]

#: the counter a job's arrival in a state adds one to
_STATE_COUNTER: Mapping[str, str] = {
    JobState.SUCCEEDED: "succeeded",
    JobState.FAILED: "failed",
    JobState.CANCELLED: "cancelled",
    JobState.TIMED_OUT: "timed_out",
    JobState.SUCCEEDED_AFTER_TIMEOUT: "late_succeeded",
}
_SUCCESS = (JobState.SUCCEEDED, JobState.SUCCEEDED_AFTER_TIMEOUT)


def micros(amount: Decimal) -> int:
    """An amount of money in millionths of its unit (half to even)."""
    return int((amount * MICROS).to_integral_value(rounding=ROUND_HALF_EVEN))


def usage_key(job: Job, day: str) -> dict[str, str]:
    """A job's usage key: zero-cost usage has no model; its mode is its kind.  ``anchor`` is
    its wallet's routing group (the ledger-wide rollup's key)."""
    quote = job.quote or {}
    return {
        "day": day,
        "anchor": anchor_of(job.wallet_id),
        "wallet_id": job.wallet_id,
        "member": job.submitted_by or "",
        "model": job.model or "",
        "mode": str(quote.get("mode") or ("" if job.model else job.kind)),
        "route": str(quote.get("route") or ""),
        "currency": str(quote.get("provider_currency") or ""),
    }


def job_counts(before: Job | None, after: Job) -> dict[str, int]:
    """What a job's change from ``before`` (``None``: it is new) to ``after`` adds."""
    counts: dict[str, int] = {}
    used = after.credits_used - (before.credits_used if before else 0)
    counts["captured"] = used
    counts["written_off"] = after.written_off - (before.written_off if before else 0)
    if before is None:
        counts["jobs"] = 1
        counts["held"] = after.hold_amount
    elif before.credits_held and not after.credits_held:
        counts["refunded"] = max(before.credits_held - used, 0)
    state = after.state if before is None or before.state != after.state else ""
    if state in _STATE_COUNTER:
        counts[_STATE_COUNTER[state]] = 1
    if state in _SUCCESS and after.model is not None:
        cost = (after.quote or {}).get("provider_cost")
        if cost is None:
            counts["uncosted"] = 1
        else:
            counts["cost_micros"] = micros(Decimal(str(cost)))
    return counts


def job_changed(uow: WriteUnit, before: Job | None, after: Job, now: datetime) -> None:
    """Add a job's change to the usage rollups (per day with and without wallet and member,
    and per month with them)."""
    counts = job_counts(before, after)
    if not any(counts.values()):
        return
    key = usage_key(after, day_of(now))
    uow.add_rollup(Rollup.of("usage", key, counts))
    uow.add_rollup(Rollup.of("usage_total", key, counts))
    key["day"] = month_of(key["day"])
    uow.add_rollup(Rollup.of("usage_month", key, counts))


def expired(uow: WriteUnit, grant: Grant, credits: int, at: datetime) -> None:
    """Breakage: ``credits`` of ``grant`` expired unused."""
    key = {"day": day_of(at), "wallet_id": grant.wallet_id, "flow": FLOW_EXPIRED}
    key |= {"kind": grant.kind, "currency": ""}
    uow.add_rollup(Rollup.of("flows", key, {"credits": credits, "items": 1}))


def sold(
    uow: WriteUnit,
    wallet_id: str,
    source: str,
    money: tuple[Decimal, str],
    credits: tuple[int, int],
    at: datetime,
) -> None:
    """A sale (``source``: ``plan`` or ``pack``; negative amounts take one back): ``money`` is
    (amount, currency) paid, ``credits`` (all credits granted for it, of which bonus)."""
    amount, currency = money
    key = {"day": day_of(at), "wallet_id": wallet_id, "flow": FLOW_SOLD, "kind": source}
    key["currency"] = currency
    sign = -1 if amount < 0 or credits[0] < 0 else 1
    counts = {"credits": credits[0], "bonus": credits[1], "items": sign}
    counts["money_micros"] = micros(amount)
    uow.add_rollup(Rollup.of("flows", key, counts))
