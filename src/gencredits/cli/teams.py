"""Team commands: ``gencredits team create|show|add|remove``.

Local database or a running service (``--url``), as every billing command; ``--json``
prints the answer (a team or a member) as the API sends it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from gencredits.cli._app import JsonOpt, app, call_billing, console, print_json

if TYPE_CHECKING:
    from gencredits.billing import BillingAPI

team_app = typer.Typer(help="Team wallets: members, caps per cycle, seats.", no_args_is_help=True)
app.add_typer(team_app, name="team")

TeamArg = Annotated[str, typer.Argument(metavar="TEAM", help="The team wallet's id.")]
MemberArg = Annotated[str, typer.Argument(metavar="MEMBER", help="The member's id.")]
KeyOpt = Annotated[
    str | None,
    typer.Option("--idempotency-key", "-k", metavar="KEY", help="Makes a retry safe."),
]


def _member_text(d: dict[str, Any]) -> str:
    cap = "no cap" if d["cap"] is None else f"cap {d['cap']} ({d['cap_left']} left)"
    seat = (
        "" if d["seat_credits"] is None else f", seat {d['seat_credits']} ({d['seat_left']} left)"
    )
    state = "" if d["active"] else " [removed]"
    return f"member {d['member_id']}{state}: used {d['used']} this cycle, {cap}{seat}"


def _team_text(d: dict[str, Any]) -> str:
    return (
        f"team {d['wallet_id']}: cycle {d['cycle_start']} to {d['cycle_end']} "
        f"(anchor day {d['anchor_day']})"
    )


def _answer(
    ctx: typer.Context,
    as_json: bool,
    work: Callable[[BillingAPI], Any],
    text: Callable[[dict[str, Any]], str],
    *,
    existing: bool = False,
) -> dict[str, Any] | None:
    """The answer of ``work``: printed whole with ``--json`` (None is returned), else its
    line ``text`` is printed and its data returned for the rest."""
    d: dict[str, Any] = call_billing(ctx, as_json, work, existing=existing).to_dict()
    if as_json:
        print_json(d)
        return None
    console.print(text(d), highlight=False, markup=False, soft_wrap=True)
    return d


@team_app.command("create")
def team_create(
    ctx: typer.Context,
    team: TeamArg,
    anchor_day: Annotated[
        int | None,
        typer.Option(
            "--anchor-day", min=1, max=31, metavar="DAY", help="Cycles start on this day (UTC)."
        ),
    ] = None,
    near_cap_percent: Annotated[
        int,
        typer.Option(
            "--near-cap-percent", min=1, max=100, metavar="PERCENT", help="Near-cap alert level."
        ),
    ] = 80,
    idempotency_key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a team wallet (created when missing) or change its cycle anchor day."""
    _answer(
        ctx,
        as_json,
        lambda api: api.create_team(
            team,
            anchor_day=anchor_day,
            near_cap_percent=near_cap_percent,
            idempotency_key=idempotency_key,
        ),
        lambda d: (
            f"team {d['wallet_id']} ({d['outcome']}): cycle {d['cycle_start']} to {d['cycle_end']}"
        ),
    )


@team_app.command("show")
def team_show(ctx: typer.Context, team: TeamArg, as_json: JsonOpt = False) -> None:
    """The team's current cycle and each member's cap, seat and usage in it."""
    d = _answer(ctx, as_json, lambda api: api.get_team(team), _team_text, existing=True)
    if d is None:
        return
    table = Table("member", "active", "used", "cap", "cap left", "seat", "seat left")
    for m in d["members"]:
        table.add_row(
            m["member_id"],
            "yes" if m["active"] else "removed",
            str(m["used"]),
            "-" if m["cap"] is None else str(m["cap"]),
            "-" if m["cap_left"] is None else str(m["cap_left"]),
            "-" if m["seat_credits"] is None else str(m["seat_credits"]),
            "-" if m["seat_left"] is None else str(m["seat_left"]),
        )
    console.print(table if d["members"] else "no members")


@team_app.command("add")
def team_add(
    ctx: typer.Context,
    team: TeamArg,
    member: MemberArg,
    cap: Annotated[
        int | None,
        typer.Option("--cap", min=0, metavar="CREDITS", help="Credits per cycle (held + charged)."),
    ] = None,
    seat_credits: Annotated[
        int | None,
        typer.Option("--seat-credits", min=1, metavar="CREDITS", help="Seat allowance per cycle."),
    ] = None,
    idempotency_key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a member, or change their cap and seat allowance."""
    _answer(
        ctx,
        as_json,
        lambda api: api.set_member(
            team, member, cap=cap, seat_credits=seat_credits, idempotency_key=idempotency_key
        ),
        _member_text,
    )


@team_app.command("remove")
def team_remove(
    ctx: typer.Context,
    team: TeamArg,
    member: MemberArg,
    idempotency_key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove a member; their pending jobs still resolve and refund."""
    _answer(
        ctx,
        as_json,
        lambda api: api.remove_member(team, member, idempotency_key=idempotency_key),
        _member_text,
    )
