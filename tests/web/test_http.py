"""The web front's HTTP contract, in-process (no browser): who gets the page at ``/``,
the per-key rate limit, the CORS allow-list and the staff session's cookie and CSRF."""

from __future__ import annotations

import html
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gencredits.api import create_app
from gencredits.api.keys import KeyStore
from gencredits.api.ratelimit import KeyRateLimiter
from gencredits.client._errors import error_from_response
from gencredits.config import load_settings
from gencredits.errors import RateLimited
from gencredits.storage.sql import engine as db

with warnings.catch_warnings():  # it warns that it will move to another HTTP library
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

QUOTE = {"model": "veo-3.1", "catalog": "creative-suite", "params": {"duration": 8}}


class Service:
    def __init__(self, client: TestClient, keys: dict[str, str]) -> None:
        self.client = client
        self.keys = keys

    def auth(self, scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[scope]}"}


def service(tmp_path: Path, **settings: Any) -> Iterator[Service]:
    url = f"sqlite:///{tmp_path / 'web.db'}"
    db.upgrade(url)
    store = KeyStore(db.make_engine(url))
    keys = {s: store.create(s, [s])[1] for s in ("admin", "billing", "read", "publishable")}
    app = create_app(load_settings(database_url=url, sweep_interval_s=0, **settings))
    with TestClient(app, base_url="http://testserver") as client:
        yield Service(client, keys)


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Service]:
    yield from service(tmp_path, publishable_rate_per_min=3)


def test_the_root_is_a_page_for_browsers_and_json_for_clients(svc: Service) -> None:
    browser = svc.client.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in browser.headers["content-security-policy"]
    assert 'name="pick"' in browser.text and "veo-3.1" in browser.text
    for accept in ("application/json", "*/*", None):
        headers = {"Accept": accept} if accept else {}
        answer = svc.client.get("/", headers=headers)
        assert answer.json()["openapi"] == "/openapi.json", accept
    assert svc.client.get("/widget.js").headers["content-type"].startswith("text/javascript")


def test_a_publishable_key_over_its_rate_gets_429_with_retry_after(svc: Service) -> None:
    for _ in range(3):
        assert svc.client.post("/v1/quotes", json=QUOTE, headers=svc.auth("publishable")).is_success
    over = svc.client.post("/v1/quotes", json=QUOTE, headers=svc.auth("publishable"))
    assert over.status_code == 429
    assert int(over.headers["Retry-After"]) >= 1
    error = over.json()["error"]
    assert set(error) == {"code", "message", "details"} and error["code"] == "rate_limited"
    assert error["details"]["limit_per_min"] == 3
    raised = error_from_response(over)  # what the Python client raises for it
    assert isinstance(raised, RateLimited) and raised.retry_after_s == int(
        over.headers["Retry-After"]
    )
    assert svc.client.get("/v1/models", headers=svc.auth("publishable")).status_code == 429
    # other keys are not limited (api_rate_per_min is 0 by default)
    for _ in range(10):
        assert svc.client.post("/v1/quotes", json=QUOTE, headers=svc.auth("read")).is_success


def test_the_bucket_refills_at_the_rate() -> None:
    now = [0]  # nanoseconds
    limiter = KeyRateLimiter(publishable_per_min=60, clock_ns=lambda: now[0])
    for _ in range(60):
        limiter.check("key_a", publishable=True)
    with pytest.raises(RateLimited) as refused:
        limiter.check("key_a", publishable=True)
    assert refused.value.retry_after_s == 1
    limiter.check("key_b", publishable=True)  # each key has its own bucket
    now[0] = 1_000_000_000  # one request a second comes back
    limiter.check("key_a", publishable=True)
    with pytest.raises(RateLimited):
        limiter.check("key_a", publishable=True)
    limiter.check("key_a", publishable=False)  # other keys: no limit unless set


def test_the_rate_publishable_keys_can_call(svc: Service) -> None:
    headers = svc.auth("publishable")
    assert svc.client.get("/v1/catalogs", headers=headers).status_code == 200
    assert svc.client.get("/v1/wallets", headers=headers).status_code == 403
    assert svc.client.get("/metrics", headers=headers).status_code == 403


def preflight(client: TestClient, origin: str) -> Any:
    return client.options(
        "/v1/quotes",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )


def test_cors_allows_no_origin_by_default(svc: Service) -> None:
    answer = svc.client.post(
        "/v1/quotes", json=QUOTE, headers={**svc.auth("read"), "Origin": "https://shop.example"}
    )
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers
    assert (
        "access-control-allow-origin" not in preflight(svc.client, "https://shop.example").headers
    )


def test_cors_allows_the_listed_origins_only(tmp_path: Path) -> None:
    for svc in service(tmp_path, cors_origins=["https://shop.example"]):
        allowed = preflight(svc.client, "https://shop.example")
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
        quoted = svc.client.post(
            "/v1/quotes",
            json=QUOTE,
            headers={**svc.auth("publishable"), "Origin": "https://shop.example"},
        )
        assert quoted.headers["access-control-allow-origin"] == "https://shop.example"
        other = preflight(svc.client, "https://evil.example")
        assert "access-control-allow-origin" not in other.headers


def csrf_of(svc: Service) -> str:
    form = svc.client.get("/staff/signin")
    assert form.headers["cache-control"] == "no-store"
    return str(svc.client.cookies["gc_csrf"])


def test_signing_in_needs_the_form_token_and_a_billing_key(svc: Service) -> None:
    assert svc.client.get("/staff").status_code == 401  # the sign-in form, not the pages
    assert svc.client.get("/staff/api/wallets/x").status_code == 401
    token = csrf_of(svc)
    forged = svc.client.post("/staff/signin", data={"api_key": svc.keys["billing"], "csrf": "x"})
    assert forged.status_code == 403 and "gc_session" not in svc.client.cookies
    for scope in ("publishable", "read"):
        refused = svc.client.post("/staff/signin", data={"api_key": svc.keys[scope], "csrf": token})
        assert refused.status_code == 403 and "needs the 'billing' scope" in html.unescape(
            refused.text
        )
        assert "gc_session" not in svc.client.cookies
    signed = svc.client.post(
        "/staff/signin",
        data={"api_key": svc.keys["billing"], "csrf": token},
        follow_redirects=False,
    )
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    page = svc.client.get("/staff")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
