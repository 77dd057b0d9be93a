"""Seeded simulation: a random workload against a real store and a simple reference model.

Operations: grants (kinds, expiries, future starts), submissions, completions (full, partial,
costing more: charged up to each wallet's share of the quote beyond the hold, the rest
written off), failures, cancels, duplicate and out-of-order callbacks, retries with the same
key, conflicting reuse of a key, voids, free jobs, clock jumps, sweeps (timeouts and grant
expiries).  After EVERY step the reply and the touched wallet are compared with the model;
every ``AUDIT_EVERY`` steps (2,000; 5,000 in memory) all wallets are compared and the full
audit must be clean.

A failure prints the seed and the last operations; replay it with
``GENCREDITS_SIM_SEED=<seed> pytest tests/simulation -k <store>``.
``GENCREDITS_SIM_OPS`` scales the run (operations per store).

The model is deliberately simple: lists of grants with a remaining amount, jobs with the
legs they took, and the documented rules (spend order, refund grant when a released leg's
grant has expired, late success charged or written off) re-stated in a few lines each.
"""

from __future__ import annotations

import os
import random
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import pytest

from gencredits.billing import Billing
from gencredits.billing.ids import refund_grant_id
from gencredits.errors import IdempotencyConflict, InsufficientCredits, InvalidTransition
from gencredits.ledger.model import DEFAULT_KIND_PRIORITIES

# 68,000 operations per run: 50,000 on the memory store, 18,000 on the real SQL stores (a
# grant operation may be a burst of 10-40 grants, so a run writes far more grants than this
# says; GENCREDITS_SIM_OPS scales it up for a long run).
OPS = {
    "memory": 50_000,
    "sqlite": 10_000,
    "postgresql": 4_000,
    "sqlite+group-commit": 2_000,
    "postgresql+group-commit": 2_000,
}
AUDIT_EVERY = 2_000  # 5,000 in memory
WALLETS = 12
#: Wallets' own extra-charge shares in turn (None: the service's, 0: at most the hold).
SHARES: tuple[Decimal | None, ...] = (None, Decimal("0.5"), Decimal(1), Decimal("0.25"))


# --- the reference model --------------------------------------------------------------------------


@dataclass
class MGrant:
    seq: int
    kind: str
    amount: int
    remaining: int
    effective_at: datetime
    expires_at: datetime | None
    created_at: datetime
    state: str = "active"
    real_id: str | None = None
    priority: int | None = None  # None: the kind's default

    @property
    def live(self) -> bool:
        return self.state == "active" and self.remaining > 0

    def spendable(self, now: datetime) -> bool:
        return (
            self.state == "active"
            and self.effective_at <= now
            and (self.expires_at is None or now < self.expires_at)
        )

    def key(self) -> tuple[Any, ...]:
        never = self.expires_at is None
        return (
            DEFAULT_KIND_PRIORITIES[self.kind] if self.priority is None else self.priority,
            never,
            self.effective_at if never else self.expires_at,
            self.created_at,
            self.real_id or "",  # the documented last tie-break: the grant's id
        )


@dataclass
class MJob:
    id: str
    wallet: str
    model: str
    duration: int | None
    gens: int
    price: int
    legs: list[tuple[MGrant, int]]
    hold_expires_at: datetime
    state: str = "pending"
    used: int = 0
    written_off: int = 0


@dataclass
class MWallet:
    id: str
    # Grants that may hold credit, by model seq (pruned of empty and closed ones on sweeps;
    # a release into a pruned grant puts it back).
    grants: dict[int, MGrant] = field(default_factory=dict)
    held: int = 0
    #: the share of a quote a completion may charge beyond its hold (the service's: 0)
    share: Decimal = Decimal(0)

    def available(self, now: datetime) -> int:
        return sum(g.remaining for g in self.grants.values() if g.spendable(now))

    def by_kind(self) -> dict[str, list[int]]:
        """Live grants (active, credit left) by kind: [count, remaining]."""
        out: dict[str, list[int]] = {}
        for g in self.grants.values():
            if g.live:
                line = out.setdefault(g.kind, [0, 0])
                line[0] += 1
                line[1] += g.remaining
        return out

    def spend_order(self, now: datetime) -> list[MGrant]:
        return sorted(
            (g for g in self.grants.values() if g.live and g.spendable(now)), key=MGrant.key
        )

    def soonest_expiries(self) -> list[MGrant]:
        expiring = (g for g in self.grants.values() if g.live and g.expires_at is not None)
        return sorted(expiring, key=lambda g: (g.expires_at, g.created_at, g.real_id or ""))


