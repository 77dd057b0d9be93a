"""A database that stalls (connections open, nothing forwarded) is answered 503 within the
documented time, the service recovers by itself when it comes back, and nothing is lost or
doubled: every acknowledged write is kept, replays by idempotency key agree, the audit is
clean.  The service runs as a process, on PostgreSQL, behind tests/stallproxy.py."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.api.conftest import LiveService
from tests.pg import PG_HOST, PG_PORT, PG_USER, create_pg_database, drop_pg_database
from tests.stallproxy import StallProxy

from gencredits import errors
from gencredits.client import Client
from gencredits.pricing import CatalogSet, quote

#: The service's db_timeout_s here (the default is 5): the least that keeps the test short
#: and leaves a pooled connection's ping plus a fresh connect inside it.
DEADLINE_S = int(os.environ.get("GENCREDITS_TEST_STALL_DEADLINE_S", "4"))
#: Slack for the test's own threads and clients to be scheduled on a busy machine.
SLACK_S = 0.5
CALLERS = 8
PRICE = quote(CatalogSet.bundled()["api-pricing"], "veo3_fast").total_credits


@pytest.fixture
def stalled(tmp_path: Path) -> Iterator[tuple[LiveService, StallProxy]]:
    name = create_pg_database()
    proxy = StallProxy(PG_HOST, PG_PORT)
    url = f"postgresql+psycopg://{PG_USER}@127.0.0.1:{proxy.port}/{name}"
    service = LiveService(
        url,
        tmp_path,
        env_extra={
            "GENCREDITS_DB_TIMEOUT_S": str(DEADLINE_S),
            "GENCREDITS_SWEEP_INTERVAL_S": "0",
            "GENCREDITS_WEBHOOK_INTERVAL_S": "0",
        },
    )
    try:
        service.start()
        yield service, proxy
    finally:
        proxy.thaw()
        service.stop()
        proxy.close()
        drop_pg_database(name)


def stall_round(service: LiveService, wallet: str, prefix: str) -> list[tuple[str, float]]:
    """``CALLERS`` submissions at once into a frozen database: (outcome, seconds) each."""
    outcomes: list[tuple[str, float]] = []

    def caller(i: int) -> None:
        started = time.monotonic()
        with Client(service.url, service.admin_key, retries=0, timeout_s=60) as gc:
            try:
                if i % 4 == 3:  # a read, too: it must not hang either
                    gc.wallet(wallet)
                else:
                    gc.submit(
                        wallet, "veo3_fast", catalog="api-pricing", idempotency_key=f"{prefix}{i}"
                    )
                outcome = "ok"
            except errors.Unavailable:
                outcome = "unavailable"
        outcomes.append((outcome, time.monotonic() - started))

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(CALLERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return outcomes


def test_a_stalled_database_is_answered_503_in_time_and_recovers(
    stalled: tuple[LiveService, StallProxy],
) -> None:
    service, proxy = stalled
    wallet = f"stall-{uuid.uuid4().hex[:8]}"
    acknowledged: dict[str, str] = {}
    with Client(service.url, service.admin_key, retries=0) as gc:
        gc.create_wallet(wallet)
        gc.grant(wallet, PRICE * 100, kind="purchase", idempotency_key="topup")
        for i in range(4):
            key = f"before-{i}"
            acknowledged[key] = gc.submit(
                wallet, "veo3_fast", catalog="api-pricing", idempotency_key=key
            ).id

    proxy.freeze()
    time.sleep(1)  # past the key cache (0.5 s): authentication must read the database too
    outcomes = stall_round(service, wallet, "stall-")
    assert len(outcomes) == CALLERS
    assert all(outcome == "unavailable" for outcome, _ in outcomes), outcomes
    assert max(seconds for _, seconds in outcomes) < DEADLINE_S + SLACK_S, outcomes

    proxy.thaw()
    thawed = time.monotonic()
    with Client(service.url, service.admin_key, retries=0) as gc:
        while True:  # the platform's retry loop: recovery needs no restart
            try:
                acknowledged["after"] = gc.submit(
                    wallet, "veo3_fast", catalog="api-pricing", idempotency_key="after"
                ).id
                break
            except errors.Unavailable:
                assert time.monotonic() - thawed < 2 * DEADLINE_S, "no recovery"
                time.sleep(0.05)
        recovered = time.monotonic() - thawed
        waits = ", ".join(f"{s:.2f}" for _, s in sorted(outcomes, key=lambda o: o[1]))
        print(f"503 after {waits} s; recovered {recovered:.2f} s after the thaw")
        replayed = {
            key: gc.submit(wallet, "veo3_fast", catalog="api-pricing", idempotency_key=key).id
            for key in [*acknowledged, *(f"stall-{i}" for i in range(CALLERS) if i % 4 != 3)]
        }
        for key, job_id in acknowledged.items():
            assert replayed[key] == job_id  # every acknowledged write kept, answered alike
        again = {
            key: gc.submit(wallet, "veo3_fast", catalog="api-pricing", idempotency_key=key).id
            for key in replayed
        }
        assert again == replayed  # a key whose first outcome was unknown now has one answer
        jobs = gc.jobs(wallet, limit=500).items
        assert {j.id for j in jobs} == set(replayed.values())  # one job per key, no more
        assert gc.wallet(wallet).held == PRICE * len(jobs)
        violations = gc.audit()
        assert not violations, violations
