"""The one error shape of the API, and the one function that answers an exception.

Every error response is ``{"error": {"code", "message", "details"}}``, made by
:func:`response_for` from any exception: FastAPI's exception handlers and the quote fast
path both call it.  The status is the class's ``http_status`` in the tree drawn in
:mod:`gencredits.errors` (the one place a code meets a status); what is not yet an error
of that tree is first translated into one:

- request validation errors become ``InvalidRequest`` naming the field, the value and what
  is allowed; a body that cannot be read (not UTF-8) too;
- unknown paths and methods become ``NotFound`` and ``MethodNotAllowed``;
- a database that cannot be reached is ``Unavailable``; a value it refuses to store (a NUL
  in a PostgreSQL text) is ``InvalidRequest``;
- anything else is ``500 internal`` without a traceback (that goes to the server log only).

Whatever an error carries, its answer is valid JSON: :func:`json_safe` shows a value that
JSON cannot hold (``NaN``, ``inf``, text with a lone surrogate, an integer of thousands of
digits) as its ``repr``, cut to 200 characters (:func:`shown_value`).  Request bodies are
read by :mod:`gencredits.api.body`, which refuses such values before any model sees them.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gencredits.errors import (
    GencreditsError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    RateLimited,
    Unavailable,
    UnknownParameter,
)

__all__ = [
    "ERROR_CODES",
    "ErrorBody",
    "ErrorResponse",
    "error_responses",
    "install_error_handlers",
    "json_safe",
    "reject_unknown_query",
    "response_for",
    "shown_value",
]

log = logging.getLogger("gencredits.api")
#: The longest text an error echoes of a value.
_SHOWN_MAX = 200
#: Integers beyond this many bits are described, not echoed.
_SHOWN_INT_BITS = 256
#: What ``install_error_handlers`` routes to :func:`response_for`.
_HANDLED: tuple[type[Exception], ...] = (
    GencreditsError,
    RequestValidationError,
    StarletteHTTPException,
    OperationalError,
    InterfaceError,
    DataError,
    Exception,
)


def _error_codes(kind: type[GencreditsError] = GencreditsError) -> list[str]:
    """Every code of the error tree in :mod:`gencredits.errors`, sorted."""
    codes = {kind.code}
    for sub in kind.__subclasses__():
        codes.update(_error_codes(sub))
    return sorted(codes)


#: The codes an error answer can carry (the classes' ``code`` attributes).
ERROR_CODES = tuple(_error_codes())


class ErrorBody(BaseModel):
    code: str = Field(
        description="Stable machine-readable code, e.g. insufficient_credits.",
        json_schema_extra={"enum": list(ERROR_CODES)},
    )
    message: str = Field(description="One line for people: the field, the value, what is allowed.")
    details: dict[str, Any] = Field(description="The same facts as data.")


class ErrorResponse(BaseModel):
    """The shape of every error the API returns."""

    error: ErrorBody


_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing, unknown or revoked API key (or bad callback signature)",
    402: "Insufficient credits (details: required, available, shortfall), or a team member's "
    "cap reached (member_cap_exceeded; details: cap, used, required, shortfall)",
    403: "The API key lacks the scope this route needs",
    404: "Not found",
    409: "Conflict (idempotency key reused for another request, or invalid state transition)",
    422: "Invalid input (details: field, value, allowed)",
    423: "The wallet is frozen after a chargeback (details: wallet, reason)",
    429: "Too many requests for this key (header Retry-After; details: retry_after_s)",
    503: "The database is unreachable or not migrated; retry later",
}


def error_responses(*statuses: int, validation: bool = True) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error statuses, all with the error shape.
    422 is among them unless ``validation`` is false (an operation that takes no input at
    all: the 422 it gives a query parameter it does not take is the rule the document's
    description states for every route)."""
    chosen = sorted({*statuses, 422} if validation else set(statuses))
    return {s: {"model": ErrorResponse, "description": _DESCRIPTIONS[s]} for s in chosen}


def response_for(exc: BaseException, *, method: str = "", path: str = "") -> Response:
    """The HTTP answer to ``exc``, in the one error shape, with its family's status.

    ``method`` and ``path`` (of the request that failed) go into the server log and into
    the answer to an unknown path or method."""
    error = _as_error(exc, method, path)
    status = error.http_status
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(error, RateLimited):
        headers = {"Retry-After": str(error.retry_after_s)}
    # Values echoed from the request (a NaN, a lone surrogate...) never break the answer.
    return JSONResponse(json_safe(error.to_dict()), status_code=status, headers=headers)