def price(model: str, duration: int | None, gens: int) -> int:
    if model == "img":
        return 10 * gens
    assert duration is not None
    return {5: 100, 10: 200}[duration] * gens


class Model:
    def __init__(self) -> None:
        self.wallets: dict[str, MWallet] = {}
        self.jobs: dict[str, MJob] = {}
        self.job_ids: list[str] = []
        self.pending: dict[str, MJob] = {}
        self.expiring: list[MGrant] = []  # active grants with an expiry (pruned by sweep)
        self.seq = 0

    def add_job(self, job: MJob) -> None:
        self.jobs[job.id] = job
        self.job_ids.append(job.id)
        self.pending[job.id] = job

    def add_grant(self, w: MWallet, kind: str, amount: int, now: datetime, **kw: Any) -> MGrant:
        self.seq += 1
        g = MGrant(
            self.seq, kind, amount, amount, kw.get("effective_at") or now, kw.get("expires_at"), now
        )
        g.priority = kw.get("priority")
        w.grants[g.seq] = g
        if g.expires_at is not None:
            self.expiring.append(g)
        return g

    def take(self, w: MWallet, amount: int, now: datetime) -> list[tuple[MGrant, int]] | None:
        if amount > w.available(now):
            return None
        legs = []
        live = (g for g in w.grants.values() if g.remaining and g.spendable(now))
        for g in sorted(live, key=MGrant.key):
            part = min(amount, g.remaining)
            if part:
                g.remaining -= part
                legs.append((g, part))
                amount -= part
        assert amount == 0
        return legs

    def give_back(
        self, w: MWallet, legs: list[tuple[MGrant, int]], now: datetime, job_id: str
    ) -> None:
        refund = 0
        for g, amount in legs:
            if g.state == "voided":
                continue
            if g.state == "active" and (g.expires_at is None or now < g.expires_at):
                g.remaining += amount
                w.grants[g.seq] = g
            else:
                refund += amount
        if refund:
            self.add_grant(w, "refund", refund, now).real_id = refund_grant_id(job_id)

    def release(self, job: MJob, now: datetime, state: str) -> None:
        w = self.wallets[job.wallet]
        self.give_back(w, job.legs, now, job.id)
        w.held -= job.price
        job.state, job.legs = state, []
        del self.pending[job.id]

    def capped(self, job: MJob, charge: int) -> tuple[int, int]:
        """(what may be charged, what the policy writes off): at most the hold plus the
        wallet's share of the quote, rounded down."""
        share = self.wallets[job.wallet].share
        limit = job.price + int((share * job.price).to_integral_value(rounding=ROUND_FLOOR))
        return min(charge, limit), max(0, charge - limit)

    def capture(self, job: MJob, charge: int, now: datetime) -> str:
        w = self.wallets[job.wallet]
        charge, capped = self.capped(job, charge)
        capture = min(charge, job.price)
        captured, released, left = [], [], capture
        for g, amount in job.legs:
            part = min(left, amount)
            left -= part
            if amount - part:
                released.append((g, amount - part))
            if part:
                captured.append((g, part))
        self.give_back(w, released, now, job.id)
        w.held -= job.price
        job.state, job.legs, job.used = "succeeded", [], capture
        del self.pending[job.id]
        extra = charge - capture
        outcome = "captured" if charge == job.price else "captured_partial"
        if extra:
            if self.take(w, extra, now) is None:
                job.written_off, outcome = extra, "extra_written_off"
            else:
                job.used, outcome = charge, "charged_extra"
        if capped:
            job.written_off, outcome = job.written_off + capped, "extra_written_off"
        return outcome

    def late_capture(self, job: MJob, charge: int, now: datetime) -> str:
        w = self.wallets[job.wallet]
        job.state = "succeeded_after_timeout"
        charge, capped = self.capped(job, charge)
        job.written_off = capped
        if charge and self.take(w, charge, now) is None:
            job.written_off += charge
        else:
            job.used = charge
        return "written_off_after_timeout" if job.written_off else "charged_after_timeout"

    def sweep(self, now: datetime) -> None:
        for job in list(self.pending.values()):
            if job.hold_expires_at <= now:
                self.release(job, now, "timed_out")
        still: list[MGrant] = []
        for g in self.expiring:
            assert g.expires_at is not None
            if g.state == "active" and g.expires_at <= now:
                g.remaining, g.state = 0, "expired"
            elif g.state == "active":
                still.append(g)
        self.expiring = still
        for w in self.wallets.values():
            w.grants = {k: g for k, g in w.grants.items() if g.state == "active" and g.remaining}


