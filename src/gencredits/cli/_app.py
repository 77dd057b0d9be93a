"""The Typer application and the error boundary shared by every command."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from gencredits.cli._connection import (
    ApiKeyOpt,
    Connection,
    DbOpt,
    SharedOptionsGroup,
    UrlOpt,
    connection,
    database_errors,
)
from gencredits.errors import GencreditsError, InvalidRequest

if TYPE_CHECKING:
    from gencredits.billing import BillingAPI

T = TypeVar("T")

app = typer.Typer(
    name="gencredits",
    cls=SharedOptionsGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain help: option values are shown by their metavar (SECONDS, KEY=VALUE), flags by
    # nothing, and help text is never read as markup.
    rich_markup_mode=None,
)
# Piped output (scripts, CI logs) gets wide tables instead of Rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 160)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        metavar="KEY=VALUE",
        help="A setting KEY=VALUE (duration, resolution, aspect_ratio, audio, preview, "
        "prompt_enhancer, start_frame, end_frame, references, input_images, mode, route). "
        "Repeatable.",
    ),
]

#: Exit status per error family (documented in the README): scripts can branch on it.
EXIT_CODES: dict[int, int] = {422: 2, 404: 3, 409: 4, 402: 5, 401: 6, 403: 6, 503: 7, 423: 8}


def _version(value: bool) -> None:
    if value:
        from gencredits import __version__

        sys.stdout.write(f"gencredits {__version__}\n")
        raise typer.Exit()


VersionOpt = Annotated[
    bool,
    typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
]


@app.callback()
def connect(
    ctx: typer.Context,
    database_url: DbOpt = None,
    url: UrlOpt = None,
    api_key: ApiKeyOpt = None,
    version: VersionOpt = False,
) -> None:
    """Credit engine for generative-AI media platforms: pricing, ledger, service.

    --database-url, --url and --api-key may also follow the command's name.
    """
    ctx.obj = Connection(ctx, database_url=database_url, url=url, api_key=api_key)


def parse_pairs(option: str, pairs: list[str] | None) -> dict[str, str]:
    """``--set duration=8 --set audio=true`` as a mapping; a pair without ``=`` is refused."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            example = ", e.g. --set duration=8" if option == "--set" else ""
            raise InvalidRequest.for_field(option, pair, f"KEY=VALUE{example}")
        out[name.strip()] = value.strip()
    return out


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def fail(error: GencreditsError, *, as_json: bool = False) -> NoReturn:
    """One line on stderr (and the error object on stdout with --json), then a non-zero exit."""
    if as_json:
        print_json(error.to_dict())
    # Plain text, never wrapped: the first line says it all for scripts and people
    # (an invalid catalog adds one line per problem below it).
    sys.stderr.write(f"error ({error.code}): {error.message or error.code}\n")
    raise SystemExit(EXIT_CODES.get(error.http_status, 1))


def call_billing(
    ctx: typer.Context,
    as_json: bool,
    work: Callable[[BillingAPI], T],
    *,
    existing: bool = False,
) -> T:
    """``work`` on the command's billing service (local or remote); its errors end the
    command with one line and the exit code of their family.  ``existing``: the command
    only reads, so a local database that is not there is refused rather than created."""
    conn = connection(ctx)
    try:
        if conn.url:
            return work(conn.billing())
        with database_errors(conn.database_url):
            return work(conn.billing(existing=existing))
    except GencreditsError as exc:
        fail(exc, as_json=as_json)


def main() -> None:
    """Console entry point: user mistakes end in one clear line, never a traceback."""
    try:
        app()
    except GencreditsError as exc:
        fail(exc, as_json="--json" in sys.argv)
    except Exception as exc:
        # A database driver's error that no command translated still gets one line.
        from sqlalchemy.exc import SQLAlchemyError

        if not isinstance(exc, SQLAlchemyError):
            raise
        from gencredits.storage.sql import engine as db

        fail(db.database_error(exc, _database_url()), as_json="--json" in sys.argv)


def _database_url() -> str | None:
    """The ``--database-url`` of this invocation (else the environment's, then the default)."""
    args = sys.argv[1:]
    for i, arg in enumerate(args):
        if arg.startswith("--database-url="):
            return arg.partition("=")[2]
        if arg == "--database-url" and i + 1 < len(args):
            return args[i + 1]
    return None
