"""What a new user meets in the first hour, over HTTP on the real service (issue #12):
honest statuses and the fail reason in the history."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.api.conftest import LiveService

KLING_10S = {"model": "kling/v2-1-pro", "catalog": "api-pricing", "params": {"duration": 10}}


@pytest.fixture
def api(live: LiveService, keys: dict[str, str]) -> Iterator[httpx.Client]:
    with live.client(keys["billing"]) as c:
        yield c


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def post(c: httpx.Client, path: str, body: Any = None) -> httpx.Response:
    return c.post(path, json=body, headers={"Idempotency-Key": new_id("k")})


def test_creating_an_existing_wallet_again_answers_200_replayed(api: httpx.Client) -> None:
    wallet = new_id("w")
    created = post(api, "/v1/wallets", {"id": wallet})
    assert (created.status_code, created.json()["replayed"]) == (201, False)
    again = post(api, "/v1/wallets", {"id": wallet})
    assert (again.status_code, again.json()["replayed"]) == (200, True)
    assert {**again.json(), "replayed": False} == created.json()
    clash = post(api, "/v1/wallets", {"id": wallet, "owner_kind": "team"})
    assert clash.status_code == 409


def test_a_fail_reason_is_the_memo_of_its_release_in_the_history(api: httpx.Client) -> None:
    wallet = new_id("w")
    assert post(api, "/v1/wallets", {"id": wallet}).status_code == 201
    assert post(api, f"/v1/wallets/{wallet}/grants", {"amount": 500, "kind": "purchase"})
    failed = post(api, f"/v1/wallets/{wallet}/jobs", KLING_10S).json()["id"]
    reason = "provider timeout after 3 retries"
    assert post(api, f"/v1/jobs/{failed}/fail", {"reason": reason}).status_code == 200
    cancelled = post(api, f"/v1/wallets/{wallet}/jobs", KLING_10S).json()["id"]
    assert post(api, f"/v1/jobs/{cancelled}/cancel").status_code == 200
    entries = api.get(f"/v1/wallets/{wallet}/history").json()["items"]
    memos = {(e["job_id"], e["kind"]): e["memo"] for e in entries}
    assert memos[(failed, "release")] == reason
    assert memos[(cancelled, "release")] == "cancelled"
    assert memos[(failed, "hold")] is None
