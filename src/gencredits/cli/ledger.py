"""Ledger and billing commands: wallet, grant, job, ledger (history), sweep (audit: audit.py).

Every command works on the local database (``--database-url``, default
``$GENCREDITS_DATABASE_URL`` or ``./var/gencredits.db``), or on a running service with
``--url`` and ``--api-key``.  A command that writes creates and migrates the local database
when it is not there; a read (show, list, ledger, sweep, audit) refuses, saying so.
Mutating commands take ``--idempotency-key``; without one a fresh random key is used and
printed, so a retry of the same command with that key can never apply twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.table import Table

from gencredits.billing.views import ListOrder
from gencredits.cli._app import (
    JsonOpt,
    SetOpt,
    app,
    call_billing,
    console,
    parse_pairs,
    print_json,
)
from gencredits.cli._connection import connection
from gencredits.errors import InvalidRequest

if TYPE_CHECKING:
    from gencredits.billing import BillingAPI

wallet_app = typer.Typer(help="Create, show and list wallets.", no_args_is_help=True)
job_app = typer.Typer(help="Submit jobs and report their outcome.", no_args_is_help=True)
app.add_typer(wallet_app, name="wallet")
app.add_typer(job_app, name="job")

T = TypeVar("T")

KeyOpt = Annotated[
    str | None,
    typer.Option(
        "--idempotency-key",
        "-k",
        metavar="KEY",
        help="Makes the command safe to retry; default: a fresh random key (printed).",
    ),
]
WalletArg = Annotated[str, typer.Argument(metavar="WALLET", help="The wallet's id.")]
JobArg = Annotated[str, typer.Argument(metavar="JOB", help="The job's id (job_...).")]
CursorOpt = Annotated[
    str | None, typer.Option("--cursor", metavar="CURSOR", help="next_cursor of a page.")
]
LimitOpt = Annotated[int, typer.Option("--limit", min=1, max=500, metavar="N")]
OrderOpt = Annotated[
    ListOrder,
    typer.Option(
        "--order",
        metavar="asc|desc",
        help="asc: oldest first, desc: newest first (wallets: by id).",
    ),
]
HoldTtlOpt = Annotated[
    int | None,
    typer.Option("--hold-ttl-s", metavar="SECONDS", help="Hold time limit for its jobs."),
]


def _key(key: str | None) -> str:
    return key or f"cli-{uuid.uuid4().hex}"


def _when(option: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise InvalidRequest.for_field(
            option, text, "an ISO 8601 instant with a zone, e.g. 2026-12-01T00:00Z"
        )
    return value


def _call(
    ctx: typer.Context,
    as_json: bool,
    work: Callable[[BillingAPI], T],
    *,
    existing: bool = False,
) -> T:
    return call_billing(ctx, as_json, work, existing=existing)


def _write(
    ctx: typer.Context,
    as_json: bool,
    idempotency_key: str | None,
    work: Callable[[BillingAPI, str], T],
) -> tuple[T, str]:
    """A call that moves credits, under the caller's key or a fresh one (printed, so the
    command can be retried safely)."""
    key = _key(idempotency_key)
    return _call(ctx, as_json, lambda api: work(api, key)), key


def _read(
    ctx: typer.Context, as_json: bool, work: Callable[[BillingAPI], Any]
) -> dict[str, Any] | None:
    """A read for a human view: with ``--json`` it is printed here and the answer is None."""
    data: dict[str, Any] = _call(ctx, as_json, work, existing=True).to_dict()
    if as_json:
        print_json(data)
        return None
    return data


def _read_one(
    ctx: typer.Context,
    as_json: bool,
    work: Callable[[BillingAPI], Any],
    text: Callable[[dict[str, Any]], str],
) -> dict[str, Any] | None:
    """A read of one thing (``show``): printed whole with ``--json`` (the answer is then
    None), else its line ``text`` is printed and its data returned for the rest."""
    d = _read(ctx, as_json, work)
    if d is not None:
        console.print(text(d), highlight=False, markup=False, soft_wrap=True)
    return d


def _more(page: dict[str, Any]) -> None:
    if page["next_cursor"]:
        console.print(f"[dim]more: --cursor {page['next_cursor']}[/dim]", highlight=False)


def _show(as_json: bool, data: dict[str, Any], text: str, key: str | None = None) -> None:
    if as_json:
        print_json(data)
        return
    console.print(text, highlight=False, markup=False, soft_wrap=True)
    if key is not None:
        console.print(f"[dim]idempotency key: {key}[/dim]", highlight=False)


def _wallet_text(d: dict[str, Any]) -> str:
    return (
        f"wallet {d['id']} ({d['owner_kind']}): available {d['available']}, held {d['held']}, "
        f"balance {d['balance']}"
        + (f", debt {d['debt']} of {d['overdraft_limit']}" if d["overdraft_limit"] else "")
    )


def _job_text(d: dict[str, Any]) -> str:
    text = (
        f"job {d['id']} status {d['status']} ({d['state']}): creditsUsed {d['creditsUsed']}, "
        f"held {d['credits_held']}"
    )
    if d.get("written_off"):
        text += f", written off {d['written_off']}"
    outcome = d.get("outcome") or ""
    if d.get("replayed"):
        text += "; nothing changed: a replay of this idempotency key's first answer"
    elif outcome.startswith("already_"):
        text += f"; nothing changed: {outcome.replace('_', ' ')} ({outcome})"
    elif outcome:
        text += f"; {outcome.replace('_', ' ')}"
    return text


# --- wallets ----------------------------------------


@wallet_app.command("create")
def wallet_create(
    ctx: typer.Context,
    wallet_id: Annotated[
        str, typer.Argument(metavar="WALLET", help="The platform's id of the user or team.")
    ],
    owner_kind: Annotated[
        str, typer.Option("--owner-kind", metavar="user|team", help="Who owns it.")
    ] = "user",
    overdraft_limit: Annotated[
        int,
        typer.Option(
            "--overdraft-limit", metavar="CREDITS", help="Credits it may spend below zero."
        ),
    ] = 0,
    hold_ttl_s: HoldTtlOpt = None,
    idempotency_key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a wallet (again with the same settings: no change)."""
    view = _call(
        ctx,
        as_json,
        lambda api: api.create_wallet(
            wallet_id,
            owner_kind=owner_kind,
            overdraft_limit=overdraft_limit,
            hold_ttl_s=hold_ttl_s,
            idempotency_key=idempotency_key,
        ),
    )
    d = view.to_dict()
    _show(as_json, d, ("exists: " if d.get("replayed") else "created: ") + _wallet_text(d))


