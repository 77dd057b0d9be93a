"""Each HTTP request's deadline (``db_timeout_s``): the time within which a stalled
database is answered 503 ``unavailable`` (see :mod:`gencredits.deadline`)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from gencredits.deadline import deadline

__all__ = ["DeadlineMiddleware"]


class DeadlineMiddleware:
    """Pure ASGI: opens the request's deadline; the database waits below it share it."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with deadline(self.seconds):
            await self.app(scope, receive, send)
