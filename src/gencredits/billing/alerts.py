"""Balance alerts decided inside the unit of work that moves the credits.

A wallet's alert rules are its ``alerts`` state document: levels of ``available`` credits
(several), ``depleted`` (available at or below zero), and an automatic top-up level with its
amount.  After every unit of work on the wallet (:func:`watch`, called by the runner and
the sweep, under the wallet's lock, before the commit), the wallet's ``available`` is
compared with each level:

* falling below a level that is armed fires ONE ``alert.balance_below`` event (and
  ``alert.balance_depleted`` at zero) and disarms the level;
* rising back to the level or above re-arms it, so the next fall fires again.

The arming is the ``alert_arm`` document, written in the same transaction as the credits
and the outbox event: a crossing is decided exactly once whatever the concurrency (the
wallet lock serialises the units), the retries (a unit that does not commit leaves no
event and no arming) and the crashes (the event is in the outbox or the crossing never
happened).  Each crossing has an id, ``<wallet>:<rule>:<n>`` (the n-th crossing of that
rule), carried as the event's subject: a receiver that sees it twice knows it is the same.

Grants expiring soon: with ``expiring_days`` set, each grant with credit left that comes
within that many days of its expiry is announced ONCE (``alert.grant_expiring``), its id kept
in the same ``alert_arm`` document until the grant is gone.  It is checked by :func:`watch`
when the wallet changes and by the sweep (:func:`announce_expiring`) for wallets nobody
touches: the sweep reads the widest window asked for, finds the grants entering a window
from an index of live expiring grants
(:meth:`~gencredits.ledger.store.LedgerReader.grants_expiring_within`), only of wallets with
the rule, and opens a unit only for a wallet that has one not yet announced; the unit
re-reads the arming under the wallet lock, so two sweepers, a retry or a crash announce once.

Automatic top-up: crossing the top-up level also records ONE top-up request (the
``topup`` document under the crossing's id, and a ``topup.requested`` event) that the
platform's payment side polls or consumes; it grants the credits with the request id as
the grant's idempotency key, so acting on a request twice credits once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from gencredits.ledger.model import Event, EventType, Wallet
from gencredits.ledger.store import LedgerReader, WriteUnit

__all__ = [
    "ALERTS",
    "EXPIRING_DAYS_MAX",
    "TOPUP",
    "AlertRules",
    "announce_expiring",
    "available_of",
    "unannounced",
    "watch",
]

ALERTS, ARM, TOPUP = "alerts", "alert_arm", "topup"
#: The widest ``expiring_days`` window a wallet may ask for: the sweep looks this far ahead.
EXPIRING_DAYS_MAX = 366


@dataclass(frozen=True, slots=True)
class AlertRules:
    below: tuple[int, ...] = ()  # levels of available credits, highest first
    depleted: bool = False
    topup_below: int | None = None
    topup_amount: int | None = None
    expiring_days: int | None = None  # alert once per grant expiring within this many days

    def to_data(self) -> dict[str, Any]:
        return {
            "expiring_days": self.expiring_days,
            "below": list(self.below),
            "depleted": self.depleted,
            "topup_below": self.topup_below,
            "topup_amount": self.topup_amount,
        }

    @classmethod
    def of(cls, data: Mapping[str, Any] | None) -> AlertRules | None:
        if data is None:
            return None
        return cls(
            tuple(int(level) for level in data.get("below", ())),
            bool(data.get("depleted")),
            data.get("topup_below"),
            data.get("topup_amount"),
            data.get("expiring_days"),
        )

    def levels(self) -> list[tuple[str, int]]:
        """(rule name, level): each rule fires when ``available`` falls below its level."""
        rules = [(f"below-{level}", level) for level in self.below]
        if self.depleted:
            rules.append(("depleted", 1))  # below 1: at or under zero
        if self.topup_below is not None and self.topup_amount:
            rules.append(("topup", self.topup_below))
        return rules


@dataclass(slots=True)
class _Arm:
    fired: set[str] = field(default_factory=set)  # rules fired and not yet re-armed
    crossings: dict[str, int] = field(default_factory=dict)  # rule -> crossings so far
    expiring: set[str] = field(default_factory=set)  # grants already announced as expiring

    @classmethod
    def of(cls, data: Mapping[str, Any] | None) -> _Arm:
        if data is None:
            return cls()
        fired, crossings = set(data.get("fired", ())), dict(data.get("crossings", {}))
        return cls(fired, crossings, set(data.get("expiring", ())))

    def to_data(self) -> dict[str, Any]:
        crossings = dict(sorted(self.crossings.items()))
        return {
            "fired": sorted(self.fired),
            "crossings": crossings,
            "expiring": sorted(self.expiring),
        }


def available_of(reader: LedgerReader | WriteUnit, wallet: Wallet, now: datetime) -> int:
    """Spendable now: the unexpired remaining of the wallet's grants minus its debt."""
    grants = reader.wallet_grants(wallet.id, active_only=True, nonempty_only=True)
    return sum(g.remaining for g in grants if g.spendable_at(now)) - wallet.debt