# --- the workload ------------------------------------------------------------------------


class Simulation:
    def __init__(self, billing: Billing, clock: Any, seed: int) -> None:
        self.b, self.clock, self.rng = billing, clock, random.Random(seed)
        self.m = Model()
        self.requests: list[tuple[Any, ...]] = []  # (kind, args, kwargs, expected id)
        self.log: deque[str] = deque(maxlen=25)
        self.counts: Counter[str] = Counter()
        self.key_seq = 0

    def key(self) -> str:
        self.key_seq += 1
        return f"k{self.key_seq}"

    def now(self) -> datetime:
        return self.clock.now()  # type: ignore[no-any-return]

    def setup(self) -> None:
        for i in range(WALLETS):
            wid = f"w{i}"
            share = SHARES[i % len(SHARES)]
            self.b.create_wallet(wid, extra_charge_share=share, idempotency_key="create")
            self.m.wallets[wid] = MWallet(wid, share=Decimal(0) if share is None else share)

    def step(self) -> None:
        self.clock.advance(1)  # distinct instants: ties in spend order stay well defined
        r = self.rng.random()
        ops = [
            (0.30, self.op_submit),
            (0.45, self.op_complete),
            (0.55, self.op_fail),
            (0.60, self.op_cancel),
            (0.68, self.op_replay),
            (0.70, self.op_conflict),
            (0.82, self.op_grant),
            (0.84, self.op_void),
            (0.87, self.op_free),
            (0.95, self.op_advance),
            (1.01, self.op_sweep),
        ]
        for threshold, op in ops:
            if r < threshold:
                self.counts[op.__name__] += 1
                op()
                return

    def check_wallet(self, wid: str) -> None:
        view = self.b.get_wallet(wid)
        mw = self.m.wallets[wid]
        now = self.now()
        real_kinds = {t.kind: [t.grants, t.remaining] for t in view.grant_totals}
        got = (view.available, view.held, real_kinds)
        want = (mw.available(now), mw.held, mw.by_kind())
        assert got == want, f"wallet {wid}: store {got} != model {want}"
        # The next grants to spend (from the store's spend index) and the soonest expiries
        # are the ones the documented order names.
        next_up = [(g.id, g.remaining) for g in view.grants]
        assert next_up == [(g.real_id, g.remaining) for g in mw.spend_order(now)[:5]], wid
        soonest = [(e.grant_id, e.remaining) for e in view.next_expiries]
        assert soonest == [(g.real_id, g.remaining) for g in mw.soonest_expiries()[:5]], wid

    def check_every_grant(self, wid: str) -> None:
        """Every live grant of the wallet, paged from the store, has what the model says."""
        real: dict[str | None, int] = {}
        cursor = None
        while True:
            page = self.b.list_grants(wid, active=True, cursor=cursor, limit=100)
            real.update((g.id, g.remaining) for g in page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        model = {g.real_id: g.remaining for g in self.m.wallets[wid].grants.values() if g.live}
        assert real == model, f"wallet {wid}: live grants differ"

    def full_check(self) -> None:
        for wid in self.m.wallets:
            self.check_wallet(wid)
            self.check_every_grant(wid)
        assert self.b.audit() == []

    # --- operations
    def wallet(self) -> str:
        return f"w{self.rng.randrange(WALLETS)}"

    def op_submit(self) -> None:
        wid, key = self.wallet(), self.key()
        if self.rng.random() < 0.7:
            model, duration, params = "img", None, {}
            gens = self.rng.randint(1, 4)
        else:
            duration = self.rng.choice([5, 10])
            model, params, gens = "vid", {"duration": duration}, self.rng.randint(1, 2)
        ttl = self.rng.choice([None, 600, 1800, 7200])
        cost = price(model, duration, gens)
        now = self.now()
        mw = self.m.wallets[wid]
        self.log.append(f"submit {wid} {model} {params} x{gens} ttl={ttl} key={key}")
        kwargs = {"generations": gens, "idempotency_key": key, "hold_ttl_s": ttl}
        legs = self.m.take(mw, cost, now)
        if legs is None:
            with pytest.raises(InsufficientCredits) as err:
                self.b.submit(wid, model, params, **kwargs)
            assert (err.value.required, err.value.available) == (cost, mw.available(now))
        else:
            job = self.b.submit(wid, model, params, **kwargs)
            assert (job.status, job.credits_used, job.outcome) == (0, cost, "held")
            mw.held += cost
            expires = now + timedelta(seconds=ttl or 3600)
            self.m.add_job(MJob(job.id, wid, model, duration, gens, cost, legs, expires))
            self.requests.append(("submit", (wid, model, params), kwargs, job.id))
        self.check_wallet(wid)

    def pick_job(self, pending_bias: float = 0.8) -> MJob | None:
        if not self.m.jobs:
            return None
        if self.m.pending and self.rng.random() < pending_bias:
            return self.rng.choice(list(self.m.pending.values())[-50:])
        return self.m.jobs[self.rng.choice(self.m.job_ids[-200:])]

    def op_complete(self) -> None:
        job = self.pick_job()
        if job is None:
            return
        key, kwargs = self.key(), {}
        gens, duration = job.gens, job.duration
        r = self.rng.random()
        if r < 0.25:
            gens = self.rng.randint(0, 4 if job.model == "img" else 2)
            kwargs["actual_generations"] = gens
        elif r < 0.35 and job.model == "vid":
            duration = self.rng.choice([5, 10])
            kwargs["actual_params"] = {"duration": duration}
        charge = 0 if gens == 0 else price(job.model, duration, gens)
        self.log.append(f"complete {job.id} {kwargs} state={job.state} key={key}")
        now = self.now()
        before = job.state
        if before == "pending":
            expected = self.m.capture(job, charge, now)
        elif before == "timed_out":
            expected = self.m.late_capture(job, charge, now)
        elif before.startswith("succeeded"):
            expected = "already_succeeded"
        else:
            expected = f"already_{before}"
        answer = self.b.complete(job.id, idempotency_key=key, **kwargs)
        assert (answer.outcome, answer.state) == (expected, job.state), (answer, job)
        assert (answer.credits_used, answer.written_off) == (job.used, job.written_off)
        self.requests.append(("complete", (job.id,), {**kwargs, "idempotency_key": key}, job.id))
        self.check_wallet(job.wallet)

    def op_fail(self) -> None:
        job = self.pick_job()
        if job is None:
            return
        key = self.key()
        self.log.append(f"fail {job.id} state={job.state} key={key}")
        if job.state == "pending":
            self.m.release(job, self.now(), "failed")
            expected = "released"
        elif job.state.startswith("succeeded"):
            expected = "already_succeeded"
        else:
            expected = f"already_{job.state}"
        answer = self.b.fail(job.id, idempotency_key=key)
        assert (answer.outcome, answer.state, answer.credits_used) == (
            expected,
            job.state,
            job.used,
        )
        self.requests.append(("fail", (job.id,), {"idempotency_key": key}, job.id))
        self.check_wallet(job.wallet)

    def op_cancel(self) -> None:
        job = self.pick_job()
        if job is None:
            return
        key = self.key()
        self.log.append(f"cancel {job.id} state={job.state} key={key}")
        if job.state.startswith("succeeded"):
            with pytest.raises(InvalidTransition):
                self.b.cancel(job.id, idempotency_key=key)
            return
        if job.state == "pending":
            self.m.release(job, self.now(), "cancelled")
            expected = "released"
        else:
            expected = f"already_{job.state}"
        answer = self.b.cancel(job.id, idempotency_key=key)
        assert (answer.outcome, answer.state) == (expected, job.state)
        self.check_wallet(job.wallet)

    def op_replay(self) -> None:
        if not self.requests:
            return
        kind, args, kwargs, expected_id = self.rng.choice(self.requests[-300:])
        self.log.append(f"replay {kind} {args} {kwargs}")
        answer = getattr(self.b, kind)(*args, **kwargs)
        assert answer.replayed and answer.id == expected_id
        wallet = answer.wallet_id
        self.check_wallet(wallet)

    def op_conflict(self) -> None:
        submits = [r for r in self.requests[-300:] if r[0] == "submit"]
        if not submits:
            return
        _, (wid, model, params), kwargs, _ = self.rng.choice(submits)
        changed = {**kwargs, "generations": kwargs["generations"] % 2 + 1}
        self.log.append(f"conflict {wid} key={kwargs['idempotency_key']}")
        with pytest.raises(IdempotencyConflict):
            self.b.submit(wid, model, params, **changed)
        self.check_wallet(wid)

    def op_grant(self) -> None:
        if self.rng.random() < 0.15:
            self.op_grant_burst()
            return
        self.grant_one(self.wallet(), self.rng.randint(10, 300))

    def op_grant_burst(self) -> None:
        """Many small grants on one wallet (daily promotional credits, automatic top-ups):
        wallets come to hold many grants of mixed kinds, priorities and expiries."""
        wid = self.wallet()
        for _ in range(self.rng.randint(10, 40)):
            self.clock.advance(1)  # distinct instants: ties in spend order stay well defined
            self.grant_one(wid, self.rng.randint(1, 5))

    def grant_one(self, wid: str, amount: int) -> None:
        key = self.key()
        kind = self.rng.choice(
            ["allowance", "promotional", "bonus", "purchase", "compensation", "refund"]
        )
        priority = self.rng.choice([None, None, None, None, 5, 25, 45, 60])
        now = self.now()
        expires = (
            now + timedelta(seconds=self.rng.randint(300, 4 * 3600))
            if kind != "purchase" and self.rng.random() < 0.8
            else None
        )
        effective = now + timedelta(seconds=600) if self.rng.random() < 0.1 else None
        if expires is not None and effective is not None and expires <= effective:
            expires = effective + timedelta(seconds=600)
        kwargs = {
            "kind": kind,
            "priority": priority,
            "expires_at": expires,
            "effective_at": effective,
            "idempotency_key": key,
        }
        self.log.append(f"grant {wid} {amount} {kwargs}")
        view = self.b.grant(wid, amount, **kwargs)
        g = self.m.add_grant(
            self.m.wallets[wid],
            kind,
            amount,
            now,
            expires_at=expires,
            effective_at=effective,
            priority=priority,
        )
        g.real_id = view.id
        self.requests.append(("grant", (wid, amount), kwargs, view.id))
        self.check_wallet(wid)

    def op_void(self) -> None:
        wid = self.wallet()
        candidates = [
            g
            for g in self.m.wallets[wid].grants.values()
            if g.kind == "purchase" and g.state == "active" and g.real_id
        ]
        if not candidates:
            return
        g = self.rng.choice(candidates)
        self.log.append(f"void {wid} {g.real_id}")
        assert g.real_id is not None
        answer = self.b.void_grant(g.real_id, idempotency_key=self.key())
        assert answer.state == "voided"
        g.remaining, g.state = 0, "voided"
        self.check_wallet(wid)

    def op_free(self) -> None:
        wid = self.wallet()
        job = self.b.record_free_job(wid, "publishing", idempotency_key=self.key())
        assert (job.status, job.credits_used) == (1, 0)

    def op_advance(self) -> None:
        seconds = self.rng.choice([30, 300, 900, 1800])
        self.log.append(f"advance {seconds}s")
        self.clock.advance(seconds)

    def op_sweep(self) -> None:
        self.log.append("sweep")
        self.b.sweep()
        self.m.sweep(self.now())
        self.check_wallet(self.wallet())


def _seed() -> int:
    env = os.environ.get("GENCREDITS_SIM_SEED")
    return int(env) if env else random.SystemRandom().randrange(2**32)


def test_seeded_simulation_against_the_reference_model(
    billing: Billing, clock: Any, store_kind: str
) -> None:
    ops = int(os.environ.get("GENCREDITS_SIM_OPS", OPS[store_kind]))
    seed = _seed()
    sim = Simulation(billing, clock, seed)
    step = 0
    try:
        sim.setup()
        for step in range(1, ops + 1):
            sim.step()
            if step % (5_000 if store_kind == "memory" else AUDIT_EVERY) == 0:
                sim.full_check()
        sim.m.sweep(clock.now())
        billing.sweep()
        sim.full_check()
    except BaseException:
        print(f"\nSIMULATION FAILED: store={store_kind} seed={seed} step={step}")
        print(f"replay: GENCREDITS_SIM_SEED={seed} pytest tests/simulation -k '{store_kind}'")
        print("last operations:\n  " + "\n  ".join(sim.log))
        raise
    # The workload really exercised the lifecycle (a guard against a silently idle run).
    states = Counter(j.state for j in sim.m.jobs.values())
    assert sim.counts["op_submit"] > ops // 5
    if ops >= 5_000:
        for state in ("succeeded", "failed", "cancelled", "timed_out"):
            assert states[state] > 0, states
