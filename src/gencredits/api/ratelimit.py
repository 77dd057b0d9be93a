"""A per-key request rate limit: one token bucket per API key, in each worker's memory.

A publishable key is printed in web pages (the cost widget), so anyone can copy it: its
requests are limited to ``publishable_rate_per_min`` a minute, a burst of that size
allowed.  Other keys are limited by ``api_rate_per_min`` (0: not limited, the default, so
the server-to-server hot path pays nothing).  Over the limit the answer is ``429
rate_limited`` with ``Retry-After``, in the one error shape.  Each worker keeps its own
buckets: with N workers a key gets at most N times the rate, which bounds abuse without
a shared store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from gencredits.errors import RateLimited

__all__ = ["KeyRateLimiter"]

#: Buckets kept at most; past it the idle ones are dropped (a full bucket needs no memory).
BUCKETS_MAX = 10_000


#: A token, in the bucket's units: a rate of N a minute adds N units a nanosecond, so that
#: refilling and spending are whole numbers (time in nanoseconds of the monotonic clock).
TOKEN = 60 * 1_000_000_000
#: A bucket idle this long is full again, whatever its rate.
IDLE_NS = 60 * 1_000_000_000


@dataclass(slots=True)
class _Bucket:
    units: int  # tokens x TOKEN
    at_ns: int


class KeyRateLimiter:
    """``check(key_id, publishable)`` spends one token or raises :class:`RateLimited`."""

    def __init__(
        self,
        publishable_per_min: int,
        other_per_min: int = 0,
        clock_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.publishable_per_min = publishable_per_min
        self.other_per_min = other_per_min
        self._clock_ns = clock_ns
        self._buckets: dict[str, _Bucket] = {}

    def check(self, key_id: str, *, publishable: bool) -> None:
        per_min = self.publishable_per_min if publishable else self.other_per_min
        if per_min <= 0:
            return
        now = self._clock_ns()
        full = per_min * TOKEN
        bucket = self._buckets.get(key_id)
        if bucket is None:
            if len(self._buckets) >= BUCKETS_MAX:
                self._forget_full(now)
            bucket = self._buckets[key_id] = _Bucket(full, now)
        bucket.units = min(full, bucket.units + (now - bucket.at_ns) * per_min)
        bucket.at_ns = now
        if bucket.units < TOKEN:
            wait_ns = -(-(TOKEN - bucket.units) // per_min)  # ceiling
            wait_s = max(1, -(-wait_ns // 1_000_000_000))
            raise RateLimited(key_id=key_id, limit_per_min=per_min, retry_after_s=wait_s)
        bucket.units -= TOKEN

    def _forget_full(self, now: int) -> None:
        """Drop buckets idle long enough to be full again (and all, if none is)."""
        idle = [k for k, b in self._buckets.items() if now - b.at_ns >= IDLE_NS]
        for k in idle or list(self._buckets):
            del self._buckets[k]