def _as_error(exc: BaseException, method: str, path: str) -> GencreditsError:
    """``exc`` as an error of the tree in :mod:`gencredits.errors`, logged as it deserves."""
    if isinstance(exc, GencreditsError):
        if exc.http_status >= 500:
            log.error("error %s on %s %s", exc.code, method, path)
        return exc
    if isinstance(exc, RequestValidationError):
        return _invalid_request(exc)
    if isinstance(exc, StarletteHTTPException):
        if exc.status_code == 404:
            return NotFound(
                f"path: {path!r} is not a route of this service; see /openapi.json",
                details={"field": "path", "value": path},
            )
        if exc.status_code == 400:
            # Starlette's "error parsing the body" (e.g. bytes that are not UTF-8): bad
            # input like any other, so the same 422 as a validation error.
            return InvalidRequest(
                f"body: the request body cannot be read; a UTF-8 JSON document ({exc.detail})",
                details={"field": "body", "value": None, "allowed": "a UTF-8 JSON document"},
            )
        if exc.status_code == 405:
            return MethodNotAllowed(
                f"method: {method} is not allowed on {path}",
                details={"field": "method", "value": method},
            )
    if isinstance(exc, OperationalError | InterfaceError):
        log.warning("database unavailable: %s", exc.__class__.__name__)
        return Unavailable(
            "the database cannot be reached; retry later", details={"retryable": True}
        )
    if isinstance(exc, DataError):
        # A value the database refuses (PostgreSQL: a NUL in a text): bad input, not a
        # crash.  The routes validate what they know; this catches what slips past them.
        log.warning("database refused a value on %s %s: %s", method, path, exc.orig)
        return InvalidRequest(
            "a value in this request cannot be stored (e.g. a NUL character)",
            details={"field": None, "value": None, "allowed": "printable text"},
        )
    # Anything else, a framework HTTP error this service never raises included, is a bug.
    log.error("unexpected error on %s %s", method, path, exc_info=exc)
    return GencreditsError(
        "internal error; it was logged on the server (no details are sent to clients)"
    )


def shown_value(value: Any) -> Any:
    """``value`` as an error echoes it, always valid JSON and bounded: null, true/false,
    finite numbers and encodable text as themselves (text cut to 200 characters), a
    number that is not finite, text with a lone surrogate and any other object as its
    ``repr``, cut too; an integer too long to read as a few words about it."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        bits = value.bit_length()
        return value if bits <= _SHOWN_INT_BITS else f"an integer of {bits} bits"
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, str) and _encodable(value):
        text = value
    else:
        try:
            text = repr(value)
        except ValueError:  # a container holding an integer too long to write out
            text = f"<{type(value).__name__}>"
        text = text if _encodable(text) else ascii(text)
    return text if len(text) <= _SHOWN_MAX else text[:_SHOWN_MAX] + "..."


def json_safe(data: Any) -> Any:
    """``data`` (an error body) with every leaf :func:`shown_value`-safe and every key
    encodable: whatever an error carries, its answer is valid JSON."""
    if isinstance(data, dict):
        return {_json_key(k): json_safe(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [json_safe(v) for v in data]
    if isinstance(data, str):  # a message: kept whole, only made encodable
        return data if _encodable(data) else ascii(data)
    return shown_value(data)


def _json_key(key: object) -> str:
    text = key if isinstance(key, str) else str(shown_value(key))
    return text if _encodable(text) else ascii(text)


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie") and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts) or "body"


#: Settings a catalog names: sent at the top of a body, they belong under ``params``.
MODEL_SETTINGS = frozenset(
    [
        "duration",
        "resolution",
        "aspect_ratio",
        "audio",
        "preview",
        "prompt_enhancer",
        "end_frame",
        "references",
        "input_images",
        "mode",
        "route",
    ]
)
_WHERE = {"header": "the header", "query": "the query parameter", "path": "the path segment"}


def _problem(e: Any) -> tuple[dict[str, Any], str]:
    """One validation error as ``{field, value, allowed}`` and the line that says it."""
    loc = tuple(e.get("loc", ()))
    field = _field_name(loc)
    value = shown_value(e.get("input"))
    allowed = str(e.get("msg", "")).removeprefix("Value error, ")
    kind = e.get("type")
    if kind == "json_invalid":
        field, value = "body", None
        allowed = f"a JSON document ({e.get('ctx', {}).get('error', 'decode error')})"
    elif kind == "missing":  # the input is what holds the field: not worth echoing
        value = None
        if loc and loc[0] == "header":
            allowed = f"required: send the header {field}: <value>"
        elif loc and loc[0] in _WHERE:
            allowed = f"required: send {_WHERE[loc[0]]} {field}"
        else:
            allowed = f"required: send {field} in the JSON body"
        return {"field": field, "value": value, "allowed": allowed}, f"{field}: {allowed}"
    elif kind == "extra_forbidden":
        allowed = "not a field of this request (see its schema in /openapi.json)"
        if len(loc) == 2 and loc[0] == "body" and loc[1] in MODEL_SETTINGS:
            allowed = f'a model setting goes under params: {{"params": {{"{loc[1]}": ...}}}}'
        return {"field": field, "value": value, "allowed": allowed}, f"{field}: {allowed}"
    problem = {"field": field, "value": value, "allowed": allowed}
    return problem, f"{field}: {value!r} is not allowed; {allowed}"


def _invalid_request(exc: RequestValidationError) -> InvalidRequest:
    said = [_problem(e) for e in exc.errors()]
    problems = [problem for problem, _ in said]
    first = problems[0] if problems else {"field": "body", "value": None, "allowed": "valid JSON"}
    message = said[0][1] if said else "body: None is not allowed; valid JSON"
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more problem(s))"
    return InvalidRequest(message, details={**first, "problems": problems})


async def _handle(request: Request, exc: Exception) -> Response:
    return response_for(exc, method=request.method, path=request.url.path)


def install_error_handlers(app: FastAPI) -> None:
    """Every exception a route can raise is answered by :func:`response_for`."""
    for kind in _HANDLED:
        app.add_exception_handler(kind, _handle)


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
        given = request.query_params.getlist(name)
        if len(given) > 1:  # every parameter is one value: which one was meant is a guess
            raise InvalidRequest.for_field(
                name, " and ".join(given), "one value (the parameter once)"
            )
