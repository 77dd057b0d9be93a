"""Price changes over HTTP: publish a catalog version (admin), list and read versions, and
the difference between two versions per model and setting.  Design: docs/catalog-versions.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from gencredits.api.auth import SCOPE_EXTRA, AdminKey, ReadKey
from gencredits.api.body import StrictBodyRoute
from gencredits.api.errors import error_responses
from gencredits.api.schemas import Instant
from gencredits.api.state import ServicesDep
from gencredits.billing.catalog_versions import VersionedCatalogs
from gencredits.errors import Unavailable
from gencredits.ledger.catalog_versions import CatalogVersionRecord
from gencredits.limits import BODY_BYTES_MAX, ID_LEN_MAX
from gencredits.pricing import CatalogSet
from gencredits.pricing.diff import diff_catalogs

router = APIRouter(prefix="/v1", tags=["catalog"], route_class=StrictBodyRoute)

CatalogName = Annotated[
    str, Path(min_length=1, max_length=ID_LEN_MAX, pattern=r"^[^\x00-\x1f\x7f]+$")
]
VersionText = Annotated[
    str, Path(min_length=1, max_length=ID_LEN_MAX, pattern=r"^[^\x00-\x1f\x7f]+$")
]


class CatalogVersionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    yaml: str = Field(
        min_length=1,
        max_length=BODY_BYTES_MAX,
        description="The catalog file; its `catalog:` must be the catalog of the path and its "
        "`version:` new for that catalog.",
    )
    effective_at: Instant | None = Field(
        None,
        description="When it takes effect: at least catalog_refresh_s from now (default: that "
        "soon, so every worker switches together).",
    )


class CatalogVersionPublic(BaseModel):
    catalog: str
    version: str
    content_hash: str
    effective_at: datetime
    published_at: datetime
    published_by: str = Field(description="The publishing key's id, `cli`, or `seed`.")
    active: bool = Field(description="Whether this version prices requests now.")
    created: bool = Field(
        False, description="On publishing: false when this version was already stored."
    )


class CatalogVersionDetail(CatalogVersionPublic):
    yaml: str = Field(description="The catalog file as published.")


class CatalogVersionList(BaseModel):
    catalog: str
    active_version: str
    items: list[CatalogVersionPublic]


class PriceChangePublic(BaseModel):
    model: str
    mode: str
    route: str
    settings: dict[str, Any]
    old_credits: int | None = Field(description="One generation before; null: not offered.")
    new_credits: int | None
    change_percent: str | None = Field(description="A decimal, to 0.1; null without both prices.")
    old_rate_per_second: str | None
    new_rate_per_second: str | None


class CatalogDiffPublic(BaseModel):
    catalog: str
    old_version: str
    new_version: str
    old_hash: str
    new_hash: str
    added_models: list[str]
    removed_models: list[str]
    rows: list[PriceChangePublic] = Field(description="The combinations whose price changed.")


def _versions(catalogs: CatalogSet) -> VersionedCatalogs:
    if not isinstance(catalogs, VersionedCatalogs):  # a service always has them
        raise Unavailable("catalog versions are not kept by this service")
    return catalogs


def _public(record: CatalogVersionRecord, active: str, **extra: Any) -> dict[str, Any]:
    return CatalogVersionPublic(
        catalog=record.catalog,
        version=record.version,
        content_hash=record.content_hash,
        effective_at=record.effective_at,
        published_at=record.published_at,
        published_by=record.published_by,
        active=record.content_hash == active,
        **extra,
    ).model_dump(mode="json")


def _active_hash(versions: VersionedCatalogs, catalog: str) -> str:
    active = versions.active(catalog)
    return "" if active is None else active.hash


@router.post(
    "/catalogs/{catalog}/versions",
    status_code=201,
    response_model=CatalogVersionPublic,
    responses=error_responses(401, 403, 409, 422, 503),
    openapi_extra=SCOPE_EXTRA["admin"],
)
async def publish_catalog_version(
    catalog: CatalogName, body: CatalogVersionCreate, services: ServicesDep, key: AdminKey
) -> JSONResponse:
    """Publish a new version of a catalog: validated first (every problem at once, with its
    path; nothing stored on error), effective at ``effective_at``.  Re-publishing the same
    version with the same content answers the stored one (``created`` false)."""
    versions = _versions(services.catalogs)

    def publish() -> tuple[CatalogVersionRecord, bool]:
        return versions.publish(
            body.yaml, at=body.effective_at, by=key.id, catalog=catalog, source=catalog
        )

    record, created = await run_in_threadpool(publish)
    answer = _public(record, _active_hash(versions, catalog), created=created)
    return JSONResponse(answer, status_code=201)


@router.get(
    "/catalogs/{catalog}/versions",
    response_model=CatalogVersionList,
    responses=error_responses(401, 403, 404, 422, 503),
    openapi_extra=SCOPE_EXTRA["read"],
)
async def list_catalog_versions(
    catalog: CatalogName, services: ServicesDep, _key: ReadKey
) -> JSONResponse:
    """Every published version of a catalog (old ones stay readable), oldest first, and
    which one prices requests now."""
    versions = _versions(services.catalogs)
    records = await run_in_threadpool(versions.versions, catalog)
    active = _active_hash(versions, catalog)
    current = next((r.version for r in records if r.content_hash == active), "")
    return JSONResponse(
        {
            "catalog": catalog,
            "active_version": current,
            "items": [_public(r, active) for r in records],
        }
    )


@router.get(
    "/catalogs/{catalog}/versions/{version}",
    response_model=CatalogVersionDetail,
    responses=error_responses(401, 403, 404, 422, 503),
    openapi_extra=SCOPE_EXTRA["read"],
)
async def get_catalog_version(
    catalog: CatalogName, version: VersionText, services: ServicesDep, _key: ReadKey
) -> JSONResponse:
    """One version (by its version text or content hash), with the file as published."""
    versions = _versions(services.catalogs)
    record = await run_in_threadpool(versions.version, catalog, version)
    active = _active_hash(versions, catalog)
    return JSONResponse({**_public(record, active), "yaml": record.text})


@router.get(
    "/catalogs/{catalog}/diff",
    response_model=CatalogDiffPublic,
    responses=error_responses(401, 403, 404, 422, 503),
    openapi_extra=SCOPE_EXTRA["read"],
)
async def diff_catalog_versions(
    catalog: CatalogName,
    services: ServicesDep,
    _key: ReadKey,
    old: str | None = Query(
        None, max_length=ID_LEN_MAX, description="A version or hash (default: the active one)."
    ),
    new: str | None = Query(
        None,
        max_length=ID_LEN_MAX,
        description="A version or hash (default: the one published last).",
    ),
) -> JSONResponse:
    """What changes from one version to another: per model, mode, route and setting
    combination, the old and new price of one generation and the change in percent."""
    versions = _versions(services.catalogs)

    def diff() -> dict[str, Any]:
        records = versions.versions(catalog)
        before = versions.version(catalog, old) if old else versions.active_record(catalog)
        after = versions.version(catalog, new) if new else records[-1]
        return diff_catalogs(versions.compiled(before), versions.compiled(after)).to_dict()

    return JSONResponse(await run_in_threadpool(diff))
