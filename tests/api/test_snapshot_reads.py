"""Reads through the live service are one snapshot (issue 17), on SQLite and PostgreSQL.

32 clients submit, complete (in full and in part), fail, cancel and send duplicate callbacks
on one wallet while three others read all the time: one polls ``GET /v1/wallets/{id}``
(checking every answer), one walks the wallet's history in small pages, one runs
``GET /v1/admin/audit``.  Bounds on a read come only from calls that have answered (see
tests/billing/test_snapshot_reads.py): ``balance`` is never above what was granted minus
what answered calls charged.  The race stops at a deadline: about ten seconds per backend.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from tests.api.conftest import LiveService

RACERS = 32
START_CREDITS = 900
RACE_SECONDS = 4.0
JOB = {"model": "veo3_fast", "catalog": "api-pricing"}  # 9 credits a generation


class Race:
    def __init__(self) -> None:
        self.granted = START_CREDITS
        self.charges: dict[str, int] = {}
        self.jobs: list[str] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def answered(self, response: httpx.Response) -> None:
        """A complete/fail/cancel answer: a resolved job's charge is final."""
        if response.status_code == 409:  # cancelling a success: invalid_transition
            return
        if response.status_code != 200:
            self.errors.append(f"{response.status_code} {response.text[:200]}")
            return
        job = response.json()
        if job["status"] != 0:
            with self.lock:
                self.charges[job["id"]] = job["credits_used"]

    def charged_so_far(self) -> int:
        with self.lock:
            return sum(self.charges.values())


def racer(live: LiveService, key: str, wallet: str, race: Race, i: int, deadline: float) -> None:
    try:
        race_on(live, key, wallet, race, i, deadline)
    except BaseException as exc:
        race.errors.append(f"racer {i}: {exc!r}")


def race_on(live: LiveService, key: str, wallet: str, race: Race, i: int, deadline: float) -> None:
    rng = random.Random(i)

    def post(c: httpx.Client, path: str, body: Any) -> httpx.Response:
        return c.post(path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})

    with live.client(key) as c:
        while time.monotonic() < deadline:
            submitted = post(
                c, f"/v1/wallets/{wallet}/jobs", {**JOB, "generations": rng.randint(1, 4)}
            )
            if submitted.status_code == 402:
                continue
            if submitted.status_code != 201:
                race.errors.append(f"submit {submitted.status_code} {submitted.text[:200]}")
                return
            job = submitted.json()
            with race.lock:
                race.jobs.append(job["id"])
                other = rng.choice(race.jobs)
            action = rng.random()
            if action < 0.25:
                done = post(c, f"/v1/jobs/{job['id']}/complete", {})
            elif action < 0.5:
                part = {"actual_generations": rng.randint(0, job["generations"] - 1)}
                done = post(c, f"/v1/jobs/{job['id']}/complete", part)
            elif action < 0.8:
                done = post(c, f"/v1/jobs/{job['id']}/fail", {})
            else:
                done = post(c, f"/v1/jobs/{job['id']}/cancel", {})
                if done.status_code == 409:  # another client's duplicate completed it first
                    done = c.get(f"/v1/jobs/{job['id']}")
            race.answered(done)
            late = rng.choice(["complete", "fail"])  # a duplicate callback, maybe for another's job
            race.answered(post(c, f"/v1/jobs/{other}/{late}", {}))
            if rng.random() < 0.1:
                with race.lock:
                    race.granted += 20
                grant = post(c, f"/v1/wallets/{wallet}/grants", {"amount": 20, "kind": "bonus"})
                if grant.status_code != 201:
                    race.errors.append(f"grant {grant.status_code} {grant.text[:200]}")


def watch_wallet(c: httpx.Client, wallet: str, race: Race, stop: threading.Event) -> list[Any]:
    reads = []
    while not stop.is_set():
        charged = race.charged_so_far()  # answered before the read: all in the read
        shown = c.get(f"/v1/wallets/{wallet}").json()
        granted = race.granted  # counted before sending: all the read may have seen
        reads.append((shown["available"], shown["held"], shown["balance"], granted - charged))
    return reads


