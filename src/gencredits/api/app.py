"""The application factory: ``create_app(settings) -> FastAPI``.

``gencredits serve`` runs :func:`create_app_from_env` under uvicorn (one app per worker
process); tests and embedders call :func:`create_app` with explicit settings.  The app
never migrates the database itself: ``serve`` does that once, before the workers start,
and ``/readyz`` says whether the schema is current.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from gencredits import __version__
from gencredits.api.auth import Authenticator
from gencredits.api.errors import install_error_handlers, reject_unknown_query
from gencredits.api.fastpath import QuoteFastPath
from gencredits.api.keys import KeyStore
from gencredits.api.limits import BodyLimit
from gencredits.api.metrics import Metrics, MetricsMiddleware
from gencredits.api.ratelimit import KeyRateLimiter
from gencredits.api.routes import alerts, billing, catalog, catalog_versions, health, teams
from gencredits.api.routes import keys as keys_routes
from gencredits.api.routes import payments as payments_routes
from gencredits.api.routes import plans as plans_routes
from gencredits.api.routes import reports as reports_routes
from gencredits.api.state import Services
from gencredits.api.waits import DeadlineMiddleware
from gencredits.billing import Billing
from gencredits.billing.catalog_versions import VersionedCatalogs
from gencredits.clock import SystemClock
from gencredits.config import Settings, load_settings
from gencredits.pricing import CatalogSet
from gencredits.storage.sql import engine as db
from gencredits.storage.sql.batch import GroupCommitStore
from gencredits.storage.sql.catalog_versions import SqlCatalogVersions
from gencredits.storage.sql.counters import read_gauges
from gencredits.storage.sql.store import SqlStore
from gencredits.web import install_web

__all__ = ["create_app", "create_app_from_env"]

log = logging.getLogger("gencredits.api")

DESCRIPTION = """\
Credits for generative-AI media platforms: exact per-model quotes, wallets made of grants,
holds at submission, capture on success, automatic refunds on failure.

