"""Each HTTP request's deadline (``db_timeout_s``): the time within which a stalled
database is answered 503 ``unavailable`` (see :mod:`gencredits.deadline`).  Its waits on the
database end at 90 % of it; the rest is left to build and send the answer."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from gencredits.deadline import NS_PER_S, deadline

__all__ = ["DeadlineMiddleware"]

#: The share of the deadline the database waits may take.
ANSWER_SHARE = 0.9


class DeadlineMiddleware:
    """Pure ASGI: opens the request's deadline; the database waits below it share it."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.ns = round(seconds * ANSWER_SHARE * NS_PER_S)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with deadline(self.ns):
            await self.app(scope, receive, send)
