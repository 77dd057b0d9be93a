"""``gencredits payments events``: what became of each Stripe webhook event.

Runs on the local database (``--database-url``) or, with ``--url``, asks the service
(``GET /v1/payment-events``, an admin key).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gencredits.api.payments import STATUSES, PaymentEventList, PaymentEventStore
from gencredits.cli._app import JsonOpt, app, console, print_json
from gencredits.cli._connection import connection, database_errors
from gencredits.errors import InvalidRequest
from gencredits.limits import PAGE_MAX
from gencredits.storage.sql import engine as db

payments_app = typer.Typer(help="Payment provider (Stripe) webhook events.")
app.add_typer(payments_app, name="payments", no_args_is_help=True)


def _events(
    ctx: typer.Context, status: str | None, wallet_id: str | None, limit: int
) -> PaymentEventList:
    conn = connection(ctx)
    if conn.url:
        from gencredits.client import Client

        with Client(conn.url, conn.api_key) as client:
            return client.payment_events(status=status, wallet_id=wallet_id, limit=limit)
    with database_errors(conn.database_url):
        db.check_database(conn.database_url)
        engine = db.make_engine(conn.database_url)
        conn.on_close(engine.dispose)
        items = PaymentEventStore(engine).list(status=status, wallet_id=wallet_id, limit=limit)
    return PaymentEventList(items=items)


@payments_app.command("events")
def payments_events(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(metavar="STATUS", help=f"Only events in this state: {', '.join(STATUSES)}."),
    ] = None,
    wallet: Annotated[
        str | None, typer.Option(metavar="WALLET", help="Only events of this wallet.")
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=PAGE_MAX, metavar="N", help="At most this many.")
    ] = 100,
    as_json: JsonOpt = False,
) -> None:
    """List recorded payment events, latest first (applied, ignored, pending, rejected)."""
    if status is not None and status not in STATUSES:
        raise InvalidRequest.for_field("status", status, f"one of {', '.join(STATUSES)}")
    found = _events(ctx, status, wallet, limit)
    if as_json:
        print_json(found.model_dump(mode="json"))
        return
    if not found.items:
        console.print("no payment events")
        return
    table = Table("event", "type", "status", "outcome", "wallet", "ref", "received")
    for e in found.items:
        table.add_row(
            e.event_id,
            e.event_type,
            e.status,
            e.outcome,
            e.wallet_id or "",
            e.provider_ref or "",
            e.received_at.isoformat(timespec="seconds"),
        )
    console.print(table)
