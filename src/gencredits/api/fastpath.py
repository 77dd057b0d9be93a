"""``POST /v1/quotes`` answered straight from ASGI, without FastAPI's routing, request
object and dependency resolution.

Quotes are the hottest call (every Generate-button tooltip) and pure, so the service
answers them here, inside the metrics middleware, with exactly the checks and answers of
the documented FastAPI route (which stays in the app: it documents the operation and
serves any request this path hands on, e.g. one with a query string).  Measured in
``bench/http.py``: FastAPI's per-request machinery cost more than the pricing itself.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.types import ASGIApp, Receive, Scope, Send

from gencredits.api.auth import Authenticator, admit
from gencredits.api.errors import error_json, validation_error_response
from gencredits.api.schemas import QuoteCreate
from gencredits.errors import GencreditsError, InvalidRequest
from gencredits.pricing import CatalogSet, quote

__all__ = ["QuoteFastPath", "price_quote"]

log = logging.getLogger("gencredits.api")
PATH = "/v1/quotes"
BODY_BYTES_MAX = 64 * 1024


class _Route:
    """What the metrics middleware reads from ``scope["route"]``."""

    path = PATH


class QuoteFastPath:
    def __init__(self, app: ASGIApp, catalogs: CatalogSet, authenticator: Authenticator) -> None:
        self.app = app
        self.catalogs = catalogs
        self.authenticator = authenticator
        self.route = _Route()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != PATH
            or scope["method"] != "POST"
            or scope.get("query_string")
        ):
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        response = await self._answer(scope, receive)
        if response is not None:
            await response(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive) -> JSONResponse | None:
        try:
            await admit(self.authenticator, _bearer(scope), "read")
            body = await _read_body(receive)
            if body is None:
                return None  # the client went away
            try:
                return JSONResponse(price_quote(self.catalogs, body))
            except RequestValidationError as exc:
                return validation_error_response(exc)
        except GencreditsError as exc:
            return error_json(exc.http_status, exc.code, exc.message, exc.details)
        except (OperationalError, InterfaceError):  # the key lookup could not reach the database
            log.warning("database unavailable while checking a key")
            return error_json(
                503,
                "unavailable",
                "the database cannot be reached; retry later",
                {"retryable": True},
            )
        except Exception:
            log.exception("unexpected error on POST %s", PATH)
            return error_json(
                500,
                "internal",
                "internal error; it was logged on the server (no details are sent to clients)",
                {},
            )


def price_quote(catalogs: CatalogSet, body: bytes) -> dict[str, Any]:
    """Parse a quote request body and price it: what both this path and the documented
    route answer.  Raises ``RequestValidationError`` for a malformed body and the library's
    errors for a request it refuses."""
    try:
        request = QuoteCreate.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        ) from None
    where: CatalogSet | Any = catalogs
    if request.catalog is not None:
        where = catalogs[request.catalog]
    return quote(where, request.model, request.params, request.generations).to_dict()


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, secret = value.decode("latin-1").partition(" ")
            return secret.strip() if scheme.lower() == "bearer" else None
    return None


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > BODY_BYTES_MAX:
            raise _too_large()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _too_large() -> GencreditsError:
    return InvalidRequest.for_field(
        "body",
        f"more than {BODY_BYTES_MAX} bytes",
        f"a JSON document of at most {BODY_BYTES_MAX} bytes",
    )