@wallet_app.command("show")
def wallet_show(
    ctx: typer.Context,
    wallet_id: WalletArg,
    as_json: JsonOpt = False,
) -> None:
    """Balances of a wallet, its live grants by kind and the soonest expiries (the grants
    themselves: ``wallet grants``)."""
    d = _read_one(ctx, as_json, lambda api: api.get_wallet(wallet_id), _wallet_text)
    if d is None:
        return
    if not d["grant_totals"]:
        console.print("no live grants", highlight=False)
        return
    table = Table("kind", "live grants", "remaining")
    for line in d["grant_totals"]:
        table.add_row(line["kind"], str(line["grants"]), str(line["remaining"]))
    console.print(table)
    for e in d["next_expiries"]:
        console.print(
            f"expires {e['expires_at']}: {e['remaining']} {e['kind']} credits ({e['grant_id']})",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


@wallet_app.command("grants")
def wallet_grants(
    ctx: typer.Context,
    wallet_id: WalletArg,
    active: Annotated[
        bool | None,
        typer.Option(
            "--active/--inactive",
            help="Only live grants (active, credit left), or only the others.",
            show_default=False,
        ),
    ] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", metavar="KIND", help="Only grants of this kind.")
    ] = None,
    expiring_before: Annotated[
        str | None,
        typer.Option(
            "--expiring-before", metavar="INSTANT", help="Only grants expiring before it."
        ),
    ] = None,
    cursor: CursorOpt = None,
    limit: LimitOpt = 50,
    as_json: JsonOpt = False,
) -> None:
    """A wallet's grants, newest first, one page at a time."""
    d = _read(
        ctx,
        as_json,
        lambda api: api.list_grants(
            wallet_id,
            active=active,
            kind=kind,
            expiring_before=_when("--expiring-before", expiring_before),
            cursor=cursor,
            limit=limit,
        ),
    )
    if d is None:
        return
    if not d["items"]:
        console.print("no grants" + (" after this cursor" if cursor else ""), highlight=False)
        return
    table = Table("grant", "kind", "amount", "remaining", "state", "priority", "expires", "source")
    for g in d["items"]:
        table.add_row(
            g["id"],
            g["kind"],
            str(g["amount"]),
            str(g["remaining"]),
            g["state"],
            str(g["priority"]),
            g["expires_at"] or "never",
            g["source"] or "",
        )
    console.print(table)
    _more(d)


