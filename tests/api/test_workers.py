"""Two uvicorn workers on one database, racing submissions and completions on one team
wallet: no overdraft, no credit lost or doubled, a clean audit, and /metrics adding up the
requests of both workers."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from tests.api.conftest import LiveService, create_pg_database, drop_pg_database, pg_url

from gencredits import errors
from gencredits.client import Client
from gencredits.pricing import CatalogSet, quote

PRICE = quote(CatalogSet.bundled()["api-pricing"], "veo3_fast").total_credits
THREADS = 8
JOBS_PER_THREAD = 6


@pytest.fixture(params=["sqlite", "postgres"])
def two_workers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveService]:
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'w2.db'}"
    else:
        name = create_pg_database()
        url, drop = pg_url(name), name
    service = LiveService(url, tmp_path, workers=2)
    try:
        service.start()
        yield service
    finally:
        service.stop()
        if drop is not None:
            drop_pg_database(drop)


def test_two_workers_share_one_wallet_correctly(two_workers: LiveService) -> None:
    key = two_workers.admin_key
    wallet = f"team-{uuid.uuid4().hex[:8]}"
    budget = PRICE * THREADS * JOBS_PER_THREAD // 2  # room for half of the jobs at once
    with Client(two_workers.url, key) as gc:
        gc.create_wallet(wallet, owner_kind="team")
        gc.grant(wallet, budget, kind="allowance", idempotency_key="cycle-1")

    def member(n: int) -> tuple[int, int]:
        done = refused = 0
        with Client(two_workers.url, key) as gc:
            for i in range(JOBS_PER_THREAD):
                try:
                    job = gc.submit(wallet, "veo3_fast", catalog="api-pricing",
                                    idempotency_key=f"m{n}-j{i}")  # fmt: skip
                except errors.InsufficientCredits:
                    refused += 1
                    continue
                if i % 2:
                    gc.complete(job.id, idempotency_key=f"m{n}-j{i}-done")
                    done += 1
                else:
                    gc.fail(job.id, idempotency_key=f"m{n}-j{i}-fail")
        return done, refused

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(member, range(THREADS)))
    charged = sum(done for done, _ in results)
    with Client(two_workers.url, key) as gc:
        shown = gc.wallet(wallet)
        assert shown.held == 0
        assert shown.available == budget - PRICE * charged >= 0
        assert gc.audit() == []
        metrics = httpx.get(
            two_workers.url + "/metrics", headers={"Authorization": f"Bearer {key}"}
        ).text
    submits = sum(
        float(m)
        for m in re.findall(
            r'gencredits_http_requests_total\{method="POST",route="/v1/wallets/\{wallet_id\}/jobs",'
            r'status="20\d"\} ([0-9.e+]+)',
            metrics,
        )
    )
    refused = sum(r for _, r in results)
    assert submits == THREADS * JOBS_PER_THREAD - refused  # both workers' counts, aggregated
