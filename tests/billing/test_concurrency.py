"""32+ threads racing on ONE wallet: submits, completes (full and partial), failures, cancels,
duplicate callbacks from other threads, replays, grants and sweeps, on every store.

Afterwards: no overdraft was ever observed, every hold resolved exactly once, the wallet's
balance is exactly what was granted minus what jobs were charged, and the audit is clean.
"""

from __future__ import annotations

import contextlib
import random
import threading
from typing import Any

from gencredits.billing import Billing
from gencredits.errors import InsufficientCredits, InvalidTransition

THREADS = 32
ROUNDS = 10
START_CREDITS = 1_500


def test_32_threads_on_one_wallet_no_overdraft_no_double_refund_clean_audit(
    billing: Billing, clock: Any
) -> None:
    billing.create_wallet("team", owner_kind="team")
    billing.grant("team", START_CREDITS, kind="purchase", idempotency_key="seed")
    granted = [START_CREDITS]
    granted_lock = threading.Lock()
    job_ids: list[str] = []
    rejected = [0]
    errors: list[BaseException] = []
    observed_min = [START_CREDITS]
    stop = threading.Event()
    barrier = threading.Barrier(THREADS + 1)

    def worker(i: int) -> None:
        rng = random.Random(i)
        barrier.wait()
        try:
            for k in range(ROUNDS):
                key = f"t{i}-r{k}"
                try:
                    job = billing.submit(
                        "team", "img", generations=rng.randint(1, 4), idempotency_key=key
                    )
                except InsufficientCredits:
                    rejected[0] += 1
                    continue
                assert (
                    billing.submit(
                        "team", "img", generations=job.generations, idempotency_key=key
                    ).id
                    == job.id
                )
                with granted_lock:
                    job_ids.append(job.id)
                    other = rng.choice(job_ids)
                action = rng.random()
                if action < 0.35:
                    billing.complete(job.id, idempotency_key=f"{key}-ok")
                elif action < 0.55:
                    billing.complete(
                        job.id,
                        actual_generations=rng.randint(0, job.generations),
                        idempotency_key=f"{key}-part",
                    )
                elif action < 0.8:
                    billing.fail(job.id, idempotency_key=f"{key}-fail")
                else:
                    # Another thread's duplicate callback may have completed it first.
                    with contextlib.suppress(InvalidTransition):
                        billing.cancel(job.id, idempotency_key=f"{key}-cancel")
                # A duplicate, out-of-order callback for some job, maybe another thread's.
                late = rng.choice(["complete", "fail"])
                if late == "complete":
                    billing.complete(other, idempotency_key=f"{key}-dup")
                else:
                    billing.fail(other, idempotency_key=f"{key}-dup")
                if k % 4 == 3:
                    billing.grant("team", 40, kind="bonus", idempotency_key=f"{key}-bonus")
                    with granted_lock:
                        granted[0] += 40
                if i == 0:
                    billing.sweep()
        except BaseException as exc:
            errors.append(exc)

    def watcher() -> None:
        while not stop.is_set():
            w = billing.get_wallet("team")
            observed_min[0] = min(observed_min[0], w.available)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    watch = threading.Thread(target=watcher)
    barrier.wait()
    watch.start()
    for t in threads:
        t.join(timeout=300)
    stop.set()
    watch.join()

    assert errors == []
    assert observed_min[0] >= 0, "the wallet went below zero"
    jobs = [billing.get_job(j) for j in set(job_ids)]
    assert len(jobs) == len(job_ids)  # one job per idempotency key, never two
    assert all(j.status in (1, 2) for j in jobs)
    charged = sum(j.credits_used for j in jobs)
    w = billing.get_wallet("team")
    assert (w.held, w.available) == (0, granted[0] - charged)
    assert billing.audit() == []
    captures = [e for e in _all_history(billing) if e.kind in ("capture", "release", "timeout")]
    assert len(captures) == len(jobs)  # each hold resolved exactly once


def _all_history(billing: Billing) -> list[Any]:
    items: list[Any] = []
    cursor = None
    while True:
        page = billing.history("team", cursor=cursor, limit=500)
        items += page.items
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor
