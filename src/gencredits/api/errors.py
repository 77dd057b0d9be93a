"""The one error shape of the API, and the one place that maps errors to statuses.

Every error response is ``{"error": {"code", "message", "details"}}``.  The status is
``GencreditsError.http_status`` (drawn in :mod:`gencredits.errors`); request validation
errors become ``422 invalid_request`` naming the field, the value and what is allowed;
unknown paths and methods keep their 404/405 in the same shape; anything unexpected is
``500 internal`` without a traceback (the traceback goes to the server log only).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gencredits.errors import GencreditsError, UnknownParameter

__all__ = ["ErrorBody", "ErrorResponse", "error_responses", "install_error_handlers"]

log = logging.getLogger("gencredits.api")
_VALUE_TEXT_MAX = 200


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. insufficient_credits.")
    message: str = Field(description="One line for people: the field, the value, what is allowed.")
    details: dict[str, Any] = Field(description="The same facts as data.")


class ErrorResponse(BaseModel):
    """The shape of every error the API returns."""

    error: ErrorBody


_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing, unknown or revoked API key (or bad callback signature)",
    402: "Insufficient credits (details: required, available, shortfall)",
    403: "The API key lacks the scope this route needs",
    404: "Not found",
    409: "Conflict (idempotency key reused for another request, or invalid state transition)",
    422: "Invalid input (details: field, value, allowed)",
    503: "The database is unreachable or not migrated; retry later",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error statuses, all with the error shape.
    422 is always among them: every route refuses a query parameter it does not take."""
    chosen = sorted({*statuses, 422})
    return {s: {"model": ErrorResponse, "description": _DESCRIPTIONS[s]} for s in chosen}


def error_json(status: int, code: str, message: str, details: dict[str, Any]) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details}},
        status_code=status,
        headers=headers,
    )


def _shown(value: Any) -> Any:
    plain = value is None or isinstance(value, bool | int | float | str)
    text = value if plain else repr(value)
    if isinstance(text, str) and len(text) > _VALUE_TEXT_MAX:
        return text[:_VALUE_TEXT_MAX] + "..."
    return text


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie") and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_error_response(exc: RequestValidationError) -> JSONResponse:
    problems = []
    for e in exc.errors():
        loc = tuple(e.get("loc", ()))
        field = _field_name(loc)
        value = _shown(e.get("input"))
        allowed = str(e.get("msg", "")).removeprefix("Value error, ")
        if e.get("type") == "json_invalid":
            field, value = "body", None
            allowed = f"a JSON document ({e.get('ctx', {}).get('error', 'decode error')})"
        problems.append({"field": field, "value": value, "allowed": allowed})
    first = problems[0] if problems else {"field": "body", "value": None, "allowed": "valid JSON"}
    message = f"{first['field']}: {first['value']!r} is not allowed; {first['allowed']}"
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more problem(s))"
    return error_json(422, "invalid_request", message, {**first, "problems": problems})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GencreditsError)
    async def _gencredits_error(request: Request, exc: GencreditsError) -> JSONResponse:
        status = exc.http_status
        if status >= 500:
            log.error("error %s on %s %s", exc.code, request.method, request.url.path)
        return error_json(status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return error_json(
                404,
                "not_found",
                f"path: {request.url.path!r} is not a route of this service; see /openapi.json",
                {"field": "path", "value": request.url.path},
            )
        if exc.status_code == 400:
            # Starlette's "error parsing the body" (e.g. bytes that are not UTF-8): bad
            # input like any other, so the same 422 as a validation error.
            return error_json(
                422,
                "invalid_request",
                f"body: the request body cannot be read; a UTF-8 JSON document ({exc.detail})",
                {"field": "body", "value": None, "allowed": "a UTF-8 JSON document"},
            )
        if exc.status_code == 405:
            return error_json(
                405,
                "method_not_allowed",
                f"method: {request.method} is not allowed on {request.url.path}",
                {"field": "method", "value": request.method},
            )
        return error_json(exc.status_code, "http_error", str(exc.detail), {})

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _database_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", exc.__class__.__name__)
        return error_json(
            503, "unavailable", "the database cannot be reached; retry later", {"retryable": True}
        )

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> JSONResponse:
        # A value the database refuses (PostgreSQL: a NUL in a text): bad input, not a
        # crash.  The routes validate what they know; this catches what slips past them.
        log.warning("database refused a value on %s %s: %s", request.method,
                    request.url.path, exc.orig)  # fmt: skip
        return error_json(
            422,
            "invalid_request",
            "a value in this request cannot be stored (e.g. a NUL character)",
            {"field": None, "value": None, "allowed": "printable text"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_json(
            500,
            "internal",
            "internal error; it was logged on the server (no details are sent to clients)",
            {},
        )


def _query_names(dependant: Any) -> frozenset[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return frozenset(names)


_KNOWN_QUERY: dict[int, frozenset[str]] = {}


async def reject_unknown_query(request: Request) -> None:
    """A query parameter the route does not take is an error, not silently ignored
    (``?limt=5`` would otherwise quietly return 50 items)."""
    if not request.query_params:
        return
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = _KNOWN_QUERY.get(id(route))
    if known is None:
        known = _KNOWN_QUERY[id(route)] = _query_names(dependant)
    for name in request.query_params:
        if name not in known:
            allowed = ", ".join(sorted(known)) or "none"
            raise UnknownParameter.for_field(
                name,
                request.query_params[name],
                f"this route takes these query parameters: {allowed}",
            )
