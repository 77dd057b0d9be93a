"""What a new user meets in the first hour, over HTTP on the real service (issue #12):
honest statuses and the fail reason in the history."""

from __future__ import annotations

import json
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


def test_a_json_body_sent_as_a_form_works_on_every_route(api: httpx.Client) -> None:
    """``curl -d '{...}'`` declares a form: every route reads the JSON all the same."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    def send(path: str, body: str) -> httpx.Response:
        return api.post(path, content=body, headers={**form, "Idempotency-Key": new_id("k")})

    wallet = new_id("w")
    assert send("/v1/wallets", f'{{"id": "{wallet}"}}').status_code == 201
    granted = send(f"/v1/wallets/{wallet}/grants", '{"amount": 500, "kind": "purchase"}')
    assert granted.status_code == 201, granted.text
    job = send(f"/v1/wallets/{wallet}/jobs", json.dumps(KLING_10S))
    assert job.status_code == 201, job.text
    failed = send(f"/v1/jobs/{job.json()['id']}/fail", '{"reason": "gone"}')
    assert (failed.status_code, failed.json()["state"]) == (200, "failed")
    assert send("/v1/quotes", json.dumps(KLING_10S)).status_code == 200
    not_json = send("/v1/wallets", f"id={wallet}")
    assert not_json.status_code == 422
    error = not_json.json()["error"]
    assert "Content-Type: application/json" in error["message"]
    assert error["details"]["field"] == "body"


def test_errors_say_what_is_missing_or_wrong_and_what_to_send(
    live: LiveService, api: httpx.Client, keys: dict[str, str]
) -> None:
    wallet = new_id("w")
    assert post(api, "/v1/wallets", {"id": wallet}).status_code == 201
    no_key = api.post(f"/v1/wallets/{wallet}/grants", json={"amount": 5, "kind": "bonus"})
    error = no_key.json()["error"]
    assert error["message"] == "Idempotency-Key: required: send the header Idempotency-Key: <value>"
    assert (error["details"]["field"], error["details"]["value"]) == ("Idempotency-Key", None)

    no_model = post(api, "/v1/quotes", {"catalog": "api-pricing", "params": {"duration": 10}})
    error = no_model.json()["error"]
    assert error["message"] == "model: required: send model in the JSON body"
    assert "api-pricing" not in no_model.text  # the body is not quoted back

    top = post(api, "/v1/quotes", {**KLING_10S, "duration": 10})
    error = top.json()["error"]
    assert error["details"]["field"] == "duration"
    assert 'goes under params: {"params": {"duration": ...}}' in error["message"]
    stray = post(api, "/v1/wallets", {"id": new_id("w"), "colour": "red"}).json()["error"]
    assert stray["message"].startswith("colour: not a field of this request")

    for where in ("/v1/quotes", "/v1/catalogs"):
        bare = httpx.post(live.url + where, headers={"Authorization": keys["read"]}, json={})
        if where == "/v1/catalogs":
            bare = httpx.get(live.url + where, headers={"Authorization": keys["read"]})
        assert bare.status_code == 401
        assert "no Bearer key; send Authorization: Bearer <key>" in bare.json()["error"]["message"]
    nothing = httpx.get(live.url + "/v1/catalogs").json()["error"]["message"]
    assert nothing.startswith("missing API key")


def test_the_root_points_to_the_documentation(live: LiveService) -> None:
    root = httpx.get(live.url + "/")
    assert root.status_code == 200
    links = root.json()
    assert links["docs"] == "/docs" and links["openapi"] == "/openapi.json"
    for name in ("docs", "redoc", "openapi", "health", "readiness"):
        assert httpx.get(live.url + links[name]).status_code == 200, name