Every route except `/healthz` and `/readyz` needs `Authorization: Bearer <api key>`
(scopes: `read` < `billing` < `admin`).  Every error is
`{"error": {"code", "message", "details"}}` with a stable code.  A query parameter a route
does not take is a 422 `unknown_parameter`, not ignored.
"""


def build_services(settings: Settings) -> Services:
    """The service's parts, made once per process: catalogs, engine, keys, billing."""
    catalogs = CatalogSet.bundled()
    if settings.catalog_files:
        catalogs = catalogs.with_files(list(settings.catalog_files))
    engine = db.make_engine(
        settings.database_url, wait_s=settings.db_timeout_s / 2, pooled=settings.database_pooled
    )
    keys = KeyStore(engine)
    catalogs = VersionedCatalogs(  # the versions active now, from the database
        catalogs,
        SqlCatalogVersions(engine),
        SystemClock(),
        refresh_s=settings.catalog_refresh_s,
        quote_validity_s=settings.quote_validity_s,
        quote_policy=settings.quote_policy,
    )
    return Services(
        settings=settings,
        catalogs=catalogs,
        engine=engine,
        keys=keys,
        authenticator=Authenticator(
            keys,
            settings.api_key_cache_ttl_s,
            KeyRateLimiter(settings.publishable_rate_per_min, settings.api_rate_per_min),
        ),
        billing=Billing(
            GroupCommitStore(
                SqlStore(engine),
                deadline_s=settings.db_timeout_s,
                shard_count=settings.shard_count,
            )
            if settings.group_commit
            else SqlStore(engine),
            catalogs,
            default_hold_ttl_s=settings.hold_ttl_s_default,
            max_hold_ttl_s=settings.hold_ttl_s_max,  # the operator's ceiling, enforced there
            extra_charge_share=settings.extra_charge_share,
            idempotency_retention_days=settings.idempotency_retention_days,
            outbox_retention_days=settings.outbox_retention_days,
        ),
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    services = build_services(settings)
    engine = services.engine

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = background_tasks(services, settings)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if services.webhooks is not None:
                services.webhooks.close()
            services.billing.close()  # answers queued writes, stops the writer, disposes
            engine.dispose()

    # /docs and /redoc with Swagger UI and ReDoc served by the app itself (no CDN: the
    # service's machines may have no internet); the validator badge would call out.
    app = FastAPIOffline(
        static_url=DOCS_ASSETS,
        swagger_ui_parameters={"validatorUrl": None},
        title="gencredits",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    app.state.services = services
    app.state.authenticator = services.authenticator
    app.state.metrics = metrics = Metrics()
    metrics.gauge_source = partial(ledger_gauges, engine)
    _name_extra_schemas(app)
    install_web(app, json_index=index)  # / (the estimator for browsers), widget, wallet pages
    install_error_handlers(app)
    app.include_router(catalog.quote_router)  # first: the hot route matches on the first try
    strict_query = [Depends(reject_unknown_query)]  # the quote route checks inline
    app.include_router(health.router, dependencies=strict_query)
    app.include_router(catalog.router, dependencies=strict_query)
    app.include_router(catalog_versions.router, dependencies=strict_query)
    app.include_router(billing.router, dependencies=strict_query)
    app.include_router(teams.router, dependencies=strict_query)
    app.include_router(alerts.router, dependencies=strict_query)
    app.include_router(keys_routes.router, dependencies=strict_query)
    app.include_router(plans_routes.router, dependencies=strict_query)
    app.include_router(payments_routes.router, dependencies=strict_query)
    app.include_router(reports_routes.router, dependencies=strict_query)
    # Outermost last: metrics wrap the body limit, which wraps the quote fast path, which
    # wraps the FastAPI app.
    app.add_middleware(QuoteFastPath)
    app.add_middleware(BodyLimit)
    app.add_middleware(DeadlineMiddleware, seconds=settings.db_timeout_s)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    allow_origins(app, settings.cors_origins)  # outermost: preflights answered first
    return app


def allow_origins(app: FastAPI, origins: list[str]) -> None:
    """Let pages of these origins call the API from a browser (the cost widget on a
    platform's site); none by default, so no other site's script can read an answer."""
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )


#: operationIds that are not simply the route function's name in camelCase.
OPERATION_IDS = {
    "healthz": "getHealth",
    "readyz": "getReadiness",
    "metrics": "getMetrics",
    "wallet_history": "getWalletHistory",
    "create_comparison": "compareModels",
    "create_capacity": "getCapacity",
    "sweep": "runSweep",
    "audit": "runAudit",
    "provider_callback": "reportProviderOutcome",
    "deliver": "runDelivery",
}


def operation_id(route: APIRoute) -> str:
    """The route's short, stable ``operationId`` (``createQuote``, ``getWallet``,
    ``submitJob``): what a generated client names its function."""
    if route.name in OPERATION_IDS:
        return OPERATION_IDS[route.name]
    head, *rest = route.name.split("_")
    return head + "".join(word.capitalize() for word in rest)


#: Where the documentation pages' scripts, stylesheet and icon are served from.
DOCS_ASSETS = "/docs-assets"

#: What ``/`` points to for a client that does not ask for HTML: no key needed for any of it.
INDEX = {
    "docs": "/docs",
    "redoc": "/redoc",
    "openapi": "/openapi.json",
    "health": "/healthz",
    "readiness": "/readyz",
    "estimator": "/",
    "widget": "/widget.js",
    "staff": "/staff",
}


async def index(request: Request) -> JSONResponse:
    """``/`` (unless a browser asks for the estimator page): where the documentation and
    the probes are, instead of a 404."""
    return JSONResponse({"service": "gencredits", "version": __version__, **INDEX})


def _name_extra_schemas(app: FastAPI) -> None:
    """Add the schemas that routes refer to by name but FastAPI does not collect (the quote
    body, read by the fast path) to the document's components, and type a job's quote."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            schemas = document["components"]["schemas"]
            schemas.update(catalog.EXTRA_SCHEMAS)
            schemas.update(payments_routes.EXTRA_SCHEMAS)
            # A job's quote is the quote's schema (the library types it as a plain dict).
            schemas["JobView"]["properties"]["quote"] = {
                "anyOf": [{"$ref": "#/components/schemas/QuotePublic"}, {"type": "null"}],
                "description": "The quote the job was priced on (null for free jobs).",
            }
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


async def sweep_forever(services: Services, interval_s: int) -> None:
    """Sweep expired holds and grants every ``interval_s`` (jittered so that several
    workers or processes spread out).  Each worker sweeps; that is safe because the
    billing sweep handles every item under its wallet's lock and re-checks its state, so
    an item is released by exactly one sweeper whoever runs at the same time."""
    await asyncio.sleep(random.uniform(0, interval_s))
    while True:
        try:
            await run_in_threadpool(services.billing.sweep)
        except Exception:  # the database may be briefly down; try again next round
            log.exception("sweep failed; retrying in %s s", interval_s)
        await asyncio.sleep(interval_s * random.uniform(0.9, 1.1))


def ledger_gauges(engine: Engine) -> dict[str, tuple[str, int]]:
    """Gauges read at scrape time from the ledger's counters (kept in its own transactions,
    a few dozen rows whatever its size: storage/sql/counters.py), the same on every worker."""
    with db.read_transaction(engine) as conn:
        values = read_gauges(conn)
    return {name: (GAUGE_HELP[name], values[name]) for name in GAUGE_HELP}


GAUGE_HELP = {
    "holds_open": "Pending jobs holding credits.",
    "credits_held": "Credits held by pending jobs.",
    "credits_captured": "Credits charged for jobs, all time.",
    "credits_refunded": "Credits released by failed, cancelled or timed-out jobs.",
}


def background_tasks(services: Services, settings: Settings) -> list[asyncio.Task[None]]:
    """The sweeper and the webhook deliverer, each unless its interval is 0."""
    tasks = []
    if settings.sweep_interval_s > 0:
        tasks.append(asyncio.create_task(sweep_forever(services, settings.sweep_interval_s)))
    if settings.webhook_interval_s > 0:
        tasks.append(asyncio.create_task(deliver_forever(services, settings.webhook_interval_s)))
    if settings.relay_nats_url:
        tasks.append(asyncio.create_task(relay_task(services, settings)))
    return tasks


def relay_task(services: Services, settings: Settings) -> Coroutine[Any, Any, None]:
    """The outbox relay to NATS JetStream (``serve --relay``): safe in every worker at once
    (one cursor, moved by compare-and-set; the stream drops repeats by message id)."""
    from gencredits.relay.jetstream import JetStreamTarget
    from gencredits.relay.loop import Relay, relay_forever

    assert settings.relay_nats_url is not None
    target = JetStreamTarget(
        settings.relay_nats_url, stream=settings.relay_stream, subject=settings.relay_subject
    )
    return relay_forever(Relay(services.billing.store, target))


async def deliver_forever(services: Services, interval_s: int) -> None:
    """Deliver outbound webhooks every ``interval_s``: safe in every worker at once (the
    cursor and each delivery are claimed by compare-and-set, see docs/webhooks.md)."""
    while True:
        try:
            await run_in_threadpool(services.deliverer().run_once)
        except Exception:  # never let one bad run stop delivery
            log.exception("webhook delivery failed; retrying in %s s", interval_s)
        await asyncio.sleep(interval_s * random.uniform(0.9, 1.1))


def create_app_from_env() -> FastAPI:
    """The uvicorn factory: settings from ``GENCREDITS_*`` and ``GENCREDITS_CONFIG``."""
    return create_app(load_settings())
