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

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from gencredits.errors import RateLimited

__all__ = ["KeyRateLimiter"]

#: Buckets kept at most; past it the idle ones are dropped (a full bucket needs no memory).
BUCKETS_MAX = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class KeyRateLimiter:
    """``check(key_id, publishable)`` spends one token or raises :class:`RateLimited`."""

    def __init__(
        self,
        publishable_per_min: int,
        other_per_min: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.publishable_per_min = publishable_per_min
        self.other_per_min = other_per_min
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def check(self, key_id: str, *, publishable: bool) -> None:
        per_min = self.publishable_per_min if publishable else self.other_per_min
        if per_min <= 0:
            return
        now = self._clock()
        rate_per_s = per_min / 60
        bucket = self._buckets.get(key_id)
        if bucket is None:
            if len(self._buckets) >= BUCKETS_MAX:
                self._forget_full(now)
            bucket = self._buckets[key_id] = _Bucket(float(per_min), now)
        bucket.tokens = min(float(per_min), bucket.tokens + (now - bucket.at) * rate_per_s)
        bucket.at = now
        if bucket.tokens < 1:
            wait_s = max(1, math.ceil((1 - bucket.tokens) / rate_per_s))
            raise RateLimited(key_id=key_id, limit_per_min=per_min, retry_after_s=wait_s)
        bucket.tokens -= 1

    def _forget_full(self, now: float) -> None:
        """Drop buckets idle long enough to be full again (and all, if none is)."""
        horizon_s = 60.0
        idle = [k for k, b in self._buckets.items() if now - b.at >= horizon_s]
        for k in idle or list(self._buckets):
            del self._buckets[k]
