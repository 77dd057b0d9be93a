"""``Client`` and ``AsyncClient``: the endpoints of :mod:`.endpoints`, sent.

The two differ only in how one request is sent (``_send``: blocking or awaited); what to
send is :mod:`.endpoints`, when to try again is :class:`RetryPolicy`, what an answer means
is :meth:`_Base._read`.  Each endpoint function becomes a method through a small
descriptor, so a method has exactly its endpoint's parameters and answer type (and mypy
checks :class:`Client` against :class:`~gencredits.billing.BillingAPI`).
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

import httpx

from . import account_endpoints as acct
from . import endpoints as ep
from ._errors import error_from_response, unreachable
from .endpoints import Call, Query

__all__ = ["AsyncClient", "Client", "RetryPolicy"]

P = ParamSpec("P")
R = TypeVar("R")
#: The httpx client a client sends with, and the transport it may be given (tests, ASGI).
H = TypeVar("H", httpx.Client, httpx.AsyncClient)
T = TypeVar("T", httpx.BaseTransport, httpx.AsyncBaseTransport)

RETRY_STATUSES = frozenset({502, 503, 504})
#: Methods that may be sent again as they are; any other needs an ``Idempotency-Key``.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Outcome = httpx.Response | httpx.TransportError


@dataclass(frozen=True)
class RetryPolicy:
    """When a request is tried again, and after how long (exponential backoff, capped).

    Retried: a transport failure (refused, reset, timed out) or a 502/503/504 answer, at
    most ``retries`` times, and only for a safe method or a request carrying an
    ``Idempotency-Key`` (sent unchanged on every attempt, so it never applies twice).
    """

    retries: int = 3
    backoff_s: float = 0.1
    backoff_max_s: float = 2.0
    statuses: frozenset[int] = RETRY_STATUSES

    def delay_s(self, request: httpx.Request, attempt: int, outcome: Outcome) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``; ``None``: ``outcome`` is final."""
        if attempt >= self.retries:
            return None
        if request.method not in SAFE_METHODS and "Idempotency-Key" not in request.headers:
            return None
        if isinstance(outcome, httpx.Response) and outcome.status_code not in self.statuses:
            return None
        return float(min(self.backoff_max_s, self.backoff_s * 2**attempt))


