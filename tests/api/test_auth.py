"""Every route except health refuses a missing, unknown or revoked key (401) and a key of
too narrow a scope (403).  The routes are read from the live ``/openapi.json``, so a new
route is covered the moment it exists, and each must state its scope (``x-scope``)."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from tests.api.conftest import KEY_CACHE_TTL_S, LiveService

PUBLIC = {"/healthz", "/readyz"}
#: Provider callbacks authenticate by their HMAC signature instead of an API key.
SIGNED = "signature"
NARROWER = {"admin": "billing", "billing": "read", "read": "publishable"}


def operations(live: LiveService) -> list[tuple[str, str, dict[str, Any]]]:
    spec = httpx.get(live.url + "/openapi.json").json()
    return [
        (method.upper(), path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def call(live: LiveService, method: str, path: str, key: str | None) -> httpx.Response:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    body = {} if method == "POST" else None
    return httpx.request(method, live.url + concrete(path), headers=headers, json=body)


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert set(error) == {"code", "message", "details"}


def test_every_route_but_health_states_its_scope(live: LiveService) -> None:
    ops = operations(live)
    assert len(ops) >= 9
    for method, path, op in ops:
        if path in PUBLIC:
            assert "x-scope" not in op
            continue
        assert op.get("x-scope") in ("admin", "billing", "read", "publishable", SIGNED), (
            method,
            path,
        )
        if op["x-scope"] != SIGNED:
            assert op.get("security"), (method, path)


def assert_unsigned_refused(response: httpx.Response) -> None:
    """A route that authenticates by a signature refuses a request without one: the provider
    callback as a missing key (401), the Stripe webhook as a bad signature (400)."""
    assert response.status_code in (400, 401), response.text
    assert response.json()["error"]["code"] in ("unauthorized", "invalid_signature")


def test_every_route_refuses_a_missing_key(live: LiveService) -> None:
    for method, path, op in operations(live):
        if path in PUBLIC:
            continue
        response = call(live, method, path, None)
        if op.get("x-scope") == SIGNED:
            assert_unsigned_refused(response)
            continue
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_every_route_refuses_an_unknown_key(live: LiveService) -> None:
    for method, path, op in operations(live):
        if path in PUBLIC:
            continue
        response = call(live, method, path, "gck_not-a-real-key")
        if op.get("x-scope") == SIGNED:
            assert_unsigned_refused(response)
        else:
            assert_error(response, 401, "unauthorized")


def test_every_route_refuses_a_key_of_a_narrower_scope(
    live: LiveService, keys: dict[str, str]
) -> None:
    checked = 0
    for method, path, op in operations(live):
        scope = op.get("x-scope")
        if scope in NARROWER:
            assert_error(call(live, method, path, keys[NARROWER[scope]]), 403, "forbidden")
            checked += 1
    assert checked >= 10
    # a key of exactly the scope is not refused (any other answer is the route's own)
    for method, path, op in operations(live):
        if op.get("x-scope") in (None, SIGNED):
            continue
        response = call(live, method, path, keys[op["x-scope"]])
        assert response.status_code not in (401, 403), (method, path, response.text)


def test_health_routes_need_no_key(live: LiveService) -> None:
    assert httpx.get(live.url + "/healthz").json()["status"] == "ok"
    ready = httpx.get(live.url + "/readyz").json()
    assert ready == {"status": "ok", "checks": {"database": "current"}}


def test_a_revoked_key_is_refused_within_the_cache_time(live: LiveService) -> None:
    import json
    import subprocess
    import sys

    key = live.make_key("read", name="to-revoke")
    with live.client(key) as c:
        assert c.get("/v1/catalogs").status_code == 200
        listed = subprocess.run(
            [sys.executable, "-m", "gencredits.cli", "keys", "list", "--json"],
            env=live.env(),
            cwd=live.workdir,
            capture_output=True,
            check=True,
        )
        record = next(k for k in json.loads(listed.stdout)["items"] if key.startswith(k["prefix"]))
        assert key not in listed.stdout.decode()  # only the prefix is ever shown again
        subprocess.run(
            [sys.executable, "-m", "gencredits.cli", "keys", "revoke", record["id"]],
            env=live.env(),
            cwd=live.workdir,
            capture_output=True,
            check=True,
        )
        time.sleep(float(KEY_CACHE_TTL_S) + 0.1)
        assert_error(c.get("/v1/catalogs"), 401, "unauthorized")


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "bearer gck_x", "Token abc"])
def test_malformed_authorization_is_a_401_not_a_crash(live: LiveService, header: str) -> None:
    response = httpx.get(live.url + "/v1/catalogs", headers={"Authorization": header})
    assert_error(response, 401, "unauthorized")
