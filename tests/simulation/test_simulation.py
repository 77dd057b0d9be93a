"""Seeded simulation: a random workload against a real store and a simple reference model.

Operations: grants (kinds, expiries, future starts, bursts), submissions, completions (full,
partial, costing more: charged up to each wallet's share of the quote beyond the hold, the
rest written off), failures, cancels, duplicate and out-of-order callbacks, retries with the
same key, conflicting reuse of a key, voids, free jobs, clock jumps, sweeps (timeouts and
grant expiries); subscriptions to the bundled plan catalog's plans (upgrades, downgrades,
cancels, resumes, past due), jumps of days across cycle boundaries with ticks (renewals,
reset and rollover, missed cycles caught up), pack purchases with their bonus, full refunds,
chargebacks freezing a wallet (submissions refused ``wallet_frozen``) and unfreezing; team
wallets with members and per-member caps (``member_cap_exceeded`` when over, room given
back by refunds; removed members refused); alert rules (levels, depleted, top-up), exactly
one alert event per crossing.

After EVERY step the reply and the touched wallet (balances, grants per kind, spend order,
soonest expiries; a team's member usage; a wallet's fired alerts and top-up requests) are
compared with the model (:mod:`tests.simulation.reference`); every ``AUDIT_EVERY`` steps
(500; in a long soak 40 times in all) and at the end every wallet, every live grant, every
subscription, the alert events in the outbox (one per crossing, numbered 1..n) and the full
audit (clean) are checked.

A failure prints the seed and the last operations; replay it with
``GENCREDITS_SIM_SEED=<seed> pytest tests/simulation -k <store>``.
``GENCREDITS_SIM_OPS`` scales the run (operations per store) for a long soak, and
``GENCREDITS_SIM_SEED=random`` draws a new workload (the default seed is fixed, so that CI
runs the same one every time).
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter, deque
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from tests.simulation.reference import MAlerts, MJob, Model, MSub, MTeam, MWallet, price

from gencredits import limits
from gencredits.billing import Billing
from gencredits.errors import (
    IdempotencyConflict,
    InsufficientCredits,
    InvalidTransition,
    MemberCapExceeded,
    MemberNotFound,
    NotAMember,
    WalletFrozen,
)
from gencredits.ledger.model import EventType

# 5,200 operations per run (4,000 in memory, fewer where every write is a commit: a busy
# PostgreSQL server makes each one slow); GENCREDITS_SIM_OPS scales it (operations per
# store) for a long soak.
OPS = {
    "memory": 4_000,
    "sqlite": 500,
    "postgresql": 250,
    "sqlite+group-commit": 300,
    "postgresql+group-commit": 150,
}
AUDIT_EVERY = 500  # steps between full checks; a long soak checks 40 times in all
WALLETS = 12
TEAMS = {"t0": 31, "t1": 15}  # team wallet: anchor day (31: short months end cycles early)
MEMBERS = ("ann", "bob", "cy", "dee")
#: Wallets that may get alert rules.  Each has one hold time limit, so its jobs time out in
#: one order on every store (the SQL sweep orders due holds by their expiry alone).
ALERT_WALLETS = ("w0", "w1", "w2", "w3", "w4", "w5", "t0")
TTLS: tuple[int | None, ...] = (None, 600, 1800, 7200)
#: Wallets' own extra-charge shares in turn (None: the service's, 0: at most the hold).
SHARES: tuple[Decimal | None, ...] = (None, Decimal("0.5"), Decimal(1), Decimal("0.25"))
ALERT_EVENTS = {EventType.BALANCE_BELOW, EventType.BALANCE_DEPLETED, EventType.TOPUP_REQUESTED}


class Simulation:
    def __init__(self, billing: Billing, clock: Any, seed: int) -> None:
        self.b, self.clock, self.rng = billing, clock, random.Random(seed)
        self.m = Model(billing.plan_catalog)
        self.requests: list[tuple[Any, ...]] = []  # (kind, args, kwargs, expected id)
        self.log: deque[str] = deque(maxlen=25)
        self.counts: Counter[str] = Counter()  # operations run
        self.seen: Counter[str] = Counter()  # what they did (refusals, cycles, crossings)
        self.key_seq = 0
        self.wallet_ids: list[str] = []
        self.event_cursor: str | None = None
        self.alert_subjects: set[str] = set()

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
        for tid, day in TEAMS.items():
            self.b.create_team(tid, anchor_day=day, idempotency_key="create")
            self.m.wallets[tid] = MWallet(tid)
            self.m.teams[tid] = team = MTeam(day)
            for member, cap in (("ann", 300), ("bob", None)):
                self.b.set_member(tid, member, cap=cap, idempotency_key=f"add-{member}")
                team.members[member] = (cap, True)
        self.wallet_ids = list(self.m.wallets)
        # From the first step, even in a short run: a rollover plan, a reset plan and a big
        # plan on a team, and alert rules on low balances.
        for wid, plan in (("w0", "pro"), ("w1", "starter"), ("w2", "free"), ("t0", "business")):
            self.subscribe(wid, plan)
        self.set_alerts("w2", [50], True, None)
        self.set_alerts("w3", [100, 20], False, 30)

    def step(self) -> None:
        self.clock.advance(1)  # distinct instants: ties in spend order stay well defined
        r = self.rng.random() * OP_WEIGHT
        for threshold, name in OP_THRESHOLDS:
            if r < threshold:
                self.counts[name] += 1
                getattr(self, name)()
                return

    # --- checks
    def check_wallet(self, wid: str) -> None:
        view = self.b.get_wallet(wid)
        mw = self.m.wallets[wid]
        now = self.now()
        real_kinds = {t.kind: [t.grants, t.remaining] for t in view.grant_totals}
        got = (view.available, view.held, real_kinds, view.frozen is not None)
        want = (mw.available(now), mw.held, mw.by_kind(), mw.frozen)
        assert got == want, f"wallet {wid}: store {got} != model {want}"
        # The next grants to spend (from the store's spend index) and the soonest expiries
        # are the ones the documented order names.
        next_up = [(g.id, g.remaining) for g in view.grants]
        assert next_up == [(g.real_id, g.remaining) for g in mw.spend_order(now)[:5]], wid
        soonest = [(e.grant_id, e.remaining) for e in view.next_expiries]
        assert soonest == [(g.real_id, g.remaining) for g in mw.soonest_expiries()[:5]], wid
        if wid in self.m.teams:
            self.check_team(wid)
        if wid in self.m.alerts:
            self.check_alerts(wid)

    def check_team(self, tid: str) -> None:
        """Each member's cap, whether active, and usage in the current team cycle."""
        now = self.now()
        team = self.m.teams[tid]
        got = {m.member_id: (m.cap, m.active, m.used) for m in self.b.get_team(tid).members}
        want = {
            member: (cap, active, self.m.usage(tid, member, now))
            for member, (cap, active) in team.members.items()
        }
        assert got == want, f"team {tid}: store {got} != model {want}"

    def check_alerts(self, wid: str) -> None:
        """The rules fired and not re-armed, and one top-up request per top-up crossing."""
        view = self.b.get_alerts(wid)
        rules = self.m.alerts[wid]
        got = (view.fired, len(view.topups))
        want = (tuple(sorted(rules.fired)), rules.crossings["topup"])
        assert got == want, f"alerts {wid}: store {got} != model {want}"

    def check_alert_events(self, *, final: bool) -> None:
        """At most one alert event per crossing the model counts, numbered 1..n per rule;
        at the end exactly one.  PostgreSQL hands out an event once every older transaction
        on the server has ended (other databases' too): at a checkpoint the events not yet
        handed out are left for later; at the end a count still short is read again for a
        while, and one too many fails at once."""
        want = {
            (wid, rule): n
            for wid, rules in self.m.alerts.items()
            for rule, n in rules.crossings.items()
            if n
        }
        deadline = time.monotonic() + 30
        while True:
            self.read_alert_events()
            got = Counter(tuple(s.rsplit(":", 2)[:2]) for s in self.alert_subjects)
            assert all(got[k] <= want.get(k, 0) for k in got), (got, want)
            if not final or got == want or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        numbered = {f"{w}:{rule}:{i}" for (w, rule), n in want.items() for i in range(1, n + 1)}
        assert self.alert_subjects <= numbered, self.alert_subjects - numbered
        if final:
            assert got == want, f"alert events {dict(got)} != crossings {want}"

    def read_alert_events(self) -> None:
        while True:
            page = self.b.events(after=self.event_cursor, limit=limits.EVENTS_PAGE_MAX)
            if not page:
                return
            self.event_cursor = page[-1].cursor
            for event in page:
                if event.type in ALERT_EVENTS:
                    assert event.subject_id not in self.alert_subjects, event  # one per crossing
                    self.alert_subjects.add(event.subject_id)

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

    def check_subscriptions(self, wid: str) -> None:
        got = {
            s.id: (s.plan, s.state, s.next_cycle, s.next_at, s.pending_plan)
            for s in self.b.list_subscriptions(wid)
        }
        want = {
            s.id: (s.plan, s.state, s.next_cycle, s.next_at, s.pending)
            for s in self.m.subs.values()
            if s.wallet == wid
        }
        assert got == want, f"subscriptions of {wid}: store {got} != model {want}"

    def full_check(self, *, final: bool = False) -> None:
        for wid in self.m.wallets:
            self.check_wallet(wid)
            self.check_every_grant(wid)
            self.check_subscriptions(wid)
        started = time.monotonic()
        self.check_alert_events(final=final)
        self.seen["event_wait_ms"] += int((time.monotonic() - started) * 1000)
        assert self.b.audit() == []

    # --- job operations
    def wallet(self) -> str:
        return self.rng.choice(self.wallet_ids)

    def ttl(self, wid: str) -> int | None:
        if wid in ALERT_WALLETS:
            return TTLS[ALERT_WALLETS.index(wid) % len(TTLS)]
        return self.rng.choice(TTLS)

    def op_submit(self) -> None:
        wid, key = self.wallet(), self.key()
        if self.rng.random() < 0.7:
            model, duration, params = "img", None, {}
            gens = self.rng.randint(1, 4)
        else:
            duration = self.rng.choice([5, 10])
            model, params, gens = "vid", {"duration": duration}, self.rng.randint(1, 2)
        ttl = self.ttl(wid)
        member = self.rng.choice(MEMBERS) if wid in self.m.teams else None
        cost = price(model, duration, gens)
        now = self.now()
        mw = self.m.wallets[wid]
        self.log.append(f"submit {wid} {model} {params} x{gens} ttl={ttl} by={member} key={key}")
        kwargs = {"generations": gens, "idempotency_key": key, "hold_ttl_s": ttl}
        if member is not None:
            kwargs["submitted_by"] = member
        if self.refused(wid, member, cost, lambda: self.b.submit(wid, model, params, **kwargs)):
            self.check_wallet(wid)
            return
        legs = self.m.take(mw, cost, now)
        if legs is None:
            self.seen["insufficient"] += 1
            with pytest.raises(InsufficientCredits) as err:
                self.b.submit(wid, model, params, **kwargs)
            assert (err.value.required, err.value.available) == (cost, mw.available(now))
        else:
            job = self.b.submit(wid, model, params, **kwargs)
            assert (job.status, job.credits_used, job.outcome) == (0, cost, "held")
            mw.held += cost
            expires = now + timedelta(seconds=ttl or 3600)
            mjob = MJob(job.id, wid, model, duration, gens, cost, legs, expires, now, member)
            self.m.add_job(mjob)
            self.m.watch(wid, now)
            self.requests.append(("submit", (wid, model, params), kwargs, job.id))
        self.check_wallet(wid)

    def refused(self, wid: str, member: str | None, cost: int, submit: Any) -> bool:
        """A frozen wallet, a submitter who is not an active member of the team, or a hold
        past the member's cap: refused with its own error, nothing recorded."""
        if self.m.wallets[wid].frozen:
            self.seen["frozen_refused"] += 1
            with pytest.raises(WalletFrozen):
                submit()
            return True
        if member is None:
            return False
        cap, active = self.m.teams[wid].members.get(member, (None, False))
        if not active:
            self.seen["not_a_member"] += 1
            with pytest.raises(NotAMember):
                submit()
            return True
        used = self.m.usage(wid, member, self.now())
        if cap is not None and used + cost > cap:
            self.seen["cap_refused"] += 1
            with pytest.raises(MemberCapExceeded) as err:
                submit()
            assert (err.value.cap, err.value.used, err.value.shortfall) == (
                cap,
                used,
                used + cost - cap,
            )
            return True
        return False

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
        self.m.watch(job.wallet, now)
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
        self.m.watch(job.wallet, self.now())
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
        self.m.watch(job.wallet, self.now())
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

    # --- grant operations
    def op_grant(self) -> None:
        if self.rng.random() < 0.1:
            self.op_grant_burst()
            return
        self.grant_one(self.wallet(), self.rng.randint(10, 300))

    def op_grant_burst(self) -> None:
        """Several small grants on one wallet (daily promotional credits, automatic
        top-ups): wallets come to hold many grants of mixed kinds, priorities and expiries."""
        wid = self.wallet()
        for _ in range(self.rng.randint(3, 12)):
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
        self.m.watch(wid, now)
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
        self.m.watch(wid, self.now())
        self.check_wallet(wid)

    def op_free(self) -> None:
        wid = self.wallet()
        member = self.rng.choice(MEMBERS) if wid in self.m.teams else None
        job = self.b.record_free_job(
            wid, "publishing", submitted_by=member, idempotency_key=self.key()
        )
        assert (job.status, job.credits_used) == (1, 0)
        self.m.watch(wid, self.now())

    # --- time
    def op_advance(self) -> None:
        seconds = self.rng.choice([30, 300, 900, 1800])
        self.log.append(f"advance {seconds}s")
        self.clock.advance(seconds)

    def op_sweep(self) -> None:
        self.log.append("sweep")
        self.b.sweep()
        self.m.sweep(self.now())
        self.check_wallet(self.wallet())

    def op_jump(self) -> None:
        """Days pass (across team and subscription cycle boundaries), then the sweep (which
        renews first), a tick alone, or nothing yet."""
        seconds = self.rng.randint(1, 20) * 86_400 + self.rng.randint(0, 86_399)
        self.clock.advance(seconds)
        r = self.rng.random()
        self.log.append(
            f"jump {seconds}s then {'sweep' if r < 0.6 else 'tick' if r < 0.85 else '-'}"
        )
        if r < 0.6:
            self.b.sweep()
            self.m.sweep(self.now())
        elif r < 0.85:
            report = self.b.tick()
            assert report.cycles_granted == self.m.tick(self.now())
            self.seen["cycles"] += report.cycles_granted
        for wid in self.rng.sample(self.wallet_ids, 3):
            self.check_wallet(wid)

    # --- subscriptions
    def op_subscribe(self) -> None:
        wid = self.wallet()
        if sum(s.wallet == wid and s.state != "ended" for s in self.m.subs.values()) >= 2:
            return
        self.subscribe(wid, self.rng.choice(sorted(self.m.catalog.plans)))

    def subscribe(self, wid: str, plan: str) -> None:
        key = self.key()
        self.log.append(f"subscribe {wid} {plan} key={key}")
        view = self.b.subscribe(wid, plan, idempotency_key=key)
        now = self.now()
        sub = self.m.subs[view.id] = MSub(view.id, wid, plan, now)
        self.m.grant_due(sub, now)
        self.m.watch(wid, now)
        assert (view.state, view.next_cycle, view.next_at) == ("active", 1, sub.next_at)
        self.requests.append(("subscribe", (wid, plan), {"idempotency_key": key}, view.id))
        self.check_wallet(wid)

    def pick_sub(self) -> MSub | None:
        subs = list(self.m.subs.values())
        return self.rng.choice(subs[-40:]) if subs else None

    def op_change_plan(self) -> None:
        sub, key = self.pick_sub(), self.key()
        if sub is None:
            return
        plan = self.rng.choice(sorted(self.m.catalog.plans))
        self.log.append(f"change {sub.id} {sub.plan}->{plan} state={sub.state} key={key}")
        now = self.now()
        outcome = self.m.change_plan(sub, plan, key, now)
        if outcome is None:
            with pytest.raises(InvalidTransition):
                self.b.change_plan(sub.id, plan, idempotency_key=key)
        else:
            view = self.b.change_plan(sub.id, plan, idempotency_key=key)
            self.m.watch(sub.wallet, now)
            assert (view.outcome, view.plan, view.pending_plan) == (outcome, sub.plan, sub.pending)
            self.seen[f"change_{outcome}"] += 1
        self.check_wallet(sub.wallet)

    def op_sub_state(self) -> None:
        sub, key = self.pick_sub(), self.key()
        if sub is None:
            return
        action = self.rng.choice(["cancel", "resume", "resume", "past_due"])
        self.log.append(f"{action} {sub.id} state={sub.state} key={key}")
        call = {
            "cancel": self.b.cancel_subscription,
            "resume": self.b.resume_subscription,
            "past_due": self.b.mark_past_due,
        }[action]
        now = self.now()
        outcome = self.m.set_state(sub, action, now)
        if outcome is None:
            with pytest.raises(InvalidTransition):
                call(sub.id, idempotency_key=key)
        else:
            view = call(sub.id, idempotency_key=key)
            self.m.watch(sub.wallet, now)
            assert (view.outcome, view.state, view.next_cycle) == (
                outcome,
                sub.state,
                sub.next_cycle,
            )
            self.seen[f"sub_{outcome}"] += 1
        self.check_wallet(sub.wallet)

    # --- purchases, refunds, chargebacks, freezes
    def op_purchase(self) -> None:
        wid, key = self.wallet(), self.key()
        pack = self.rng.choice(sorted(self.m.catalog.packs))
        purchase_id = f"pay-{key}"
        self.log.append(f"purchase {wid} {pack} {purchase_id}")
        kwargs = {"purchase_id": purchase_id, "idempotency_key": key}
        view = self.b.purchase(wid, pack, **kwargs)
        now = self.now()
        bought = self.m.buy(wid, pack, purchase_id, now)
        self.m.watch(wid, now)
        ids = [g.real_id for g in bought.grants]
        assert [
            view.credit_grant_id,
            *([view.bonus_grant_id] if view.bonus_grant_id else []),
        ] == ids
        self.requests.append(("purchase", (wid, pack), kwargs, purchase_id))
        self.check_wallet(wid)

    def op_take_back(self) -> None:
        """A full refund, or a chargeback that (mostly) freezes the wallet."""
        if not self.m.purchases:
            return
        bought = self.m.purchases[self.rng.choice(list(self.m.purchases)[-60:])]
        key, kind = self.key(), "refund" if self.rng.random() < 0.75 else "chargeback"
        freeze = self.rng.random() < 0.8
        self.log.append(f"{kind} {bought.id} state={bought.state} freeze={freeze} key={key}")
        outcome, taken, spent = self.m.take_back(bought, kind, freeze)
        if kind == "refund":
            view = self.b.refund_purchase(bought.id, idempotency_key=key)
        else:
            view = self.b.chargeback_purchase(bought.id, freeze=freeze, idempotency_key=key)
        self.m.watch(bought.wallet, self.now())
        assert (view.outcome, view.state) == (outcome, bought.state)
        if taken >= 0:
            assert (view.taken_back, view.spent) == (taken, spent)
            self.seen[outcome] += 1
        self.check_wallet(bought.wallet)

    def op_freeze(self) -> None:
        """An operator lifts a freeze (or, now and then, freezes a wallet)."""
        frozen = [wid for wid in self.wallet_ids if self.m.wallets[wid].frozen]
        wid = self.rng.choice(frozen) if frozen and self.rng.random() < 0.8 else self.wallet()
        reason = None if self.m.wallets[wid].frozen else "operator review"
        self.log.append(f"freeze {wid} {reason}")
        view = self.b.set_frozen(wid, reason, idempotency_key=self.key())
        assert (view.frozen is not None) == (reason is not None)
        self.m.wallets[wid].frozen = reason is not None
        self.m.watch(wid, self.now())
        self.check_wallet(wid)

    # --- teams and alerts
    def op_member(self) -> None:
        tid = self.rng.choice(list(self.m.teams))
        team, member, key = self.m.teams[tid], self.rng.choice(MEMBERS), self.key()
        if self.rng.random() < 0.25:
            self.log.append(f"remove {tid} {member}")
            if member not in team.members:
                with pytest.raises(MemberNotFound):
                    self.b.remove_member(tid, member, idempotency_key=key)
                return
            view = self.b.remove_member(tid, member, idempotency_key=key)
            team.members[member] = (team.members[member][0], False)
        else:
            cap = self.rng.choice([None, 40, 100, 300, 1000])
            self.log.append(f"set member {tid} {member} cap={cap}")
            view = self.b.set_member(tid, member, cap=cap, idempotency_key=key)
            team.members[member] = (cap, True)
        self.m.watch(tid, self.now())
        assert view.used == self.m.usage(tid, member, self.now())
        self.check_wallet(tid)

    def op_alerts(self) -> None:
        below = self.rng.sample([20, 50, 100, 300, 1000, 5000], self.rng.randint(0, 3))
        topup = self.rng.choice([None, 30, 200])
        self.set_alerts(self.rng.choice(ALERT_WALLETS), below, self.rng.random() < 0.5, topup)

    def set_alerts(self, wid: str, below: list[int], depleted: bool, topup: int | None) -> None:
        self.log.append(f"alerts {wid} below={below} depleted={depleted} topup={topup}")
        view = self.b.set_alerts(
            wid,
            below=below,
            depleted=depleted,
            topup_below=topup,
            topup_amount=None if topup is None else 500,
            idempotency_key=self.key(),
        )
        rules = self.m.alerts.setdefault(wid, MAlerts())
        rules.levels = [(f"below-{level}", level) for level in sorted(set(below), reverse=True)]
        rules.levels += [("depleted", 1)] if depleted else []
        rules.levels += [("topup", topup)] if topup is not None else []
        self.m.watch(wid, self.now())
        assert view.fired == tuple(sorted(rules.fired))
        self.check_wallet(wid)


