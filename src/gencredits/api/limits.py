"""A bound on request bodies ("put a limit on everything"): no request can make a worker
hold more than ``BODY_BYTES_MAX`` in memory.  Refused as ``422 invalid_request`` on
``body``, the error every route documents, before the application reads anything."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gencredits.api.errors import error_json
from gencredits.errors import InvalidRequest

__all__ = ["BODY_BYTES_MAX", "BodyLimit"]

BODY_BYTES_MAX = 1024 * 1024


def too_large(size: int | str) -> InvalidRequest:
    return InvalidRequest.for_field(
        "body", f"{size} bytes", f"a JSON document of at most {BODY_BYTES_MAX} bytes"
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
                    error = too_large(value.decode("latin-1"))
                    response = error_json(422, error.code, error.message, error.details)
                    await response(scope, receive, send)
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
                raise too_large(f"more than {self.limit}")
            return message

        await self.app(scope, counted, send)
