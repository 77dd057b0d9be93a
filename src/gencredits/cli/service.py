"""Service commands: ``gencredits serve``, ``gencredits db upgrade`` and
``gencredits keys create|list|revoke``.

``serve`` checks everything a person can get wrong (the database, the address) before it says
that it serves; ``db upgrade`` is the explicit way to create and migrate a database, which the
reading commands never do.
"""

from __future__ import annotations

import errno
import os
import socket
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gencredits.api.keys import SCOPES, KeyStore
from gencredits.cli._app import JsonOpt, app, console, print_json
from gencredits.cli._connection import connection, database_errors
from gencredits.config import CONFIG_ENV, Settings, load_settings
from gencredits.errors import InvalidSetting, Unavailable
from gencredits.storage.sql import engine as db

keys_app = typer.Typer(help="API keys of the HTTP service (stored as hashes only).")
app.add_typer(keys_app, name="keys", no_args_is_help=True)
db_app = typer.Typer(help="The ledger's database: create and migrate it.")
app.add_typer(db_app, name="db", no_args_is_help=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", metavar="FILE", help="A TOML or YAML config file (else $GENCREDITS_CONFIG)."
    ),
]

FIRST_KEY_NAME = "first admin key"
err_console = Console(stderr=True)


def _store(settings: Settings, *, existing: bool = False) -> KeyStore:
    """The key store; ``existing``: refuse a database that is not there rather than create it."""
    with database_errors(settings.database_url):
        if existing:
            db.check_database(settings.database_url)
        db.upgrade(settings.database_url)
        return KeyStore(db.make_engine(settings.database_url))


def _keys(ctx: typer.Context, config: Path | None, *, existing: bool = False) -> KeyStore:
    """The key store of the configured database, released when the command ends."""
    conn = connection(ctx)
    store = _store(load_settings(config, database_url=conn.database_url), existing=existing)
    conn.on_close(store.engine.dispose)
    return store


def bootstrap(settings: Settings) -> str | None:
    """Migrate the database; on the very first start make an admin key and return its secret."""
    store = _store(settings)
    try:
        with database_errors(settings.database_url):
            if store.has_active_admin():
                return None
            _record, secret = store.create(FIRST_KEY_NAME, ["admin"])
            return secret
    finally:
        store.engine.dispose()


def check_address(host: str, port: int) -> None:
    """Refuse, before anything is printed, an address ``serve`` could not bind (bound as the
    server binds it, with SO_REUSEADDR, so a socket in TIME_WAIT is no obstacle)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError):
        raise InvalidSetting.for_field(
            "GENCREDITS_HOST (--host)", host, "an address of this machine, e.g. 127.0.0.1"
        ) from None
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise Unavailable(
                    f"GENCREDITS_PORT (--port): {port} on {host} is in use; stop what listens "
                    f"there or choose another port, e.g. --port {port + 1}",
                    details={"setting": "GENCREDITS_PORT", "value": port},
                ) from None
            raise InvalidSetting.for_field(
                "GENCREDITS_HOST (--host)", host, f"an address this machine can bind ({exc})"
            ) from None


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option(metavar="ADDRESS", help="Address to bind (default 127.0.0.1)."),
    ] = None,
    port: Annotated[int | None, typer.Option(metavar="PORT", help="Port (default 8000).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(metavar="N", help="Worker processes, 1-64 (default 1).", min=1, max=64),
    ] = None,
    relay: Annotated[
        str | None,
        typer.Option(
            "--relay",
            metavar="NATS_URL",
            help="Also publish the outbox to NATS JetStream at this server (see docs/relay.md).",
        ),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Run the HTTP service: migrates the database first; the first start prints an admin key."""
    import uvicorn

    database_url = connection(ctx).database_url
    settings = load_settings(
        config,
        host=host,
        port=port,
        workers=workers,
        database_url=database_url,
        relay_nats_url=relay,
    )
    if relay is not None:
        os.environ["GENCREDITS_RELAY_NATS_URL"] = relay
    # Workers are separate processes that read their settings from the environment.
    if config is not None:
        os.environ[CONFIG_ENV] = str(config.resolve())
    if database_url is not None:
        os.environ[db.ENV_DATABASE_URL] = database_url
    check_address(settings.host, settings.port)
    secret = bootstrap(settings)
    if secret is not None:
        err_console.print(
            "[bold]First start: an admin API key was created. It is shown this once; "
            "store it now.[/bold] In another terminal, for the CLI and the client:\n"
            f"  export GENCREDITS_URL=http://{settings.host}:{settings.port}\n"
            "  export GENCREDITS_API_KEY=<the key below>",
            highlight=False,
        )
        console.print(f"GENCREDITS_API_KEY={secret}", highlight=False, soft_wrap=True)
    if settings.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gencredits-metrics-")
    err_console.print(
        f"gencredits serving http://{settings.host}:{settings.port} "
        f"({settings.workers} worker(s), database {db.redacted(settings.database_url)})",
        highlight=False,
        soft_wrap=True,
    )
    uvicorn.run(
        "gencredits.api:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=False,
        log_level="warning",
    )


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Create the database if needed and migrate it to the newest schema (safe to repeat)."""
    settings = load_settings(config, database_url=connection(ctx).database_url)
    with database_errors(settings.database_url):
        before = db.current_revision(settings.database_url) if _exists(settings) else None
        db.upgrade(settings.database_url)
        after = db.current_revision(settings.database_url)
    where = db.redacted(settings.database_url)
    if as_json:
        print_json({"database": where, "revision_before": before, "revision": after})
        return
    did = "already at" if before == after else f"migrated from {before or 'nothing'} to"
    console.print(
        f"{where}: {did} revision {after} (the newest)",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


def _exists(settings: Settings) -> bool:
    try:
        db.check_database(settings.database_url)
    except Unavailable:
        return False
    return True


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="Who or what the key is for.")],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope", metavar="SCOPE", help=f"Repeatable: {', '.join(SCOPES)} (default read)."
        ),
    ] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a key; its secret is printed this once and never stored."""
    store = _keys(ctx, config)
    record, secret = store.create(name, scope or ["read"])
    if as_json:
        print_json({**record.to_dict(), "key": secret})
        return
    err_console.print(f"created {record.id} ({', '.join(record.scopes)}); shown once:")
    console.print(secret, highlight=False, soft_wrap=True)


@keys_app.command("list")
def keys_list(
    ctx: typer.Context,
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List keys (id, name, prefix, scopes; never the secret)."""
    store = _keys(ctx, config, existing=True)
    keys = store.list(include_revoked=include_revoked)
    if as_json:
        print_json({"items": [k.to_dict() for k in keys]})
        return
    if not keys:
        console.print("no keys" if include_revoked else "no active keys (--all: revoked too)")
        return
    table = Table("id", "name", "prefix", "scopes", "created", "revoked")
    for k in keys:
        table.add_row(
            k.id,
            k.name,
            k.display_prefix + "…",
            ", ".join(k.scopes),
            k.created_at.isoformat(timespec="seconds"),
            "" if k.revoked_at is None else k.revoked_at.isoformat(timespec="seconds"),
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="The key's id (key_...).")],
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke a key: refused by every worker within api_key_cache_ttl_s (default 5 s)."""
    store = _keys(ctx, config, existing=True)
    record = store.revoke(key_id)
    if as_json:
        print_json(record.to_dict())
        return
    console.print(f"revoked {record.id} ({record.name})", highlight=False)
