"""Plan commands: ``plans`` (the catalog with prices per credit), ``subscribe``,
``subscription`` (change, cancel, resume, past-due, show), ``tick`` (for cron),
``purchase`` (buy, refund, chargeback, show) and ``freeze`` / ``unfreeze``.

Provider-neutral: for platforms that take payments elsewhere and tell gencredits what was
paid.  Every command that moves credits takes ``--idempotency-key`` (default: a fresh key,
printed).  Local database or ``--url`` service alike (``tick --now`` is local only).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer
from rich.table import Table

from gencredits.billing import Billing, BillingAPI
from gencredits.cli._app import JsonOpt, app, console, print_json
from gencredits.cli.ledger import KeyOpt, WalletArg, call_service, fresh_key, parse_instant
from gencredits.errors import InvalidRequest

subscription_app = typer.Typer(help="Change, cancel, resume and show subscriptions.")
purchase_app = typer.Typer(help="Buy packs; refund or charge back purchases.")
app.add_typer(subscription_app, name="subscription")
app.add_typer(purchase_app, name="purchase")

SubArg = Annotated[str, typer.Argument(metavar="SUBSCRIPTION", help="sub_... id.")]
PurchaseArg = Annotated[str, typer.Argument(metavar="PURCHASE", help="The payment reference.")]


def _local(api: BillingAPI) -> Billing:
    if not isinstance(api, Billing):
        raise InvalidRequest.for_field(
            "--now", "with --url", "the local database (a service ticks at its own now)"
        )
    return api


def _run(ctx: typer.Context, as_json: bool, work: Callable[[BillingAPI], Any], text: str) -> None:
    answer = call_service(ctx, as_json, work)
    data = answer.to_dict() if hasattr(answer, "to_dict") else answer
    if as_json:
        print_json(data)
        return
    console.print(text.format(**data), highlight=False, markup=False, soft_wrap=True)


def _moves(
    ctx: typer.Context,
    as_json: bool,
    idempotency_key: str | None,
    work: Callable[[BillingAPI, str], Any],
    text: str,
) -> None:
    """A command that moves credits: ``work`` under the caller's key or a fresh one."""
    key = fresh_key(idempotency_key)
    _run(ctx, as_json, lambda b: work(b, key), text)


