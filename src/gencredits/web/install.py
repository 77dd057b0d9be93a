"""Adds the pages to the service's app (``create_app`` calls :func:`install_web`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from gencredits.web import estimator, operator, wallets
from gencredits.web.session import SignInRequired
from gencredits.web.templating import STATIC_DIR

__all__ = ["install_web"]


async def _sign_in_first(request: Request, exc: Exception) -> Response:
    reason = exc.reason if isinstance(exc, SignInRequired) else None
    return wallets.signin_page(request, reason, 401)


def install_web(app: FastAPI, json_index: Callable[[Request], Awaitable[Response]]) -> None:
    """``/`` (the estimator for browsers, ``json_index`` for everyone else), the widget,
    the wallet and operator pages and ``/static``."""
    app.add_route("/", estimator.root_handler(json_index), methods=["GET"], include_in_schema=False)
    app.include_router(estimator.router)
    app.include_router(wallets.router)
    app.include_router(operator.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(SignInRequired, _sign_in_first)
    app.add_exception_handler(operator.AdminRequired, operator.admin_refused)