def history(c: httpx.Client, wallet: str) -> list[tuple[str, int]]:
    """The wallet's history, newest first, walked in pages of 7: (id, seq) of each entry."""
    walk: list[tuple[str, int]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        page = c.get(f"/v1/wallets/{wallet}/history", params=params).json()
        walk += [(e["id"], e["seq"]) for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return walk


def walk_history(c: httpx.Client, wallet: str, stop: threading.Event) -> list[Any]:
    walks = []
    while not stop.is_set():
        walks.append(history(c, wallet))
    return walks


def run_audits(c: httpx.Client, stop: threading.Event) -> list[Any]:
    reports = []
    while not stop.is_set():
        reports.append(c.get("/v1/admin/audit").json())
    return reports


@pytest.mark.slow
def test_reads_through_the_service_are_one_snapshot_while_32_clients_race(
    live: LiveService, keys: dict[str, str]
) -> None:
    wallet = f"race-{uuid.uuid4().hex[:12]}"
    with live.client(keys["billing"]) as c:
        assert c.post("/v1/wallets", json={"id": wallet}).status_code == 201
        seed = {"amount": START_CREDITS, "kind": "purchase"}
        granted = c.post(
            f"/v1/wallets/{wallet}/grants", json=seed, headers={"Idempotency-Key": wallet}
        )
        assert granted.status_code == 201, granted.text
    race = Race()
    stop = threading.Event()
    found: dict[str, list[Any]] = {}

    def watcher(name: str, key: str, fn: Callable[[httpx.Client], list[Any]]) -> None:
        try:
            with live.client(key) as c:
                found[name] = fn(c)
        except BaseException as exc:
            race.errors.append(f"{name}: {exc!r}")

    deadline = time.monotonic() + RACE_SECONDS
    threads = [
        threading.Thread(target=racer, args=(live, keys["billing"], wallet, race, i, deadline))
        for i in range(RACERS)
    ]
    watchers = [
        threading.Thread(
            target=watcher,
            args=("wallet", keys["read"], lambda c: watch_wallet(c, wallet, race, stop)),
        ),
        threading.Thread(
            target=watcher, args=("history", keys["read"], lambda c: walk_history(c, wallet, stop))
        ),
        threading.Thread(
            target=watcher, args=("audit", keys["admin"], lambda c: run_audits(c, stop))
        ),
    ]
    for t in threads + watchers:
        t.start()
    for t in threads:
        t.join(timeout=120)
    stop.set()
    for t in watchers:
        t.join(timeout=120)
    assert race.errors == []
    assert len(race.charges) >= 8, "the clients hardly raced"

    reads = found["wallet"]
    assert len(reads) >= 2, "the watcher hardly read during the race"
    bad = [r for r in reads if r[0] < 0 or r[1] < 0 or r[2] != r[0] + r[1] or r[2] > r[3]]
    assert bad == [], f"{len(bad)} of {len(reads)} reads mixed two states, e.g. {bad[:3]}"

    with live.client(keys["billing"]) as c:
        final = history(c, wallet)
        shown = c.get(f"/v1/wallets/{wallet}").json()
    assert (shown["held"], shown["balance"]) == (0, race.granted - sum(race.charges.values()))
    assert found["history"], "no history walk finished"
    for walk in found["history"]:
        assert len(set(walk)) == len(walk), "an entry shown twice across pages"
        top = walk[0][1]
        assert [e for e in final if e[1] <= top] == walk, "an entry skipped across pages"

    assert found["audit"], "no audit ran during the race"
    dirty = [r["violations"] for r in found["audit"] if not r["clean"]]
    assert dirty == [], f"{len(dirty)} of {len(found['audit'])} audits saw violations: {dirty[:1]}"