@wallet_app.command("list")
def wallet_list(
    ctx: typer.Context,
    cursor: CursorOpt = None,
    limit: LimitOpt = 50,
    order: OrderOpt = "asc",
    as_json: JsonOpt = False,
) -> None:
    """Wallets in id order (--order desc: z to a), one page at a time."""
    d = _read(ctx, as_json, lambda api: api.list_wallets(cursor=cursor, limit=limit, order=order))
    if d is None:
        return
    if not d["items"]:
        console.print("no wallets" + (" after this cursor" if cursor else ""), highlight=False)
    for w in d["items"]:
        console.print(_wallet_text(w), highlight=False, markup=False, soft_wrap=True)
    _more(d)


# --- grants ----------------------------------------


@app.command("grant")
def grant(
    ctx: typer.Context,
    wallet_id: WalletArg,
    amount: Annotated[int, typer.Argument(metavar="CREDITS", help="Whole credits.")],
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            metavar="KIND",
            help="allowance, promotional, bonus, compensation, refund or purchase.",
        ),
    ],
    priority: Annotated[
        int | None, typer.Option("--priority", metavar="N", help="Spend priority (lower first).")
    ] = None,
    expires_at: Annotated[
        str | None,
        typer.Option("--expires-at", metavar="INSTANT", help="ISO 8601 instant; default never."),
    ] = None,
    effective_at: Annotated[
        str | None,
        typer.Option("--effective-at", metavar="INSTANT", help="ISO 8601 instant; default now."),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option("--source", metavar="TEXT", help="What created it (order, plan cycle)."),
    ] = None,
    idempotency_key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add credits to a wallet as a grant."""
    view, key = _write(
        ctx,
        as_json,
        idempotency_key,
        lambda api, key: api.grant(
            wallet_id,
            amount,
            kind=kind,
            priority=priority,
            expires_at=_when("--expires-at", expires_at),
            effective_at=_when("--effective-at", effective_at),
            source=source,
            idempotency_key=key,
        ),
    )
    d = view.to_dict()
    text = (
        f"{'replayed' if d.get('replayed') else 'granted'} {d['amount']} {d['kind']} credits to "
        f"{d['wallet_id']} as {d['id']} (expires {d['expires_at'] or 'never'})"
    )
    _show(as_json, d, text, key)


# --- jobs ----------------------------------------


@job_app.command("submit")
def job_submit(
    ctx: typer.Context,
    wallet_id: WalletArg,
    model: Annotated[str, typer.Argument(metavar="MODEL", help="Model id or name.")],
    settings: SetOpt = None,
    generations: Annotated[int, typer.Option("--generations", "-n", min=1, metavar="N")] = 1,
    catalog: Annotated[
        str | None, typer.Option("--catalog", "-c", metavar="CATALOG", help="Catalog name.")
    ] = None,
    submitted_by: Annotated[
        str | None,
        typer.Option("--submitted-by", metavar="MEMBER", help="Team member who submitted it."),
    ] = None,
    hold_ttl_s: HoldTtlOpt = None,
    meta: Annotated[
        list[str] | None,
        typer.Option("--meta", metavar="KEY=VALUE", help="Metadata. Repeatable."),
    ] = None,
    idempotency_key: KeyOpt = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the job's id (for scripts).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Quote a generation and hold its credits (status 0)."""
    view, key = _write(
        ctx,
        as_json,
        idempotency_key,
        lambda api, key: api.submit(
            wallet_id,
            model,
            parse_pairs("--set", settings),
            generations=generations,
            catalog=catalog,
            submitted_by=submitted_by,
            idempotency_key=key,
            hold_ttl_s=hold_ttl_s,
            metadata=parse_pairs("--meta", meta),
        ),
    )
    if quiet and not as_json:
        console.print(view.id, highlight=False, markup=False, soft_wrap=True)
        return
    _show(as_json, view.to_dict(), _job_text(view.to_dict()), key)


