"""Where a command's data lives: the options every command shares, read once.

``--database-url``, ``--url`` and ``--api-key`` (each also from its environment variable)
are the options of the application's callback, which leaves a :class:`Connection` on the
context.  A command asks it for the billing service (:meth:`Connection.billing`): the
local :class:`~gencredits.billing.Billing`, or :class:`~gencredits.client.Client` when a
service URL is given, both typed as :class:`~gencredits.billing.BillingAPI`.  Whatever it
opens is closed when the command ends, however it ends.

As documented, the options may follow the command (``gencredits wallet show w --url ...``):
:class:`SharedOptionsGroup` moves them before it, where the callback reads them.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    from gencredits.billing import Billing, BillingAPI

__all__ = [
    "ApiKeyOpt",
    "Connection",
    "DbOpt",
    "SharedOptionsGroup",
    "UrlOpt",
    "connection",
    "database_errors",
    "open_billing",
]

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="GENCREDITS_DATABASE_URL",
        metavar="URL",
        help="The ledger's database: sqlite:///PATH or postgresql://USER@HOST/NAME (default: "
        "sqlite:///./var/gencredits.db, or the config file's for serve, keys and db).",
    ),
]
UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="GENCREDITS_URL",
        metavar="URL",
        help="A gencredits service (http://host:port) instead of the local database.",
    ),
]
ApiKeyOpt = Annotated[
    str | None,
    typer.Option(
        "--api-key", envvar="GENCREDITS_API_KEY", metavar="KEY", help="API key for --url."
    ),
]

#: The shared options, each taking one value.
SHARED_OPTIONS = frozenset({"--database-url", "--url", "--api-key"})


def hoist_shared_options(args: list[str]) -> list[str]:
    """``args`` with the shared options (and their values) moved to the front, so that they
    may be written after the command's name as well as before it."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":  # everything after it is an argument
            rest.extend(args[i:])
            break
        name, sep, _ = arg.partition("=")
        if name not in SHARED_OPTIONS:
            rest.append(arg)
            i += 1
            continue
        taken = 1 if sep else 2
        front.extend(args[i : i + taken])
        i += taken
    return front + rest


class SharedOptionsGroup(TyperGroup):
    """The application's group: the shared options are read wherever they are written."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        return super().parse_args(ctx, hoist_shared_options(args))


@contextlib.contextmanager
def database_errors(database_url: str | None) -> Iterator[None]:
    """The database driver's errors as one line naming the setting (never a traceback)."""
    from sqlalchemy.exc import SQLAlchemyError

    from gencredits.storage.sql import engine as db

    try:
        yield
    except SQLAlchemyError as exc:
        raise db.database_error(exc, database_url) from None


def open_billing(
    url: str | None,
    api_key: str | None,
    database_url: str | None = None,
    *,
    existing: bool = False,
) -> BillingAPI:
    """The billing service at ``url`` (a :class:`Client`), else the local :class:`Billing`
    on ``database_url`` (default: ``$GENCREDITS_DATABASE_URL``, then the SQLite file), with
    the service's retention settings (so that a local ``sweep`` keeps what it keeps).
    ``existing``: the command only reads, so a database that is not there is refused, not
    created."""
    if url:
        from gencredits.client import Client

        return Client(url, api_key)
    from gencredits.billing import Billing
    from gencredits.config import load_settings
    from gencredits.storage.sql import engine as db

    if api_key:
        sys.stderr.write(
            "note: the API key (--api-key, GENCREDITS_API_KEY) is used only with a service "
            f"URL; without --url or GENCREDITS_URL this runs on {db.redacted(database_url)}\n"
        )
    with database_errors(database_url):
        if existing:
            db.check_database(database_url)
        settings = load_settings(None, database_url=database_url)
        billing = Billing.from_url(
            database_url,
            idempotency_retention_days=settings.idempotency_retention_days,
            outbox_retention_days=settings.outbox_retention_days,
        )
        return _versioned(billing)


def _versioned(billing: Billing) -> Billing:
    """``billing`` pricing on the catalog versions published in its database, as the service
    does (docs/catalog-versions.md)."""
    from gencredits.billing.catalog_versions import VersionedCatalogs
    from gencredits.storage.sql.catalog_versions import SqlCatalogVersions
    from gencredits.storage.sql.store import SqlStore

    if isinstance(billing.store, SqlStore):
        versions = SqlCatalogVersions(billing.store.engine)
        billing.catalogs = VersionedCatalogs(billing.catalogs, versions, billing.clock)
    return billing


class Connection:
    """The shared options of one invocation, and what was opened with them (closed with the
    invocation's context)."""

    def __init__(
        self,
        ctx: typer.Context,
        *,
        database_url: str | None = None,
        url: str | None = None,
        api_key: str | None = None,
    ) -> None:
        self.database_url = database_url
        self.url = url
        self.api_key = api_key
        self._ctx = ctx
        self._billing: BillingAPI | None = None

    def billing(self, *, existing: bool = False) -> BillingAPI:
        """The billing service (opened on first use, once, and closed when the command ends);
        ``existing``: a read, which refuses a database that is not there (see
        :func:`open_billing`)."""
        if self._billing is None:
            api = open_billing(self.url, self.api_key, self.database_url, existing=existing)
            self._billing = self._ctx.with_resource(contextlib.closing(api))
        return self._billing

    def on_close(self, release: Callable[[], object]) -> None:
        """Run ``release`` when the command ends (for what a command opens itself)."""
        self._ctx.call_on_close(release)


def connection(ctx: typer.Context) -> Connection:
    """The invocation's :class:`Connection` (left by the application's callback)."""
    found = ctx.find_object(Connection)
    if found is None:
        raise RuntimeError("a command ran without the application's callback")
    return found
