"""GET /v1/reports/usage|margin|breakage on the running service: admin only, JSON or CSV."""

from __future__ import annotations

import csv
import io
import uuid
from decimal import Decimal

from tests.api.conftest import LiveService

from gencredits.client import Client


def _workload(live: LiveService, key: str) -> str:
    wallet = f"rep-{uuid.uuid4().hex[:8]}"
    with Client(live.url, key) as gc:
        gc.create_wallet(wallet)
        gc.grant(wallet, 1000, kind="purchase", idempotency_key="g")
        params = {"duration": 5, "resolution": "720p"}
        for n, member in enumerate(("ann", "ann", "bob")):
            job = gc.submit(
                wallet,
                "kling",
                params,
                catalog="shared-credits",
                submitted_by=member,
                idempotency_key=f"s{n}",
            )
            if n == 1:
                gc.fail(job.id, idempotency_key=f"f{n}")
            else:
                gc.complete(job.id, idempotency_key=f"c{n}")
    return wallet


def test_usage_as_json_and_csv(live: LiveService, keys: dict[str, str]) -> None:
    wallet = _workload(live, keys["billing"])
    with live.client(keys["admin"]) as http:
        answer = http.get("/v1/reports/usage", params={"wallet": wallet, "by": "member"})
        assert answer.status_code == 200, answer.text
        rows = {r["member"]: r for r in answer.json()["rows"]}
        assert (rows["ann"]["jobs"], rows["ann"]["captured"], rows["ann"]["refunded"]) == (
            2,
            35,
            35,
        )
        assert Decimal(rows["ann"]["failure_rate"]) == Decimal("0.5")
        assert (rows["bob"]["jobs"], rows["bob"]["failed"]) == (1, 0)
        asked = {"wallet": wallet, "by": "member,day", "output": "csv"}
        as_csv = http.get("/v1/reports/usage", params=asked)
        assert as_csv.status_code == 200, as_csv.text
        assert as_csv.headers["content-type"].startswith("text/csv")
        table = list(csv.DictReader(io.StringIO(as_csv.text)))
        assert [(r["member"], r["jobs"], r["held"]) for r in table] == [
            ("ann", "2", "70"),
            ("bob", "1", "35"),
        ]
        accepted = http.get(
            "/v1/reports/usage", params={"wallet": wallet}, headers={"Accept": "text/csv"}
        )
        assert accepted.headers["content-type"].startswith("text/csv")
        assert accepted.text.splitlines()[0].startswith("jobs,succeeded,failed")


def test_margin_and_breakage_answer(live: LiveService, keys: dict[str, str]) -> None:
    _workload(live, keys["billing"])
    with live.client(keys["admin"]) as http:
        margin = http.get("/v1/reports/margin", params={"by": "model,route"})
        assert margin.status_code == 200, margin.text
        body = margin.json()
        kling = next(r for r in body["rows"] if (r["model"], r["route"]) == ("kling", "direct"))
        assert kling["currency"] == "USD" and Decimal(kling["cost"]) > 0
        assert kling["credits_captured"] >= 70
        margin_csv = http.get("/v1/reports/margin", params={"by": "model", "output": "csv"})
        assert margin_csv.text.splitlines()[0].startswith("model,succeeded,credits_captured")
        breakage = http.get("/v1/reports/breakage", params={"days": 30})
        assert breakage.status_code == 200, breakage.text
        assert breakage.json()["credits_expired"] >= 0


def test_reports_need_an_admin_key_and_a_valid_query(
    live: LiveService, keys: dict[str, str]
) -> None:
    with live.client(keys["read"]) as http:
        assert http.get("/v1/reports/usage").status_code == 403
    with live.client(keys["admin"]) as http:
        bad = http.get("/v1/reports/usage", params={"by": "model,planet"})
        assert bad.status_code == 422
        assert bad.json()["error"]["details"]["field"] == "by"
        backwards = http.get(
            "/v1/reports/usage", params={"since": "2026-02-01", "until": "2026-01-01"}
        )
        assert backwards.status_code == 422
        assert backwards.json()["error"]["details"]["field"] == "until"
        unknown = http.get("/v1/reports/usage", params={"planet": "mars"})
        assert unknown.status_code == 422
