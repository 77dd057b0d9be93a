"""Liveness, readiness and metrics."""

from __future__ import annotations

from functools import cache

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from gencredits.api.auth import SCOPE_EXTRA, ReadKey
from gencredits.api.errors import error_responses, response_for
from gencredits.api.metrics import CONTENT_TYPE_LATEST, Metrics
from gencredits.api.schemas import HealthPublic
from gencredits.api.state import ServicesDep
from gencredits.errors import Unavailable
from gencredits.storage.sql import engine as db

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthPublic, responses=error_responses(validation=False))
async def healthz() -> HealthPublic:
    """The process is up (no key needed, no database touched)."""
    return HealthPublic(status="ok", checks={})


@router.get("/readyz", response_model=HealthPublic, responses=error_responses(503))
async def readyz(services: ServicesDep) -> HealthPublic | Response:
    """Ready to serve: the database answers and is migrated to this version's head
    (no key needed)."""
    current = await run_in_threadpool(_revision_state, services.engine)
    if current != "current":
        return response_for(
            Unavailable(
                f"not ready: database {current}", details={"database": current, "retryable": True}
            )
        )
    return HealthPublic(status="ok", checks={"database": "current"})


_head_revision = cache(db.head_revision)  # fixed for the life of the process


def _revision_state(engine: Engine) -> str:
    try:
        revision = db.current_revision(engine)
    except Exception:
        return "unreachable"
    if revision != _head_revision():
        return f"at revision {revision}, needs {_head_revision()} (run the migrations)"
    return "current"


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        **error_responses(401, 403, 503),
    },
    openapi_extra=SCOPE_EXTRA["read"],
)
async def metrics(request: Request, _key: ReadKey) -> Response:
    """Prometheus exposition: requests, latencies, holds open, credits held/captured/refunded."""
    registry: Metrics = request.app.state.metrics
    body = await run_in_threadpool(registry.render)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
