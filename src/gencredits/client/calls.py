"""What a client call is: one request to make and how its answer is read, and the helpers
the endpoint modules (:mod:`.endpoints`, :mod:`.account_endpoints`) describe calls with."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Literal, TypeVar

__all__ = ["Call", "Query", "get", "instant", "post", "present", "segment"]

R = TypeVar("R")
#: A query string's values; ``None`` leaves the parameter out.
Query = Mapping[str, str | int | bool | None]


@dataclass(frozen=True, slots=True)
class Call(Generic[R]):
    """One request to make, and how its (successful) JSON answer is read."""

    method: Literal["GET", "POST"]
    path: str
    answer: Callable[[object], R]
    body: object = None
    query: Query = field(default_factory=dict)
    idempotency_key: str | None = None


def segment(value: str) -> str:
    """A path segment, quoted (model ids contain "/", which the routes accept as is)."""
    return urllib.parse.quote(value, safe="/")


def get(path: str, answer: Callable[[object], R], **query: str | int | bool | None) -> Call[R]:
    return Call("GET", path, answer, query=query)


def post(
    path: str, answer: Callable[[object], R], body: object = None, key: str | None = None
) -> Call[R]:
    return Call("POST", path, answer, body=body, idempotency_key=key)


def present(**fields: object) -> dict[str, object]:
    """The fields that are set: an unset optional is left to the service's default."""
    return {k: v for k, v in fields.items() if v is not None}


def instant(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()
