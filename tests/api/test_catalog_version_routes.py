"""Price changes over HTTP on the running service: versions published on a catalog of the
test's own (so no other test's prices move), a quote straddling the change, the diff."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from tests.api.conftest import LiveService

import gencredits


def catalog_text(name: str, version: str, price: int) -> str:
    return (
        f"catalog: {name}\nversion: '{version}'\nmodels:\n  m:\n    name: m\n"
        f"    modes: [text-to-image]\n    price: {{flat: {price}}}\n"
    )


def wait_until(when: datetime) -> None:
    time.sleep(max(0.0, (when - datetime.now(UTC)).total_seconds()) + 0.05)


def test_a_quote_straddling_a_price_change_is_honoured_and_every_answer_names_its_version(
    live: LiveService, admin: httpx.Client
) -> None:
    name = f"straddle-{uuid.uuid4().hex[:8]}"
    path = f"/v1/catalogs/{name}/versions"
    v1 = admin.post(path, json={"yaml": catalog_text(name, "1", 10)})  # at once
    assert v1.status_code == 201, v1.text
    start = datetime.fromisoformat(v1.json()["effective_at"])  # catalog_refresh_s ahead
    change = start + timedelta(seconds=1)
    body = {"yaml": catalog_text(name, "2", 12), "effective_at": change.isoformat()}
    v2 = admin.post(path, json=body)
    assert v2.status_code == 201, v2.text
    diff = admin.get(f"/v1/catalogs/{name}/diff", params={"old": "1", "new": "2"}).json()
    assert [(r["old_credits"], r["new_credits"], r["change_percent"]) for r in diff["rows"]] == [
        (10, 12, "20.0")
    ]
    wait_until(start)
    quoted = admin.post("/v1/quotes", json={"model": "m", "catalog": name}).json()
    assert (quoted["total_credits"], quoted["catalog_version"]) == (10, "1")
    assert quoted["catalog_hash"] == v1.json()["content_hash"]

    wallet = f"w-{uuid.uuid4().hex[:8]}"
    admin.post("/v1/wallets", json={"id": wallet}, headers={"Idempotency-Key": wallet})
    grant = {"amount": 100, "kind": "purchase"}
    admin.post(f"/v1/wallets/{wallet}/grants", json=grant, headers={"Idempotency-Key": "g"})
    wait_until(change)
    jobs = f"/v1/wallets/{wallet}/jobs"
    with gencredits.Client(live.url, live.admin_key) as client:  # the Python client too
        honoured = client.submit(
            wallet, "m", catalog=name, quote_hash=quoted["catalog_hash"], idempotency_key="j1"
        )
    fresh = admin.post(
        jobs, json={"model": "m", "catalog": name}, headers={"Idempotency-Key": "j2"}
    )
    assert fresh.status_code == 201, fresh.text
    assert (honoured.credits_quoted, honoured.catalog_version) == (10, "1")
    assert (fresh.json()["credits_quoted"], fresh.json()["catalog_version"]) == (12, "2")
    listed = admin.get(path).json()
    assert listed["active_version"] == "2"
    assert [(v["version"], v["active"]) for v in listed["items"]] == [("1", False), ("2", True)]
    assert admin.get(f"{path}/1").json()["yaml"] == catalog_text(name, "1", 10)


def test_publishing_reports_every_problem_and_stores_nothing(
    live: LiveService, admin: httpx.Client
) -> None:
    name = f"broken-{uuid.uuid4().hex[:8]}"
    text = (
        f"catalog: {name}\nversion: '1'\nmodels:\n  a:\n    name: a\n    modes: [text-to-image]\n"
        "  b:\n    name: b\n    modes: [text-to-image]\n    price: {flat: -1}\n"
    )
    refused = admin.post(f"/v1/catalogs/{name}/versions", json={"yaml": text})
    assert refused.status_code == 422
    problems = refused.json()["error"]["details"]["problems"]
    assert any(p.startswith("models.a") for p in problems)
    assert any(p.startswith("models.b") for p in problems)
    assert admin.get(f"/v1/catalogs/{name}/versions").status_code == 404
    past = {"yaml": catalog_text(name, "1", 5), "effective_at": "2020-01-01T00:00:00Z"}
    answer = admin.post(f"/v1/catalogs/{name}/versions", json=past)
    assert answer.status_code == 422
    assert answer.json()["error"]["details"]["field"] == "effective_at"
    other = admin.post(
        "/v1/catalogs/api-pricing/versions", json={"yaml": catalog_text(name, "1", 5)}
    )
    assert other.status_code == 422 and other.json()["error"]["details"]["field"] == "catalog"
