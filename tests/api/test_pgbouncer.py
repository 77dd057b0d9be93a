"""The service's contract through pgbouncer in transaction pooling mode: the billing routes'
and the first hour's tests, collected again here against one ``gencredits serve`` whose
database URL points at a pgbouncer (``GENCREDITS_DATABASE_POOLED=true``; the service migrates
through the pooler when it starts), plus many writes at once, group-committed."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.api import test_billing_routes, test_first_hour
from tests.api.conftest import LiveService
from tests.pg import create_pg_database, drop_pg_database
from tests.pgbouncer import pgbouncer, pooled_url

api = test_billing_routes.api
globals().update(
    {
        k: v
        for module in (test_billing_routes, test_first_hour)
        for k, v in vars(module).items()
        if k.startswith("test_")
    }
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    workdir: Path = tmp_path_factory.mktemp("live-pgbouncer")
    name = create_pg_database("gcapi")
    try:
        with pgbouncer() as port:
            service = LiveService(
                pooled_url(port, name), workdir, env_extra={"GENCREDITS_DATABASE_POOLED": "true"}
            )
            try:
                service.start()
                yield service
            finally:
                service.stop()
    finally:
        drop_pg_database(name)


@pytest.fixture(scope="module")
def keys(live: LiveService) -> dict[str, str]:
    return {
        "admin": live.admin_key,
        **{scope: live.make_key(scope, name=scope) for scope in ("billing", "read", "publishable")},
    }


def test_many_writes_at_once_through_the_pooler_are_each_done_once(
    api: httpx.Client, live: LiveService
) -> None:
    wallet = f"w-{uuid.uuid4().hex[:12]}"
    assert api.post("/v1/wallets", json={"id": wallet}, headers={"Idempotency-Key": wallet})
    api.post(
        f"/v1/wallets/{wallet}/grants",
        json={"amount": 100_000, "kind": "purchase"},
        headers={"Idempotency-Key": f"{wallet}-g"},
    ).raise_for_status()
    answers: dict[str, set[str]] = {}
    refused: list[str] = []

    def submit(i: int) -> None:
        key = f"{wallet}-job-{i % 20}"  # each key sent twice, at once
        body = test_billing_routes.KLING_10S
        with live.client(api.headers["Authorization"].split()[1]) as c:
            r = c.post(f"/v1/wallets/{wallet}/jobs", json=body, headers={"Idempotency-Key": key})
        if r.status_code in (200, 201):
            answers.setdefault(key, set()).add(r.json()["id"])
        else:
            refused.append(r.text)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not refused, refused
    assert len(answers) == 20 and all(len(ids) == 1 for ids in answers.values()), answers
    jobs = api.get(f"/v1/wallets/{wallet}/jobs", params={"limit": 100}).json()["items"]
    assert {j["id"] for j in jobs} == set().union(*answers.values()) and len(jobs) == 20
    with live.client(live.admin_key) as admin:
        audit = admin.get("/v1/admin/audit").json()
    assert audit["clean"] is True and audit["violations"] == []
