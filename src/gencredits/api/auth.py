"""Request authentication: ``Authorization: Bearer <key>``, checked against the key store.

A checked key is remembered in memory for ``api_key_cache_ttl_s`` (default 5 s), so the
hot path (quotes) costs one SHA-256 and one dict lookup instead of a database round trip;
the price is that a revoked key keeps working for at most that long in each worker.
Unknown keys are remembered too (so a flood of bad keys cannot hammer the database), and
the cache is bounded.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from gencredits.api.keys import ApiKey, KeyStore, grants_scope
from gencredits.api.ratelimit import KeyRateLimiter
from gencredits.errors import AuthenticationFailed, PermissionDenied

__all__ = ["SCOPE_EXTRA", "Authenticator", "admit", "authorize", "bearer_secret", "require"]

CACHE_ENTRIES_MAX = 10_000

#: ``openapi_extra`` per scope: each operation states the scope its key needs (``x-scope``).
SCOPE_EXTRA: dict[str, dict[str, object]] = {
    s: {"x-scope": s} for s in ("admin", "billing", "read", "publishable")
}

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key made by `gencredits keys create` "
    "(scopes: admin, billing, read, publishable).",
)


class Authenticator:
    def __init__(
        self, store: KeyStore, ttl_s: float, limiter: KeyRateLimiter | None = None
    ) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.limiter = limiter
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}

    def forget(self) -> None:
        self._cache.clear()

    async def key_for(self, secret: str) -> ApiKey | None:
        now = time.monotonic()
        hit = self._cache.get(secret)
        if hit is not None and hit[0] > now:
            return hit[1]
        key = await run_in_threadpool(self.store.lookup, secret)
        if self.ttl_s > 0:
            if len(self._cache) >= CACHE_ENTRIES_MAX:
                self._cache.clear()
            self._cache[secret] = (now + self.ttl_s, key)
        return key


async def _admit(request: Request, secret: str | None, scope: str) -> ApiKey:
    if not secret and any(name == b"authorization" for name, _ in request.scope["headers"]):
        raise AuthenticationFailed(
            "Authorization: the header has no Bearer key; send Authorization: Bearer <key>",
            details={"field": "Authorization", "value": None, "allowed": "Bearer <key>"},
        )
    return await admit(request.app.state.authenticator, secret, scope)


async def admit(auth: Authenticator, secret: str | None, scope: str) -> ApiKey:
    """The key with this secret, if it holds ``scope``: else 401 or 403."""
    if not secret:
        raise AuthenticationFailed(
            "missing API key: send the header Authorization: Bearer <key>",
            details={"field": "Authorization", "value": None, "allowed": "Bearer <key>"},
        )
    key = await auth.key_for(secret)
    if key is None:
        raise AuthenticationFailed(
            "API key is unknown or revoked",
            details={"field": "Authorization", "value": secret[:10] + "..."},
        )
    if not grants_scope(key.scopes, scope):
        raise PermissionDenied(
            f"scope: this route needs the {scope!r} scope; key {key.id} has "
            f"{', '.join(key.scopes)}",
            details={"field": "scope", "value": list(key.scopes), "allowed": scope},
        )
    if auth.limiter is not None:
        auth.limiter.check(key.id, publishable=key.scopes == ("publishable",))
    return key


async def authorize(request: Request, scope: str) -> ApiKey:
    """The same check as :func:`require`, called directly by a hot route (no dependency
    machinery: FastAPI spends more on resolving a dependency than the check costs)."""
    return await _admit(request, bearer_secret(request.scope["headers"]), scope)


def bearer_secret(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The secret of ``Authorization: Bearer <secret>`` in raw ASGI headers (no parsing of
    the others: this runs on every quote)."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, secret = value.decode("latin-1").partition(" ")
            return secret.strip() if scheme.lower() == "bearer" else None
    return None


def require(scope: str) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency that admits a request whose key holds ``scope`` (or a wider one)."""

    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> ApiKey:
        return await _admit(
            request, None if credentials is None else credentials.credentials, scope
        )

    check.__name__ = f"require_{scope}"
    return check


#: Pricing only (catalogs, models, quotes, comparisons): a publishable key is enough.
PriceKey = Annotated[ApiKey, Depends(require("publishable"))]
ReadKey = Annotated[ApiKey, Depends(require("read"))]
BillingKey = Annotated[ApiKey, Depends(require("billing"))]
AdminKey = Annotated[ApiKey, Depends(require("admin"))]
