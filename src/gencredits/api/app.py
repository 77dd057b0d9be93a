"""The application factory: ``create_app(settings) -> FastAPI``.

``gencredits serve`` runs :func:`create_app_from_env` under uvicorn (one app per worker
process); tests and embedders call :func:`create_app` with explicit settings.  The app
never migrates the database itself: ``serve`` does that once, before the workers start,
and ``/readyz`` says whether the schema is current.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gencredits import __version__, db
from gencredits.api.auth import Authenticator
from gencredits.api.errors import install_error_handlers
from gencredits.api.keys import KeyStore
from gencredits.api.metrics import Metrics, MetricsMiddleware
from gencredits.api.routes import catalog, health
from gencredits.api.state import Services
from gencredits.config import Settings, load_settings
from gencredits.pricing import CatalogSet

__all__ = ["create_app", "create_app_from_env"]

DESCRIPTION = """\
Credits for generative-AI media platforms: exact per-model quotes, wallets made of grants,
holds at submission, capture on success, automatic refunds on failure.

Every route except `/healthz` and `/readyz` needs `Authorization: Bearer <api key>`
(scopes: `read` < `billing` < `admin`).  Every error is
`{"error": {"code", "message", "details"}}` with a stable code.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    catalogs = CatalogSet.bundled()
    if settings.catalog_files:
        catalogs = catalogs.with_files(list(settings.catalog_files))
    engine = db.make_engine(settings.database_url)
    keys = KeyStore(engine)
    services = Services(
        settings=settings,
        catalogs=catalogs,
        engine=engine,
        keys=keys,
        authenticator=Authenticator(keys, settings.api_key_cache_ttl_s),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="gencredits",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.authenticator = services.authenticator
    app.state.metrics = metrics = Metrics()
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(catalog.router)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def create_app_from_env() -> FastAPI:
    """The uvicorn factory: settings from ``GENCREDITS_*`` and ``GENCREDITS_CONFIG``."""
    return create_app(load_settings())
