"""Alert and webhook commands: ``gencredits alerts set|show``, ``gencredits webhooks
add|list|deliveries|redeliver|enable`` and ``gencredits deliver`` (for cron).

Local database or a running service (``--url``; webhooks need an admin key there), as
every billing command; ``--json`` prints the answer as the API sends it.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from gencredits.cli._app import JsonOpt, app, call_billing, console, print_json
from gencredits.cli._connection import connection

alerts_app = typer.Typer(help="Balance alerts and automatic top-up requests.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Outbound webhook endpoints and deliveries.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")
app.add_typer(webhooks_app, name="webhooks")

WalletArg = Annotated[str, typer.Argument(metavar="WALLET", help="The wallet's id.")]
EndpointArg = Annotated[str, typer.Argument(metavar="ENDPOINT", help="The endpoint's id.")]


def _say(as_json: bool, data: Any, text: str) -> None:
    if as_json:
        print_json(data)
    else:
        console.print(text, highlight=False, markup=False, soft_wrap=True)


@alerts_app.command("set")
def alerts_set(
    ctx: typer.Context,
    wallet: WalletArg,
    below: Annotated[
        list[int] | None,
        typer.Option("--below", min=1, metavar="CREDITS", help="A level (repeat for several)."),
    ] = None,
    depleted: Annotated[bool, typer.Option("--depleted", help="Alert at zero.")] = False,
    topup_below: Annotated[
        int | None,
        typer.Option(
            "--topup-below", min=1, metavar="CREDITS", help="Request a top-up below this."
        ),
    ] = None,
    topup_amount: Annotated[
        int | None, typer.Option("--topup-amount", min=1, metavar="CREDITS")
    ] = None,
    expiring_days: Annotated[
        int | None,
        typer.Option(
            "--expiring-days", min=1, metavar="DAYS", help="Alert on grants expiring soon."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Set a wallet's alert rules (replacing earlier ones)."""
    view = call_billing(
        ctx,
        as_json,
        lambda api: api.set_alerts(
            wallet,
            below=below or [],
            depleted=depleted,
            topup_below=topup_below,
            topup_amount=topup_amount,
            expiring_days=expiring_days,
        ),
    )
    d = view.to_dict()
    _say(as_json, d, _alerts_text(d))


def _alerts_text(d: dict[str, Any]) -> str:
    levels = ", ".join(str(level) for level in d["below"]) or "none"
    text = f"wallet {d['wallet_id']}: available {d['available']}; levels {levels}"
    if d["depleted"]:
        text += "; depleted"
    if d["topup_below"] is not None:
        text += f"; top-up {d['topup_amount']} below {d['topup_below']}"
    fired = ", ".join(d["fired"]) or "none"
    return text + f"; fired: {fired}; top-up requests: {len(d['topups'])}"


@alerts_app.command("show")
def alerts_show(ctx: typer.Context, wallet: WalletArg, as_json: JsonOpt = False) -> None:
    """A wallet's alert rules, what is fired, and its top-up requests."""
    d = call_billing(ctx, as_json, lambda api: api.get_alerts(wallet), existing=True).to_dict()
    _say(as_json, d, _alerts_text(d))
    if not as_json:
        for t in d["topups"]:
            console.print(f"  top-up {t['id']}: {t['amount']} at {t['created_at']}", markup=False)


@webhooks_app.command("add")
def webhooks_add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(metavar="URL")],
    secret: Annotated[
        str, typer.Option("--secret", metavar="SECRET", help="Signs every delivery (16+ chars).")
    ],
    wallet: Annotated[
        str | None, typer.Option("--wallet", metavar="WALLET", help="Only this wallet's.")
    ] = None,
    types: Annotated[
        list[str] | None,
        typer.Option("--type", metavar="TYPE", help="An event type (repeat); default: all."),
    ] = None,
    endpoint_id: Annotated[
        str | None, typer.Option("--id", metavar="ID", help="Your id for it.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a webhook endpoint."""
    view = call_billing(
        ctx,
        as_json,
        lambda api: api.add_webhook(
            url, secret, wallet_id=wallet, types=types or ["*"], endpoint_id=endpoint_id
        ),
    )
    d = view.to_dict()
    _say(as_json, d, f"endpoint {d['id']}: {d['url']} ({', '.join(d['types'])})")


@webhooks_app.command("list")
def webhooks_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The registered endpoints."""
    found = [e.to_dict() for e in call_billing(ctx, as_json, lambda api: api.list_webhooks())]
    if as_json:
        print_json({"items": found})
        return
    table = Table("endpoint", "url", "wallet", "types", "active", "failures")
    for e in found:
        active = "yes" if e["active"] else "disabled"
        types = ", ".join(e["types"])
        table.add_row(e["id"], e["url"], e["wallet_id"] or "*", types, active, str(e["failures"]))
    console.print(table if found else "no endpoints")


@webhooks_app.command("deliveries")
def webhooks_deliveries(
    ctx: typer.Context,
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", metavar="ENDPOINT", help="Only this one's.")
    ] = None,
    cursor: Annotated[str | None, typer.Option("--cursor", metavar="CURSOR")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, metavar="N")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The delivery log: status, attempts and last answer of each (endpoint, event)."""
    page = call_billing(
        ctx, as_json, lambda api: api.webhook_deliveries(endpoint, cursor=cursor, limit=limit)
    ).to_dict()
    if as_json:
        print_json(page)
        return
    table = Table("endpoint", "event", "type", "status", "attempts", "last")
    for d in page["items"]:
        last = d["last_error"] or str(d["last_status"] or "")
        row = (d["endpoint_id"], d["event_id"], d["event_type"], d["status"], str(d["attempts"]))
        table.add_row(*row, last)
    console.print(table if page["items"] else "no deliveries")


@webhooks_app.command("redeliver")
def webhooks_redeliver(
    ctx: typer.Context,
    endpoint: EndpointArg,
    event: Annotated[str, typer.Argument(metavar="EVENT", help="The event id.")],
    as_json: JsonOpt = False,
) -> None:
    """Send a delivery again (same body, same event id) at the deliverer's next run."""
    d = call_billing(ctx, as_json, lambda api: api.redeliver(endpoint, event)).to_dict()
    _say(as_json, d, f"delivery of {d['event_id']} to {d['endpoint_id']}: {d['status']}")


@webhooks_app.command("enable")
def webhooks_enable(ctx: typer.Context, endpoint: EndpointArg, as_json: JsonOpt = False) -> None:
    """Turn an endpoint disabled after repeated failures back on."""
    d = call_billing(ctx, as_json, lambda api: api.enable_webhook(endpoint)).to_dict()
    _say(as_json, d, f"endpoint {d['id']}: active")


@app.command("deliver")
def deliver(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Deliver outbound webhooks once (for cron): enqueue new events, attempt what is due."""
    from gencredits.billing import Billing

    def run(api: Any) -> dict[str, int]:
        if isinstance(api, Billing):
            from gencredits.webhooks import Deliverer

            deliverer = Deliverer(api)
            connection(ctx).on_close(deliverer.close)
            return deliverer.run_once().to_dict()
        report: dict[str, int] = api.deliver().to_dict()
        return report

    d = call_billing(ctx, as_json, run)
    text = ", ".join(f"{name} {count}" for name, count in d.items())
    _say(as_json, d, f"webhooks: {text}")
