"""What the routes share, declared once: ids in paths, the ``Idempotency-Key`` header, the
error answers of a read and of a write, the decorators that declare a route with its tag,
answer type and ``x-scope``, and the dependencies that give a POST on one thing (a wallet,
a subscription, a purchase) its id, the billing service, its key and its idempotency key.

No ``from __future__ import annotations`` here: the dependencies are made by functions, and
FastAPI reads their parameters' annotations (which name the path parameter) at run time.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Header, Path, Query
from pydantic import BaseModel

from gencredits.api.auth import SCOPE_EXTRA, BillingKey
from gencredits.api.body import StrictBodyRoute
from gencredits.api.errors import error_responses
from gencredits.api.keys import ApiKey
from gencredits.api.state import ServicesDep
from gencredits.billing import Billing
from gencredits.limits import CURSOR_LEN_MAX, ID_LEN_MAX, JOB_ID_LEN_MAX, KEY_LEN_MAX, PAGE_MAX

__all__ = [
    "PRINTABLE",
    "READ",
    "WRITE",
    "Change",
    "Cursor",
    "IdempotencyHeader",
    "JobId",
    "Limit",
    "OptionalIdempotencyHeader",
    "Routes",
    "WalletId",
    "Write",
    "change_of",
    "path_id",
    "write_of",
]

IdempotencyHeader = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=KEY_LEN_MAX,
        description="The caller's key for this operation; send the same one on every retry.",
    ),
]
OptionalIdempotencyHeader = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=KEY_LEN_MAX)
]
#: Ids in paths: printable, bounded (PostgreSQL cannot even compare a text with a NUL in it).
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"


def path_id(max_length: int, name: str | None = None) -> Any:
    """The ``Path`` of an id in a path (``name``: its name there, when the parameter has
    another)."""
    return Path(alias=name, max_length=max_length, pattern=PRINTABLE)


WalletId = Annotated[str, path_id(ID_LEN_MAX)]
#: The id of a job, a grant or a subscription (longer: the service makes them).
JobId = Annotated[str, path_id(JOB_ID_LEN_MAX)]
Cursor = Annotated[
    str | None, Query(max_length=CURSOR_LEN_MAX, description="next_cursor of the last page")
]
Limit = Annotated[int, Query(ge=1, le=PAGE_MAX)]

# 503: the database (or, on a key-cache miss, the key lookup) is unreachable.
READ = error_responses(401, 403, 404, 422, 503)
WRITE = error_responses(401, 403, 404, 409, 422, 503)

_F = TypeVar("_F", bound=Callable[..., Any])


class Routes:
    """A router of ``/v1`` routes (bodies checked strictly) and the declarations of its
    routes: each with its tag, answer type, error answers and the scope of key it needs
    (``x-scope``)."""

    def __init__(self) -> None:
        self.router = APIRouter(prefix="/v1", route_class=StrictBodyRoute)

    def reads(
        self, path: str, tag: str, model: type[BaseModel], *, scope: str = "read"
    ) -> Callable[[_F], _F]:
        """A GET route (for a ``read`` key unless ``scope`` says otherwise)."""
        return self.router.get(
            path,
            tags=[tag],
            response_model=model,
            responses=READ,
            openapi_extra=SCOPE_EXTRA[scope],
        )

    def writes(
        self,
        path: str,
        tag: str,
        model: type[BaseModel],
        *,
        created: bool = False,
        scope: str = "billing",
        responses: dict[int | str, dict[str, Any]] = WRITE,
    ) -> Callable[[_F], _F]:
        """A POST route (for a ``billing`` key unless ``scope`` says otherwise): 201 when
        it ``created`` something, else 200."""
        return self.router.post(
            path,
            tags=[tag],
            status_code=201 if created else 200,
            response_model=model,
            responses=responses,
            openapi_extra=SCOPE_EXTRA[scope],
        )


@dataclass(frozen=True)
class Write:
    """What a POST that moves credits on one thing takes besides its body: the thing's id
    (in the path), the billing service, a ``billing`` key, and the required
    ``Idempotency-Key``."""

    id: str
    billing: Billing
    key: ApiKey
    idempotency_key: str


@dataclass(frozen=True)
class Change:
    """As :class:`Write`, for a change of settings, whose ``Idempotency-Key`` is optional
    (a setting is its own natural key)."""

    id: str
    billing: Billing
    key: ApiKey
    idempotency_key: str | None


def write_of(name: str, max_length: int) -> Callable[..., Awaitable[Write]]:
    """The dependency of a :class:`Write` on the thing whose id is the path's ``name``.
    Checked in the order FastAPI checks a route's own parameters (key, path, header)."""

    async def write(
        thing_id: Annotated[str, path_id(max_length, name)],
        services: ServicesDep,
        key: BillingKey,
        idempotency_key: IdempotencyHeader,
    ) -> Write:
        return Write(thing_id, services.billing, key, idempotency_key)

    return write


def change_of(name: str, max_length: int) -> Callable[..., Awaitable[Change]]:
    """The dependency of a :class:`Change` on the thing whose id is the path's ``name``."""

    async def change(
        thing_id: Annotated[str, path_id(max_length, name)],
        services: ServicesDep,
        key: BillingKey,
        idempotency_key: OptionalIdempotencyHeader = None,
    ) -> Change:
        return Change(thing_id, services.billing, key, idempotency_key)

    return change
