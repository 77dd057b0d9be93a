"""SIGKILL the service in the middle of a stream of submissions and provider callbacks,
restart it, let the platform retry with the same keys, and account for every credit:
each generation is one job, charged exactly once (or refunded), nothing left held, and
the ledger audit is clean.  Also: the first admin key is printed on the first start only."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.api.conftest import (
    CALLBACK_SECRET,
    LiveService,
    create_pg_database,
    drop_pg_database,
    pg_url,
)

from gencredits import errors
from gencredits.api.routes.billing import sign_callback
from gencredits.client import Client
from gencredits.pricing import CatalogSet, quote

GENERATIONS = 40
RETRY_FOR_S = 60
PRICE = quote(CatalogSet.bundled()["api-pricing"], "veo3_fast").total_credits


@pytest.fixture(params=["sqlite", "postgres"])
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveService]:
    if request.param == "sqlite":
        service = LiveService(f"sqlite:///{tmp_path / 'crash.db'}", tmp_path)
        try:
            yield service
        finally:
            service.stop()
        return
    name = create_pg_database()
    service = LiveService(pg_url(name), tmp_path)
    try:
        yield service
    finally:
        service.stop()
        drop_pg_database(name)


RETRIES = {"count": 0}


def until_done(what: str, call: Any) -> Any:
    """The platform's retry loop: same call, same keys, until the service answers."""
    deadline = time.monotonic() + RETRY_FOR_S
    while True:
        try:
            return call()
        except (errors.Unavailable, httpx.TransportError):
            RETRIES["count"] += 1
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: service did not come back") from None
            time.sleep(0.05)


def callback(url: str, body: dict[str, Any]) -> dict[str, Any]:
    raw = json.dumps(body).encode()
    ts = str(int(time.time()))
    response = httpx.post(
        url + "/v1/callbacks/provider",
        content=raw,
        headers={
            "Content-Type": "application/json",
            "X-Gencredits-Timestamp": ts,
            "X-Gencredits-Signature": sign_callback(CALLBACK_SECRET, ts, raw),
        },
        timeout=10,
    )
    if response.status_code >= 500:
        raise errors.Unavailable(f"HTTP {response.status_code}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_sigkill_mid_stream_loses_and_doubles_nothing(fresh: LiveService) -> None:
    fresh.start()
    first_key = fresh.admin_key
    assert first_key.startswith("gck_")
    wallet = f"crash-{uuid.uuid4().hex[:8]}"
    budget = PRICE * GENERATIONS
    with Client(fresh.url, first_key, retries=0) as gc:
        gc.create_wallet(wallet)
        gc.grant(wallet, budget, kind="purchase", idempotency_key="topup-1")

    progress = 0
    failures: list[BaseException] = []

    def platform() -> None:
        nonlocal progress
        try:
            with Client(fresh.url, first_key, retries=0, timeout_s=10) as gc:
                for i in range(GENERATIONS):
                    job = until_done(
                        f"submit {i}",
                        lambda i=i: gc.submit(
                            wallet, "veo3_fast", catalog="api-pricing",
                            idempotency_key=f"gen-{i}",
                        ),
                    )  # fmt: skip
                    outcome = "failed" if i % 4 == 0 else "succeeded"
                    report = {"event_id": f"ev-{i}", "job_id": job.id, "outcome": outcome}
                    until_done(f"callback {i}", lambda r=report: callback(fresh.url, r))
                    progress = i + 1
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    RETRIES["count"] = 0
    worker = threading.Thread(target=platform)
    worker.start()
    while progress < GENERATIONS // 3 and worker.is_alive():
        time.sleep(0.01)
    fresh.kill()  # SIGKILL, mid-stream: requests in flight die with it
    time.sleep(0.5)
    fresh.start()
    worker.join(RETRY_FOR_S * 2)
    assert not worker.is_alive()
    assert not failures, failures
    assert RETRIES["count"] > 0  # the platform really met the dead service and retried
    assert fresh.admin_key == first_key  # the restart printed no second key
    assert "GENCREDITS_API_KEY=" not in fresh.output()

    with Client(fresh.url, first_key) as gc:
        jobs = gc.jobs(wallet, limit=500).items
        assert len(jobs) == GENERATIONS  # every generation is ONE job: no retry held twice
        by_id = {j.id for j in jobs}
        assert len(by_id) == GENERATIONS
        failed = [j for j in jobs if j.status == 2]
        succeeded = [j for j in jobs if j.status == 1]
        assert len(failed) == len([i for i in range(GENERATIONS) if i % 4 == 0])
        assert len(succeeded) + len(failed) == GENERATIONS  # nothing left pending
        assert all(j.creditsUsed == PRICE for j in succeeded)
        assert all(j.creditsUsed == 0 for j in failed)
        shown = gc.wallet(wallet)
        assert shown.held == 0
        assert shown.available == budget - PRICE * len(succeeded)
        violations = gc.audit()
        assert not violations, violations
