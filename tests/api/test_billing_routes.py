"""Wallets, grants, jobs, history, callbacks, sweep and audit over HTTP, on SQLite and on
PostgreSQL: the credit flow a platform runs, with every amount checked against the quote."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.api.conftest import CALLBACK_SECRET, LiveService

from gencredits.api.routes.billing import sign_callback
from gencredits.pricing import CatalogSet, quote

CATALOG = CatalogSet.bundled()["api-pricing"]
KLING_10S = {"model": "kling/v2-1-pro", "catalog": "api-pricing", "params": {"duration": 10}}


@pytest.fixture
def api(live: LiveService, keys: dict[str, str]) -> Iterator[httpx.Client]:
    with live.client(keys["billing"]) as c:
        yield c


def new_id(prefix: str = "w") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def post(c: httpx.Client, path: str, body: Any = None, key: str | None = None) -> httpx.Response:
    return c.post(path, json=body, headers={"Idempotency-Key": key or new_id("k")})


def funded_wallet(c: httpx.Client, credits: int) -> str:
    wallet = new_id()
    assert post(c, "/v1/wallets", {"id": wallet}).status_code == 201
    granted = post(c, f"/v1/wallets/{wallet}/grants", {"amount": credits, "kind": "purchase"})
    assert granted.status_code == 201, granted.text
    return wallet


def test_submit_holds_the_quote_and_complete_captures_it(api: httpx.Client) -> None:
    wallet = funded_wallet(api, 100)
    price = quote(CATALOG, "kling/v2-1-pro", {"duration": 10}).total_credits
    submitted = post(api, f"/v1/wallets/{wallet}/jobs", KLING_10S)
    assert submitted.status_code == 201, submitted.text
    job = submitted.json()
    assert (job["status"], job["state"], job["creditsUsed"]) == (0, "pending", price)
    assert job["catalog_hash"] == CATALOG.hash
    shown = api.get(f"/v1/wallets/{wallet}").json()
    assert (shown["available"], shown["held"]) == (100 - price, price)

    done = post(api, f"/v1/jobs/{job['id']}/complete", {}).json()
    assert (done["status"], done["state"], done["creditsUsed"]) == (1, "succeeded", price)
    shown = api.get(f"/v1/wallets/{wallet}").json()
    assert (shown["available"], shown["held"]) == (100 - price, 0)


def test_a_failed_job_is_refunded_in_full(api: httpx.Client) -> None:
    wallet = funded_wallet(api, 50)
    job = post(api, f"/v1/wallets/{wallet}/jobs", KLING_10S).json()
    failed = post(api, f"/v1/jobs/{job['id']}/fail", {"reason": "provider error"}).json()
    assert (failed["status"], failed["state"], failed["creditsUsed"]) == (2, "failed", 0)
    assert api.get(f"/v1/wallets/{wallet}").json()["available"] == 50


def test_a_partial_result_captures_less(api: httpx.Client) -> None:
    wallet = funded_wallet(api, 100)
    body = {"model": "veo3_fast", "catalog": "api-pricing", "generations": 4}
    job = post(api, f"/v1/wallets/{wallet}/jobs", body).json()
    unit = quote(CATALOG, "veo3_fast").total_credits
    assert job["creditsUsed"] == 4 * unit
    done = post(api, f"/v1/jobs/{job['id']}/complete", {"actual_generations": 3}).json()
    assert done["creditsUsed"] == 3 * unit
    assert api.get(f"/v1/wallets/{wallet}").json()["available"] == 100 - 3 * unit


def test_a_retried_submit_replays_and_a_reused_key_conflicts(api: httpx.Client) -> None:
    wallet = funded_wallet(api, 100)
    first = post(api, f"/v1/wallets/{wallet}/jobs", KLING_10S, key="same").json()
    again = post(api, f"/v1/wallets/{wallet}/jobs", KLING_10S, key="same").json()
    assert again["id"] == first["id"] and again["replayed"] is True
    assert api.get(f"/v1/wallets/{wallet}").json()["held"] == first["creditsUsed"]  # one hold
    other = {**KLING_10S, "params": {"duration": 5}}
    conflict = post(api, f"/v1/wallets/{wallet}/jobs", other, key="same")
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "idempotency_conflict"


def test_insufficient_credits_is_a_402_and_records_nothing(api: httpx.Client) -> None:
    wallet = funded_wallet(api, 10)
    price = quote(CATALOG, "kling/v2-1-pro", {"duration": 10}).total_credits
    refused = post(api, f"/v1/wallets/{wallet}/jobs", KLING_10S)
    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["code"] == "insufficient_credits"
    assert error["details"]["required"] == price
    assert error["details"]["available"] == 10
    assert error["details"]["shortfall"] == price - 10
    assert api.get(f"/v1/wallets/{wallet}/jobs").json()["items"] == []


def test_moving_credits_needs_an_idempotency_key(api: httpx.Client) -> None:
    wallet = funded_wallet(api, 10)
    refused = api.post(f"/v1/wallets/{wallet}/grants", json={"amount": 5, "kind": "bonus"})
    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["field"] == "Idempotency-Key"
    assert api.get(f"/v1/wallets/{wallet}").json()["available"] == 10


def test_unknown_wallets_and_jobs_are_404s(api: httpx.Client) -> None:
    assert api.get("/v1/wallets/nobody").json()["error"]["code"] == "wallet_not_found"
    assert api.get("/v1/jobs/job_nothing").status_code == 404
    missing = post(api, "/v1/wallets/nobody/jobs", KLING_10S)
    assert missing.status_code == 404


def test_history_pages_newest_first_with_reasons(api: httpx.Client) -> None:
    wallet = funded_wallet(api, 1000)
    for _ in range(3):
        job = post(api, f"/v1/wallets/{wallet}/jobs", KLING_10S).json()
        post(api, f"/v1/jobs/{job['id']}/complete", {})
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get(f"/v1/wallets/{wallet}/history", params=params).json()
        assert len(page["items"]) <= 2
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    seqs = [e["seq"] for e in seen]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs)
    assert {e["kind"] for e in seen} >= {"grant"}
    assert len(seen) >= 7  # a grant, and a hold and a capture per job
    for entry in seen:
        assert sum(p["amount"] for p in entry["postings"]) == 0  # every transaction balances


def test_jobs_list_by_status(api: httpx.Client) -> None:
    wallet = funded_wallet(api, 1000)
    ok = post(api, f"/v1/wallets/{wallet}/jobs", KLING_10S).json()
    post(api, f"/v1/jobs/{ok['id']}/complete", {})
    bad = post(api, f"/v1/wallets/{wallet}/jobs", KLING_10S).json()
    post(api, f"/v1/jobs/{bad['id']}/fail", {})
    pending = post(api, f"/v1/wallets/{wallet}/jobs", KLING_10S).json()
    for status, job in ((0, pending), (1, ok), (2, bad)):
        items = api.get(f"/v1/wallets/{wallet}/jobs", params={"status": status}).json()["items"]
        assert [j["id"] for j in items] == [job["id"]]


def test_grants_list_and_void(api: httpx.Client) -> None:
    wallet = funded_wallet(api, 10)
    bonus = post(api, f"/v1/wallets/{wallet}/grants", {"amount": 5, "kind": "bonus"}).json()
    assert {g["kind"] for g in api.get(f"/v1/wallets/{wallet}/grants").json()["items"]} == {
        "purchase",
        "bonus",
    }
    voided = post(api, f"/v1/grants/{bonus['id']}/void").json()
    assert voided["remaining"] == 0
    assert api.get(f"/v1/wallets/{wallet}").json()["available"] == 10


def test_grants_page_newest_first_with_filters_and_the_wallet_summarises_them(
    api: httpx.Client,
) -> None:
    wallet = funded_wallet(api, 10)
    path = f"/v1/wallets/{wallet}/grants"
    soon, later = "2031-01-01T00:00:00Z", "2032-01-01T00:00:00Z"
    made = [
        post(api, path, {"amount": 5, "kind": "bonus", "expires_at": soon}).json(),
        post(api, path, {"amount": 6, "kind": "bonus", "expires_at": later}).json(),
        post(api, path, {"amount": 7, "kind": "promotional"}).json(),
    ]
    post(api, f"/v1/grants/{made[2]['id']}/void")
    seen: list[str] = []
    cursor = None
    while True:
        page = api.get(path, params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        seen += [g["id"] for g in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen[:3] == [g["id"] for g in reversed(made)] and len(seen) == 4  # newest first
    live = api.get(path, params={"active": "true", "kind": "bonus"}).json()["items"]
    assert [g["id"] for g in live] == [made[1]["id"], made[0]["id"]]
    closed = api.get(path, params={"active": "false"}).json()["items"]
    assert [g["id"] for g in closed] == [made[2]["id"]]
    early = api.get(path, params={"expiring_before": "2031-06-01T00:00:00Z"}).json()["items"]
    assert [g["id"] for g in early] == [made[0]["id"]]
    shown = api.get(f"/v1/wallets/{wallet}").json()
    assert shown["grant_totals"] == [
        {"kind": "bonus", "grants": 2, "remaining": 11},
        {"kind": "purchase", "grants": 1, "remaining": 10},
    ]
    assert [(e["grant_id"], e["expires_at"]) for e in shown["next_expiries"]] == [
        (made[0]["id"], soon),
        (made[1]["id"], later),
    ]
    bad = api.get(path, params={"kind": "gold"})
    assert bad.status_code == 422 and "kind" in bad.text
    assert api.get(path, params={"cursor": "nope"}).status_code == 422


def signed(
    body: dict[str, Any], *, secret: str = CALLBACK_SECRET, age_s: int = 0
) -> dict[str, Any]:
    raw = json.dumps(body).encode()
    ts = str(int(time.time()) - age_s)
    headers = {
        "Content-Type": "application/json",
        "X-Gencredits-Timestamp": ts,
        "X-Gencredits-Signature": sign_callback(secret, ts, raw),
    }
    return {"content": raw, "headers": headers}


def test_signed_callbacks_complete_once_and_refuse_forgeries(
    live: LiveService, api: httpx.Client
) -> None:
    wallet = funded_wallet(api, 100)
    job = post(api, f"/v1/wallets/{wallet}/jobs", KLING_10S).json()
    report = {"event_id": new_id("ev"), "job_id": job["id"], "outcome": "succeeded"}
    with httpx.Client(base_url=live.url) as provider:  # no API key: the signature is the proof
        forged = provider.post("/v1/callbacks/provider", **signed(report, secret="guess"))
        assert forged.status_code == 401
        stale = provider.post("/v1/callbacks/provider", **signed(report, age_s=301))
        assert stale.status_code == 401
        unsigned = provider.post("/v1/callbacks/provider", json=report)
        assert unsigned.status_code == 401
        assert api.get(f"/v1/jobs/{job['id']}").json()["status"] == 0  # nothing happened

        first = provider.post("/v1/callbacks/provider", **signed(report))
        assert first.status_code == 200, first.text
        assert first.json()["status"] == 1
        replay = provider.post("/v1/callbacks/provider", **signed(report)).json()
        assert replay["replayed"] is True
        late_fail = {"event_id": new_id("ev"), "job_id": job["id"], "outcome": "failed"}
        answer = provider.post("/v1/callbacks/provider", **signed(late_fail)).json()
        assert answer["status"] == 1 and answer["outcome"] == "already_succeeded"
    wallet_now = api.get(f"/v1/wallets/{wallet}").json()
    assert wallet_now["available"] == 100 - job["creditsUsed"]  # charged exactly once


def test_the_service_sweeps_holds_past_their_limit(api: httpx.Client, keys: dict[str, str]) -> None:
    wallet = funded_wallet(api, 100)
    job = post(api, f"/v1/wallets/{wallet}/jobs", {**KLING_10S, "hold_ttl_s": 1}).json()
    deadline = time.monotonic() + 15
    state = job["state"]
    while state == "pending" and time.monotonic() < deadline:
        time.sleep(0.25)
        state = api.get(f"/v1/jobs/{job['id']}").json()["state"]
    assert state == "timed_out"  # swept by the service itself, no one called /admin/sweep
    assert api.get(f"/v1/wallets/{wallet}").json()["available"] == 100
    with httpx.Client(
        base_url=api.base_url, headers={"Authorization": f"Bearer {keys['admin']}"}
    ) as admin:
        assert admin.post("/v1/admin/sweep").status_code == 200
        audit = admin.get("/v1/admin/audit").json()
    assert audit == {"clean": True, "violations": []}


def test_metrics_show_holds_and_credits(api: httpx.Client, keys: dict[str, str]) -> None:
    wallet = funded_wallet(api, 100)
    post(api, f"/v1/wallets/{wallet}/jobs", KLING_10S)
    text = api.get("/metrics").text
    held = next(line for line in text.splitlines() if line.startswith("gencredits_credits_held "))
    assert (
        float(held.split()[1]) >= quote(CATALOG, "kling/v2-1-pro", {"duration": 10}).total_credits
    )
    assert "gencredits_holds_open " in text and "gencredits_credits_refunded " in text


def test_a_client_gone_mid_request_leaves_no_half_made_hold(
    live: LiveService, api: httpx.Client, keys: dict[str, str]
) -> None:
    """PEERS: holds leaked when a client disconnected between the hold and its record."""
    import socket

    wallet = funded_wallet(api, 1000)
    body = json.dumps(KLING_10S).encode()
    for attempt in range(5):
        request = (
            f"POST /v1/wallets/{wallet}/jobs HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {keys['billing']}\r\nIdempotency-Key: gone-{attempt}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        with socket.create_connection(("127.0.0.1", live.port)) as s:
            s.sendall(request)
        # closed at once: the service may or may not have held; either way, whole or nothing
    time.sleep(0.5)
    jobs = api.get(f"/v1/wallets/{wallet}/jobs").json()["items"]
    shown = api.get(f"/v1/wallets/{wallet}").json()
    assert shown["held"] == sum(j["credits_held"] for j in jobs)
    # the platform retries each with its key: one job per key, never two holds
    for attempt in range(5):
        retried = post(api, f"/v1/wallets/{wallet}/jobs", KLING_10S, key=f"gone-{attempt}")
        assert retried.status_code == 201, retried.text
    jobs = api.get(f"/v1/wallets/{wallet}/jobs").json()["items"]
    assert len(jobs) == 5
    price = jobs[0]["creditsUsed"]
    assert api.get(f"/v1/wallets/{wallet}").json()["held"] == 5 * price


@pytest.mark.parametrize(
    "path",
    ["/v1/jobs/a%00b", "/v1/wallets/w%00", "/v1/wallets/w%01/jobs", "/v1/wallets/w%00/history",
     "/v1/wallets/w%00/grants"],
)  # fmt: skip
def test_control_characters_in_ids_are_422_on_every_backend(api: httpx.Client, path: str) -> None:
    refused = api.get(path)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "invalid_request"
