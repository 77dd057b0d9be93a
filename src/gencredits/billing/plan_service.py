"""The plan half of the :class:`~gencredits.billing.Billing` facade: the plan catalog,
subscriptions, the cycle tick, pack purchases, refunds, chargebacks and wallet freezes.

Each method checks its input (:mod:`.plan_inputs`), then runs one unit of work through the
runner (wallet lock, idempotency key, one retry policy) with ``UnitHints()``, whose
body applies :mod:`.subscriptions` or :mod:`.purchases`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from functools import partial

from gencredits import limits
from gencredits.errors import SubscriptionNotFound
from gencredits.ledger.model import IdempotencyRecord, Wallet, evolve
from gencredits.ledger.records import Subscription, SubscriptionState
from gencredits.ledger.store import LedgerReader, UnitHints, WriteUnit
from gencredits.plans import PlanCatalog, cycle

from . import purchases, renewals, subscriptions
from .ids import digest
from .inputs import check_id, check_int, check_time
from .plan_inputs import (
    ChangePlan,
    FreezeWallet,
    PurchasePack,
    SubscribeWallet,
    SubscriptionAction,
    TakeBackPurchase,
)
from .plan_views import PlanCatalogView, PurchaseView, SubscriptionView, TickReport
from .reads import wallet_view
from .runner import Done, UnitRunner, need_wallet
from .views import WalletView

__all__ = ["PlanBilling"]

#: Subscriptions renewed per unit of work by a tick (one transaction, wallets locked in order).
TICK_BATCH = 200


def _find(uow: WriteUnit | LedgerReader, subscription_id: str) -> Subscription:
    found = uow.get_subscription(subscription_id)
    if found is None:
        raise SubscriptionNotFound(
            f"subscription_id: {subscription_id!r} does not exist",
            details={"field": "subscription_id", "value": subscription_id},
        )
    return found


class PlanBilling:
    """Mixed into :class:`~gencredits.billing.Billing` (which sets these attributes)."""

    plan_catalog: PlanCatalog
    kind_priorities: Mapping[str, int]
    _runner: UnitRunner

    # ------------------------------------------------------------------ replays
    @staticmethod
    def _replay_sub(uow: WriteUnit, record: IdempotencyRecord, _now: datetime) -> SubscriptionView:
        sub = _find(uow, record.result_id)
        return SubscriptionView.of(sub, outcome=record.outcome, replayed=True)

    @staticmethod
    def _replay_purchase(uow: WriteUnit, record: IdempotencyRecord, _now: datetime) -> PurchaseView:
        found = purchases.find_purchase(uow, record.result_id)
        return PurchaseView.of(found, outcome=record.outcome, replayed=True)

    # ------------------------------------------------------------------ catalog
    def plans(self) -> PlanCatalogView:
        """The plan catalog: every plan and pack with its effective price per credit."""
        return PlanCatalogView.of(self.plan_catalog)

    # ------------------------------------------------------------------ subscriptions
    def subscribe(self, wallet_id: str, plan: str, *, idempotency_key: str) -> SubscriptionView:
        """Subscribe the wallet to ``plan``: cycles are anchored on now, and the first cycle's
        allowance (and bonus) is granted at once.  A wallet may hold several (an add-on
        plan beside a main one); each renews on its own anchor."""
        asked = SubscribeWallet(wallet_id, plan)
        catalog = self.plan_catalog
        chosen = catalog.plan(plan)

        def body(uow: WriteUnit, wallet: Wallet | None, now: datetime) -> Done[SubscriptionView]:
            need_wallet(wallet, wallet_id)
            sub_id = "sub_" + digest("subscription", wallet_id, idempotency_key)
            first = cycle(now, 0)
            sub = Subscription(
                sub_id,
                wallet_id,
                chosen.id,
                catalog.name,
                catalog.version,
                SubscriptionState.ACTIVE,
                now,
                0,
                first.starts_at,
                None,
                (),
                now,
                now,
            )
            uow.insert_subscription(sub)
            sub, _ = subscriptions.grant_due(uow, catalog, self.kind_priorities, sub, now)
            return Done(
                SubscriptionView.of(sub, outcome="subscribed"), "subscription", sub_id, "subscribed"
            )

        return self._runner.run(
            asked,
            scope=asked.scope,
            key=idempotency_key,
            hints=UnitHints(wallet_id=wallet_id),
            body=body,
            replay=self._replay_sub,
        )

    def _on_subscription(
        self, asked: ChangePlan | SubscriptionAction, key: str
    ) -> SubscriptionView:
        sub_id = asked.subscription_id
        catalog = self.plan_catalog

        def body(uow: WriteUnit, wallet: Wallet | None, now: datetime) -> Done[SubscriptionView]:
            sub = _find(uow, sub_id)
            if isinstance(asked, ChangePlan):
                new = catalog.plan(asked.plan)
                sub, outcome = subscriptions.change_plan(
                    uow, catalog, self.kind_priorities, sub, new, key=key, now=now
                )
            else:
                sub, outcome = subscriptions.set_state(
                    uow, catalog, self.kind_priorities, sub, asked.action, now
                )
            return Done(SubscriptionView.of(sub, outcome=outcome), "subscription", sub_id, outcome)

        return self._runner.run(
            asked,
            scope=asked.scope,
            key=key,
            hints=UnitHints(),
            body=body,
            replay=self._replay_sub,
            locate=lambda uow: _find(uow, sub_id).wallet_id,
        )

    def change_plan(
        self, subscription_id: str, plan: str, *, idempotency_key: str
    ) -> SubscriptionView:
        """Upgrade (at once or at the next cycle, as the catalog says) or downgrade (at the
        next cycle); ``outcome`` says which: ``immediate``, ``next_cycle`` or ``unchanged``."""
        return self._on_subscription(ChangePlan(subscription_id, plan), idempotency_key)

    def cancel_subscription(
        self, subscription_id: str, *, idempotency_key: str
    ) -> SubscriptionView:
        """No renewal: the credits granted stay to the cycle end, then the subscription ends."""
        return self._on_subscription(SubscriptionAction(subscription_id, "cancel"), idempotency_key)

    def resume_subscription(
        self, subscription_id: str, *, idempotency_key: str
    ) -> SubscriptionView:
        """Undo a cancel before the cycle end, or end a past-due state once paid (the current
        cycle is granted; unpaid cycles are skipped)."""
        return self._on_subscription(SubscriptionAction(subscription_id, "resume"), idempotency_key)

    def mark_past_due(self, subscription_id: str, *, idempotency_key: str) -> SubscriptionView:
        """A payment failed: no new cycle is granted until resumed; nothing is taken away."""
        return self._on_subscription(
            SubscriptionAction(subscription_id, "past_due"), idempotency_key
        )

    def get_subscription(self, subscription_id: str) -> SubscriptionView:
        check_id("subscription_id", subscription_id)

        def read(reader: LedgerReader, _now: datetime) -> SubscriptionView:
            sub = _find(reader, subscription_id)
            return SubscriptionView.of(sub, reader.subscription_cycles(subscription_id))

        return self._runner.read(read)

    def list_subscriptions(self, wallet_id: str) -> list[SubscriptionView]:
        check_id("wallet_id", wallet_id)

        def read(reader: LedgerReader, _now: datetime) -> list[SubscriptionView]:
            need_wallet(reader.get_wallet(wallet_id), wallet_id)
            return [SubscriptionView.of(s) for s in reader.wallet_subscriptions(wallet_id)]

        return self._runner.read(read)

    # ------------------------------------------------------------------ tick
    def tick(self, now: datetime | None = None, *, batch: int = TICK_BATCH) -> TickReport:
        """Renew every subscription due by ``now`` (default: the clock), granting each missed
        cycle once; ends cancelled ones at their cycle end.  Safe to run on several workers
        or machines at once: each subscription is re-read under its wallet's lock, and a
        cycle's row is unique in the database."""
        at = self._runner.clock.now() if now is None else check_time("now", now)
        check_int("batch", batch, 1, limits.PAGE_MAX * 10)
        report = {"subscriptions": 0, "cycles_granted": 0, "ended": 0}
        # Only subscriptions whose plans the catalog has: one whose plan left the catalog
        # waits for an operator instead of failing every tick.
        plans = sorted(self.plan_catalog.plans)
        while True:
            due = self._runner.read(lambda r, _n: r.due_subscriptions(at, limit=batch, plans=plans))
            if not due:
                break
            done = self._renew_unit(due, at)
            for key, value in done.items():
                report[key] += value
            if not done["subscriptions"]:
                break  # another ticker renewed them: it goes on with the rest
        return TickReport(**report)

    def _renew_unit(self, due: list[tuple[str, str]], at: datetime) -> dict[str, int]:
        return self._runner.write(
            partial(self._renew, due=due, at=at),
            UnitHints(alone=True),  # one transaction of its own, whatever the store
            operation="tick",
            scope="subscriptions",
        )

    def _renew(self, uow: WriteUnit, due: list[tuple[str, str]], at: datetime) -> dict[str, int]:
        done = {"subscriptions": 0, "cycles_granted": 0, "ended": 0}
        # The wallets locked in id order (no deadlock), the subscriptions re-read under them.
        wallets = {w.id: w for w in uow.lock_wallets([wallet_id for _, wallet_id in due])}
        subs = {s.id: s for s in uow.get_subscriptions([sub_id for sub_id, _ in due])}
        catalog, kinds = self.plan_catalog, self.kind_priorities
        plain: list[Subscription] = []
        rest: list[Subscription] = []
        for sub_id, wallet_id in sorted(due, key=lambda d: (d[1], d[0])):
            sub = subs.get(sub_id)
            if sub is None or sub.next_at > at or sub.state not in ("active", "cancelled"):
                continue  # another ticker got there first
            if (sub.pending_plan or sub.plan) not in catalog.plans:
                continue  # its plan left the catalog meanwhile
            is_plain = renewals.is_plain(sub, wallets.get(wallet_id), catalog, kinds, at)
            (plain if is_plain else rest).append(sub)
        # The common case as one set (one statement per table), then the others one by one.
        done["subscriptions"] = done["cycles_granted"] = renewals.renew_set(
            uow, catalog, kinds, plain, wallets, at
        )
        for sub in rest:
            after, granted = subscriptions.grant_due(
                uow, self.plan_catalog, self.kind_priorities, sub, at
            )
            done["subscriptions"] += 1
            done["cycles_granted"] += len(granted)
            done["ended"] += after.state == SubscriptionState.ENDED
        return done

    # ------------------------------------------------------------------ purchases
    def purchase(
        self, wallet_id: str, pack: str, *, purchase_id: str, idempotency_key: str
    ) -> PurchaseView:
        """Buy a pack: its credits and its bonus as two linked grants."""
        asked = PurchasePack(wallet_id, pack, purchase_id)

        def body(uow: WriteUnit, wallet: Wallet | None, now: datetime) -> Done[PurchaseView]:
            wallet = need_wallet(wallet, wallet_id)
            bought, outcome = purchases.buy(
                uow, self.plan_catalog, self.kind_priorities, wallet, pack, purchase_id, now
            )
            view = PurchaseView.of(bought, outcome=outcome, replayed=outcome == "exists")
            return Done(view, "purchase", purchase_id, outcome)

        return self._runner.run(
            asked,
            scope=asked.scope,
            key=idempotency_key,
            hints=UnitHints(wallet_id=wallet_id),
            body=body,
            replay=self._replay_purchase,
        )

    def _take_back(self, asked: TakeBackPurchase, key: str) -> PurchaseView:
        def body(uow: WriteUnit, wallet: Wallet | None, now: datetime) -> Done[PurchaseView]:
            found = purchases.find_purchase(uow, asked.purchase_id)
            assert wallet is not None
            share = asked.share(found.price)
            taken, outcome = purchases.take_back(
                uow, wallet, found, kind=asked.kind, freeze=asked.freeze, now=now, share=share
            )
            return Done(PurchaseView.of(taken, outcome=outcome), "purchase", taken.id, outcome)

        return self._runner.run(
            asked,
            scope=asked.scope,
            key=key,
            hints=UnitHints(),
            body=body,
            replay=self._replay_purchase,
            locate=lambda uow: purchases.find_purchase(uow, asked.purchase_id).wallet_id,
        )

    def refund_purchase(
        self,
        purchase_id: str,
        *,
        amount: Decimal | None = None,
        of: Decimal | None = None,
        idempotency_key: str,
    ) -> PurchaseView:
        """Take back what is left of the purchase's credits and bonus (never more); what was
        already spent is recorded as ``spent``.  A partial refund (``amount``: refunded so
        far, cumulative, out of ``of``, by default the price) takes back that share (see
        :func:`~gencredits.billing.purchases.take_back`)."""
        asked = TakeBackPurchase(purchase_id, "refund", amount=amount, of=of)
        return self._take_back(asked, idempotency_key)

    def chargeback_purchase(
        self, purchase_id: str, *, freeze: bool = True, idempotency_key: str
    ) -> PurchaseView:
        """As a refund, and (``freeze``) the wallet refuses new submissions until unfrozen."""
        asked = TakeBackPurchase(purchase_id, "chargeback", freeze)
        return self._take_back(asked, idempotency_key)

    def get_purchase(self, purchase_id: str) -> PurchaseView:
        check_id("purchase_id", purchase_id)
        return self._runner.read(
            lambda r, _n: PurchaseView.of(purchases.find_purchase(r, purchase_id))
        )

    # ------------------------------------------------------------------ freezes
    def set_frozen(self, wallet_id: str, reason: str | None, *, idempotency_key: str) -> WalletView:
        """Freeze the wallet (``reason``) or lift its freeze (``None``): an operator's call."""
        asked = FreezeWallet(wallet_id, reason)

        def body(uow: WriteUnit, wallet: Wallet | None, now: datetime) -> Done[WalletView]:
            wallet = need_wallet(wallet, wallet_id)
            uow.update_wallet(evolve(wallet, frozen=reason, updated_at=now))
            outcome = "frozen" if reason is not None else "unfrozen"
            return Done(wallet_view(uow, wallet_id, now), "wallet", wallet_id, outcome)

        def replay(uow: WriteUnit, record: IdempotencyRecord, now: datetime) -> WalletView:
            return wallet_view(uow, record.result_id, now).as_replayed()

        return self._runner.run(
            asked,
            scope=asked.scope,
            key=idempotency_key,
            hints=UnitHints(wallet_id=wallet_id),
            body=body,
            replay=replay,
        )
