"""The reports' rollups hold what a full scan of the ledger says, on every store.

A random workload (submissions by members on costed and uncosted models, captures of all or
part of a hold, failures, cancels, timeouts and late successes, expiring grants, sales) runs
over several days; then every rollup is compared with the sums computed from the ledger's
transactions and entries and from the jobs, read through the ordinary history and job lists.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from gencredits.billing import Billing
from gencredits.clock import ManualClock
from gencredits.ledger.model import Job, Transaction
from gencredits.ledger.rollups import day_of
from gencredits.ledger.store import LedgerReader
from gencredits.reports import ReportQuery, breakage_report, usage_report

WALLETS = ("w_a", "w_b", "w_c")
MEMBERS = (None, "ann", "bob")
#: (catalog, model, params): two with a provider cost, one without
MODELS = (
    ("shared-credits", "kling", {"duration": 5, "resolution": "720p"}),
    ("shared-credits", "image-pro", {"resolution": "2K"}),
    ("video-studio", "happy-horse", {"duration": 3, "resolution": "720p"}),
)
USAGE_KEY = ("day", "wallet_id", "member", "model", "route")
STATES = ("jobs", "succeeded", "failed", "cancelled", "timed_out", "late_succeeded")
CREDITS = ("held", "captured", "refunded", "written_off")


def _pages(reader: LedgerReader, wallet_id: str) -> Iterator[Transaction]:
    after = None
    while page := reader.history(wallet_id, after_seq=after, limit=200):
        yield from page
        after = page[-1].seq


def _jobs(reader: LedgerReader, wallet_id: str) -> Iterator[Job]:
    after = None
    while page := reader.list_jobs(wallet_id, after_seq=after, limit=200, states=None):
        yield from page
        after = page[-1].seq


def _key(job: Job, day: str) -> tuple[str, ...]:
    route = str((job.quote or {}).get("route") or "")
    return (day, job.wallet_id, job.submitted_by or "", job.model or "", route)


def scan(reader: LedgerReader) -> dict[tuple[str, ...], Counter[str]]:
    """Usage per key from the ledger's entries and the jobs, not from any rollup."""
    sums: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    for wallet_id in WALLETS:
        jobs = {job.id: job for job in _jobs(reader, wallet_id)}
        for job in jobs.values():
            sums[_key(job, day_of(job.created_at))]["jobs"] += 1
            if job.state in ("succeeded", "failed", "cancelled"):
                assert job.resolved_at is not None
                sums[_key(job, day_of(job.resolved_at))][job.state] += 1
            if job.state == "succeeded_after_timeout":
                assert job.resolved_at is not None
                sums[_key(job, day_of(job.resolved_at))]["late_succeeded"] += 1
        for tx in _pages(reader, wallet_id):
            if tx.job_id is None:
                continue
            into = sums[_key(jobs[tx.job_id], day_of(tx.created_at))]
            amounts = {p.account: p.amount for p in tx.postings}
            if tx.kind == "timeout":
                into["timed_out"] += 1
            if tx.kind == "hold":
                into["held"] += amounts[f"hold:{tx.job_id}"]
            written_off = -amounts.get("written_off", 0)
            into["written_off"] += written_off
            into["captured"] += amounts.get("consumed", 0) - written_off
            if tx.kind in ("capture", "release", "timeout"):
                into["refunded"] += sum(
                    p.amount
                    for p in tx.postings
                    if p.amount > 0 and p.account.startswith(("grant:", "overdraft:"))
                )
    return {key: +counts for key, counts in sums.items() if +counts}


def rolled(reader: LedgerReader, family: str, group_by: tuple[str, ...]) -> dict[Any, Counter[str]]:
    found = reader.rollup_totals(family, group_by=list(group_by), days=(None, None), where={})
    names = STATES + CREDITS
    return {
        row.group: +Counter({n: row.counts[n] for n in names})
        for row in found
        if any(row.counts[n] for n in names)
    }


