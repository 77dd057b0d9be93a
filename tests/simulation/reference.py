"""The simulation's reference model: what the documented rules say each call should do.

Deliberately simple: lists of grants with a remaining amount, jobs with the legs they took,
subscriptions with their anchor and next cycle, purchases with their two grants, teams with
their members, and alert rules with what is fired.  Each rule is re-stated in a few lines
(spend order, refund grant when a released leg's grant has expired, late success charged or
written off, cycles anchored on the subscription instant, reset and rollover, pack bonus,
refunds taking back only what is left, per-member caps per team cycle, one alert per
crossing) and compared with the store by ``test_simulation``.
"""

from __future__ import annotations

import calendar
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from dateutil.relativedelta import relativedelta

from gencredits.billing.ids import grant_id_for, refund_grant_id
from gencredits.ledger.model import DEFAULT_KIND_PRIORITIES
from gencredits.plans import PlanCatalog

# --- grants, jobs, wallets --------------------------------------------------------------------


@dataclass
class MGrant:
    seq: int
    wallet: str
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
    created_at: datetime
    member: str | None = None
    state: str = "pending"
    used: int = 0
    written_off: int = 0

    @property
    def counted(self) -> int:
        """What counts against a team member's cap: held + charged."""
        return (self.price if self.state == "pending" else 0) + self.used


@dataclass
class MWallet:
    id: str
    # Grants that may hold credit, by model seq (pruned of empty and closed ones on sweeps;
    # a release into a pruned grant puts it back).
    grants: dict[int, MGrant] = field(default_factory=dict)
    held: int = 0
    #: the share of a quote a completion may charge beyond its hold (the service's: 0)
    share: Decimal = Decimal(0)
    frozen: bool = False

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


# --- subscriptions, purchases, teams, alerts ----------------------------------------------------


def cycle_start(anchor: datetime, number: int) -> datetime:
    """Cycle ``number`` starts ``number`` months after the anchor (always from the anchor)."""
    return anchor + relativedelta(months=number)


@dataclass
class MSub:
    id: str
    wallet: str
    plan: str
    anchor: datetime
    state: str = "active"
    pending: str | None = None
    next_cycle: int = 0
    allowance: list[MGrant] = field(default_factory=list)
    cycles: list[int] = field(default_factory=list)

    @property
    def next_at(self) -> datetime:
        return cycle_start(self.anchor, self.next_cycle)


@dataclass
class MPurchase:
    id: str
    wallet: str
    grants: list[MGrant]
    state: str = "paid"


@dataclass
class MTeam:
    anchor_day: int
    members: dict[str, tuple[int | None, bool]] = field(default_factory=dict)  # cap, active
    jobs: list[MJob] = field(default_factory=list)  # in submission order


