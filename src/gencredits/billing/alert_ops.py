"""Alert operations of :class:`~gencredits.billing.Billing`: set a wallet's alert rules and
read them with what is fired and the top-up requests.  The crossings themselves are decided
by :mod:`.alerts` inside the units of work that move credits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from pydantic import Field

from gencredits import limits
from gencredits.errors import InvalidRequest
from gencredits.ledger.model import IdempotencyRecord, Wallet
from gencredits.ledger.store import LedgerReader, UnitHints, WriteUnit

from . import alerts
from .inputs import Operation, check_id, check_int
from .runner import Done, UnitRunner, need_wallet
from .views import Outcome, OutcomeText, Replayable, Wire

__all__ = ["AlertOperations", "AlertsView", "SetAlerts", "TopupRequest"]

LEVELS_MAX = 10
EXPIRING_DAYS_MAX = alerts.EXPIRING_DAYS_MAX


@dataclass(frozen=True, slots=True)
class SetAlerts(Operation):
    operation: ClassVar[str] = "set_alerts"
    wallet_id: str
    below: tuple[int, ...] = field(default=())
    depleted: bool = False
    topup_below: int | None = None
    topup_amount: int | None = None
    expiring_days: int | None = None

    def __post_init__(self) -> None:
        check_id("wallet_id", self.wallet_id)
        if not isinstance(self.below, Sequence) or len(self.below) > LEVELS_MAX:
            raise InvalidRequest.for_field(
                "below", self.below, f"a list of at most {LEVELS_MAX} levels"
            )
        for level in self.below:
            check_int("below", level, 1, limits.AMOUNT_MAX)
        object.__setattr__(self, "below", alerts.check_rules(self.below))
        if not isinstance(self.depleted, bool):
            raise InvalidRequest.for_field("depleted", self.depleted, "true or false")
        if (self.topup_below is None) != (self.topup_amount is None):
            raise InvalidRequest.for_field(
                "topup_amount", self.topup_amount, "set together with topup_below, or neither"
            )
        if self.topup_below is not None:
            check_int("topup_below", self.topup_below, 1, limits.AMOUNT_MAX)
            check_int("topup_amount", self.topup_amount, 1, limits.AMOUNT_MAX)
        if self.expiring_days is not None:
            check_int("expiring_days", self.expiring_days, 1, EXPIRING_DAYS_MAX)

    @property
    def scope(self) -> str:
        return f"wallet:{self.wallet_id}"

    def rules(self) -> alerts.AlertRules:
        return alerts.AlertRules(
            self.below, self.depleted, self.topup_below, self.topup_amount, self.expiring_days
        )


class TopupRequest(Wire):
    id: str = Field(description="The crossing's id: use it as the top-up grant's idempotency key.")
    amount: int
    level: int
    available: int = Field(description="What was available when the level was crossed.")
    created_at: str


class AlertsView(Replayable):
    wallet_id: str
    below: tuple[int, ...] = Field(description="Levels of available credits, highest first.")
    depleted: bool
    topup_below: int | None
    topup_amount: int | None
    expiring_days: int | None = Field(description="Alert once per grant expiring this soon.")
    available: int
    fired: tuple[str, ...] = Field(description="Rules fired and not yet re-armed.")
    topups: tuple[TopupRequest, ...] = Field(description="Top-up requests, oldest first.")
    outcome: OutcomeText | None = None


def alerts_view(
    reader: LedgerReader | WriteUnit, wallet_id: str, now: datetime, outcome: str | None = None
) -> AlertsView:
    wallet = need_wallet(reader.get_wallet(wallet_id), wallet_id)
    rules = alerts.AlertRules.of(reader.get_state(wallet_id, alerts.ALERTS, ""))
    rules = rules or alerts.AlertRules()
    arm = reader.get_state(wallet_id, alerts.ARM, "") or {}
    topups = [
        TopupRequest(id=key, **{k: data[k] for k in ("amount", "level", "available", "created_at")})
        for key, data in reader.list_state(wallet_id, alerts.TOPUP)
    ]
    return AlertsView(
        wallet_id=wallet_id,
        below=rules.below,
        depleted=rules.depleted,
        topup_below=rules.topup_below,
        topup_amount=rules.topup_amount,
        expiring_days=rules.expiring_days,
        available=alerts.available_of(reader, wallet, now),
        fired=tuple(arm.get("fired", ())),
        topups=tuple(sorted(topups, key=lambda t: (t.created_at, t.id))),
        outcome=outcome,
    )


class AlertOperations:
    """Mixed into :class:`~gencredits.billing.Billing` (it provides ``_runner``)."""

    _runner: UnitRunner

    def set_alerts(
        self,
        wallet_id: str,
        *,
        below: Sequence[int] = (),
        depleted: bool = False,
        topup_below: int | None = None,
        topup_amount: int | None = None,
        expiring_days: int | None = None,
        idempotency_key: str | None = None,
    ) -> AlertsView:
        """Set the wallet's alert rules (replacing earlier ones): ``below`` levels of
        available credits, ``depleted``, and an automatic top-up request of
        ``topup_amount`` when available falls below ``topup_below``; ``expiring_days``: one
        alert per grant with credit left expiring that soon.  A level the wallet
        is already below fires at once (in this same unit)."""
        asked = SetAlerts(
            wallet_id, tuple(below), depleted, topup_below, topup_amount, expiring_days
        )

        def body(uow: WriteUnit, wallet: Wallet | None, now: datetime) -> Done[AlertsView]:
            need_wallet(wallet, wallet_id)
            uow.put_state(wallet_id, alerts.ALERTS, "", asked.rules().to_data())
            alerts.watch(uow, wallet_id, now)  # a level already crossed fires now (once)
            view = alerts_view(uow, wallet_id, now, Outcome.UPDATED)
            return Done(view, "alerts", wallet_id, Outcome.UPDATED)

        def replay(uow: WriteUnit, record: IdempotencyRecord, now: datetime) -> AlertsView:
            return alerts_view(uow, wallet_id, now, record.outcome).as_replayed()

        return self._runner.run(
            asked,
            scope=asked.scope,
            key=idempotency_key,
            hints=UnitHints(wallet_id=wallet_id),
            body=body,
            replay=replay,
        )

    def get_alerts(self, wallet_id: str) -> AlertsView:
        """The wallet's alert rules, which are fired now, and its top-up requests."""
        check_id("wallet_id", wallet_id)
        return self._runner.read(lambda reader, now: alerts_view(reader, wallet_id, now))