class _Base(Generic[H, T]):
    """What both clients share (as httpx's ``BaseClient`` does): the constructor, building
    a request from a :class:`Call`, reading its answer.  ``H`` is the httpx client that
    sends (``_open`` makes it), ``T`` the transport it may be given."""

    _http: H

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 30.0,
        retries: int = 3,
        transport: T | None = None,
        idempotency_prefix: str = "py-",
    ) -> None:
        self.api_key = api_key
        self.retry = RetryPolicy(retries)
        self.idempotency_prefix = idempotency_prefix
        self._http = self._open(base_url, self._auth(api_key), timeout_s, transport)

    def _open(
        self, base_url: str, headers: dict[str, str], timeout_s: float, transport: T | None
    ) -> H:
        raise NotImplementedError

    @property
    def retries(self) -> int:
        return self.retry.retries

    @staticmethod
    def _auth(api_key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def _request(
        self, method: str, path: str, body: object, query: Query, idempotency_key: str | None
    ) -> httpx.Request:
        """One logical call's request: a POST carries an ``Idempotency-Key`` (the caller's or
        a fresh one), built once so that every attempt sends the same."""
        headers = {}
        if method == "POST":
            headers["Idempotency-Key"] = (
                idempotency_key or self.idempotency_prefix + uuid.uuid4().hex
            )
        params = {k: v for k, v in query.items() if v is not None}
        return self._http.build_request(method, path, json=body, params=params, headers=headers)

    def _build(self, call: Call[R]) -> httpx.Request:
        return self._request(call.method, call.path, call.body, call.query, call.idempotency_key)

    def _final(self, outcome: Outcome) -> httpx.Response:
        """The response of the last attempt; a transport failure raises ``Unavailable``."""
        if isinstance(outcome, httpx.TransportError):
            raise unreachable(outcome, str(self._http.base_url)) from outcome
        return outcome

    @staticmethod
    def _read(call: Call[R], response: httpx.Response) -> R:
        if response.status_code >= 400:
            raise error_from_response(response)
        return call.answer(response.json())


class _Endpoint(Generic[P, R]):
    """An endpoint as a method: build the call, send it (blocking on :class:`Client`, awaited
    on :class:`AsyncClient`), read the answer.  Declared once, in :class:`_Endpoints`, for
    both clients; mypy sees each method's exact parameters and answer type."""

    def __init__(self, build: Callable[P, Call[R]]) -> None:
        self.build = build
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, client: None, owner: type[Any]) -> _Endpoint[P, R]: ...
    @overload
    def __get__(self, client: Client, owner: type[Any]) -> Callable[P, R]: ...
    @overload
    def __get__(self, client: AsyncClient, owner: type[Any]) -> Callable[P, Awaitable[R]]: ...
    def __get__(
        self, client: Client | AsyncClient | None, owner: type[Any]
    ) -> _Endpoint[P, R] | Callable[P, R] | Callable[P, Awaitable[R]]:
        if client is None:
            return self
        if isinstance(client, AsyncClient):
            return self._awaited(client)
        return self._blocking(client)

    def _blocking(self, client: Client) -> Callable[P, R]:
        build = self.build

        @functools.wraps(build)
        def method(*args: P.args, **kwargs: P.kwargs) -> R:
            call = build(*args, **kwargs)
            return client._read(call, client._send(client._build(call)))

        return method

    def _awaited(self, client: AsyncClient) -> Callable[P, Awaitable[R]]:
        build = self.build

        @functools.wraps(build)
        async def method(*args: P.args, **kwargs: P.kwargs) -> R:
            call = build(*args, **kwargs)
            return client._read(call, await client._send(client._build(call)))

        return method


class _Endpoints:
    """Every endpoint, once: methods of :class:`Client`, coroutines of :class:`AsyncClient`."""

    # --- health, catalogs, pricing ----------------------------------------------------------
    health = _Endpoint(ep.health)
    ready = _Endpoint(ep.ready)
    catalogs = _Endpoint(ep.catalogs)
    catalog = _Endpoint(ep.catalog)
    models = _Endpoint(ep.models)
    model = _Endpoint(ep.model)
    quote = _Endpoint(ep.quote)
    compare = _Endpoint(ep.compare)
    capacity = _Endpoint(ep.capacity)
    project_quote = _Endpoint(ep.project_quote)
    # --- billing (BillingAPI) ---------------------------------------------------------------
    create_wallet = _Endpoint(ep.create_wallet)
    get_wallet = _Endpoint(ep.get_wallet)
    list_wallets = _Endpoint(ep.list_wallets)
    grant = _Endpoint(ep.grant)
    void_grant = _Endpoint(ep.void_grant)
    list_grants = _Endpoint(ep.list_grants)
    submit = _Endpoint(ep.submit)
    record_free_job = _Endpoint(ep.record_free_job)
    complete = _Endpoint(ep.complete)
    fail = _Endpoint(ep.fail)
    cancel = _Endpoint(ep.cancel)
    get_job = _Endpoint(ep.get_job)
    list_jobs = _Endpoint(ep.list_jobs)
    history = _Endpoint(ep.history)
    sweep = _Endpoint(ep.sweep)
    audit = _Endpoint(ep.audit)
    # --- plans, subscriptions, purchases (BillingAPI) --------------------------------------
    plans = _Endpoint(acct.plans)
    subscribe = _Endpoint(acct.subscribe)
    list_subscriptions = _Endpoint(acct.list_subscriptions)
    get_subscription = _Endpoint(acct.get_subscription)
    change_plan = _Endpoint(acct.change_plan)
    cancel_subscription = _Endpoint(acct.cancel_subscription)
    resume_subscription = _Endpoint(acct.resume_subscription)
    mark_past_due = _Endpoint(acct.mark_past_due)
    tick = _Endpoint(acct.tick)
    purchase = _Endpoint(acct.purchase)
    get_purchase = _Endpoint(acct.get_purchase)
    refund_purchase = _Endpoint(acct.refund_purchase)
    chargeback_purchase = _Endpoint(acct.chargeback_purchase)
    set_frozen = _Endpoint(acct.set_frozen)
    create_team = _Endpoint(acct.create_team)
    get_team = _Endpoint(acct.get_team)
    set_member = _Endpoint(acct.set_member)
    remove_member = _Endpoint(acct.remove_member)
    set_alerts = _Endpoint(acct.set_alerts)
    get_alerts = _Endpoint(acct.get_alerts)
    add_webhook = _Endpoint(acct.add_webhook)
    list_webhooks = _Endpoint(acct.list_webhooks)
    enable_webhook = _Endpoint(acct.enable_webhook)
    webhook_deliveries = _Endpoint(acct.webhook_deliveries)
    redeliver = _Endpoint(acct.redeliver)
    deliver = _Endpoint(acct.deliver)
    payment_events = _Endpoint(ep.payment_events)

    # --- API keys (admin) -------------------------------------------------------------------
    create_key = _Endpoint(ep.create_key)
    keys = _Endpoint(ep.keys)
    revoke_key = _Endpoint(ep.revoke_key)
    # --- the earlier names, kept as aliases (same calls, same answers) ----------------------
    wallet = get_wallet
    wallets = list_wallets
    grants = list_grants
    job = get_job
    jobs = list_jobs


