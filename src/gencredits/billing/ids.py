"""The ids the service makes: jobs, grants, refund grants.

Deterministic from the caller's request (wallet and idempotency key), so the same call makes
the same id; a retry still finds its first attempt by the idempotency record, never by
recomputing an id.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

__all__ = ["digest", "grant_id_for", "job_id_for", "refund_grant_id"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:24]


def job_id_for(submitted_at: datetime, wallet_id: str, idempotency_key: str) -> str:
    """A job's id: ``job_``, the millisecond of its submission in 11 hex digits, then 13 of
    sha256(wallet, key).  Ids sort by submission time, so a batch's new jobs (and their
    ``<job>/hold`` transactions, ``hold:<job>`` accounts and ``job:<job>`` keys) go to the
    last pages of the indexes keyed by them, not to random ones (the pages written per
    commit are measured in ``bench/RESULTS.md``)."""
    millis = (submitted_at - _EPOCH) // _MILLISECOND
    return f"job_{millis:011x}{digest('job', wallet_id, idempotency_key)[:13]}"


def grant_id_for(wallet_id: str, idempotency_key: str) -> str:
    return "gr_" + digest("grant", wallet_id, idempotency_key)


def refund_grant_id(job_id: str) -> str:
    """The one refund grant a job's resolution may create."""
    return "gr_" + digest("refund", job_id, "resolve")
