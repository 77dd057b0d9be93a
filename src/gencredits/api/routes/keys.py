"""API keys over HTTP (admin scope): the same store as ``gencredits keys``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from gencredits.api.auth import SCOPE_EXTRA, AdminKey
from gencredits.api.body import StrictBodyRoute
from gencredits.api.errors import error_responses
from gencredits.api.schemas import KeyCreate, KeyCreated, KeyList, KeyPublic
from gencredits.api.state import ServicesDep

router = APIRouter(prefix="/v1", tags=["admin"], route_class=StrictBodyRoute)


@router.post(
    "/keys",
    status_code=201,
    response_model=KeyCreated,
    responses=error_responses(401, 403, 503),
    openapi_extra=SCOPE_EXTRA["admin"],
)
async def create_key(body: KeyCreate, services: ServicesDep, _key: AdminKey) -> JSONResponse:
    """A new key; the answer carries the key itself, this once."""
    record, secret = await run_in_threadpool(services.keys.create, body.name, body.scopes)
    return JSONResponse({**record.to_dict(), "key": secret}, status_code=201)


@router.get(
    "/keys",
    response_model=KeyList,
    responses=error_responses(401, 403, 503),
    openapi_extra=SCOPE_EXTRA["admin"],
)
async def list_keys(
    services: ServicesDep, _key: AdminKey, include_revoked: bool = False
) -> JSONResponse:
    """Keys with id, name, prefix and scopes; never the key itself."""
    keys = await run_in_threadpool(services.keys.list, include_revoked=include_revoked)
    return JSONResponse({"items": [k.to_dict() for k in keys]})


@router.post(
    "/keys/{key_id}/revoke",
    response_model=KeyPublic,
    responses=error_responses(401, 403, 404, 503),
    openapi_extra=SCOPE_EXTRA["admin"],
)
async def revoke_key(
    key_id: Annotated[str, Path(max_length=32, pattern=r"^[^\x00-\x1f\x7f]+$")],
    services: ServicesDep,
    _key: AdminKey,
) -> JSONResponse:
    """Revoke a key.  This worker forgets it at once; the others within
    ``api_key_cache_ttl_s``.  Revoking a revoked key answers it unchanged."""
    record = await run_in_threadpool(services.keys.revoke, key_id)
    services.authenticator.forget()
    return JSONResponse(record.to_dict())
