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

__all__ = ["deadline", "remaining"]

#: The least a wait is given, even past the deadline: time to notice an answer already there.
MIN_WAIT_S = 0.01

_deadline: ContextVar[float | None] = ContextVar("gencredits_deadline", default=None)


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Within the block, :func:`remaining` counts down from ``seconds``."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining(limit: float | None) -> float | None:
    """How long a wait may take: ``limit``, or less if the current deadline is nearer
    (``None``: no limit and no deadline)."""
    at = _deadline.get()
    if at is None:
        return limit
    left = max(MIN_WAIT_S, at - time.monotonic())
    return left if limit is None else min(limit, left)