@job_app.command("complete")
def job_complete(
    ctx: typer.Context,
    job_id: JobArg,
    settings: SetOpt = None,
    generations: Annotated[
        int | None,
        typer.Option(
            "--generations", "-n", min=0, metavar="N", help="Generations actually delivered."
        ),
    ] = None,
    idempotency_key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The provider delivered: capture (less when less was made; --set for actual settings)."""
    actual = parse_pairs("--set", settings) or None
    view, key = _write(
        ctx,
        as_json,
        idempotency_key,
        lambda api, key: api.complete(
            job_id, actual_params=actual, actual_generations=generations, idempotency_key=key
        ),
    )
    _show(as_json, view.to_dict(), _job_text(view.to_dict()), key)


@job_app.command("fail")
def job_fail(
    ctx: typer.Context,
    job_id: JobArg,
    reason: Annotated[
        str | None, typer.Option("--reason", metavar="TEXT", help="Why it failed.")
    ] = None,
    idempotency_key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The provider failed: release the hold (status 2)."""
    key = _key(idempotency_key)
    view = _call(ctx, as_json, lambda api: api.fail(job_id, reason=reason, idempotency_key=key))
    _show(as_json, view.to_dict(), _job_text(view.to_dict()), key)


@job_app.command("cancel")
def job_cancel(
    ctx: typer.Context,
    job_id: JobArg,
    idempotency_key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cancel a pending job: release its hold (status 2)."""
    key = _key(idempotency_key)
    view = _call(ctx, as_json, lambda api: api.cancel(job_id, idempotency_key=key))
    _show(as_json, view.to_dict(), _job_text(view.to_dict()), key)


@job_app.command("show")
def job_show(
    ctx: typer.Context,
    job_id: JobArg,
    as_json: JsonOpt = False,
) -> None:
    """A job: status, credits, and the quote it was priced on."""
    d = _read_one(ctx, as_json, lambda api: api.get_job(job_id), _job_text)
    if d is None:
        return
    console.print(
        f"model {d['model'] or d['kind']}, priced on {d['catalog']} {d['catalog_version']} "
        f"({d['catalog_hash']}), submitted by {d['submitted_by'] or '-'}",
        highlight=False,
    )


# --- history, sweep, audit ----------------------------------------


@app.command("ledger")
def ledger(
    ctx: typer.Context,
    wallet_id: WalletArg,
    cursor: CursorOpt = None,
    limit: LimitOpt = 50,
    order: OrderOpt = "desc",
    as_json: JsonOpt = False,
) -> None:
    """A wallet's ledger history, newest first (--order asc: oldest first), each transaction
    with its postings."""
    d = _read(
        ctx, as_json, lambda api: api.history(wallet_id, cursor=cursor, limit=limit, order=order)
    )
    if d is None:
        return
    if not d["items"]:
        console.print(
            f"no transactions for {wallet_id}", highlight=False, markup=False, soft_wrap=True
        )
        return
    reasons = _reasons(ctx, d["items"])
    table = Table("when", "kind", "available", "held", "job / grant", "postings", "reason")
    for e in d["items"]:
        postings = ", ".join(f"{p['account']} {p['amount']:+d}" for p in e["postings"])
        table.add_row(
            e["created_at"],
            e["kind"],
            f"{e['available_delta']:+d}",
            f"{e['held_delta']:+d}",
            e["job_id"] or e["grant_id"] or "",
            postings,
            e.get("memo") or (reasons.get(e["job_id"]) if e["kind"] == "release" else "") or "",
        )
    console.print(table)
    _more(d)


def _reasons(ctx: typer.Context, entries: list[dict[str, Any]]) -> dict[str, str]:
    """The reason each released job gave (fail --reason), which its entries do not carry."""
    jobs = {e["job_id"] for e in entries if e["kind"] == "release" and e["job_id"]}
    api = connection(ctx).billing(existing=True)
    found = {job_id: api.get_job(job_id).reason for job_id in sorted(jobs)}
    return {job_id: reason for job_id, reason in found.items() if reason}


@app.command("sweep")
def sweep(
    ctx: typer.Context,
    as_json: JsonOpt = False,
) -> None:
    """Release holds past their time limit and expire grants (safe to run anywhere, often)."""
    d = _call(ctx, as_json, lambda api: api.sweep(), existing=True).to_dict()
    text = (
        f"released {d['holds_released']} hold(s) ({d['credits_released']} credits), "
        f"expired {d['grants_expired']} grant(s) ({d['credits_expired']} credits)"
        + ("; more due: run again" if d["more"] else "")
    )
    _show(as_json, d, text)


#: For the other command modules (plans): the same call, key and instant helpers.
call_service = _call
fresh_key = _key
parse_instant = _when