@app.command("plans")
def plans_command(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The plan catalog: each plan's and pack's effective price per credit."""
    data = call_service(ctx, as_json, lambda api: api.plans(), existing=False).to_dict()
    if as_json:
        print_json(data)
        return
    cur = data["currency"]
    table = Table(title=f"{data['catalog']} {data['version']} (upgrades: {data['upgrade']})")
    for column in ("id", "title", f"price ({cur})", "per", "credits", "bonus", "refresh"):
        table.add_column(column)
    table.add_column(f"{cur} per credit", justify="right")
    for p in data["plans"]:
        refresh = p["refresh"] + (f" cap {p['rollover_cap']}" if p["rollover_cap"] else "")
        table.add_row(
            p["id"],
            p["title"],
            p["price"],
            p["period"],
            f"{p['monthly_credits']}/month",
            str(p["bonus_credits"]),
            refresh,
            str(p["price_per_credit"]),
        )
    for k in data["packs"]:
        table.add_row(
            k["id"],
            k["title"],
            k["price"],
            "pack",
            str(k["pack_credits"]),
            str(k["bonus_credits"]),
            f"{k['validity_months']} months",
            str(k["price_per_credit"]),
        )
    console.print(table)


@app.command("subscribe")
def subscribe_command(
    ctx: typer.Context,
    wallet: WalletArg,
    plan: Annotated[str, typer.Argument(metavar="PLAN", help="A plan id of `gencredits plans`.")],
    idempotency_key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Subscribe a wallet to a plan: the first cycle's credits are granted at once."""
    _moves(
        ctx,
        as_json,
        idempotency_key,
        lambda b, k: b.subscribe(wallet, plan, idempotency_key=k),
        "subscription {id}: wallet {wallet_id} on {plan}, next cycle at {next_at}",
    )


_ACTIONS = ("cancel", "resume", "past-due")


@subscription_app.command("change")
def change_command(
    ctx: typer.Context,
    subscription: SubArg,
    plan: Annotated[str, typer.Argument(metavar="PLAN")],
    idempotency_key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Upgrade (at once or next cycle, as the catalog says) or downgrade (next cycle)."""
    _moves(
        ctx,
        as_json,
        idempotency_key,
        lambda b, k: b.change_plan(subscription, plan, idempotency_key=k),
        "subscription {id}: {outcome}, plan {plan}, pending {pending_plan}",
    )


@subscription_app.command("set")
def action_command(
    ctx: typer.Context,
    subscription: SubArg,
    action: Annotated[str, typer.Argument(metavar="ACTION", help="cancel, resume or past-due")],
    idempotency_key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cancel (credits stay to the cycle end), resume, or mark past due."""
    if action not in _ACTIONS:
        raise typer.BadParameter(f"one of {', '.join(_ACTIONS)}", param_hint="ACTION")

    def work(b: BillingAPI, key: str) -> Any:
        if action == "cancel":
            return b.cancel_subscription(subscription, idempotency_key=key)
        if action == "resume":
            return b.resume_subscription(subscription, idempotency_key=key)
        return b.mark_past_due(subscription, idempotency_key=key)

    _moves(
        ctx,
        as_json,
        idempotency_key,
        work,
        "subscription {id}: {state} ({outcome}), next at {next_at}",
    )


@subscription_app.command("show")
def show_subscription(ctx: typer.Context, subscription: SubArg, as_json: JsonOpt = False) -> None:
    """A subscription with its granted cycles."""
    _run(
        ctx,
        as_json,
        lambda b: b.get_subscription(subscription),
        "subscription {id}: {state} on {plan}, next cycle {next_cycle} at {next_at}",
    )


@app.command("tick")
def tick_command(
    ctx: typer.Context,
    now: Annotated[str | None, typer.Option("--now", metavar="INSTANT")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Renew the subscriptions due (for cron): each missed cycle once, safe to run twice."""
    at: datetime | None = parse_instant("--now", now)
    _run(
        ctx,
        as_json,
        lambda b: b.tick() if at is None else _local(b).tick(at),
        "renewed {subscriptions} subscription(s): {cycles_granted} cycle(s) granted, {ended} ended",
    )


@purchase_app.command("buy")
def buy_command(
    ctx: typer.Context,
    wallet: WalletArg,
    pack: Annotated[str, typer.Argument(metavar="PACK")],
    purchase_id: Annotated[
        str, typer.Option("--purchase-id", metavar="REFERENCE", help="The payment reference.")
    ],
    idempotency_key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Buy a pack: its credits and bonus as two linked grants."""
    _moves(
        ctx,
        as_json,
        idempotency_key,
        lambda b, k: b.purchase(wallet, pack, purchase_id=purchase_id, idempotency_key=k),
        "purchase {id}: {pack_credits} credits + {bonus_credits} bonus to {wallet_id} ({outcome})",
    )


@purchase_app.command("refund")
def refund_command(
    ctx: typer.Context,
    purchase: PurchaseArg,
    chargeback: Annotated[
        bool, typer.Option("--chargeback", help="Freeze the wallet too.")
    ] = False,
    amount: Annotated[
        str | None,
        typer.Option(
            "--amount",
            metavar="AMOUNT",
            help="A partial refund: the payment refunded so far, cumulative (e.g. 4.99).",
        ),
    ] = None,
    of: Annotated[
        str | None,
        typer.Option("--of", metavar="PAID", help="What was paid (default: the pack's price)."),
    ] = None,
    idempotency_key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Take back what is left of a purchase (``--chargeback``: and freeze the wallet;
    ``--amount``: the share refunded so far)."""

    def work(b: BillingAPI, key: str) -> Any:
        if chargeback:
            return b.chargeback_purchase(purchase, idempotency_key=key)
        money = _decimal("amount", amount), _decimal("of", of)
        return b.refund_purchase(purchase, amount=money[0], of=money[1], idempotency_key=key)

    _moves(
        ctx,
        as_json,
        idempotency_key,
        work,
        "purchase {id}: {state}, took back {taken_back}, spent {spent}",
    )


def _decimal(name: str, text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise InvalidRequest.for_field(name, text, "a decimal amount, e.g. 4.99") from None


@app.command("unfreeze")
def unfreeze_command(
    ctx: typer.Context, wallet: WalletArg, idempotency_key: KeyOpt = None, as_json: JsonOpt = False
) -> None:
    """Lift a wallet's freeze (after a chargeback): it takes submissions again."""
    _moves(
        ctx,
        as_json,
        idempotency_key,
        lambda b, k: b.set_frozen(wallet, None, idempotency_key=k),
        "wallet {id}: unfrozen, available {available}",
    )


@app.command("freeze")
def freeze_command(
    ctx: typer.Context,
    wallet: WalletArg,
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="Why (shown in the error).")
    ],
    idempotency_key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Freeze a wallet: it refuses new submissions (wallet_frozen) until unfrozen."""
    _moves(
        ctx,
        as_json,
        idempotency_key,
        lambda b, k: b.set_frozen(wallet, reason, idempotency_key=k),
        "wallet {id}: frozen ({frozen})",
    )
