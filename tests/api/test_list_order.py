"""Lists over HTTP: newest first by default (wallets by id), ``order=asc|desc`` documented
with its default, pages walked both ways with inserts between them, and a wrong order or a
cursor of the other order refused naming the field (the library's paging is checked on every
store by tests/ledger/test_contract.py)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from tests.api.conftest import LiveService

from gencredits.api import create_app
from gencredits.config import load_settings

LISTS = {
    "/v1/wallets": "asc",
    "/v1/wallets/{wallet_id}/jobs": "desc",
    "/v1/wallets/{wallet_id}/history": "desc",
}
JOB = {"model": "kling/v2-1-pro", "catalog": "api-pricing", "params": {"duration": 5}}


def test_every_list_documents_its_order_and_default(tmp_path: Any) -> None:
    app = create_app(load_settings(database_url=f"sqlite:///{tmp_path / 'x.db'}"))
    paths = app.openapi()["paths"]
    for path, default in LISTS.items():
        (order,) = [p for p in paths[path]["get"]["parameters"] if p["name"] == "order"]
        assert order["in"] == "query" and not order.get("required", False)
        assert order["schema"]["enum"] == ["asc", "desc"]
        assert order["schema"]["default"] == default
        assert "(the default)" in order["description"]


@pytest.mark.parametrize("live", ["sqlite"], indirect=True)
def test_jobs_and_history_page_both_ways_with_inserts_between_pages(
    live: LiveService, keys: dict[str, str]
) -> None:
    with live.client(keys["billing"]) as api:

        def post(path: str, body: Any) -> dict[str, Any]:
            answer = api.post(path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
            assert answer.status_code in (200, 201), answer.text
            return dict(answer.json())

        wallet = f"order-{uuid.uuid4().hex[:10]}"
        post("/v1/wallets", {"id": wallet})
        post(f"/v1/wallets/{wallet}/grants", {"amount": 100_000, "kind": "purchase"})
        submitted = [post(f"/v1/wallets/{wallet}/jobs", JOB)["id"] for _ in range(5)]

        def walk(path: str, order: str | None) -> list[str]:
            seen: list[str] = []
            params: dict[str, Any] = {"limit": 2} | ({"order": order} if order else {})
            while True:
                page = api.get(path, params=params).json()
                seen += [item["id"] for item in page["items"]]
                post(f"/v1/wallets/{wallet}/jobs", JOB)  # an insert between pages
                if page["next_cursor"] is None:
                    return seen
                params["cursor"] = page["next_cursor"]

        jobs = f"/v1/wallets/{wallet}/jobs"
        assert walk(jobs, None) == submitted[::-1]  # newest first, none of the new ones
        oldest = walk(jobs, "asc")
        assert oldest[:5] == submitted and len(oldest) == len(set(oldest)) > 5
        everything = [j["id"] for j in api.get(jobs, params={"limit": 500}).json()["items"]]
        assert oldest == everything[::-1][: len(oldest)]

        history = f"/v1/wallets/{wallet}/history"
        before = [e["id"] for e in api.get(history, params={"limit": 500}).json()["items"]]
        assert walk(history, "desc") == before
        assert walk(history, "asc")[: len(before)] == before[::-1]

        asc_cursor = api.get(jobs, params={"limit": 1, "order": "asc"}).json()["next_cursor"]
        for params in ({"cursor": asc_cursor}, {"order": "newest"}):
            refused = api.get(jobs, params=params)
            assert refused.status_code == 422, refused.text
            error = refused.json()["error"]
            assert error["details"]["field"] == next(iter(params)), error
        wallets = api.get("/v1/wallets", params={"order": "desc", "limit": 500}).json()["items"]
        ids = [w["id"] for w in wallets]
        assert ids == sorted(ids, reverse=True) and wallet in ids
