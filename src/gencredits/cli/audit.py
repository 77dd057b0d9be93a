"""``gencredits audit``: every ledger invariant, wallet by wallet, with progress; or only one
wallet, a range of wallets, or what changed since the cursor a previous audit printed."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from gencredits.billing import Billing
from gencredits.billing.audit_run import AuditRun
from gencredits.billing.views import Violation
from gencredits.cli._app import JsonOpt, app, call_billing, console, print_json
from gencredits.errors import InvalidRequest
from gencredits.ledger.store import AuditScope

if TYPE_CHECKING:
    from gencredits.billing import BillingAPI

WalletOpt = Annotated[
    str | None, typer.Option("--wallet", metavar="WALLET", help="Audit this wallet only.")
]
FromOpt = Annotated[
    str | None,
    typer.Option("--from", metavar="WALLET", help="Audit wallets whose id is this or after."),
]
ToOpt = Annotated[
    str | None,
    typer.Option("--to", metavar="WALLET", help="Audit wallets whose id is this or before."),
]
SinceOpt = Annotated[
    int | None,
    typer.Option(
        "--since",
        min=0,
        metavar="CURSOR",
        help="Audit the wallets changed since this cursor (printed by the previous audit).",
    ),
]


def _scope(
    wallet: str | None, first: str | None, last: str | None, since: int | None
) -> AuditScope:
    if wallet is not None and (first is not None or last is not None):
        raise InvalidRequest.for_field(
            "wallet", wallet, "one wallet, or a range with --from/--to, not both"
        )
    if wallet is not None:
        return AuditScope(wallet_from=wallet, wallet_to=wallet, since=since)
    return AuditScope(wallet_from=first, wallet_to=last, since=since)


def _run(api: BillingAPI, scope: AuditScope, show_progress: bool) -> AuditRun | list[Violation]:
    """The local audit's run, or the remote service's violations (it audits everything)."""
    if not isinstance(api, Billing):
        if not scope.whole:
            raise InvalidRequest.for_field(
                "scope",
                "--wallet/--from/--to/--since",
                "a local database (--database-url); the service audits everything",
            )
        return api.audit()
    if not show_progress:
        return api.audit_scoped(scope)
    with console.status("auditing...") as status:
        return api.audit_scoped(
            scope, progress=lambda n: status.update(f"auditing: {n:,} wallets checked")
        )


@app.command("audit")
def audit(
    ctx: typer.Context,
    wallet: WalletOpt = None,
    first: FromOpt = None,
    last: ToOpt = None,
    since: SinceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check the ledger's invariants, a page of wallets at a time (progress on a terminal);
    exit 1 naming each violation, 0 when clean.  Prints the cursor for ``--since`` next."""
    scope = _scope(wallet, first, last, since)
    show = not as_json and sys.stderr.isatty()
    answer = call_billing(ctx, as_json, lambda api: _run(api, scope, show), existing=True)
    run = answer if isinstance(answer, AuditRun) else None
    violations = answer.violations if isinstance(answer, AuditRun) else answer
    if as_json:
        report: dict[str, object] = {
            "clean": not violations,
            "violations": [v.to_dict() for v in violations],
        }
        if run is not None:  # a local audit also says how far it went
            report.update(wallets=run.wallets, cursor=run.cursor)
        print_json(report)
    else:
        for v in violations:
            console.print(f"[red]violation[/red] {v}", highlight=False)
        if not violations:
            console.print("audit: clean", highlight=False)
        if run is not None and run.cursor:
            console.print(
                f"audited {run.wallets} wallet(s); next: --since {run.cursor}", highlight=False
            )
    if violations:
        raise typer.Exit(1)
