"""Catalog routes: catalogs, models (with base cost and what each accepts), quotes,
comparisons, capacity and project quotes.  Pure pricing, no database: ``async`` routes.
Answers holding quotes are built straight from ``Quote.to_dict()`` (the schema is
documented through ``response_model``; returning a ready response skips a second
validation pass); ``tests/api/test_documented_answers.py`` checks they agree."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.requests import ClientDisconnect
from starlette.types import Receive

from gencredits.api.auth import SCOPE_EXTRA, PriceKey, authorize
from gencredits.api.body import StrictBodyRoute, parse_body
from gencredits.api.errors import error_responses
from gencredits.api.schemas import (
    CapacityCreate,
    CapacityPublic,
    CatalogList,
    CatalogPublic,
    CompareCreate,
    ComparisonPublic,
    ModeDetail,
    ModelDetail,
    ModelList,
    ModelPublic,
    ProjectCreate,
    ProjectQuotePublic,
    QuoteCreate,
    QuotePublic,
)
from gencredits.api.state import Services, ServicesDep
from gencredits.billing.plan_views import PlanCatalogView
from gencredits.errors import UnknownParameter
from gencredits.limits import ID_LEN_MAX
from gencredits.pricing import (
    Catalog,
    CatalogSet,
    CompiledModel,
    ProjectStep,
    compare,
    project_quote,
    quote,
)
from gencredits.pricing.catalog import describe_accepts
from gencredits.pricing.quote import capacity

router = APIRouter(prefix="/v1", tags=["catalog"], route_class=StrictBodyRoute)
#: The hot route, on its own router so the app can match it first.
quote_router = APIRouter(prefix="/v1", tags=["catalog"])
QUOTE_PATH = "/v1/quotes"

# 503: a key-cache miss needs the database, which may be unreachable; 429: a publishable
# key over its rate.
_AUTH = error_responses(401, 403, 429, 503)
_INPUT = error_responses(401, 403, 404, 422, 429, 503)


def _catalog_public(c: Catalog) -> CatalogPublic:
    return CatalogPublic(
        name=c.name,
        version=c.version,
        content_hash=c.hash,
        hash=c.hash,
        title=getattr(c.spec, "title", None),
        description=getattr(c.spec, "description", None),
        models=len(c.models),
    )


def _model_public(c: Catalog, m: CompiledModel) -> dict[str, Any]:
    mode = m.modes[m.default_mode]
    return {
        "catalog": c.name,
        "id": m.id,
        "name": m.name,
        "aliases": list(m.aliases),
        "modes": list(m.modes),
        "default_mode": m.default_mode,
        "routes": list(m.routes),
        "default_route": m.default_route,
        "base_credits": mode.base_credits[m.default_route],
        "accepts": describe_accepts(mode.accepts.spec),
    }


@router.get(
    "/catalogs",
    response_model=CatalogList,
    responses=_AUTH,
    openapi_extra=SCOPE_EXTRA["publishable"],
)
async def list_catalogs(services: ServicesDep, _key: PriceKey) -> CatalogList:
    """Every loaded catalog (bundled and operator-supplied) with its version and content hash."""
    return CatalogList(items=[_catalog_public(c) for c in services.catalogs.values()])


@router.get(
    "/plans",
    response_model=PlanCatalogView,
    responses=_AUTH,
    openapi_extra=SCOPE_EXTRA["publishable"],
)
async def list_plans(services: ServicesDep, _key: PriceKey) -> PlanCatalogView:
    """The plan catalog: subscription plans and credit packs, each with its effective price
    per credit (a decimal as text), its version and content hash."""
    return services.billing.plans()


@router.get(
    "/catalogs/{catalog}",
    response_model=CatalogPublic,
    responses=_INPUT,
    openapi_extra=SCOPE_EXTRA["publishable"],
)
async def get_catalog(catalog: str, services: ServicesDep, _key: PriceKey) -> CatalogPublic:
    return _catalog_public(services.catalogs[catalog])


@router.get(
    "/models", response_model=ModelList, responses=_INPUT, openapi_extra=SCOPE_EXTRA["publishable"]
)
async def list_models(
    services: ServicesDep,
    _key: PriceKey,
    catalog: str | None = Query(
        None, max_length=ID_LEN_MAX, description="Only this catalog's models."
    ),
) -> ModelList:
    """Models with their base cost (default mode and route, at the defaults) and what the
    default mode accepts."""
    chosen = [services.catalogs[catalog]] if catalog is not None else services.catalogs.values()
    return ModelList(items=[ModelPublic(**_model_public(c, m)) for c in chosen for m in c])


@router.get(
    "/models/{model:path}",
    response_model=ModelDetail,
    responses=_INPUT,
    openapi_extra=SCOPE_EXTRA["publishable"],
)
async def get_model(
    model: str,
    services: ServicesDep,
    _key: PriceKey,
    catalog: str | None = Query(None, max_length=ID_LEN_MAX),
) -> ModelDetail:
    """One model by id, name or alias (ids may contain ``/``): every mode with what it
    accepts and its base price per route."""
    c, m = services.catalogs.resolve(model, catalog)
    return ModelDetail(
        **_model_public(c, m),
        catalog_version=c.version,
        catalog_hash=c.hash,
        mode_details=[
            ModeDetail(
                mode=name,
                accepts=describe_accepts(mode.accepts.spec),
                base_credits=dict(mode.base_credits),
                generations_max=mode.accepts.generations_max,
            )
            for name, mode in m.modes.items()
        ],
    )


@router.post(
    "/compare",
    response_model=ComparisonPublic,
    responses=_INPUT,
    openapi_extra=SCOPE_EXTRA["publishable"],
)
async def create_comparison(
    body: CompareCreate, services: ServicesDep, _key: PriceKey
) -> JSONResponse:
    """Every model of a catalog that can serve these settings, cheapest first."""
    c = services.catalogs[body.catalog]
    result = compare(c, body.params, body.generations)
    return JSONResponse(
        {
            "catalog": c.name,
            "quotes": [q.to_dict() for q in result.quotes],
            "skipped": result.skipped,
        }
    )


@router.post(
    "/capacity",
    response_model=CapacityPublic,
    responses=_INPUT,
    openapi_extra=SCOPE_EXTRA["publishable"],
)
async def create_capacity(
    body: CapacityCreate, services: ServicesDep, _key: PriceKey
) -> JSONResponse:
    """How many such requests a balance buys (1,250 credits buy 178 of a 7-credit job)."""
    where = services.catalogs[body.catalog] if body.catalog is not None else services.catalogs
    q = quote(where, body.model, body.params, body.generations)
    count = capacity(body.balance, q)
    return JSONResponse(
        {
            "balance": body.balance,
            "capacity": count,
            "remainder": body.balance - count * q.total_credits,
            "quote": q.to_dict(),
        }
    )


@router.post(
    "/project-quotes",
    response_model=ProjectQuotePublic,
    responses=_INPUT,
    openapi_extra=SCOPE_EXTRA["publishable"],
)
async def create_project_quote(
    body: ProjectCreate, services: ServicesDep, _key: PriceKey
) -> JSONResponse:
    """A list of steps (scene images, clips, an upscale), itemised and totalled."""
    if body.catalog is not None:
        services.catalogs[body.catalog]  # an unknown project catalog is a 404 up front
    steps = [
        ProjectStep(
            model=s.model,
            params=s.settings,
            count=s.count,
            generations=s.generations,
            catalog=s.catalog if s.catalog is not None else body.catalog,
            label=s.label,
        )
        for s in body.steps
    ]
    return JSONResponse(project_quote(services.catalogs, steps).to_dict())


#: The quote body is read by hand (the fast path), so FastAPI does not see its model: the
#: document refers to it by name and ``create_app`` adds it to the components.
_QUOTE_BODY_SCHEMA = {"$ref": "#/components/schemas/QuoteCreate"}
#: Models the document names that no route parameter declares.
EXTRA_SCHEMAS: dict[str, dict[str, Any]] = {"QuoteCreate": QuoteCreate.model_json_schema()}


@quote_router.post(
    QUOTE_PATH.removeprefix(quote_router.prefix),
    response_model=QuotePublic,
    responses=_INPUT,
    openapi_extra={
        **SCOPE_EXTRA["publishable"],
        "security": [{"ApiKey": []}],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _QUOTE_BODY_SCHEMA}},
        },
    },
)
async def create_quote(request: Request) -> Response:
    """The exact price of a request: base, unit and total credits and the itemised lines,
    with the catalog version and hash it was priced on.  Nothing is recorded.

    The hot path (every Generate-button tooltip): the key is checked and the body parsed
    here rather than through FastAPI dependencies, which cost more than the pricing.  The
    answer is the same as anywhere else: 401/403 first, then 422 for a bad body."""
    # (Called for every quote by gencredits.api.fastpath, straight from ASGI: what is
    # documented above is what runs.  Hence the raw scope below rather than Request's
    # parsed headers, query and body, which cost a third of a quote.)
    await authorize(request, "publishable")
    if request.scope["query_string"] and request.query_params:
        name = next(iter(request.query_params))  # it takes none: "?x=1" is not ignored
        raise UnknownParameter.for_field(
            name, request.query_params[name], "this route takes these query parameters: none"
        )
    services: Services = request.app.state.services
    return JSONResponse(price_quote(services.catalogs, await _body(request.receive)))


async def _body(receive: Receive) -> bytes:
    """The request body (bounded by the BodyLimit middleware, which wraps every route)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def price_quote(catalogs: CatalogSet, body: bytes) -> dict[str, Any]:
    """Parse a quote request body (with the strict reader every route uses) and price it.
    Raises ``InvalidRequest`` for a body that is not strict JSON, ``RequestValidationError``
    for one the model refuses (answered as FastAPI answers one) and the library's errors
    for a request it refuses."""
    try:
        request = QuoteCreate.model_validate(parse_body(body))
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        ) from None
    where: CatalogSet | Catalog = catalogs
    if request.catalog is not None:
        where = catalogs[request.catalog]
    return quote(where, request.model, request.params, request.generations).to_dict()