#: (weight, operation): jobs dominate; the plan, team and alert operations are each rarer.
OPS_WEIGHTED = [
    (26, "op_submit"),
    (13, "op_complete"),
    (8, "op_fail"),
    (4, "op_cancel"),
    (6, "op_replay"),
    (2, "op_conflict"),
    (9, "op_grant"),
    (2, "op_void"),
    (2, "op_free"),
    (6, "op_advance"),
    (5, "op_sweep"),
    (1.5, "op_jump"),
    (2, "op_subscribe"),
    (1.5, "op_change_plan"),
    (1.5, "op_sub_state"),
    (3, "op_purchase"),
    (2, "op_take_back"),
    (1, "op_freeze"),
    (2, "op_member"),
    (1.5, "op_alerts"),
]
OP_THRESHOLDS: list[tuple[float, str]] = []
OP_WEIGHT = 0.0
for _weight, _name in OPS_WEIGHTED:
    OP_WEIGHT += _weight
    OP_THRESHOLDS.append((OP_WEIGHT, _name))


#: The seed of a plain run: fixed, so that CI replays the same workload every time.
DEFAULT_SEED = 20261130


def _seed() -> int:
    """``GENCREDITS_SIM_SEED``: a number to replay, ``random`` to explore a new workload."""
    env = os.environ.get("GENCREDITS_SIM_SEED")
    if env == "random":
        return random.SystemRandom().randrange(2**32)
    return int(env) if env else DEFAULT_SEED


