"""A bound on request bodies ("put a limit on everything"): no request can make a worker
hold more than :data:`gencredits.limits.BODY_BYTES_MAX` in memory.  Refused as ``422
invalid_request`` on ``body``, the error every route documents, before the application
reads anything.  It wraps every request, the quote fast path's included."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gencredits.api.errors import response_for
from gencredits.errors import InvalidRequest
from gencredits.limits import BODY_BYTES_MAX

__all__ = ["BodyLimit", "too_large"]


def too_large(size: int | str, limit: int = BODY_BYTES_MAX) -> InvalidRequest:
    return InvalidRequest.for_field(
        "body", f"{size} bytes", f"a JSON document of at most {limit} bytes"
    )


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int = BODY_BYTES_MAX) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.limit:
                    error = too_large(value.decode("latin-1"), self.limit)
                    await response_for(error)(scope, receive, send)
                    return
                await self.app(scope, receive, send)  # the server enforces the length
                return
        seen = 0

        async def counted() -> Message:
            # A chunked body (no Content-Length): counted as it arrives.
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise too_large(f"more than {self.limit}", self.limit)
            return message

        await self.app(scope, counted, send)
