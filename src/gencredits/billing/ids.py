"""The ids the service makes: jobs, grants, refund grants.

Deterministic from the caller's request (wallet and idempotency key), so the same call makes
the same id; a retry still finds its first attempt by the idempotency record, never by
recomputing an id.

Every job and grant id carries its wallet's shard bucket (:mod:`gencredits.shards`, three hex
digits), so that a lookup by id can be routed to the one shard that holds the wallet;
:func:`gencredits.shards.bucket_of_id` reads it back.  Ids stored by earlier versions have
no bucket (``bucket_of_id`` answers ``None``) and keep working everywhere.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from gencredits.shards import bucket_of, bucket_of_id

__all__ = ["digest", "grant_id_for", "job_id_for", "refund_grant_id", "seat_grant_id"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:24]


def job_id_for(submitted_at: datetime, wallet_id: str, idempotency_key: str) -> str:
    """A job's id: ``job_``, the millisecond of its submission in 11 hex digits, the wallet's
    bucket in 3, then 13 of sha256(wallet, key).  Ids sort by submission time first, so a
    batch's new jobs (and their ``<job>/hold`` transactions, ``hold:<job>`` accounts and
    ``job:<job>`` keys) go to the last pages of the indexes keyed by them, not to random ones
    (the pages written per commit are measured in ``bench/RESULTS.md``)."""
    millis = (submitted_at - _EPOCH) // _MILLISECOND
    bucket = bucket_of(wallet_id)
    return f"job_{millis:011x}{bucket:03x}{digest('job', wallet_id, idempotency_key)[:13]}"


def _grant_id(bucket: int, *parts: str) -> str:
    return f"gr_{bucket:03x}{digest(*parts)}"


def grant_id_for(wallet_id: str, idempotency_key: str) -> str:
    """A grant's id: ``gr_``, the wallet's bucket in 3 hex digits, 24 of sha256(wallet, key)."""
    return _grant_id(bucket_of(wallet_id), "grant", wallet_id, idempotency_key)


def seat_grant_id(wallet_id: str, name: str) -> str:
    """The grant of a team member's seat credits for a cycle (``name``: member and cycle)."""
    return _grant_id(bucket_of(wallet_id), "seat", wallet_id, name)


def refund_grant_id(job_id: str, wallet_id: str) -> str:
    """The one refund grant a job's resolution may create, in the job's bucket (a job made
    before ids carried one: its wallet's, the same bucket)."""
    bucket = bucket_of_id(job_id)
    return _grant_id(
        bucket_of(wallet_id) if bucket is None else bucket, "refund", job_id, "resolve"
    )
