"""SIGKILL the service after an alert is in the outbox and before it is delivered: after a
restart the alert is delivered, exactly once per crossing (SQLite and PostgreSQL).

The first service delivers nothing in time (its deliverer runs once at start, then sleeps
an hour); the crossing happens, the service dies; the restarted one delivers every second.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.api.conftest import LiveService, create_pg_database, drop_pg_database, pg_url
from tests.webhook_receiver import receiver

from gencredits.client import Client
from gencredits.webhooks import verify

SECRET = "whsec_crash_0123456789"


@pytest.fixture(params=["sqlite", "postgres"])
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveService]:
    slow = {"GENCREDITS_WEBHOOK_INTERVAL_S": "3600"}
    if request.param == "sqlite":
        service = LiveService(f"sqlite:///{tmp_path / 'hook.db'}", tmp_path, env_extra=slow)
        try:
            yield service
        finally:
            service.stop()
        return
    name = create_pg_database()
    service = LiveService(pg_url(name), tmp_path, env_extra=slow)
    try:
        yield service
    finally:
        service.stop()
        drop_pg_database(name)


def test_sigkill_between_outbox_write_and_delivery(fresh: LiveService) -> None:
    fresh.start()
    wallet = f"hook-{uuid.uuid4().hex[:8]}"
    with receiver() as hook:
        with Client(fresh.url, fresh.admin_key, retries=0) as gc:
            gc.add_webhook(hook.url, SECRET, wallet_id=wallet, types=["alert.balance_below"])
            gc.create_wallet(wallet)
            gc.grant(wallet, 100, kind="purchase")
            gc.set_alerts(wallet, below=[100])
            gc.submit(wallet, "veo3_fast", catalog="api-pricing")  # crosses 100
            assert gc.get_alerts(wallet).fired == ("below-100",)
        time.sleep(0.5)
        assert hook.received == []  # written to the outbox, not delivered
        fresh.kill()

        fresh.env_extra["GENCREDITS_WEBHOOK_INTERVAL_S"] = "1"
        fresh.start()
        deadline = time.monotonic() + 30
        while not hook.received and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(3)  # three more deliverer runs: nothing is sent again
        (got,) = hook.received
        body = json.loads(got.body)
        assert (body["type"], body["subject_id"]) == (
            "alert.balance_below",
            f"{wallet}:below-100:1",
        )
        assert verify(SECRET, got.headers["Gencredits-Signature"], got.body, now=int(time.time()))
        with Client(fresh.url, fresh.admin_key, retries=0) as gc:
            (logged,) = gc.webhook_deliveries().items
            assert (logged.status, logged.attempts) == ("delivered", 1)