def watch(uow: WriteUnit, wallet_id: str, now: datetime) -> None:
    """Fire the alerts whose level ``available`` has just fallen below, once per crossing;
    re-arm those it is back above.  Nothing is read beyond one document for a wallet
    without rules."""
    rules = AlertRules.of(uow.get_state(wallet_id, ALERTS, ""))
    if rules is None:
        return
    wallet = uow.get_wallet(wallet_id)
    if wallet is None:
        return
    available = available_of(uow, wallet, now)
    arm = _Arm.of(uow.get_state(wallet_id, ARM, ""))
    changed = False
    for rule, level in rules.levels():
        if available < level and rule not in arm.fired:
            arm.fired.add(rule)
            arm.crossings[rule] = arm.crossings.get(rule, 0) + 1
            _fire(uow, wallet_id, rule, (level, available, arm.crossings[rule]), rules, now)
            changed = True
        elif available >= level and rule in arm.fired:
            arm.fired.discard(rule)
            changed = True
    changed = _expiring(uow, wallet, rules, arm, now) or changed
    if changed:
        uow.put_state(wallet_id, ARM, "", arm.to_data())


def announce_expiring(uow: WriteUnit, wallet_id: str, now: datetime) -> int:
    """The sweep's unit for a wallet nobody touched: announce its grants that entered the
    ``expiring_days`` window and are not announced yet; how many were."""
    rules = AlertRules.of(uow.get_state(wallet_id, ALERTS, ""))
    wallet = uow.get_wallet(wallet_id)
    if rules is None or rules.expiring_days is None or wallet is None:
        return 0
    arm = _Arm.of(uow.get_state(wallet_id, ARM, ""))
    before = set(arm.expiring)
    if _expiring(uow, wallet, rules, arm, now):
        uow.put_state(wallet_id, ARM, "", arm.to_data())
    return len(arm.expiring - before)


def unannounced(
    reader: LedgerReader, found: Sequence[tuple[str, str, datetime]], now: datetime
) -> list[str]:
    """The wallets (in order of first appearance) among ``found`` (grant, wallet, expiry)
    with a grant inside their own window that their arming does not list yet."""
    wallets: dict[str, bool] = {}
    windows: dict[str, tuple[datetime | None, set[str]]] = {}
    for grant_id, wallet_id, expires_at in found:
        if wallet_id not in windows:
            rules = AlertRules.of(reader.get_state(wallet_id, ALERTS, ""))
            days = rules.expiring_days if rules is not None else None
            horizon = now + timedelta(days=days) if days is not None else None
            arm = _Arm.of(reader.get_state(wallet_id, ARM, ""))
            windows[wallet_id] = (horizon, arm.expiring)
        horizon, announced = windows[wallet_id]
        if horizon is not None and expires_at <= horizon and grant_id not in announced:
            wallets[wallet_id] = True
    return list(wallets)


def _expiring(uow: WriteUnit, wallet: Wallet, rules: AlertRules, arm: _Arm, now: datetime) -> bool:
    """One ``alert.grant_expiring`` per grant with credit left that expires within
    ``expiring_days`` (when the wallet changes, and by the sweep); forgotten once the grant
    is gone."""
    if rules.expiring_days is None:
        return False
    horizon = now + timedelta(days=rules.expiring_days)
    live = uow.wallet_grants(wallet.id, active_only=True, nonempty_only=True)
    soon = {g.id: g for g in live if g.expires_at is not None and now < g.expires_at <= horizon}
    fresh = [g for g in soon.values() if g.id not in arm.expiring]
    for grant in sorted(fresh, key=lambda g: (g.expires_at or now, g.id)):
        payload = {"grant_id": grant.id, "kind": grant.kind, "remaining": grant.remaining}
        payload["expires_at"] = (grant.expires_at or now).isoformat().replace("+00:00", "Z")
        uow.emit(Event(wallet.id, EventType.GRANT_EXPIRING, grant.id, now, payload))
    gone = {g for g in arm.expiring if g not in soon}
    arm.expiring = (arm.expiring - gone) | {g.id for g in fresh}
    return bool(fresh or gone)


def _fire(
    uow: WriteUnit,
    wallet_id: str,
    rule: str,
    crossing: tuple[int, int, int],
    rules: AlertRules,
    now: datetime,
) -> None:
    level, available, number = crossing
    crossing_id = f"{wallet_id}:{rule}:{number}"
    payload: dict[str, Any] = {"level": level, "available": available, "crossing": crossing_id}
    if rule == "topup":
        request: dict[str, Any] = {"amount": rules.topup_amount, "level": level}
        request |= {"available": available}
        request |= {"created_at": now.isoformat(), "crossing": crossing_id}
        uow.put_state(wallet_id, TOPUP, crossing_id, request)
        uow.emit(Event(wallet_id, EventType.TOPUP_REQUESTED, crossing_id, now, request))
        return
    kind = EventType.BALANCE_DEPLETED if rule == "depleted" else EventType.BALANCE_BELOW
    uow.emit(Event(wallet_id, kind, crossing_id, now, payload))


def check_rules(below: Sequence[int]) -> tuple[int, ...]:
    """The levels, highest first, without repeats."""
    return tuple(sorted(set(below), reverse=True))