def team_cycle(anchor_day: int, at: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the team cycle holding ``at``: 00:00 UTC on the anchor day, the
    month's last day when it is shorter."""

    def on(year: int, month: int) -> datetime:
        return datetime(
            year, month, min(anchor_day, calendar.monthrange(year, month)[1]), tzinfo=UTC
        )

    start = on(at.year, at.month)
    if start > at:
        start = on(at.year - 1, 12) if at.month == 1 else on(at.year, at.month - 1)
    end = on(start.year + 1, 1) if start.month == 12 else on(start.year, start.month + 1)
    return start, end


@dataclass
class MAlerts:
    levels: list[tuple[str, int]] = field(default_factory=list)  # (rule, level)
    fired: set[str] = field(default_factory=set)
    crossings: Counter[str] = field(default_factory=Counter)


# --- the model --------------------------------------------------------------------------------


class Model:
    def __init__(self, catalog: PlanCatalog) -> None:
        self.catalog = catalog
        self.wallets: dict[str, MWallet] = {}
        self.jobs: dict[str, MJob] = {}
        self.job_ids: list[str] = []
        self.pending: dict[str, MJob] = {}
        self.expiring: list[MGrant] = []  # active grants with an expiry (pruned by sweep)
        self.subs: dict[str, MSub] = {}
        self.purchases: dict[str, MPurchase] = {}
        self.teams: dict[str, MTeam] = {}
        self.alerts: dict[str, MAlerts] = {}
        self.seq = 0

    def add_job(self, job: MJob) -> None:
        self.jobs[job.id] = job
        self.job_ids.append(job.id)
        self.pending[job.id] = job
        if job.wallet in self.teams:
            self.teams[job.wallet].jobs.append(job)

    def add_grant(self, w: MWallet, kind: str, amount: int, now: datetime, **kw: Any) -> MGrant:
        self.seq += 1
        start = kw.get("effective_at") or now
        g = MGrant(self.seq, w.id, kind, amount, amount, start, kw.get("expires_at"), now)
        g.priority = kw.get("priority")
        w.grants[g.seq] = g
        if g.expires_at is not None:
            self.expiring.append(g)
        return g

    def issue(
        self, wid: str, kind: str, amount: int, now: datetime, span: tuple[datetime, Any], key: str
    ) -> MGrant | None:
        """A grant a plan operation makes under its own key (``None`` for 0 credits)."""
        if amount <= 0:
            return None
        w = self.wallets[wid]
        g = self.add_grant(w, kind, amount, now, effective_at=span[0], expires_at=span[1])
        g.real_id = grant_id_for(wid, key)
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
                continue  # a voided grant's held credits go back to the issuer
            if g.state == "active" and (g.expires_at is None or now < g.expires_at):
                g.remaining += amount
                w.grants[g.seq] = g
            else:
                refund += amount
        if refund:
            self.add_grant(w, "refund", refund, now).real_id = refund_grant_id(job_id, w.id)

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

    # --- the sweep (renewals first, then timeouts, then expiries; alerts after each item)
    def sweep(self, now: datetime) -> None:
        self.tick(now)
        due = sorted(
            (j for j in self.pending.values() if j.hold_expires_at <= now),
            key=lambda j: (j.hold_expires_at, j.id),
        )
        for job in due:
            self.release(job, now, "timed_out")
            self.watch(job.wallet, now)
        still: list[MGrant] = []
        touched: set[str] = set()
        for g in self.expiring:
            assert g.expires_at is not None
            if g.state == "active" and g.expires_at <= now:
                g.remaining, g.state = 0, "expired"
                touched.add(g.wallet)
            elif g.state == "active":
                still.append(g)
        self.expiring = still
        for wid in sorted(touched):
            self.watch(wid, now)
        for w in self.wallets.values():
            w.grants = {k: g for k, g in w.grants.items() if g.state == "active" and g.remaining}

    # --- subscriptions
    def tick(self, now: datetime) -> int:
        """Renew every subscription due by ``now``: the cycles granted."""
        granted = 0
        for sub in self.subs.values():
            if sub.state in ("active", "cancelled") and sub.next_at <= now:
                granted += self.grant_due(sub, now)
        return granted

    def grant_due(self, sub: MSub, now: datetime) -> int:
        granted = 0
        if sub.state not in ("active", "cancelled"):
            return granted
        while cycle_start(sub.anchor, sub.next_cycle) <= now:
            if sub.state == "cancelled":
                sub.state = "ended"
                break
            self.grant_cycle(sub, sub.next_cycle, now)
            granted += 1
        return granted

    def grant_cycle(self, sub: MSub, n: int, now: datetime) -> None:
        start, end = cycle_start(sub.anchor, n), cycle_start(sub.anchor, n + 1)
        ended = self.catalog.plans[sub.plan]
        if n > 0 and ended.refresh == "rollover":
            left = 0
            for g in sub.allowance:
                if g.state == "active":
                    left += g.remaining
                    g.remaining, g.state = 0, "voided"
            expires = cycle_start(sub.anchor, n + ended.rollover_expiry_months)
            amount = min(left, ended.rollover_cap)
            self.issue(
                sub.wallet,
                "allowance",
                amount,
                now,
                (start, expires),
                f"{sub.id}/cycle/{n}/rollover",
            )
        plan = self.catalog.plans[sub.pending or sub.plan]
        base = f"{sub.id}/cycle/{n}"
        made = self.issue(
            sub.wallet, "allowance", plan.monthly_credits, now, (start, end), f"{base}/allowance"
        )
        self.issue(sub.wallet, "bonus", plan.bonus_credits, now, (start, end), f"{base}/bonus")
        sub.plan, sub.pending, sub.next_cycle = plan.id, None, n + 1
        sub.allowance = [made] if made else []
        sub.cycles.append(n)

    def change_plan(self, sub: MSub, new: str, key: str, now: datetime) -> str | None:
        """The outcome, or ``None`` when the change is refused (not active)."""
        if sub.state != "active":
            return None
        self.grant_due(sub, now)  # a renewal due and not yet ticked comes first
        if new == sub.plan:
            sub.pending = None
            return "unchanged"
        old, plan = self.catalog.plans[sub.plan], self.catalog.plans[new]
        if plan.rank() <= old.rank() or self.catalog.upgrade != "immediate":
            sub.pending = new
            return "next_cycle"
        base = f"{sub.id}/change/{key}"
        span = (now, sub.next_at)
        made = self.issue(
            sub.wallet, "allowance", plan.monthly_credits, now, span, f"{base}/allowance"
        )
        self.issue(sub.wallet, "bonus", plan.bonus_credits, now, span, f"{base}/bonus")
        if made:
            sub.allowance.append(made)
        sub.plan, sub.pending = new, None
        return "immediate"

    def set_state(self, sub: MSub, action: str, now: datetime) -> str | None:
        """The outcome of cancel / past_due / resume, or ``None`` when refused."""
        state = sub.state
        if action == "cancel" and state in ("active", "past_due"):
            sub.state = "cancelled"
        elif action == "past_due" and state == "active":
            sub.state = "past_due"
        elif action == "resume" and state == "cancelled" and now < sub.next_at:
            sub.state = "active"
        elif action == "resume" and state == "past_due":
            current = sub.next_cycle
            while cycle_start(sub.anchor, current + 1) <= now:
                current += 1  # the cycle ``now`` is in, unless the next one is still ahead
            if current > sub.next_cycle:
                sub.allowance = []  # the unpaid cycles are skipped
            sub.state, sub.next_cycle = "active", current
            self.grant_due(sub, now)
            return "resumed"
        elif (action, state) in (("cancel", "cancelled"), ("past_due", "past_due")):
            return f"already_{state}"
        else:
            return None
        return {"cancel": "cancelled", "past_due": "past_due", "resume": "resumed"}[action]

    # --- purchases
    def buy(self, wid: str, pack_id: str, purchase_id: str, now: datetime) -> MPurchase:
        pack = self.catalog.packs[pack_id]
        base = f"purchase/{purchase_id}"
        months = relativedelta(months=pack.validity_months)
        made = [
            self.issue(wid, "purchase", pack.credits, now, (now, now + months), f"{base}/credits")
        ]
        bonus_months = relativedelta(months=pack.bonus_validity_months)
        span = (now, now + bonus_months)
        made.append(self.issue(wid, "bonus", pack.bonus_credits, now, span, f"{base}/bonus"))
        bought = MPurchase(purchase_id, wid, [g for g in made if g is not None])
        self.purchases[purchase_id] = bought
        return bought

    def take_back(self, bought: MPurchase, kind: str, freeze: bool) -> tuple[str, int, int]:
        """(outcome, taken back, spent) of a refund or chargeback."""
        if bought.state != "paid":
            return f"already_{bought.state}", -1, -1
        taken = spent = 0
        for g in bought.grants:
            left = g.remaining if g.state == "active" else 0
            taken, spent = taken + left, spent + g.amount - left
            if g.state == "active":
                g.remaining, g.state = 0, "voided"
        bought.state = "refunded" if kind == "refund" else "charged_back"
        if kind == "chargeback" and freeze:
            self.wallets[bought.wallet].frozen = True
        return bought.state, taken, spent

    # --- teams
    def usage(self, wid: str, member: str, now: datetime) -> int:
        """Held + charged by ``member`` in the team cycle holding ``now``."""
        team = self.teams[wid]
        start, end = team_cycle(team.anchor_day, now)
        used = 0
        for job in reversed(team.jobs):
            if job.created_at < start:
                break
            if job.member == member and job.created_at < end:
                used += job.counted
        return used

    # --- alerts
    def watch(self, wid: str, now: datetime) -> None:
        """After every unit of work on the wallet: fire each armed level ``available`` is
        now below (once), re-arm those it is back at or above."""
        rules = self.alerts.get(wid)
        if rules is None:
            return
        available = self.wallets[wid].available(now)
        for rule, level in rules.levels:
            if available < level and rule not in rules.fired:
                rules.fired.add(rule)
                rules.crossings[rule] += 1
            elif available >= level and rule in rules.fired:
                rules.fired.discard(rule)