def _op(
    billing: Billing, rng: random.Random, clock: ManualClock, n: int, open_jobs: list[str]
) -> None:
    """One random operation of the workload (``open_jobs``: submitted, maybe unresolved)."""
    wallet = rng.choice(WALLETS)
    roll = rng.random()
    if roll < 0.45:
        catalog, model, params = rng.choice(MODELS)
        job = billing.submit(
            wallet,
            model,
            params,
            catalog=catalog,
            submitted_by=rng.choice(MEMBERS),
            generations=rng.choice((1, 1, 2)),
            idempotency_key=f"s{n}",
        )
        open_jobs.append(job.id)
        return
    if roll < 0.85:
        if not open_jobs:
            return
        job = billing.get_job(open_jobs.pop(rng.randrange(len(open_jobs))))
        if job.state not in ("pending", "timed_out"):
            return
        what = rng.random()
        if job.state == "timed_out" or what < 0.55:
            gens = rng.choice((None, None, 1, 2))  # 2 of 1 quoted: written off
            billing.complete(job.id, actual_generations=gens, idempotency_key=f"c{n}")
        elif what < 0.85:
            billing.fail(job.id, reason="provider error", idempotency_key=f"f{n}")
        elif job.state == "pending":
            billing.cancel(job.id, idempotency_key=f"x{n}")
        return
    if roll < 0.93:
        expires = clock.now() + timedelta(hours=rng.choice((2, 30)))
        kind = rng.choice(("promotional", "compensation"))
        billing.grant(wallet, 300, kind=kind, expires_at=expires, idempotency_key=f"g{n}")
        return
    clock.advance(delta=timedelta(hours=rng.choice((1, 7, 13))))
    billing.sweep()


def run_workload(billing: Billing, clock: ManualClock, seed: int, ops: int) -> None:
    rng = random.Random(seed)
    for wallet in WALLETS:
        billing.create_wallet(wallet, hold_ttl_s=4 * 3600)
        billing.grant(wallet, 200_000, kind="purchase", idempotency_key=f"base-{wallet}")
    open_jobs: list[str] = []
    for n in range(ops):
        _op(billing, rng, clock, n, open_jobs)


def check_against_scan(billing: Billing) -> None:
    with billing.store.reader() as reader:
        expected = scan(reader)
        assert expected, "the workload did nothing"
        assert rolled(reader, "usage", USAGE_KEY) == expected
        total: dict[Any, Counter[str]] = defaultdict(Counter)
        for (day, _w, _m, model, route), counts in expected.items():
            total[(day, model, route)] += counts
        assert rolled(reader, "usage_total", ("day", "model", "route")) == dict(total)
        report = usage_report(reader, ReportQuery.of(by="member"))
        for name in CREDITS:
            assert getattr(report.total, name) == sum(c[name] for c in expected.values())
        expired: Counter[tuple[str, str]] = Counter()
        grant_kinds = {}
        for wallet_id in WALLETS:
            for grant in reader.wallet_grants(wallet_id, active_only=False):
                grant_kinds[grant.id] = grant.kind
            for tx in _pages(reader, wallet_id):
                if tx.kind == "expire":
                    assert tx.grant_id is not None
                    month = day_of(tx.created_at)[:7]
                    amounts = {p.account: p.amount for p in tx.postings}
                    expired[(month, grant_kinds[tx.grant_id])] += amounts["expired"]
        breakage = breakage_report(reader, ReportQuery.of())
        assert {(r.month, r.kind): r.credits_expired for r in breakage.rows} == dict(+expired)


def test_rollups_equal_a_full_scan_of_the_ledger(store: Any) -> None:
    clock = ManualClock()
    billing = Billing(store, clock=clock)
    run_workload(billing, clock, seed=7, ops=100)
    check_against_scan(billing)


def test_rollups_under_concurrent_writers(store: Any, store_kind: str) -> None:
    """Eight threads submit and settle at once (batched together under group commit)."""
    if store_kind in ("sqlite", "postgresql"):
        pytest.skip("the plain SQL stores run one unit at a time; the batches are the point")
    clock = ManualClock()
    billing = Billing(store, clock=clock)
    for wallet in WALLETS:
        billing.create_wallet(wallet)
        billing.grant(wallet, 100_000, kind="purchase", idempotency_key=f"base-{wallet}")
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        try:
            for i in range(6):
                catalog, model, params = MODELS[(t + i) % 3]
                job = billing.submit(
                    WALLETS[t % 3],
                    model,
                    params,
                    catalog=catalog,
                    submitted_by=MEMBERS[i % 3],
                    idempotency_key=f"t{t}-{i}",
                )
                if i % 3 == 2:
                    billing.fail(job.id, idempotency_key=f"tf{t}-{i}")
                else:
                    billing.complete(job.id, idempotency_key=f"tc{t}-{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    check_against_scan(billing)
    with billing.store.reader() as reader:
        report = usage_report(reader, ReportQuery.of())
    assert (report.total.jobs, report.total.succeeded, report.total.failed) == (48, 32, 16)
