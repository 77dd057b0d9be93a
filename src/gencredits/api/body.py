"""The one reader of JSON request bodies, stricter than ``json.loads``.

Every route with a body and the quote fast path read it here first, so the same document
means the same thing everywhere and nothing the standard parser would let through reaches
a model, a log line or an error message:

- ``NaN``, ``Infinity``, ``-Infinity`` and numbers beyond a float's range (``1e400``) are
  not JSON numbers (RFC 8259): refused, naming the field;
- a key given twice in one object is refused, naming the key: a signed or logged body
  must not mean two things (``json.loads`` keeps the last one silently);
- a lone surrogate (``"\\ud800"``) in a string or a key is not text (it cannot even be
  encoded as UTF-8): refused, naming the field;
- bytes that are not UTF-8, a document nested deeper than the parser reads (about a
  thousand levels), an integer of more digits than Python converts: refused, on ``body``.

Most bodies are read by orjson (in C), which refuses ``NaN``, ``Infinity``, bytes that
are not UTF-8 and lone surrogates itself; the two things it lets through are checked
around it: a number it would make a float (a fraction, an exponent, an integer beyond 64
bits) sends the body to the exact reader below before orjson sees it, and a duplicated key
shows as fewer keys read than the text has (``"`` then ``:``).  Anything orjson refuses,
and anything unusual, is read again by the exact reader, so every refusal is said as it
always was.

Each refusal is a ``422 invalid_request`` with ``details.field``, ``value`` (shown
safely) and ``allowed``.  A document this reader accepts is read by ``json.loads`` to the
same value (its numbers with a fraction exactly, as ``Decimal``; this reader never makes a
float), so FastAPI's own parsing after it sees exactly what was checked.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Coroutine, Iterator
from decimal import Decimal
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import Scope

from gencredits.api.errors import shown_value
from gencredits.errors import InvalidRequest

__all__ = ["StrictBodyRoute", "is_json_media_type", "parse_body"]

_DOCUMENT = "a UTF-8 JSON document"
_NUMBER = "a finite JSON number (JSON has no NaN or Infinity; at most about 1.8e308)"
_TEXT = "text (a lone UTF-16 surrogate such as \\ud800 is not a character)"


#: The largest finite float: a JSON number beyond it would be read as infinity.
_FLOAT_MAX = Decimal(sys.float_info.max)


class _NonFinite:
    """A number the parser read that is not a finite float, kept to be named with its path."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _Duplicated(dict[str, Any]):
    """An object in which ``duplicate`` was given more than once."""

    duplicate: str = ""


class _Reader:
    """One document's hooks for ``json.loads``; ``suspect`` says whether anything the
    walk must name was seen (most bodies are never walked)."""

    __slots__ = ("suspect",)

    def __init__(self) -> None:
        self.suspect = False

    def constant(self, text: str) -> _NonFinite:
        self.suspect = True
        return _NonFinite(text)

    def number(self, text: str) -> Decimal | _NonFinite:
        """A JSON number with a fraction or exponent, read exactly (never as a float: this
        reader only checks, and credits are never floats).  Beyond a float's range it is
        refused, since the standard parser that reads the body next would make it infinite."""
        value = Decimal(text)
        if abs(value) <= _FLOAT_MAX:
            return value
        self.suspect = True
        return _NonFinite(text)

    def object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj
        self.suspect = True
        seen: set[str] = set()
        duplicated = _Duplicated(obj)
        for key, _ in pairs:
            if key in seen:
                duplicated.duplicate = key
                break
            seen.add(key)
        return duplicated


#: The text as the fast path looks at it: JSON white space gone (inside strings too, which
#: can only add matches below, never hide one) and every digit a ``0``.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_WHITE = b" \t\r\n"
#: A number orjson would read as a float: a fraction, an exponent, or 19 digits and more
#: (past 64 bits it makes a float of an integer).  Such a body is read exactly instead.
_FLOAT_SIGNS = (b"0.", b"0e", b"0E", b"0" * 19)
#: Brackets beyond this many go to the exact reader, which says how deep it reads.
_FAST_NESTING_MAX = 200

#: A lone surrogate can only arrive as an escape (its UTF-8 bytes are not UTF-8).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class StrictBodyRoute(APIRoute):
    """A route whose JSON body is first read by :func:`parse_body`: what it refuses is
    answered by the app's error handlers before FastAPI parses and validates the body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def strict_handler(request: Request) -> Response:
            body = await request.body()  # kept by the request: FastAPI reads it again
            declared = _content_type(request.scope)
            if body and is_json_media_type(declared):
                parse_body(body)
            elif body:
                _read_as_json(request.scope, body, declared)
            return await handler(request)

        return strict_handler


def _content_type(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bytes(value).decode("latin-1")
    return None


def _read_as_json(scope: Scope, body: bytes, declared: str | None) -> None:
    """A body sent with another ``Content-Type`` (``curl -d`` says a form) is read as JSON,
    as the quote route reads it: the scope is told so before FastAPI looks.  A body that is
    not JSON either is refused in one line that says what to send."""
    try:
        parse_body(body)
    except InvalidRequest as exc:
        if exc.details.get("field") != "body":
            raise  # JSON, with a refused value: that refusal names the field
        allowed = "a JSON document, sent with Content-Type: application/json"
        raise InvalidRequest(
            f"body: this route takes JSON, not {declared}; send {allowed}",
            details={"field": "body", "value": declared, "allowed": allowed},
        ) from None
    others = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
    scope["headers"] = [*others, (b"content-type", b"application/json")]


def is_json_media_type(content_type: str | None) -> bool:
    """Whether FastAPI reads a body of this ``Content-Type`` as JSON (absent: yes)."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    kind, _, sub = media.partition("/")
    return kind == "application" and (sub == "json" or sub.endswith("+json"))


def parse_body(body: bytes) -> Any:
    """The JSON document ``body``, or :class:`InvalidRequest` naming what is refused."""
    squeezed = body.translate(_DIGITS_AS_ZERO, _WHITE)
    if (
        not any(sign in squeezed for sign in _FLOAT_SIGNS)
        and squeezed.count(b"[") + squeezed.count(b"{") <= _FAST_NESTING_MAX
    ):
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # read again below, to say exactly what is refused
        else:
            # Every key ends with ``":`` in the squeezed text, and outside strings nothing
            # else does (inside one only an escaped quote can): as many keys read as ends
            # counted means no key was given twice.
            if _key_count(document) == squeezed.count(b'":'):
                return document
    return _parse_exactly(body)


def _key_count(document: Any) -> int:
    """How many keys the objects of ``document`` hold, all levels."""
    count, stack = 0, [document]
    while stack:
        value = stack.pop()
        if type(value) is dict:
            count += len(value)
            stack.extend(value.values())
        elif type(value) is list:
            stack.extend(value)
    return count


def _parse_exactly(body: bytes) -> Any:
    """The standard parser with hooks: every number with a fraction as a ``Decimal``, every
    object's keys as given; then the document is walked if anything needs naming."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refused("body", None, f"{_DOCUMENT} (byte {exc.start} is not UTF-8)") from None
    reader = _Reader()
    try:
        document = json.loads(
            text,
            parse_constant=reader.constant,
            parse_float=reader.number,
            object_pairs_hook=reader.object,
        )
    except json.JSONDecodeError as exc:
        raise _refused("body", None, f"{_DOCUMENT} ({exc.msg} at {exc.pos})") from None
    except RecursionError:
        raise _refused("body", None, f"{_DOCUMENT} nested less deeply") from None
    except ValueError:  # int(): more digits than Python converts (sys.get_int_max_str_digits)
        raise _refused(
            "body", None, f"{_DOCUMENT} whose integers have at most 4300 digits"
        ) from None
    if reader.suspect or _SURROGATE_ESCAPE.search(text) is not None:
        _check(document)
    return document


def _check(document: Any) -> None:
    for path, value in _walk(document):
        if isinstance(value, _NonFinite):
            raise _refused(path or "body", value.text, _NUMBER)
        if isinstance(value, str) and not _encodable(value):
            raise _refused(path or "body", value, _TEXT)
        if isinstance(value, _Duplicated):
            raise _refused(
                _join(path, value.duplicate),
                value.duplicate,
                "each key at most once in an object (a body must mean one thing)",
                what="is a duplicate key",
            )


def _walk(document: Any) -> Iterator[tuple[str, Any]]:
    """Every value of ``document`` and every key (as a value at its own path), depth first,
    with its dotted path (``steps.0.settings.duration``)."""
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key in value:
                if not _encodable(key):
                    raise _refused(_join(path, "[key]"), key, _TEXT)
        yield path, value
        if isinstance(value, dict):
            stack.extend((_join(path, key), item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((_join(path, str(i)), item) for i, item in enumerate(value))


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _refused(
    field: str, value: object, allowed: str, *, what: str = "is not allowed"
) -> InvalidRequest:
    shown = shown_value(value)
    said = "cannot be read" if value is None else f"{shown_value(repr(value))} {what}"
    return InvalidRequest(
        f"{field}: {said}; {allowed}",
        details={"field": field, "value": shown, "allowed": allowed},
    )
