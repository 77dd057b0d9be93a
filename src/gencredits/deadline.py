"""The deadline of the request being served, carried by a context variable.

The HTTP service opens one per request (``db_timeout_s`` from now); the waits on the
database below it (a group-commit batch, each round trip to PostgreSQL) take what is left
of it rather than their own full limit, so a request that waits on several things still
answers within the one documented time.  Context variables follow the request into the
worker threads that run its synchronous code.  Outside a request (the CLI, the
group-commit writer thread) there is no deadline and each wait keeps its own limit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["NS_PER_S", "deadline", "remaining"]

#: Nanoseconds in a second: deadlines are whole nanoseconds of the monotonic clock.
NS_PER_S = 1_000_000_000
#: The least a wait is given, even past the deadline: time to notice an answer already there.
MIN_WAIT_NS = 10_000_000

#: When the current request's deadline passes, in ``time.monotonic_ns()`` (``None``: none).
_deadline: ContextVar[int | None] = ContextVar("gencredits_deadline", default=None)


@contextmanager
def deadline(ns: int) -> Iterator[None]:
    """Within the block, :func:`remaining` counts down from ``ns`` nanoseconds."""
    token = _deadline.set(time.monotonic_ns() + ns)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining(limit_ns: int | None) -> int | None:
    """How long a wait may take, in nanoseconds: ``limit_ns``, or less if the current
    deadline is nearer (``None``: no limit and no deadline)."""
    at = _deadline.get()
    if at is None:
        return limit_ns
    left = max(MIN_WAIT_NS, at - time.monotonic_ns())
    return left if limit_ns is None else min(limit_ns, left)