class Client(_Base[httpx.Client, httpx.BaseTransport], _Endpoints):
    """Synchronous client (thread-safe as httpx.Client is).  Use as a context manager.

    Implements :class:`~gencredits.billing.BillingAPI` (answers are the wire types of
    :mod:`gencredits.billing.views`), plus the pricing, catalog, health and key calls.
    """

    def _open(
        self,
        base_url: str,
        headers: dict[str, str],
        timeout_s: float,
        transport: httpx.BaseTransport | None,
    ) -> httpx.Client:
        return httpx.Client(
            base_url=base_url, headers=headers, timeout=timeout_s, transport=transport
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            try:
                outcome: Outcome = self._http.send(request)
            except httpx.TransportError as exc:
                outcome = exc
            delay = self.retry.delay_s(request, attempt, outcome)
            if delay is None:
                return self._final(outcome)
            time.sleep(delay)
            attempt += 1

    def request(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        params: Query | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """Any endpoint, raw: retried as every call is; the response is returned as is."""
        return self._send(self._request(method, path, json, params or {}, idempotency_key))


class AsyncClient(_Base[httpx.AsyncClient, httpx.AsyncBaseTransport], _Endpoints):
    """The same calls as :class:`Client`, as coroutines (``close`` too)."""

    def _open(
        self,
        base_url: str,
        headers: dict[str, str],
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None,
    ) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=base_url, headers=headers, timeout=timeout_s, transport=transport
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    aclose = close

    async def _send(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            try:
                outcome: Outcome = await self._http.send(request)
            except httpx.TransportError as exc:
                outcome = exc
            delay = self.retry.delay_s(request, attempt, outcome)
            if delay is None:
                return self._final(outcome)
            await asyncio.sleep(delay)
            attempt += 1

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        params: Query | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """Any endpoint, raw: retried as every call is; the response is returned as is."""
        return await self._send(self._request(method, path, json, params or {}, idempotency_key))


if TYPE_CHECKING:
    from gencredits.billing.protocol import BillingAPI

    def _implements(client: Client) -> BillingAPI:  # mypy checks Client against the protocol
        return client