#: The reference model replays every key for ever; the run spans months of simulated time,
#: so the idempotency records are kept longer than it (their retention is tested on its own,
#: tests/billing/test_retention.py).  So are the outbox events: the run reads the events feed
#: with a cursor of its own, which no retention waits for (tests/billing/test_outbox_retention.py).
RETENTION_DAYS = 36500


@pytest.fixture
def billing(store: Any, clock: Any, ledger_catalogs: Any) -> Billing:
    """The billing service of the shared fixture, with the records kept past the run."""
    return Billing(
        store,
        ledger_catalogs,
        clock,
        idempotency_retention_days=RETENTION_DAYS,
        outbox_retention_days=RETENTION_DAYS,
    )


def test_seeded_simulation_against_the_reference_model(
    billing: Billing, clock: Any, store_kind: str
) -> None:
    ops = int(os.environ.get("GENCREDITS_SIM_OPS", OPS[store_kind]))
    seed = _seed()
    sim = Simulation(billing, clock, seed)
    step, every = 0, max(AUDIT_EVERY, ops // 40)
    try:
        sim.setup()
        for step in range(1, ops + 1):
            sim.step()
            if step % every == 0:
                sim.full_check()
        billing.sweep()
        sim.m.sweep(clock.now())
        sim.full_check(final=True)
    except BaseException:
        print(f"\nSIMULATION FAILED: store={store_kind} seed={seed} step={step}")
        print(f"replay: GENCREDITS_SIM_SEED={seed} pytest tests/simulation -k '{store_kind}'")
        print("last operations:\n  " + "\n  ".join(sim.log))
        raise
    sim.seen["alert_events"] = len(sim.alert_subjects)
    print(f"\n{store_kind} seed={seed}: {dict(sim.counts)} {dict(sim.seen)}")
    # The workload really exercised the lifecycle (a guard against a silently idle run).
    states = Counter(j.state for j in sim.m.jobs.values())
    assert sim.counts["op_submit"] > ops // 10
    if ops >= 2_000:
        for state in ("succeeded", "failed", "cancelled", "timed_out"):
            assert states[state] > 0, states
        cycles = sum(len(s.cycles) for s in sim.m.subs.values())
        assert cycles > 2 * len(sim.m.subs), "subscriptions renewed"
        for seen in ("refunded", "charged_back", "frozen_refused", "cap_refused", "alert_events"):
            assert sim.seen[seen] > 0, sim.seen
