"""``POST /v1/quotes`` answered straight from ASGI, without FastAPI's routing and
dependency resolution.

Quotes are the hottest call (every Generate-button tooltip) and pure, so the service
answers them here, inside the metrics middleware: this path calls the documented route's
own endpoint (:func:`gencredits.api.routes.catalog.create_quote`, which checks the key,
refuses any query parameter and prices the body) and answers its errors with
:func:`~gencredits.api.errors.response_for`, as FastAPI's handlers do.  So the route in the
OpenAPI document is the code that runs, and there is one answer for each request.  The
body is bounded by :class:`~gencredits.api.limits.BodyLimit`, which wraps this path.
Measured in ``bench/http.py``: FastAPI's per-request machinery cost more than the pricing.
"""

from __future__ import annotations

from fastapi import Request
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from gencredits.api.errors import response_for
from gencredits.api.routes.catalog import QUOTE_PATH, create_quote

__all__ = ["QuoteFastPath"]


class _Route:
    """What the metrics middleware reads from ``scope["route"]``."""

    path = QUOTE_PATH


class QuoteFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.route = _Route()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != QUOTE_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        try:
            response = await create_quote(Request(scope, receive))
        except ClientDisconnect:
            return  # the client went away: nobody to answer
        except Exception as exc:
            response = response_for(exc, method="POST", path=QUOTE_PATH)
        await response(scope, receive, send)
