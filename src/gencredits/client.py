"""``gencredits.Client`` and ``AsyncClient``: the HTTP service from Python, typed.

Errors come back as the SAME exception classes the library raises
(:mod:`gencredits.errors`), chosen by the stable ``code`` (or, for a code this version
does not know, by the HTTP status's family), so code written against the embedded
library handles a remote service unchanged::

    with gencredits.Client("http://127.0.0.1:8000", api_key) as gc:
        q = gc.quote("kling/v2-1-pro", {"duration": 10}, catalog="api-pricing")
        q.total_credits

Retries: a request that fails on the way (connection refused or reset, timeout) or
answers 502/503/504 is retried with exponential backoff, at most ``retries`` times.  A
POST is retried only under an ``Idempotency-Key``: the client makes one per call (or
uses the caller's) and sends the SAME key on every attempt, so a retried submission can
never hold credits twice.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from gencredits import errors
from gencredits.api.schemas import (
    AuditPublic,
    CapacityPublic,
    CatalogList,
    CatalogPublic,
    ComparisonPublic,
    EntryPage,
    GrantList,
    GrantPublic,
    HealthPublic,
    JobPage,
    JobPublic,
    KeyCreated,
    KeyList,
    KeyPublic,
    ModelDetail,
    ModelList,
    ProjectQuotePublic,
    QuotePublic,
    SweepPublic,
    ViolationPublic,
    WalletPage,
    WalletPublic,
)

__all__ = ["AsyncClient", "Client", "RemoteBilling", "error_from_response"]

M = TypeVar("M", bound=BaseModel)
RETRY_STATUSES = frozenset({502, 503, 504})
BACKOFF_S = 0.1
BACKOFF_MAX_S = 2.0
_FAMILY_BY_STATUS: dict[int, type[errors.GencreditsError]] = {
    401: errors.AuthenticationFailed,
    402: errors.InsufficientCredits,
    403: errors.PermissionDenied,
    404: errors.NotFound,
    409: errors.Conflict,
    422: errors.InvalidRequest,
    400: errors.InvalidRequest,
    503: errors.Unavailable,
}


def _by_code() -> dict[str, type[errors.GencreditsError]]:
    found: dict[str, type[errors.GencreditsError]] = {}
    pending: list[type[errors.GencreditsError]] = [errors.GencreditsError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    return found


def error_from_response(response: httpx.Response) -> errors.GencreditsError:
    """The library exception for an error response (same class, code, message, details)."""
    try:
        body = response.json()["error"]
        code, message, details = str(body["code"]), str(body["message"]), dict(body["details"])
    except (ValueError, KeyError, TypeError):
        code, message, details = "internal", f"HTTP {response.status_code}", {}
        if response.status_code in _FAMILY_BY_STATUS:
            code = _FAMILY_BY_STATUS[response.status_code].code
    cls = _by_code().get(code) or _FAMILY_BY_STATUS.get(response.status_code)
    cls = cls or errors.GencreditsError
    # Built without the subclass constructors (which compose their own messages): the
    # server's message and details are kept exactly.
    error = cls.__new__(cls)
    errors.GencreditsError.__init__(error, message, details=details, code=code)
    if isinstance(error, errors.InsufficientCredits):
        error.required = int(details.get("required", 0))
        error.available = int(details.get("available", 0))
        error.shortfall = int(details.get("shortfall", error.required - error.available))
    if isinstance(error, errors.InvalidCatalog):
        error.source = str(details.get("source", ""))
        error.problems = [str(p) for p in details.get("problems", [])]
    error.http_status = response.status_code  # type: ignore[misc]
    return error


class _Base:
    def __init__(self, api_key: str | None, retries: int, idempotency_prefix: str) -> None:
        self.api_key = api_key
        self.retries = retries
        self.idempotency_prefix = idempotency_prefix

    def _headers(self, method: str, idempotency_key: str | None) -> dict[str, str]:
        headers = {}
        if method == "POST":
            headers["Idempotency-Key"] = idempotency_key or (
                self.idempotency_prefix + uuid.uuid4().hex
            )
        return headers

    @staticmethod
    def _retryable_status(response: httpx.Response) -> bool:
        return response.status_code in RETRY_STATUSES

    @staticmethod
    def _delay_s(attempt: int) -> float:
        return float(min(BACKOFF_MAX_S, BACKOFF_S * 2**attempt))

    @staticmethod
    def _result(response: httpx.Response, model: type[M]) -> M:
        if response.status_code >= 400:
            raise error_from_response(response)
        return model.model_validate(response.json())

    @staticmethod
    def _transport_error(exc: httpx.TransportError, url: str) -> errors.Unavailable:
        return errors.Unavailable(
            f"service: cannot reach {url} ({exc.__class__.__name__}: {exc})",
            details={"retryable": True},
        )


def _segment(value: str) -> str:
    # Model ids contain "/" (kling/v2-1-pro), which the route accepts as is.
    return urllib.parse.quote(value, safe="/")


def _drop_none(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _grant_body(
    amount: int,
    kind: str,
    priority: int | None,
    expires_at: datetime | None,
    effective_at: datetime | None,
    source: str | None,
) -> dict[str, Any]:
    return _drop_none(
        amount=amount,
        kind=kind,
        priority=priority,
        expires_at=None if expires_at is None else expires_at.isoformat(),
        effective_at=None if effective_at is None else effective_at.isoformat(),
        source=source,
    )


def _quote_body(
    model: str, params: Mapping[str, object] | None, generations: int, catalog: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "params": dict(params or {})}
    body["generations"] = generations
    if catalog is not None:
        body["catalog"] = catalog
    return body


class Client(_Base):
    """Synchronous client (thread-safe as httpx.Client is).  Use as a context manager."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 30.0,
        retries: int = 3,
        transport: httpx.BaseTransport | None = None,
        idempotency_prefix: str = "py-",
    ) -> None:
        super().__init__(api_key, retries, idempotency_prefix)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=base_url, headers=headers, timeout=timeout_s, transport=transport
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """One logical call: retried on transport failures and 502/503/504, same key each time."""
        headers = self._headers(method, idempotency_key)
        query = {k: v for k, v in (params or {}).items() if v is not None}
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method, path, json=json, params=query, headers=headers
                )
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise self._transport_error(exc, str(self._http.base_url)) from exc
            else:
                if not self._retryable_status(response) or attempt >= self.retries:
                    return response
            time.sleep(self._delay_s(attempt))
            attempt += 1

    def _get(self, path: str, model: type[M], **params: Any) -> M:
        return self._result(self.request("GET", path, params=params), model)

    def _post(self, path: str, body: Any, model: type[M], key: str | None = None) -> M:
        return self._result(self.request("POST", path, json=body, idempotency_key=key), model)

    # --- health ---------------------------------------------------------------------------
    def health(self) -> HealthPublic:
        return self._get("/healthz", HealthPublic)

    def ready(self) -> HealthPublic:
        return self._get("/readyz", HealthPublic)

    # --- catalog --------------------------------------------------------------------------
    def catalogs(self) -> CatalogList:
        return self._get("/v1/catalogs", CatalogList)

    def catalog(self, name: str) -> CatalogPublic:
        return self._get(f"/v1/catalogs/{_segment(name)}", CatalogPublic)

    def models(self, catalog: str | None = None) -> ModelList:
        return self._get("/v1/models", ModelList, catalog=catalog)

    def model(self, model: str, catalog: str | None = None) -> ModelDetail:
        return self._get(f"/v1/models/{_segment(model)}", ModelDetail, catalog=catalog)

    def quote(
        self,
        model: str,
        params: Mapping[str, object] | None = None,
        *,
        generations: int = 1,
        catalog: str | None = None,
    ) -> QuotePublic:
        body = _quote_body(model, params, generations, catalog)
        return self._post("/v1/quotes", body, QuotePublic)

    def compare(
        self, catalog: str, params: Mapping[str, object] | None = None, *, generations: int = 1
    ) -> ComparisonPublic:
        body = {"catalog": catalog, "params": dict(params or {}), "generations": generations}
        return self._post("/v1/compare", body, ComparisonPublic)

    def capacity(
        self,
        balance: int,
        model: str,
        params: Mapping[str, object] | None = None,
        *,
        generations: int = 1,
        catalog: str | None = None,
    ) -> CapacityPublic:
        body = {"balance": balance, **_quote_body(model, params, generations, catalog)}
        return self._post("/v1/capacity", body, CapacityPublic)

    def project_quote(
        self, steps: list[Mapping[str, Any]], *, catalog: str | None = None
    ) -> ProjectQuotePublic:
        body: dict[str, Any] = {"steps": [dict(s) for s in steps]}
        if catalog is not None:
            body["catalog"] = catalog
        return self._post("/v1/project-quotes", body, ProjectQuotePublic)

    # --- wallets and grants -----------------------------------------------------------------
    def create_wallet(
        self,
        wallet_id: str,
        *,
        owner_kind: str = "user",
        overdraft_limit: int = 0,
        hold_ttl_s: int | None = None,
        idempotency_key: str | None = None,
    ) -> WalletPublic:
        body = _drop_none(
            id=wallet_id,
            owner_kind=owner_kind,
            overdraft_limit=overdraft_limit,
            hold_ttl_s=hold_ttl_s,
        )
        return self._post("/v1/wallets", body, WalletPublic, idempotency_key)

    def wallet(self, wallet_id: str) -> WalletPublic:
        return self._get(f"/v1/wallets/{_segment(wallet_id)}", WalletPublic)

    def wallets(self, *, cursor: str | None = None, limit: int = 50) -> WalletPage:
        return self._get("/v1/wallets", WalletPage, cursor=cursor, limit=limit)

    def grant(
        self,
        wallet_id: str,
        amount: int,
        *,
        kind: str,
        priority: int | None = None,
        expires_at: datetime | None = None,
        effective_at: datetime | None = None,
        source: str | None = None,
        idempotency_key: str | None = None,
    ) -> GrantPublic:
        body = _grant_body(amount, kind, priority, expires_at, effective_at, source)
        path = f"/v1/wallets/{_segment(wallet_id)}/grants"
        return self._post(path, body, GrantPublic, idempotency_key)

    def grants(self, wallet_id: str) -> GrantList:
        return self._get(f"/v1/wallets/{_segment(wallet_id)}/grants", GrantList)

    def void_grant(self, grant_id: str, *, idempotency_key: str | None = None) -> GrantPublic:
        path = f"/v1/grants/{_segment(grant_id)}/void"
        return self._post(path, None, GrantPublic, idempotency_key)

    # --- jobs -------------------------------------------------------------------------------
    def submit(
        self,
        wallet_id: str,
        model: str,
        params: Mapping[str, object] | None = None,
        *,
        generations: int = 1,
        catalog: str | None = None,
        submitted_by: str | None = None,
        hold_ttl_s: int | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> JobPublic:
        """Hold the quoted credits for a job.  Pass your own ``idempotency_key`` (e.g. your
        generation's id) so that a retry after a crash of YOUR process holds nothing twice."""
        body = _quote_body(model, params, generations, catalog) | _drop_none(
            submitted_by=submitted_by,
            hold_ttl_s=hold_ttl_s,
            metadata=None if metadata is None else dict(metadata),
        )
        path = f"/v1/wallets/{_segment(wallet_id)}/jobs"
        return self._post(path, body, JobPublic, idempotency_key)

    def record_free_job(
        self,
        wallet_id: str,
        kind: str,
        *,
        submitted_by: str | None = None,
        idempotency_key: str | None = None,
    ) -> JobPublic:
        body = _drop_none(kind=kind, submitted_by=submitted_by)
        path = f"/v1/wallets/{_segment(wallet_id)}/free-jobs"
        return self._post(path, body, JobPublic, idempotency_key)

    def job(self, job_id: str) -> JobPublic:
        return self._get(f"/v1/jobs/{_segment(job_id)}", JobPublic)

    def jobs(
        self,
        wallet_id: str,
        *,
        status: int | None = None,
        state: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> JobPage:
        path = f"/v1/wallets/{_segment(wallet_id)}/jobs"
        return self._get(path, JobPage, status=status, state=state, cursor=cursor, limit=limit)

    def complete(
        self,
        job_id: str,
        *,
        actual_params: Mapping[str, object] | None = None,
        actual_generations: int | None = None,
        idempotency_key: str | None = None,
    ) -> JobPublic:
        body = _drop_none(
            actual_params=None if actual_params is None else dict(actual_params),
            actual_generations=actual_generations,
        )
        path = f"/v1/jobs/{_segment(job_id)}/complete"
        return self._post(path, body, JobPublic, idempotency_key)

    def fail(
        self, job_id: str, *, reason: str | None = None, idempotency_key: str | None = None
    ) -> JobPublic:
        path = f"/v1/jobs/{_segment(job_id)}/fail"
        return self._post(path, _drop_none(reason=reason), JobPublic, idempotency_key)

    def cancel(self, job_id: str, *, idempotency_key: str | None = None) -> JobPublic:
        path = f"/v1/jobs/{_segment(job_id)}/cancel"
        return self._post(path, None, JobPublic, idempotency_key)

    # --- ledger and operations ----------------------------------------------------------------
    def history(self, wallet_id: str, *, cursor: str | None = None, limit: int = 50) -> EntryPage:
        path = f"/v1/wallets/{_segment(wallet_id)}/history"
        return self._get(path, EntryPage, cursor=cursor, limit=limit)

    def sweep(self) -> SweepPublic:
        return self._post("/v1/admin/sweep", None, SweepPublic)

    def audit(self) -> AuditPublic:
        return self._get("/v1/admin/audit", AuditPublic)

    # --- API keys (admin) ------------------------------------------------------------------
    def create_key(self, name: str, scopes: list[str]) -> KeyCreated:
        """A new key; ``.key`` is the secret, returned this once."""
        return self._post("/v1/keys", {"name": name, "scopes": scopes}, KeyCreated)

    def keys(self, *, include_revoked: bool = False) -> KeyList:
        return self._get("/v1/keys", KeyList, include_revoked=include_revoked or None)

    def revoke_key(self, key_id: str) -> KeyPublic:
        return self._post(f"/v1/keys/{_segment(key_id)}/revoke", None, KeyPublic)


class AsyncClient(_Base):
    """The same calls as :class:`Client`, awaitable."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 30.0,
        retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        idempotency_prefix: str = "py-",
    ) -> None:
        super().__init__(api_key, retries, idempotency_prefix)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(
            base_url=base_url, headers=headers, timeout=timeout_s, transport=transport
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        headers = self._headers(method, idempotency_key)
        query = {k: v for k, v in (params or {}).items() if v is not None}
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    method, path, json=json, params=query, headers=headers
                )
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise self._transport_error(exc, str(self._http.base_url)) from exc
            else:
                if not self._retryable_status(response) or attempt >= self.retries:
                    return response
            await asyncio.sleep(self._delay_s(attempt))
            attempt += 1

    async def _get(self, path: str, model: type[M], **params: Any) -> M:
        return self._result(await self.request("GET", path, params=params), model)

    async def _post(self, path: str, body: Any, model: type[M], key: str | None = None) -> M:
        response = await self.request("POST", path, json=body, idempotency_key=key)
        return self._result(response, model)

    async def health(self) -> HealthPublic:
        return await self._get("/healthz", HealthPublic)

    async def ready(self) -> HealthPublic:
        return await self._get("/readyz", HealthPublic)

    async def catalogs(self) -> CatalogList:
        return await self._get("/v1/catalogs", CatalogList)

    async def catalog(self, name: str) -> CatalogPublic:
        return await self._get(f"/v1/catalogs/{_segment(name)}", CatalogPublic)

    async def models(self, catalog: str | None = None) -> ModelList:
        return await self._get("/v1/models", ModelList, catalog=catalog)

    async def model(self, model: str, catalog: str | None = None) -> ModelDetail:
        return await self._get(f"/v1/models/{_segment(model)}", ModelDetail, catalog=catalog)

    async def quote(
        self,
        model: str,
        params: Mapping[str, object] | None = None,
        *,
        generations: int = 1,
        catalog: str | None = None,
    ) -> QuotePublic:
        body = _quote_body(model, params, generations, catalog)
        return await self._post("/v1/quotes", body, QuotePublic)

    async def compare(
        self, catalog: str, params: Mapping[str, object] | None = None, *, generations: int = 1
    ) -> ComparisonPublic:
        body = {"catalog": catalog, "params": dict(params or {}), "generations": generations}
        return await self._post("/v1/compare", body, ComparisonPublic)

    async def capacity(
        self,
        balance: int,
        model: str,
        params: Mapping[str, object] | None = None,
        *,
        generations: int = 1,
        catalog: str | None = None,
    ) -> CapacityPublic:
        body = {"balance": balance, **_quote_body(model, params, generations, catalog)}
        return await self._post("/v1/capacity", body, CapacityPublic)

    async def project_quote(
        self, steps: list[Mapping[str, Any]], *, catalog: str | None = None
    ) -> ProjectQuotePublic:
        body: dict[str, Any] = {"steps": [dict(s) for s in steps]}
        if catalog is not None:
            body["catalog"] = catalog
        return await self._post("/v1/project-quotes", body, ProjectQuotePublic)

    # --- wallets and grants -----------------------------------------------------------------
    async def create_wallet(
        self,
        wallet_id: str,
        *,
        owner_kind: str = "user",
        overdraft_limit: int = 0,
        hold_ttl_s: int | None = None,
        idempotency_key: str | None = None,
    ) -> WalletPublic:
        body = _drop_none(
            id=wallet_id,
            owner_kind=owner_kind,
            overdraft_limit=overdraft_limit,
            hold_ttl_s=hold_ttl_s,
        )
        return await self._post("/v1/wallets", body, WalletPublic, idempotency_key)

    async def wallet(self, wallet_id: str) -> WalletPublic:
        return await self._get(f"/v1/wallets/{_segment(wallet_id)}", WalletPublic)

    async def wallets(self, *, cursor: str | None = None, limit: int = 50) -> WalletPage:
        return await self._get("/v1/wallets", WalletPage, cursor=cursor, limit=limit)

    async def grant(
        self,
        wallet_id: str,
        amount: int,
        *,
        kind: str,
        priority: int | None = None,
        expires_at: datetime | None = None,
        effective_at: datetime | None = None,
        source: str | None = None,
        idempotency_key: str | None = None,
    ) -> GrantPublic:
        body = _grant_body(amount, kind, priority, expires_at, effective_at, source)
        path = f"/v1/wallets/{_segment(wallet_id)}/grants"
        return await self._post(path, body, GrantPublic, idempotency_key)

    async def grants(self, wallet_id: str) -> GrantList:
        return await self._get(f"/v1/wallets/{_segment(wallet_id)}/grants", GrantList)

    async def void_grant(self, grant_id: str, *, idempotency_key: str | None = None) -> GrantPublic:
        path = f"/v1/grants/{_segment(grant_id)}/void"
        return await self._post(path, None, GrantPublic, idempotency_key)

    # --- jobs -------------------------------------------------------------------------------
    async def submit(
        self,
        wallet_id: str,
        model: str,
        params: Mapping[str, object] | None = None,
        *,
        generations: int = 1,
        catalog: str | None = None,
        submitted_by: str | None = None,
        hold_ttl_s: int | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> JobPublic:
        """Hold the quoted credits for a job.  Pass your own ``idempotency_key`` (e.g. your
        generation's id) so that a retry after a crash of YOUR process holds nothing twice."""
        body = _quote_body(model, params, generations, catalog) | _drop_none(
            submitted_by=submitted_by,
            hold_ttl_s=hold_ttl_s,
            metadata=None if metadata is None else dict(metadata),
        )
        path = f"/v1/wallets/{_segment(wallet_id)}/jobs"
        return await self._post(path, body, JobPublic, idempotency_key)

    async def record_free_job(
        self,
        wallet_id: str,
        kind: str,
        *,
        submitted_by: str | None = None,
        idempotency_key: str | None = None,
    ) -> JobPublic:
        body = _drop_none(kind=kind, submitted_by=submitted_by)
        path = f"/v1/wallets/{_segment(wallet_id)}/free-jobs"
        return await self._post(path, body, JobPublic, idempotency_key)

    async def job(self, job_id: str) -> JobPublic:
        return await self._get(f"/v1/jobs/{_segment(job_id)}", JobPublic)

    async def jobs(
        self,
        wallet_id: str,
        *,
        status: int | None = None,
        state: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> JobPage:
        path = f"/v1/wallets/{_segment(wallet_id)}/jobs"
        return await self._get(
            path, JobPage, status=status, state=state, cursor=cursor, limit=limit
        )

    async def complete(
        self,
        job_id: str,
        *,
        actual_params: Mapping[str, object] | None = None,
        actual_generations: int | None = None,
        idempotency_key: str | None = None,
    ) -> JobPublic:
        body = _drop_none(
            actual_params=None if actual_params is None else dict(actual_params),
            actual_generations=actual_generations,
        )
        path = f"/v1/jobs/{_segment(job_id)}/complete"
        return await self._post(path, body, JobPublic, idempotency_key)

    async def fail(
        self, job_id: str, *, reason: str | None = None, idempotency_key: str | None = None
    ) -> JobPublic:
        path = f"/v1/jobs/{_segment(job_id)}/fail"
        return await self._post(path, _drop_none(reason=reason), JobPublic, idempotency_key)

    async def cancel(self, job_id: str, *, idempotency_key: str | None = None) -> JobPublic:
        path = f"/v1/jobs/{_segment(job_id)}/cancel"
        return await self._post(path, None, JobPublic, idempotency_key)

    # --- ledger and operations ----------------------------------------------------------------
    async def history(
        self, wallet_id: str, *, cursor: str | None = None, limit: int = 50
    ) -> EntryPage:
        path = f"/v1/wallets/{_segment(wallet_id)}/history"
        return await self._get(path, EntryPage, cursor=cursor, limit=limit)

    async def sweep(self) -> SweepPublic:
        return await self._post("/v1/admin/sweep", None, SweepPublic)

    async def audit(self) -> AuditPublic:
        return await self._get("/v1/admin/audit", AuditPublic)

    # --- API keys (admin) ------------------------------------------------------------------
    async def create_key(self, name: str, scopes: list[str]) -> KeyCreated:
        """A new key; ``.key`` is the secret, returned this once."""
        return await self._post("/v1/keys", {"name": name, "scopes": scopes}, KeyCreated)

    async def keys(self, *, include_revoked: bool = False) -> KeyList:
        return await self._get("/v1/keys", KeyList, include_revoked=include_revoked or None)

    async def revoke_key(self, key_id: str) -> KeyPublic:
        return await self._post(f"/v1/keys/{_segment(key_id)}/revoke", None, KeyPublic)


class RemoteBilling:
    """The :class:`gencredits.billing.Billing` method names, served by a remote service.

    For code (the CLI among it) written against the embedded ``Billing``: the same calls,
    the same keyword arguments, the same exceptions, answers with the same attributes and
    ``to_dict()``.  ``idempotency_key`` is passed through unchanged, so a retried command
    is as safe remotely as locally.
    """

    def __init__(self, client: Client) -> None:
        self.client = client

    @classmethod
    def connect(cls, url: str, api_key: str | None, **options: Any) -> RemoteBilling:
        return cls(Client(url, api_key, **options))

    def close(self) -> None:
        self.client.close()

    def create_wallet(
        self,
        wallet_id: str,
        *,
        owner_kind: str = "user",
        overdraft_limit: int = 0,
        hold_ttl_s: int | None = None,
        idempotency_key: str | None = None,
    ) -> WalletPublic:
        return self.client.create_wallet(
            wallet_id,
            owner_kind=owner_kind,
            overdraft_limit=overdraft_limit,
            hold_ttl_s=hold_ttl_s,
            idempotency_key=idempotency_key,
        )

    def get_wallet(self, wallet_id: str) -> WalletPublic:
        return self.client.wallet(wallet_id)

    def list_wallets(self, *, cursor: str | None = None, limit: int = 50) -> WalletPage:
        return self.client.wallets(cursor=cursor, limit=limit)

    def grant(
        self,
        wallet_id: str,
        amount: int,
        *,
        kind: str,
        priority: int | None = None,
        expires_at: datetime | None = None,
        effective_at: datetime | None = None,
        source: str | None = None,
        idempotency_key: str,
    ) -> GrantPublic:
        return self.client.grant(
            wallet_id,
            amount,
            kind=kind,
            priority=priority,
            expires_at=expires_at,
            effective_at=effective_at,
            source=source,
            idempotency_key=idempotency_key,
        )

    def void_grant(self, grant_id: str, *, idempotency_key: str) -> GrantPublic:
        return self.client.void_grant(grant_id, idempotency_key=idempotency_key)

    def list_grants(self, wallet_id: str) -> list[GrantPublic]:
        return self.client.grants(wallet_id).items

    def submit(
        self,
        wallet_id: str,
        model: str,
        params: Mapping[str, object] | None = None,
        *,
        generations: int = 1,
        catalog: str | None = None,
        submitted_by: str | None = None,
        idempotency_key: str,
        hold_ttl_s: int | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> JobPublic:
        return self.client.submit(
            wallet_id,
            model,
            params,
            generations=generations,
            catalog=catalog,
            submitted_by=submitted_by,
            hold_ttl_s=hold_ttl_s,
            metadata=metadata,
            idempotency_key=idempotency_key,
        )

    def complete(
        self,
        job_id: str,
        *,
        actual_params: Mapping[str, object] | None = None,
        actual_generations: int | None = None,
        idempotency_key: str,
    ) -> JobPublic:
        return self.client.complete(
            job_id,
            actual_params=actual_params,
            actual_generations=actual_generations,
            idempotency_key=idempotency_key,
        )

    def fail(self, job_id: str, *, reason: str | None = None, idempotency_key: str) -> JobPublic:
        return self.client.fail(job_id, reason=reason, idempotency_key=idempotency_key)

    def cancel(self, job_id: str, *, idempotency_key: str) -> JobPublic:
        return self.client.cancel(job_id, idempotency_key=idempotency_key)

    def get_job(self, job_id: str) -> JobPublic:
        return self.client.job(job_id)

    def list_jobs(
        self,
        wallet_id: str,
        *,
        status: int | None = None,
        state: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> JobPage:
        return self.client.jobs(wallet_id, status=status, state=state, cursor=cursor, limit=limit)

    def record_free_job(
        self,
        wallet_id: str,
        kind: str,
        *,
        submitted_by: str | None = None,
        idempotency_key: str,
    ) -> JobPublic:
        return self.client.record_free_job(
            wallet_id, kind, submitted_by=submitted_by, idempotency_key=idempotency_key
        )

    def history(self, wallet_id: str, *, cursor: str | None = None, limit: int = 50) -> EntryPage:
        return self.client.history(wallet_id, cursor=cursor, limit=limit)

    def sweep(self, now: datetime | None = None) -> SweepPublic:
        if now is not None:
            raise errors.InvalidRequest.for_field(
                "now", now, "a remote service sweeps at its own clock (leave now unset)"
            )
        return self.client.sweep()

    def audit(self) -> list[ViolationPublic]:
        return self.client.audit().violations
